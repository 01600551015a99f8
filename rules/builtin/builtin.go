// Package builtin holds evtxscan's built-in uninstall rule pack as data:
// Sigma rules (one per file, named <rule id>.yml) and the field maps that
// name the positional EventData of classic providers (fieldmaps/*.yml).
//
// The files are embedded so the binary carries them; the rules package
// loads them with Ruleset.AddBuiltin. Nothing here is Go logic: to change
// what a rule matches, edit its YAML, and keep its test in
// rules/builtin_test.go passing.
//
// The rules match on provider, event id and field positions (through the
// field maps), never on English message text (messages are localized) and
// never on Level alone (Windows Installer logs failed operations as
// Information). Sources for every fact are in
// ../shared/docs/uninstall-events.md.
package builtin

import "embed"

// FS holds the rule files (*.yml) at its root and the field maps under
// fieldmaps/.
//
//go:embed *.yml fieldmaps/*.yml
var FS embed.FS
