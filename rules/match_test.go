package rules

import (
	"math/rand"
	"regexp/syntax"
	"sort"
	"strings"
	"testing"
)

// TestIndexFoldDifferential compares the fast case-folding search with
// strings.Contains on lower-cased text over random inputs.
func TestIndexFoldDifferential(t *testing.T) {
	alphabet := []string{"a", "A", "b", "B", "\\", ".", " ", "-", "\u2013", "é", "É", "x", "1"}
	rng := rand.New(rand.NewSource(7))
	gen := func(n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			b.WriteString(alphabet[rng.Intn(len(alphabet))])
		}
		return b.String()
	}
	for i := 0; i < 20000; i++ {
		s, p := gen(rng.Intn(12)), strings.ToLower(gen(1+rng.Intn(3)))
		want := strings.Contains(strings.ToLower(s), p)
		got := indexFold(s, p, false, byteFoldable(p)) >= 0
		if got != want {
			t.Fatalf("indexFold(%q, %q) found=%v, want %v", s, p, got, want)
		}
		pre := hasPrefixFold(s, p, false, byteFoldable(p))
		if wantPre := strings.HasPrefix(strings.ToLower(s), p); pre != wantPre {
			t.Fatalf("hasPrefixFold(%q, %q) = %v, want %v", s, p, pre, wantPre)
		}
	}
}

func TestRequiredLiterals(t *testing.T) {
	tests := []struct {
		re   string
		want string // sorted, joined by |; "" for no pre-filter
	}{
		{`(?i)\b(ESET|AVG)\b`, "AVG|ESET"},
		{` -- .*\b\d{4}\b`, " -- "},
		{`abc.*defgh`, "defgh"},
		{`a+b`, ""},
		{`(foo)?bar`, "bar"},
		{`x|yz`, ""},                         // x is too short
		{`(sysmon|sysmon64)\.exe`, "sysmon"}, // Simplify factors the common prefix
		{`\d+`, ""},
	}
	for _, tt := range tests {
		tree, err := syntax.Parse(tt.re, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		lits, ok := requiredLiterals(tree.Simplify())
		sort.Strings(lits)
		got := strings.Join(lits, "|")
		if !ok {
			got = ""
		}
		if got != tt.want {
			t.Errorf("requiredLiterals(%q) = %q, want %q", tt.re, got, tt.want)
		}
	}
	// the pre-filter never hides a match
	m, err := compileRegex(`(?i)\bsysmon(64)?(\.exe)?"?\s+[-/]u\b`)
	if err != nil {
		t.Fatal(err)
	}
	for v, want := range map[string]bool{`SYSMON64.EXE -u`: true, `sysmon /u force`: true, `sysm0n -u`: false} {
		if got := m.match(nil, v, true); got != want {
			t.Errorf("regex on %q: got %v, want %v", v, got, want)
		}
	}
}

// TestMultiContainsDifferential checks the one-pass search of many
// patterns against strings.Contains for each.
func TestMultiContainsDifferential(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	alphabet := "abc\\. -é😀"
	gen := func(n int) string {
		r := []rune(alphabet)
		var b strings.Builder
		for i := 0; i < n; i++ {
			b.WriteRune(r[rng.Intn(len(r))])
		}
		return b.String()
	}
	for i := 0; i < 5000; i++ {
		var pats []string
		for k := 0; k < 1+rng.Intn(10); k++ {
			pats = append(pats, gen(1+rng.Intn(3)))
		}
		mc := newMultiContains(pats)
		s := gen(rng.Intn(15))
		want := false
		for _, p := range pats {
			if strings.Contains(s, p) {
				want = true
			}
		}
		if got := mc.in(s); got != want {
			t.Fatalf("multiContains(%q).in(%q) = %v, want %v", pats, s, got, want)
		}
	}
}
