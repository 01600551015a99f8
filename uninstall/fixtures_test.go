package uninstall

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/evtxscan/evtxscan/internal/testenv"
	"github.com/evtxscan/evtxscan/parser"
)

// scanScenario feeds every .evtx of testdata/evtx/<name> (made by
// internal/evtxwriter from testdata/scenarios/<name>.yaml) to a Tracker,
// file by file as a scan would.
func scanScenario(t *testing.T, name string) []Session {
	t.Helper()
	dir := filepath.Join(testenv.RepoRoot(t), "testdata", "evtx", name)
	files, _ := filepath.Glob(filepath.Join(dir, "*.evtx"))
	if len(files) == 0 {
		if testenv.InCI() {
			t.Fatalf("no fixtures in %s", dir)
		}
		t.Skipf("no fixtures in %s yet (go generate ./internal/evtxwriter)", dir)
	}
	slices.Sort(files)
	tr := NewTracker()
	var all []*parser.Event
	for _, path := range files {
		f, err := parser.Open(path, parser.Options{})
		if err != nil {
			t.Fatalf("parser.Open(%s): %v", path, err)
		}
		for ev, err := range f.Events(context.Background()) {
			if err != nil {
				t.Errorf("%s: %v", path, err)
				continue
			}
			tr.Add(ev)
			all = append(all, ev)
		}
		f.Close()
	}
	got := tr.Incidents()
	// The same events in time order, as analysis.Run feeds them, through
	// an Ordered tracker: the same sessions.
	slices.SortStableFunc(all, func(a, b *parser.Event) int { return a.Time().Compare(b.Time()) })
	ordered := NewTracker(Ordered())
	for _, ev := range all {
		ordered.Add(ev)
	}
	if o := ordered.Incidents(); !reflect.DeepEqual(o, got) {
		t.Errorf("%s: Ordered tracker gives\n%+v\nbuffering one\n%+v", name, o, got)
	}
	return got
}

func TestScenarioFixtures(t *testing.T) {
	type want struct {
		product, outcome, status, cause, user string
		kind, reason                          string
		events                                int
		ended                                 bool
	}
	tests := []struct {
		scenario string
		want     []want
	}{
		{"s1_custom_action_rollback", []want{{product: "Contoso Agent", outcome: OutcomeRolledBack, status: "1603",
			cause: "1722 custom action failed: a program run as part of the setup did not finish as expected — custom action CA_UnregisterDriver",
			user:  `CONTOSO\alice`, events: 10, ended: true}}}, // every event of the scenario, RM 10000/10001 included
		{"s2_upgrade_cannot_remove_old", []want{
			{product: "Nimbus Sync", outcome: OutcomeFailed, status: "1603", ended: true,
				cause: "1612 ERROR_INSTALL_SOURCE_ABSENT: the older version cannot be removed (error 1714)"},
			{product: "Nimbus Sync", outcome: OutcomeFailed, status: "1603", ended: true},
			{product: "Nimbus Sync", outcome: OutcomeFailed, status: "1612", ended: true,
				cause: "1612 ERROR_INSTALL_SOURCE_ABSENT: the installation source for this product is not available (cached package or source missing) — error 1706 no valid source could be found for the product"},
		}},
		{"s3_interrupted_uninstall", []want{{kind: KindRemoval, outcome: OutcomeUnterminated, reason: ReasonPowerLoss,
			cause: "power loss — the previous system shutdown was unexpected (EventLog 6008 logged at 2026-02-12 14:07:12)"}}},
		{"s6_security_agent_removed", []want{
			{product: "CrowdStrike Falcon Sensor", outcome: OutcomeSucceeded, status: "0", ended: true},
			{outcome: OutcomeSucceeded, status: "0", ended: true},
		}},
		{"s5_uninstaller_crash", nil}, // no MSI session: the crash is the rules' business
		{"s8_removal_failed_log_cut", []want{{product: "Litware Kiosk Shell", outcome: OutcomeFailed}}},
		{"noise_quiet", []want{
			{kind: KindInstall, product: "Zoom", outcome: OutcomeSucceeded, status: "0", ended: true},
			{kind: KindRemoval, outcome: OutcomeSucceeded, status: "0", ended: true},
			{kind: KindUpgrade, product: "PowerShell 7-x64", outcome: OutcomeSucceeded, status: "0", ended: true, cause: "replaced PowerShell 7-x64 7.4.0.0"},
			{product: "Intel(R) Management Engine Components", outcome: OutcomeSucceeded, reason: ReasonRestartRequired, status: "3010", ended: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			if _, err := os.Stat(filepath.Join(testenv.RepoRoot(t), "testdata", "evtx", tt.scenario)); err != nil && !testenv.InCI() {
				t.Skip("fixture not generated yet")
			}
			got := scanScenario(t, tt.scenario)
			if len(got) != len(tt.want) {
				for _, s := range got {
					t.Logf("session: %+v", s)
				}
				t.Fatalf("got %d sessions, want %d", len(got), len(tt.want))
			}
			for i, w := range tt.want {
				s := got[i]
				check := func(name, g, w string) {
					if w != "" && g != w {
						t.Errorf("session %d %s: got %q, want %q", i, name, g, w)
					}
				}
				check("Product", s.Product, w.product)
				check("Outcome", s.Outcome, w.outcome)
				check("Status", s.Status, w.status)
				check("Cause", s.Cause.String(), w.cause)
				check("Kind", s.Kind, w.kind)
				check("Reason", s.Reason, w.reason)
				check("User", s.User, w.user)
				if w.events != 0 && len(s.Events) != w.events {
					t.Errorf("session %d: %d events, want %d: %+v", i, len(s.Events), w.events, s.Events)
				}
				if w.ended == s.End.IsZero() {
					t.Errorf("session %d: End = %v, want ended=%v", i, s.End, w.ended)
				}
				if s.Computer == "" || s.Start.IsZero() {
					t.Errorf("session %d: Computer %q, Start %v", i, s.Computer, s.Start)
				}
			}
		})
	}
}
