package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evtxscan/evtxscan/internal/testenv"
)

const (
	goodRule = "title: good\nid: good\nlogsource: {product: windows, service: application}\ndetection:\n  sel: {Provider_Name: MsiInstaller, EventID: 1034}\n  condition: sel\n"
	// bad modifier at 5:9, and a YAML error at line 3 (yaml.v3 gives no column: 1)
	badModifier = "title: bad\nid: bad\nlogsource: {product: windows, service: application}\ndetection:\n  sel: {EventID|bogus: 1}\n  condition: sel\n"
	badYAML     = "title: worse\nid: worse\ndetection: [\n"
	warnRule    = "title: w\nid: w\nlogsource: {product: windows, service: application}\ndetection:\n  sel: {EventId: 1034}\n  condition: sel\n"
	linuxRule   = "title: linux\nid: linux\nlogsource: {product: linux, service: auth}\ndetection:\n  sel: {a: b}\n  condition: sel\n"
)

func writeRules(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestBrokenRulesStopTheRun: a --rules file or folder with a broken rule
// stops scan and live with exit 2 and every problem as file:line:col;
// valid Sigma evtxscan cannot run is skipped with a one-line count.
func TestBrokenRulesStopTheRun(t *testing.T) {
	evtx := filepath.Join(testenv.RepoRoot(t), "testdata", "evtx", "s1_custom_action_rollback", "Application.evtx")
	dir := writeRules(t, map[string]string{"bad.yml": badModifier, "worse.yml": badYAML, "good.yml": goodRule, "linux.yml": linuxRule})
	unsupportedOnly := writeRules(t, map[string]string{"good.yml": goodRule, "linux.yml": linuxRule})
	warnOnly := writeRules(t, map[string]string{"warn.yml": warnRule})
	bad := filepath.Join(dir, "bad.yml")
	tests := []struct {
		name     string
		args     []string
		code     int
		want     []string
		dontWant []string
	}{
		{"scan bad file", []string{"scan", "--quiet", "--format", "jsonl", "--out", t.TempDir(), "--rules", bad, evtx}, exitUsage,
			[]string{bad + ":5:9: error: rule bad: unknown modifier \"bogus\""}, nil},
		{"live bad file", []string{"live", "--once", "--rules", bad}, exitUsage,
			[]string{bad + ":5:9: error: rule bad: unknown modifier \"bogus\""}, []string{"only on Windows"}},
		{"scan folder names every bad file", []string{"scan", "--quiet", "--format", "jsonl", "--out", t.TempDir(), "--rules", dir, evtx}, exitUsage,
			[]string{"2 rule file(s) do not load", bad + ":5:9: error:", filepath.Join(dir, "worse.yml") + ":3:1: error: YAML syntax"}, []string{"linux.yml"}},
		{"rules list refuses too", []string{"rules", "list", "--rules", bad}, exitUsage, []string{bad + ":5:9: error:"}, nil},
		{"a warning is said, the scan runs", []string{"scan", "--quiet", "--format", "jsonl", "--out", t.TempDir(), "--rules", warnOnly, evtx}, exitOK,
			[]string{"warn.yml:5:9: warning: rule w: field \"EventId\"", "did you mean EventID?"}, nil},
		{"unsupported only: scan runs and counts", []string{"scan", "--quiet", "--format", "jsonl", "--out", t.TempDir(), "--rules", unsupportedOnly, evtx}, exitOK,
			[]string{"note: 1 rule(s) skipped as valid Sigma evtxscan does not support"}, []string{"error"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCmd(tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.code, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, stderr)
				}
			}
			for _, w := range tt.dontWant {
				if strings.Contains(stderr, w) {
					t.Errorf("stderr says %q:\n%s", w, stderr)
				}
			}
		})
	}
}

// TestRulesLintExitCodes: errors fail the lint, warnings and unsupported
// rules only with --strict; every line is file:line:col: level: ….
func TestRulesLintExitCodes(t *testing.T) {
	dir := writeRules(t, map[string]string{"bad.yml": badModifier, "warn.yml": warnRule, "linux.yml": linuxRule, "good.yml": goodRule})
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"error", []string{"rules", "lint", filepath.Join(dir, "bad.yml")}, exitFindings, []string{filepath.Join(dir, "bad.yml") + ":5:9: error: rule bad: unknown modifier", "1 errors, 0 unsupported, 0 warnings"}},
		{"warning", []string{"rules", "lint", filepath.Join(dir, "warn.yml")}, exitOK, []string{filepath.Join(dir, "warn.yml") + ":5:9: warning: rule w: field \"EventId\"", "did you mean EventID?", "(unknown-field 1)"}},
		{"warning strict", []string{"rules", "lint", "--strict", filepath.Join(dir, "warn.yml")}, exitFindings, []string{"warn.yml:5:9: warning:"}},
		{"unsupported", []string{"rules", "lint", filepath.Join(dir, "linux.yml")}, exitOK, []string{"linux.yml:3:22: unsupported: rule linux: logsource product \"linux\""}},
		{"unsupported strict", []string{"rules", "lint", "--strict", filepath.Join(dir, "linux.yml")}, exitFindings, nil},
		{"clean", []string{"rules", "lint", "--strict", filepath.Join(dir, "good.yml")}, exitOK, []string{"no problems found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stdout:\n%s\nstderr:\n%s", code, tt.code, stdout, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout+stderr, w) {
					t.Errorf("output does not say %q:\n%s%s", w, stdout, stderr)
				}
			}
		})
	}
}
