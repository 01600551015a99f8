package evtxwriter

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/evtxscan/evtxscan/internal/testenv"
)

// ruleIDs are the built-in rule ids scenarios may name (rules-common: the
// names of uninstall-events.md §7, plus msi_operation_failed).
var ruleIDs = []string{
	"msi_uninstall_failed_status", "msi_removal_failed_message", "msi_uninstall_error_cause",
	"msi_rollback_inferred", "msi_rollback_failed", "msi_session_unterminated",
	"msi_upgrade_old_version_not_removed", "msi_cached_package_or_source_missing",
	"msi_uninstall_privilege_denied", "uninstall_service_teardown_failure", "uninstaller_crash_or_hang",
	"uninstall_reboot_pending_or_forced", "appx_removal_failed", "os_update_uninstall_failed",
	"security_product_uninstall", "msi_repeated_uninstall_attempts", "msi_win32_product_enumeration",
	"msi_operation_failed",
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
			if s.Output.File == "" && !strings.Contains(s.Comment, "MUST find") {
				t.Errorf("comment block does not say what a correct analyzer MUST find")
			}
		})
	}
}
