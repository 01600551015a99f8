// Package rules turns events into findings: it loads Sigma rules
// (detection and correlation) and field maps from YAML, compiles them, and
// evaluates them over parser.Event values.
//
// It follows the Sigma specification v2.1 (rules, modifiers appendix,
// taxonomy appendix, correlation rules; SigmaHQ/sigma-specification). The
// phases are separate files: YAML loading with positions (load.go), log
// sources (logsource.go), detections and conditions (detection.go,
// condition.go), compiled value matchers (match.go), field resolution and
// field maps (fields.go, fieldmap.go), correlations (correlation.go) and the
// Engine (engine.go).
//
// # Use
//
//	rs := rules.NewRuleset()
//	rs.AddBuiltin()             // the embedded uninstall pack
//	rs.AddPath("my-rules/")     // user rules and field maps
//	for _, s := range rs.Skipped() { … } // refused rules, every problem with file:line:col
//	e, _ := rs.NewEngine(rules.WithMinLevel(rules.LevelLow))
//	for ev := range events { e.Process(ev, emit) }
//	e.Flush(emit)
//
// Events may come in any order; correlations and suppressions then wait
// for Flush. A caller that feeds events in time order (or nearly: within d)
// passes WithReorderWindow(d), and the engine decides windows as they
// close, holding only the open ones. Ruleset.Resolve (and a Resolver, for
// many lookups) reads any field the way rules do.
//
// A rule that cannot be honoured is refused with its reasons, so the count
// of loaded rules is honest. Each Problem has a Severity: SeverityError for
// a broken rule (bad YAML, an unknown modifier or decoder, a misspelt log
// source, a dangling reference: the evtxscan command refuses to scan with
// it), SeverityUnsupported for valid Sigma evtxscan cannot run (another
// product, an unmapped log source, the expand modifier, a regular
// expression RE2 cannot run: skipped and counted). Lint reports the same
// problems for a file or directory, plus SeverityWarning ones: field names
// nothing defines (with a "did you mean") and rules that can never match.
// Messages read "file:line:col: severity: rule <id>: what is wrong (what to
// do)".
//
// # Sigma support
//
// Detection: named search identifiers (a map is AND, a list of maps OR, a
// list of values OR, plain values are keywords searched in every value of
// the event), conditions with and, or, not, parentheses, "1 of x*",
// "all of x*", "N of them" (identifiers starting with _ are not part of
// them), a list of conditions (OR), null, empty strings, wildcards * and ?
// with \ escapes (\*, \?, \\), case-insensitive by default. Modifiers:
// contains, startswith, endswith, all, cased, neq, exists, re with i, m, s,
// base64, base64offset, utf16le, utf16be, utf16, wide, windash, cidr, gt,
// gte, lt, lte, fieldref. Not supported (the rule is refused, saying so):
// expand (no placeholder source), the time modifiers, the obsolete
// aggregation syntax (| count(), near, timeframe), filter documents, and
// the value_sum, value_avg and value_percentile correlations.
//
// Correlation: event_count, value_count, temporal, temporal_ordered, with
// group-by, timespan, condition (gt, gte, lt, lte, eq, neq, combined for
// ranges), field, aliases, generate, rule names and chained correlations.
// The referenced rules produce no finding of their own unless a
// correlation referencing them says generate: true. See the design note in
// correlation.go for ordering and memory guarantees.
//
// # Log sources
//
// product windows plus a service maps to channels after the taxonomy
// appendix (application, system, security, setup, sysmon, powershell,
// powershell-classic, taskscheduler, wmi, windefend, appxdeployment-server,
// bits-client, codeintegrity-operational, firewall-as, …). A category maps
// to channels and event ids (process_creation: Sysmon 1 and Security 4688;
// network_connection, file_event, registry_*, image_load, process_access,
// dns_query, ps_script, ps_module, …). For Security 4688 the taxonomy's
// Sysmon field names are read from 4688's fields: Image is NewProcessName,
// ParentImage ParentProcessName, ProcessId NewProcessId and ParentProcessId
// ProcessId (both converted from hex), User is
// SubjectDomainName\SubjectUserName, IntegrityLevel MandatoryLabel (as Low,
// Medium, High, System); fields 4688 lacks (OriginalFileName, Hashes,
// ParentCommandLine, …) are absent. A rule applies only to events of its
// log source; an unknown log source refuses the rule.
//
// # Field names
//
// System fields: EventID, Provider_Name, Provider_Guid, EventSourceName,
// Channel, Computer, Level, Task, Opcode, Keywords (0x hex), EventRecordID,
// ProcessID, ThreadID, UserID, Version, Qualifiers, ActivityID,
// RelatedActivityID (and Sigma's Execution_ProcessID-style spellings).
// Data[n] is the n-th EventData value, named or not; Data is any EventData
// value; Binary the upper-case hex of the Binary element; Message the
// event's message. Other names resolve, in order, through a field map that
// applies to the event, a named EventData field, and a UserData element
// (by name, or by a dotted path below the UserData child). Field names are
// case-sensitive, as in Sigma.
//
// Field maps (YAML documents with a `fieldmap:` key) name the fields of one
// provider's event ids and derive values with decoders (decoders.go) and
// label tables; values are computed lazily and cached per event:
//
//	fieldmap: msiinstaller-product
//	provider: MsiInstaller
//	event_ids: [1033, "1034-1035"]
//	fields:
//	  Status: Data[4]
//	  ProductCode: msi_product_code(Binary)
//	  StatusMeaning: label(Status, msi_status)
//	labels:
//	  msi_status: {"1603": fatal error during installation}
//
// A label with no entry for the value leaves the field absent.
//
// # Extensions
//
// evtxscan reads Sigma's `fields:` list as the finding's display fields,
// resolved for the event (for a correlation: per field, the first event of
// the finding that has a value, through the aliases). Our own keys live
// under a top-level `evtxscan:` map:
//
//	evtxscan:
//	  hidden: true                # a base rule: no finding of its own
//	  suppressed_by: {rule: msi_uninstall_failed_status, fields: [ProductCode], within: 2s}
//	  level_by: {field: Status, levels: {"1602": low, "1605": medium}}
//
// suppressed_by drops the rule's finding when the named rule matched an
// event of the same Computer with equal values of the fields
// (case-insensitive) within ±within; level_by overrides the level per
// finding (a value not listed keeps the rule's level). The correlation type
// absence (rules: [start, end]) reports every start event not followed by
// an end event of the same group within timespan; when the input ends
// before the timespan has passed the finding carries the display field
// Note: "log ends before the session closed".
//
// # Speed
//
// Values are compiled at load into equal, prefix, suffix, contains and
// segment matchers over lower-cased text; a value is lower-cased once per
// event and matched with the vectorized strings functions; many contains
// values of one field are searched in one pass; regular expressions run
// only when a literal they require occurs. Rules are indexed by channel
// and by the event ids their condition pins, and long lists further by
// the literals a rule needs (a field equal to x, or a path whose file name
// is x.exe; see prefilter.go), so an event meets only the rules that can
// match it. Operands of and/or are tried cheapest first. Matching
// allocates nothing on the common path.
// Benchmarks: go test -bench . ./rules.
//
// # Security
//
// Event text is attacker-controlled. Matching is linear in the input: Go's
// RE2 regular expressions, no backtracking wildcards, windash and encoding
// variants capped at load; field map expressions have a depth limit; no
// input makes the engine panic (the loader is fuzzed). Rules themselves are
// trusted configuration, but a bad rule file is refused with a message,
// never a crash. An Engine is not safe for concurrent use; use one per
// goroutine.
package rules
