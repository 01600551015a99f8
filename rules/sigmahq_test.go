package rules

import (
	"path/filepath"
	"sort"
	"testing"

	"github.com/evtxscan/evtxscan/internal/testenv"
	"github.com/evtxscan/evtxscan/parser"
)

// TestSigmaHQCompatibility loads SigmaHQ's Windows builtin and
// process_creation rules and reports how many load and why the others are
// refused. At least 95 % must load.
func TestSigmaHQCompatibility(t *testing.T) {
	dir := filepath.Join(testenv.Shared(t), "sigma", "rules")
	rs := NewRuleset()
	if err := rs.AddPath(dir); err != nil {
		t.Fatal(err)
	}
	loaded := len(rs.Rules())
	skipped := rs.Skipped()
	total := loaded + len(skipped)
	reasons := map[string]int{}
	for _, le := range skipped {
		reasons[groupReason(le.Reason())]++
	}
	keys := make([]string, 0, len(reasons))
	for k := range reasons {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return reasons[keys[i]] > reasons[keys[j]] })
	t.Logf("SigmaHQ: %d documents, %d loaded (%.1f %%), %d refused", total, loaded, 100*float64(loaded)/float64(total), len(skipped))
	for _, k := range keys {
		t.Logf("  %4d  %s", reasons[k], k)
	}
	if testing.Verbose() {
		for _, le := range skipped {
			t.Logf("refused: %v", le)
		}
	}
	if float64(loaded) < 0.95*float64(total) {
		t.Errorf("only %d of %d SigmaHQ rules load, want ≥ 95 %%", loaded, total)
	}
	if _, err := rs.NewEngine(); err != nil {
		t.Fatalf("NewEngine: %v", err)
	}
}

// groupReason cuts a refusal message to its kind (drops quoted specifics).
func groupReason(msg string) string {
	out := []rune{}
	inQuote := false
	for _, r := range msg {
		switch {
		case r == '"':
			inQuote = !inQuote
			if inQuote {
				out = append(out, '…')
			}
		case !inQuote:
			out = append(out, r)
		}
	}
	s := string(out)
	if len(s) > 140 {
		s = s[:140]
	}
	return s
}

// TestSigmaHQSpotChecks runs events that named SigmaHQ rules describe
// through the whole SigmaHQ set and expects those rules among the findings:
// loading is not enough, the semantics must hold too.
func TestSigmaHQSpotChecks(t *testing.T) {
	rs := NewRuleset()
	if err := rs.AddPath(filepath.Join(testenv.Shared(t), "sigma", "rules")); err != nil {
		t.Fatal(err)
	}
	e, err := rs.NewEngine()
	if err != nil {
		t.Fatal(err)
	}
	wmic4688 := mkEvent("Security", "Microsoft-Windows-Security-Auditing", 4688, t0, "SubjectUserName=alice", "SubjectDomainName=CORP",
		"NewProcessId=0x1a2c", `NewProcessName=C:\Windows\System32\wbem\WMIC.exe`, "ProcessId=0x2f0",
		`CommandLine=wmic product where name="Contoso Agent" call uninstall /nointeractive`, `ParentProcessName=C:\Windows\System32\cmd.exe`)
	wmicSysmon := mkEvent("Microsoft-Windows-Sysmon/Operational", "Microsoft-Windows-Sysmon", 1, t0, `Image=C:\Tools\renamed.exe`,
		"OriginalFileName=wmic.exe", `CommandLine=renamed.exe product where name="X" CALL Uninstall`)
	removed := mkEvent("Application", "MsiInstaller", 1034, t0, "=Contoso Agent", "=4.2", "=1033", "=0", "=Contoso")
	fromWeb := mkEvent("Application", "MsiInstaller", 1040, t0, "=https://example.com/x.msi", "=6700")
	mesh := mkEvent("System", "Service Control Manager", 7045, t0, "ServiceName=Mesh Agent", `ImagePath=C:\Program Files\Mesh Agent\MeshAgent.exe`)
	notMesh := mkEvent("System", "Service Control Manager", 7045, t0, "ServiceName=Contoso", `ImagePath=C:\Program Files\Contoso\svc.exe`)
	tests := []struct {
		name   string
		ev     *parser.Event
		ruleID string
		want   bool
	}{
		{"wmic uninstall on 4688", wmic4688, "b53317a0-8acf-4fd1-8de8-a5401e776b96", true},
		{"wmic uninstall on Sysmon by OriginalFileName", wmicSysmon, "b53317a0-8acf-4fd1-8de8-a5401e776b96", true},
		{"application removed", removed, "570ae5ec-33dc-427c-b815-db86228ad43e", true},
		{"msi from web (Data container)", fromWeb, "5594e67a-7f92-4a04-b65d-1a42fd824a60", true},
		{"msi not from web", removed, "5594e67a-7f92-4a04-b65d-1a42fd824a60", false},
		{"mesh agent service", mesh, "e0d1ad53-c7eb-48ec-a87a-72393cc6cedc", true},
		{"other service", notMesh, "e0d1ad53-c7eb-48ec-a87a-72393cc6cedc", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := false
			for _, f := range run(e, tt.ev) {
				if f.RuleID == tt.ruleID {
					got = true
				}
			}
			if got != tt.want {
				t.Errorf("rule %s on %s/%d: matched %v, want %v", tt.ruleID, tt.ev.System.Channel, tt.ev.System.EventID, got, tt.want)
			}
		})
	}
}

// TestLintSigmaHQ lints SigmaHQ's Windows rules as users would (evtxscan
// rules lint): no errors, and the warnings by kind are logged (run with -v
// to see each). Unknown-field warnings must stay rare: each one was
// checked to be a real mistake or a field no Windows event log carries.
func TestLintSigmaHQ(t *testing.T) {
	probs := Lint(filepath.Join(testenv.Shared(t), "sigma", "rules"))
	counts := map[string]int{}
	for _, p := range probs {
		counts[p.Severity.String()+" "+p.Kind]++
		if p.Severity == SeverityError {
			t.Errorf("%v", p)
		} else if testing.Verbose() {
			t.Logf("%v", p)
		}
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("%5d  %s", counts[k], k)
	}
	if n := counts["warning unknown-field"]; n > 5 { // 1 when written: ProcessId on System 7045 (evtxscan: ProcessID)
		t.Errorf("%d unknown-field warnings on SigmaHQ rules: the known field names miss real ones", n)
	}
}
