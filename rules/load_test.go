package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadErrorsNamePositions(t *testing.T) {
	// Every problem of the rule is reported, each at its own line:col.
	y := `title: broken
id: broken_rule
level: severe
logsource:
    product: windows
    service: application
detection:
    sel:
        Image|nosuch: x
        User|gt: abc
    condition: sel and not missing
`
	rs := NewRuleset()
	_ = rs.AddBytes("b.yml", []byte(y))
	sk := rs.Skipped()
	if len(sk) != 1 {
		t.Fatalf("got %d refusals, want 1", len(sk))
	}
	want := []string{
		`b.yml:3:8: error: rule broken_rule: unknown level "severe"`,
		`b.yml:9:9: error: rule broken_rule: unknown modifier "nosuch"`,
		`b.yml:10:18: error: rule broken_rule: |gt needs a number`,
		`b.yml:11:28: error: rule broken_rule: condition: unknown search identifier "missing"`,
	}
	if len(sk[0].Problems) != len(want) {
		t.Fatalf("got %d problems %v, want %d", len(sk[0].Problems), sk[0].Problems, len(want))
	}
	for i, w := range want {
		if got := sk[0].Problems[i].Error(); !strings.HasPrefix(got, w) {
			t.Errorf("problem %d = %q, want prefix %q", i, got, w)
		}
	}
	if !strings.Contains(sk[0].Error(), "and 3 more") {
		t.Errorf("LoadError.Error() = %q, want the count of other problems", sk[0].Error())
	}
}

func TestLoadDocuments(t *testing.T) {
	tests := []struct {
		name        string
		yml         string
		rules, refs int
		wantMsg     string
	}{
		{"two documents", detectionRule("    s: {A: x}\n    condition: s\n") + "---\n" +
			strings.Replace(detectionRule("    s: {A: y}\n    condition: s\n"), "id: r1", "id: r2", 1), 2, 0, ""},
		{"empty documents skipped", "---\n---\n" + detectionRule("    s: {A: x}\n    condition: s\n") + "---\n", 1, 0, ""},
		{"duplicate id", detectionRule("    s: {A: x}\n    condition: s\n") + "---\n" + detectionRule("    s: {A: y}\n    condition: s\n"), 1, 1, "duplicate rule id"},
		{"yaml syntax", "title: x\n  bad: [\n", 0, 1, "YAML syntax"},
		{"not a mapping", "- a\n- b\n", 0, 1, "mapping"},
		{"neither detection nor correlation", "title: x\nid: y\n", 0, 1, "not a rule"},
		{"no title no id", "logsource: {product: windows}\ndetection:\n    s: {A: x}\n    condition: s\n", 0, 1, "no title"},
		{"no condition", detectionRule("    s: {A: x}\n"), 0, 1, "no condition"},
		{"old aggregation", detectionRule("    s: {A: x}\n    condition: s | count() > 5\n"), 0, 1, "obsolete"},
		{"bad suppressed_by", detectionRule("    s: {A: x}\n    condition: s\n") + "evtxscan:\n    suppressed_by: {rule: ghost, within: 2s}\n", 0, 1, "unknown rule"},
		{"unknown extension", detectionRule("    s: {A: x}\n    condition: s\n") + "evtxscan:\n    colour: red\n", 0, 1, "unknown evtxscan extension"},
		{"filter document", "title: f\nid: f\nlogsource: {product: windows}\nfilter:\n    rules: [x]\n", 0, 1, "filter"},
		{"of them over nothing", detectionRule("    _s: {A: x}\n    condition: all of them\n"), 0, 1, "names no search identifier"},
		{"of count too big", detectionRule("    s1: {A: x}\n    condition: 3 of s*\n"), 0, 1, "only 1"},
		{"parenthesis", detectionRule("    s: {A: x}\n    condition: (s\n"), 0, 1, "missing )"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := NewRuleset()
			if err := rs.AddBytes("d.yml", []byte(tt.yml)); err != nil {
				t.Fatal(err)
			}
			sk := rs.Skipped()
			if len(rs.Rules()) != tt.rules || len(sk) != tt.refs {
				t.Fatalf("got %d rules and %d refusals (%v), want %d and %d", len(rs.Rules()), len(sk), sk, tt.rules, tt.refs)
			}
			if tt.wantMsg != "" && !strings.Contains(sk[0].Error(), tt.wantMsg) {
				t.Errorf("refusal %q does not mention %q", sk[0].Error(), tt.wantMsg)
			}
		})
	}
}

