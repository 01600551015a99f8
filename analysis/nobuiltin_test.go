package analysis

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/evtxscan/evtxscan/input"
	"github.com/evtxscan/evtxscan/internal/testenv"
	"github.com/evtxscan/evtxscan/rules"
)

// userRule is what a user might load with --no-builtin: one rule that knows
// nothing of MsiInstaller's field names.
const userRule = `title: any service stopped
id: user_service_stopped
logsource:
  product: windows
detection:
  selection:
    Provider_Name: Service Control Manager
    EventID: 7036
  condition: selection
level: low
`

// incidentLine is everything the Uninstalls sheet shows of an incident.
func incidentLine(r *Result, i int) string {
	in := r.Incidents[i]
	return fmt.Sprintf("%s|%s|%s|%s|%s|%s|%s|%s|%s|%v|%s|%d|%v", in.Computer, in.Kind, in.Product, in.Version, in.ProductCode,
		in.Package, in.User, in.Outcome, in.Reason, in.Start, in.Cause, len(in.Events), in.Services)
}

// Sessions and incidents (and so the Uninstalls sheet) must not depend on
// the rules loaded: --no-builtin with a user rule keeps the built-in field
// maps for the domain (issue #12).
func TestIncidentsDoNotDependOnRules(t *testing.T) {
	root := testenv.RepoRoot(t)
	for _, name := range []string{"s1_custom_action_rollback", "s2_upgrade_cannot_remove_old", "s11_service_fails_after_removal",
		"s13_session_end_other_process", "s14_rollback_failed", "s7_update_removal_failed", "s21_uninstaller_crash_wer"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(root, "testdata", "evtx", name)
			if _, err := os.Stat(dir); err != nil {
				if testenv.InCI() {
					t.Fatalf("no fixtures in %s: go generate ./internal/evtxwriter", dir)
				}
				t.Skipf("no fixtures in %s", dir)
			}
			builtin := analyse(t, dir)
			user := rules.NewRuleset()
			if err := user.AddBytes("user.yml", []byte(userRule)); err != nil {
				t.Fatal(err)
			}
			items, errs := input.Expand([]string{dir}, input.Options{})
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			own, err := Run(context.Background(), &FileSource{Items: items}, Config{Rules: user, Dedup: true, TempDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			if len(builtin.Incidents) == 0 {
				t.Fatal("the fixture gives no incident: the comparison would prove nothing")
			}
			if len(own.Incidents) != len(builtin.Incidents) {
				t.Fatalf("%d incidents with a user rule only, %d with the built-in pack", len(own.Incidents), len(builtin.Incidents))
			}
			for i := range builtin.Incidents {
				if got, want := incidentLine(own, i), incidentLine(builtin, i); got != want {
					t.Errorf("incident %d with a user rule only:\n  %s\nwith the built-in pack:\n  %s", i, got, want)
				}
			}
		})
	}
}
