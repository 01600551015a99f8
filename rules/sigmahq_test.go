package rules

import (
	"path/filepath"
	"sort"
	"testing"

	"github.com/evtxscan/evtxscan/internal/testenv"
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