func TestLintAndAddPath(t *testing.T) {
	dir := t.TempDir()
	good := detectionRule("    s: {Provider_Name: x}\n    condition: s\n")
	bad := strings.Replace(detectionRule("    s: {Provider_Name|bogus: x}\n    condition: s\n"), "id: r1", "id: r2", 1)
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"good.yml": good, "sub/bad.yaml": bad, "notes.txt": "not yaml: ["} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	probs := Lint(dir)
	if len(probs) != 1 || !strings.Contains(probs[0].Error(), filepath.Join("sub", "bad.yaml")+":7:9: error: rule r2: unknown modifier") {
		t.Errorf("Lint = %v, want one problem in sub/bad.yaml at 7:9", probs)
	}
	if probs := Lint(filepath.Join(dir, "good.yml")); len(probs) != 0 {
		t.Errorf("Lint(good) = %v, want none", probs)
	}
	if probs := Lint(filepath.Join(dir, "absent")); len(probs) != 1 {
		t.Errorf("Lint(absent) = %v, want one problem", probs)
	}
	rs := NewRuleset()
	if err := rs.AddPath(dir); err != nil {
		t.Fatal(err)
	}
	if got := rs.Rules(); len(got) != 1 || got[0].ID != "r1" || got[0].Kind != "detection" || !strings.HasSuffix(got[0].Source, "good.yml") {
		t.Errorf("Rules() = %+v, want r1 from good.yml", got)
	}
}

func TestBuiltinPackLints(t *testing.T) {
	rs := NewRuleset()
	if err := rs.AddBuiltin(); err != nil {
		t.Fatal(err)
	}
	for _, le := range rs.Skipped() {
		t.Errorf("built-in pack: %v", le)
	}
	if len(rs.Rules()) == 0 {
		t.Fatal("the built-in pack has no rules")
	}
	for _, r := range rs.Rules() {
		if !strings.HasPrefix(r.Source, "builtin:") {
			t.Errorf("rule %s source %q, want builtin:…", r.ID, r.Source)
		}
	}
	if _, err := rs.NewEngine(); err != nil {
		t.Fatal(err)
	}
}

// FuzzLoad feeds arbitrary YAML to the loader and the engine: no panic,
// no hang, whatever the rule says.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(detectionRule("    s: {A|contains|all: [x, y]}\n    condition: 1 of s*\n")))
	f.Add([]byte(corrRule("    type: temporal\n    rules: [base_a, base_b]\n    group-by: [User]\n    timespan: 5s\n")))
	f.Add([]byte(msiMap))
	f.Add([]byte("title: x\nid: y\nlogsource: {category: process_creation}\ndetection:\n    s: {CommandLine|windash|contains: ' -a -b /c'}\n    condition: not s\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs := NewRuleset()
		_ = rs.AddBytes("fuzz.yml", data)
		_ = rs.Skipped()
		e, err := rs.NewEngine()
		if err != nil {
			return
		}
		ev := mkEvent("Application", "A", 1, t0, "A=x y", "User=u", "=pos")
		run(e, ev, evA(1, "User=u"), evB(2, "User=u"))
	})
}

func TestYAMLAnchors(t *testing.T) {
	y := detectionRule("    a:\n        Image|endswith: &exe '\\cmd.exe'\n    b:\n        ParentImage|endswith: *exe\n    c: &sel\n        User: alice\n    d: *sel\n    condition: a and b and d\n")
	_, e := engineFor(t, y)
	ev := mkEvent("Application", "P", 1, t0, `Image=C:\cmd.exe`, `ParentImage=D:\x\cmd.exe`, "User=alice")
	if got := run(e, ev); len(got) != 1 {
		t.Errorf("rule with anchors and aliases: %d findings, want 1", len(got))
	}
}

func TestDeepConditionRefused(t *testing.T) {
	cond := strings.Repeat("(", 100000) + "s" + strings.Repeat(")", 100000)
	rs := NewRuleset()
	_ = rs.AddBytes("deep.yml", []byte(detectionRule("    s: {A: x}\n    condition: '"+cond+"'\n")))
	if sk := rs.Skipped(); len(sk) != 1 || !strings.Contains(sk[0].Error(), "nested more than") {
		t.Errorf("got %v, want the deep condition refused", sk)
	}
	ok := strings.Repeat("not ", 10) + "s"
	rs = NewRuleset()
	_ = rs.AddBytes("ok.yml", []byte(detectionRule("    s: {A: x}\n    condition: "+ok+"\n")))
	if len(rs.Skipped()) != 0 {
		t.Errorf("a modestly nested condition was refused: %v", rs.Skipped())
	}
}
