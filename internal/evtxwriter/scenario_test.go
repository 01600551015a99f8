package evtxwriter

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/evtxscan/evtxscan/internal/testenv"
)

// ruleIDs are the built-in rule ids scenarios may name (rules-common: the
// names of uninstall-events.md §7, plus msi_operation_failed and the pack's
// msi_rollback_service_restored, rule 4's SCM 7036 stop/start bonus).
var ruleIDs = []string{
	"msi_uninstall_failed_status", "msi_removal_failed_message", "msi_uninstall_error_cause",
	"msi_rollback_inferred", "msi_rollback_failed", "msi_session_unterminated",
	"msi_upgrade_old_version_not_removed", "msi_cached_package_or_source_missing",
	"msi_uninstall_privilege_denied", "uninstall_service_teardown_failure", "uninstaller_crash_or_hang",
	"uninstall_reboot_pending_or_forced", "appx_removal_failed", "os_update_uninstall_failed",
	"security_product_uninstall", "msi_repeated_uninstall_attempts", "msi_win32_product_enumeration",
	"msi_operation_failed", "msi_rollback_service_restored",
}

// TestScenarioExpectations checks every scenario's machine-readable
// expectations: known rule ids only, none both required and forbidden, and
// the comment block names every required rule.
func TestScenarioExpectations(t *testing.T) {
	dir := filepath.Join(testenv.RepoRoot(t), "testdata", "scenarios")
	scenarios, err := LoadScenarios(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, s := range scenarios {
		t.Run(s.Name, func(t *testing.T) {
			if names[s.Name] {
				t.Errorf("duplicate scenario name %s", s.Name)
			}
			names[s.Name] = true
			for _, id := range append(slices.Clone(s.Expect.MustFind), s.Expect.MustNotFind...) {
				if !slices.Contains(ruleIDs, id) {
					t.Errorf("unknown rule id %q in expect", id)
				}
			}
			for _, id := range s.Expect.MustFind {
				if slices.Contains(s.Expect.MustNotFind, id) {
					t.Errorf("%s is in both must_find and must_not_find", id)
				}
				if !strings.Contains(s.Comment, id) {
					t.Errorf("must_find %s is not explained in the comment block", id)
				}
			}
			for _, inc := range s.Expect.Incidents {
				if inc.Rule != "" && !slices.Contains(ruleIDs, inc.Rule) {
					t.Errorf("incident %s %q: unknown rule id %q", inc.Kind, inc.Product, inc.Rule)
				}
				if inc.Rule != "" && slices.Contains(s.Expect.MustNotFind, inc.Rule) {
					t.Errorf("incident %s %q: rule %s is also in must_not_find", inc.Kind, inc.Product, inc.Rule)
				}
			}
			if s.Output.File == "" && !strings.Contains(s.Comment, "MUST find") {
				t.Errorf("comment block does not say what a correct analyzer MUST find")
			}
		})
	}
}

func TestParseScenarioErrors(t *testing.T) {
	const head = "name: x\ncomputer: PC\n"
	const ev = "  - {time: 2026-01-01T00:00:00Z, channel: Application, provider: P, event_id: 1, data: [a]}\n"
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"no name", "events:\n" + ev, "no name"},
		{"no events", head, "no events"},
		{"unknown key", head + "events:\n  - {time: 2026-01-01T00:00:00Z, channel: A, provider: P, event_id: 1, colour: red}\n", "colour"},
		{"relative first time", head + "events:\n  - {time: +1s, channel: A, provider: P, event_id: 1}\n", "relative time"},
		{"bad tag", head + "events:\n  - {time: 2026-01-01T00:00:00Z, channel: A, provider: P, event_id: 1, data: {X: !sid nope}}\n", "sid value"},
		{"unknown tag", head + "events:\n  - {time: 2026-01-01T00:00:00Z, channel: A, provider: P, event_id: 1, data: {X: !weird 1}}\n", "unknown value tag"},
		{"typed classic", head + "events:\n  - {time: 2026-01-01T00:00:00Z, channel: A, provider: P, event_id: 1, data: [!u32 1]}\n", "strings only"},
		{"bad keywords", head + "events:\n  - {time: 2026-01-01T00:00:00Z, channel: A, provider: P, event_id: 1, keywords: \"80\"}\n", "keywords"},
		{"two binaries", head + "events:\n  - {time: 2026-01-01T00:00:00Z, channel: A, provider: P, event_id: 1, binary: \"00\", binary_ascii: x}\n", "only one of"},
		{"record_id outside slack", head + "events:\n  - {time: 2026-01-01T00:00:00Z, channel: A, provider: P, event_id: 1, record_id: 5}\n", "only for slack"},
		{"slack without record_id", head + "events:\n" + ev + "slack:\n" + ev, "need a record_id"},
		{"incident kind", head + "expect: {incidents: [{kind: uninstall, product: X, outcome: failed, level: high}]}\nevents:\n" + ev, `kind "uninstall"`},
		{"incident outcome", head + "expect: {incidents: [{kind: removal, product: X, outcome: rolledback, level: high}]}\nevents:\n" + ev, `outcome "rolledback"`},
		{"incident level", head + "expect: {incidents: [{kind: removal, product: X, outcome: failed, level: low}]}\nevents:\n" + ev, `level "low"`},
		{"incident product", head + "expect: {incidents: [{kind: removal, outcome: failed, level: high}]}\nevents:\n" + ev, "no product"},
		{"reason needs unterminated", head + "expect: {incidents: [{kind: removal, product: X, outcome: failed, reason: crash, level: high}]}\nevents:\n" + ev, "needs outcome unterminated"},
		{"incident unknown key", head + "expect: {incidents: [{kind: removal, product: X, outcome: failed, level: high, colour: red}]}\nevents:\n" + ev, "colour"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseScenario([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestScenarioRepeatAndMerge(t *testing.T) {
	s, err := ParseScenario([]byte(`name: r
computer: PC
defs:
  base: &base {channel: Application, provider: MsiInstaller, qualifiers: 0, level: 4}
  named: &named {A: "1", B: !hex32 0x10}
events:
  - <<: *base
    time: 2026-01-01T00:00:00.000Z
    event_id: 1035
    repeat: 3
    step: 250ms
    vary: [{p: One}, {p: Two}]
    seed: s
    data: ["{p} {i}"]
    binary_ascii: "{guid}"
  - {<<: *base, time: +1s, event_id: 7, data: {<<: *named, B: !hex32 0x20, C: c}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Events) != 4 {
		t.Fatalf("%d events, want 4", len(s.Events))
	}
	var got []string
	for _, ev := range s.Events[:3] {
		got = append(got, ev.Data[0].Text+"@"+ev.System.TimeCreated.Format("05.000"))
	}
	if want := "One 1@00.000 Two 2@00.250 One 3@00.500"; strings.Join(got, " ") != want {
		t.Errorf("repeat gave %q, want %q", strings.Join(got, " "), want)
	}
	if string(s.Events[0].Binary) != string(s.Events[2].Binary) || string(s.Events[0].Binary) == string(s.Events[1].Binary) {
		t.Errorf("{guid} must be stable per vary item: %s %s %s", s.Events[0].Binary, s.Events[1].Binary, s.Events[2].Binary)
	}
	last := s.Events[3]
	if last.Classic || len(last.Data) != 3 || last.Data[1].Name != "B" || last.Data[1].Text != "0x20" || last.Data[1].Type != HexInt32 || last.Data[2].Name != "C" {
		t.Errorf("merged data = %+v, want A, B=0x20 (hex32), C in that order", last.Data)
	}
	if !last.System.TimeCreated.Equal(s.Events[2].System.TimeCreated.Add(1e9)) {
		t.Errorf("relative time %s, want 1 s after %s", last.System.TimeCreated, s.Events[2].System.TimeCreated)
	}
	if last.System.Computer != "PC" || !last.System.HasQualifiers {
		t.Errorf("defaults not applied: %+v", last.System)
	}
}
