package rules

import (
	"encoding/base64"
	"testing"

	"github.com/evtxscan/evtxscan/parser"
)

func matches(t *testing.T, det string, ev *parser.Event) bool {
	t.Helper()
	_, e := engineFor(t, detectionRule(det))
	return len(run(e, ev)) > 0
}

func TestConditions(t *testing.T) {
	// sel_a and filter_c match the event, sel_b does not.
	const sels = `    sel_a:
        A: yes
    sel_b:
        B: yes
    filter_c:
        C: yes
    _hidden:
        A: yes
`
	ev := mkEvent("Application", "P", 1, t0, "A=yes", "B=no", "C=yes")
	tests := []struct {
		cond string
		want bool
	}{
		{"sel_a", true},
		{"sel_b", false},
		{"sel_a and sel_b", false},
		{"sel_a or sel_b", true},
		{"not sel_b", true},
		{"sel_a and not filter_c", false},
		{"sel_a and not sel_b", true},
		{"not sel_a or filter_c", true},
		{"(sel_a or sel_b) and not filter_c", false},
		{"sel_b or sel_a and filter_c", true},   // and binds tighter
		{"(sel_b or sel_a) and filter_c", true}, //
		{"not (sel_a and filter_c)", false},     //
		{"not sel_a and filter_c", false},       // not binds tighter than and
		{"1 of sel_*", true},
		{"all of sel_*", false},
		{"all of sel_a", true},
		{"1 of them", true},
		{"all of them", false},
		{"2 of them", true},
		{"3 of them", false}, // _hidden is not part of them
		{"1 of sel_* and not 1 of filter_*", false},
		{"all of filter_* and sel_a", true},
		{"1 of _hid*", true},
		{"SEL_A", false}, // identifiers are case-sensitive: refused below
	}
	for _, tt := range tests {
		t.Run(tt.cond, func(t *testing.T) {
			if tt.cond == "SEL_A" {
				rs := NewRuleset()
				_ = rs.AddBytes("x.yml", []byte(detectionRule(sels+"    condition: "+tt.cond+"\n")))
				if len(rs.Skipped()) != 1 {
					t.Fatalf("unknown identifier accepted")
				}
				return
			}
			got := matches(t, sels+"    condition: "+tt.cond+"\n", ev)
			if got != tt.want {
				t.Errorf("condition %q: got %v, want %v", tt.cond, got, tt.want)
			}
		})
	}
}

func TestConditionList(t *testing.T) {
	det := "    a:\n        A: x\n    b:\n        B: y\n    condition:\n        - a\n        - b\n"
	if !matches(t, det, mkEvent("Application", "P", 1, t0, "B=y")) {
		t.Error("a list of conditions is OR-ed: got no match")
	}
}

func TestSelectionShapes(t *testing.T) {
	ev := mkEvent("Application", "P", 7, t0, "Image=C:\\Windows\\cmd.exe", "User=alice", "=positional one", "=two")
	tests := []struct {
		name string
		det  string
		want bool
	}{
		{"map is AND", "    s:\n        Image: 'C:\\Windows\\cmd.exe'\n        User: alice\n", true},
		{"map AND fails", "    s:\n        Image: 'C:\\Windows\\cmd.exe'\n        User: bob\n", false},
		{"list of maps is OR", "    s:\n        - User: bob\n        - User: alice\n", true},
		{"list of values is OR", "    s:\n        User:\n            - bob\n            - ALICE\n", true},
		{"keywords", "    s:\n        - 'nothing'\n        - 'positional'\n", true},
		{"keyword miss", "    s:\n        - 'absent text'\n", false},
		{"keyword scalar", "    s: 'cmd.exe'\n", true},
		{"positional", "    s:\n        Data[4]: two\n", true},
		{"positional beyond", "    s:\n        Data[9]: two\n", false},
		{"Data any", "    s:\n        Data: two\n", true},
		{"Data contains all", "    s:\n        Data|contains|all:\n            - positional\n            - tw\n", true},
		{"EventID number", "    s:\n        EventID: 7\n", true},
		{"EventID list", "    s:\n        EventID:\n            - 1\n            - 7\n", true},
		{"EventID miss", "    s:\n        EventID: 8\n", false},
		{"EventID as text with wildcard", "    s:\n        EventID: '?'\n", true},
		{"Provider_Name case-insensitive", "    s:\n        Provider_Name: p\n", true},
		{"Computer", "    s:\n        Computer: host1\n", true},
		{"null matches absent", "    s:\n        Missing: null\n", true},
		{"null on present", "    s:\n        User: null\n", false},
		{"empty string on absent", "    s:\n        Missing: ''\n", false},
		{"field case-sensitive", "    s:\n        user: alice\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := matches(t, tt.det+"    condition: s\n", ev); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestWildcardsAndEscapes(t *testing.T) {
	tests := []struct {
		value, pattern string
		want           bool
	}{
		{`C:\Windows\System32\cmd.exe`, `*\cmd.exe`, true},
		{`C:\Windows\System32\cmd.exe`, `*\CMD.EXE`, true},
		{`C:\Windows\System32\cmd.exe`, `c:\windows\\*`, true},
		{`C:\Windows\System32\cmd.exe`, `c:\windows\*`, false}, // \* is a literal star
		{`C:\Windows*`, `c:\windows\*`, true},
		{`C:\Windows\System32\cmd.exe`, `*system32*`, true},
		{`C:\Windows\System32\cmd.exe`, `C:\\*\cmd.exe`, true},
		{`C:\Windows\System32\cmd.exe`, `C:\\*\\*32\c?d.exe`, true},
		{`C:\Windows\System32\cmd.exe`, `C:\*\powershell.exe`, false},
		{`C:\Windows\System32\cmd.exe`, `*`, true},
		{`a*b`, `a\*b`, true},
		{`axb`, `a\*b`, false},
		{`a?b`, `a\?b`, true},
		{`axb`, `a\?b`, false},
		{`axb`, `a?b`, true},
		{`a\b`, `a\\b`, true},
		{`a\b`, `a\b`, true},
		{`a\xb`, `a\\*`, true},
		{`ab`, `a**b`, true},
		{`ÄRGER.exe`, `*ärger*`, true},
		{`x-ärger`, `X-Ä*`, true},
		{`abcabd`, `*abd`, true},
		{`aXbXc`, `a*b*c`, true},
		{`aXbXc`, `a*c*b`, false},
		{`abc`, `abc*abc`, false},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+"~"+tt.value, func(t *testing.T) {
			det := "    s:\n        F: '" + tt.pattern + "'\n    condition: s\n"
			ev := mkEvent("Application", "P", 1, t0, "F="+tt.value)
			if got := matches(t, det, ev); got != tt.want {
				t.Errorf("%q vs %q: got %v, want %v", tt.pattern, tt.value, got, tt.want)
			}
		})
	}
}

func TestModifiers(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString([]byte("Invoke-Mimikatz -DumpCreds"))
	utf16b64 := base64.StdEncoding.EncodeToString([]byte("I\x00E\x00X\x00 \x00"))
	tests := []struct {
		name  string
		field string // F|mods: value (YAML)
		value string // the event's F
		want  bool
	}{
		{"contains", "F|contains: 'mid'", "a mid b", true},
		{"contains miss", "F|contains: 'zzz'", "a mid b", false},
		{"contains keeps wildcards", "F|contains: 'a*b'", "xxaYYbxx", true},
		{"startswith", "F|startswith: 'A M'", "a mid b", true},
		{"startswith miss", "F|startswith: 'mid'", "a mid b", false},
		{"endswith", "F|endswith: 'D B'", "a mid b", true},
		{"all", "F|contains|all: ['a', 'b']", "a mid b", true},
		{"all miss", "F|contains|all: ['a', 'z']", "a mid b", false},
		{"cased", "F|cased: 'Abc'", "abc", false},
		{"cased hit", "F|cased: 'Abc'", "Abc", true},
		{"cased contains", "F|contains|cased: 'B'", "abc", false},
		{"re", "F|re: '^a.+b$'", "a mid b", true},
		{"re case-sensitive", "F|re: '^A'", "a mid b", false},
		{"re i", "F|re|i: '^A'", "a mid b", true},
		{"re m", "F|re|m: '^second$'", "first\nsecond", true},
		{"re no m", "F|re: '^second$'", "first\nsecond", false},
		{"re s", "F|re|s: 'first.second'", "first\nsecond", true},
		{"re no s", "F|re: 'first.second'", "first\nsecond", false},
		{"base64", "F|base64: 'Invoke-Mimikatz -DumpCreds'", b64, true},
		{"base64 contains", "F|base64|contains: 'Invoke-Mimikatz -DumpCreds'", "x " + b64 + " y", true},
		{"base64offset 0", "F|base64offset|contains: 'Mimikatz'", base64.StdEncoding.EncodeToString([]byte("Mimikatz rocks")), true},
		{"base64offset 1", "F|base64offset|contains: 'Mimikatz'", base64.StdEncoding.EncodeToString([]byte("xMimikatz rocks")), true},
		{"base64offset 2", "F|base64offset|contains: 'Mimikatz'", base64.StdEncoding.EncodeToString([]byte("xyMimikatz rocks")), true},
		{"base64offset miss", "F|base64offset|contains: 'Mimikatz'", base64.StdEncoding.EncodeToString([]byte("nothing here")), false},
		{"wide base64offset", "F|wide|base64offset|contains: 'IEX '", "xx" + utf16b64, true},
		{"utf16le base64", "F|utf16le|base64offset|contains: 'IEX '", utf16b64, true},
		{"windash slash", "F|windash|contains: ' -enc '", "powershell /enc abc", true},
		{"windash dash", "F|windash|contains: ' -enc '", "powershell -enc abc", true},
		{"windash en dash", "F|windash|contains: ' -enc '", "powershell \u2013enc abc", true},
		{"windash not mid-word", "F|windash|contains: 'a-b'", "a/b", false},
		{"cidr v4", "F|cidr: '10.0.0.0/8'", "10.1.2.3", true},
		{"cidr v4 miss", "F|cidr: '10.0.0.0/8'", "11.1.2.3", false},
		{"cidr v6", "F|cidr: 'fe80::/10'", "fe80::1", true},
		{"cidr not ip", "F|cidr: '10.0.0.0/8'", "hello", false},
		{"gt", "F|gt: 10", "11", true},
		{"gt equal", "F|gt: 10", "10", false},
		{"gte", "F|gte: 10", "10", true},
		{"lt hex", "F|lt: 16", "0xf", true},
		{"lte", "F|lte: 1.5", "1.5", true},
		{"gt not number", "F|gt: 1", "abc", false},
		{"exists", "F|exists: true", "", true},
		{"exists false", "F|exists: false", "x", false},
		{"absent exists false", "Z|exists: false", "x", true},
		{"neq", "F|neq: 'abc'", "abd", true},
		{"neq equal", "F|neq: 'ABC'", "abc", false},
		{"neq list", "F|neq: ['a', 'b']", "b", false},
		{"fieldref", "F|fieldref: G", "same", true},
		{"fieldref differs", "F|fieldref: H", "same", false},
		{"fieldref neq", "F|fieldref|neq: H", "same", true},
		{"fieldref endswith", "F|fieldref|endswith: T", "xxtail", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			det := "    s:\n        " + tt.field + "\n    condition: s\n"
			ev := mkEvent("Application", "P", 1, t0, "F="+tt.value, "G=same", "H=other", "T=TAIL")
			if got := matches(t, det, ev); got != tt.want {
				t.Errorf("%s on %q: got %v, want %v", tt.field, tt.value, got, tt.want)
			}
		})
	}
}

func TestRefusedModifiers(t *testing.T) {
	tests := []struct {
		field, wantMsg string
	}{
		{"F|expand: '%Admins%'", "expand"},
		{"F|frobnicate: x", "unknown modifier"},
		{"F|hour: 3", "time modifier"},
		{"F|re: '(?<=a)b'", "RE2"},
		{"F|cidr: '10.0.0.0/99'", "bad CIDR"},
		{"F|gt: abc", "needs a number"},
		{"F|base64: 'a*'", "wildcards cannot"},
		{"F|exists: maybe", "true or false"},
		{"F|i: x", "only follows |re"},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			rs := NewRuleset()
			_ = rs.AddBytes("m.yml", []byte(detectionRule("    s:\n        "+tt.field+"\n    condition: s\n")))
			sk := rs.Skipped()
			if len(sk) != 1 {
				t.Fatalf("got %d refusals, want 1", len(sk))
			}
			if msg := sk[0].Error(); !containsFold(msg, tt.wantMsg) {
				t.Errorf("got %q, want it to mention %q", msg, tt.wantMsg)
			}
			if p := sk[0].Problems[0]; p.Line != 8 || p.Col < 9 {
				t.Errorf("position %d:%d, want line 8 from column 9 (the field key or its value)", p.Line, p.Col)
			}
		})
	}
}

func containsFold(s, sub string) bool { return indexFold(s, lowerString(sub), false, true) >= 0 }

func lowerString(s string) string {
	b := []byte(s)
	for i := range b {
		b[i] = lowerASCII(b[i])
	}
	return string(b)
}

func TestMatchDetail(t *testing.T) {
	y := detectionRule("    sel_a:\n        A: x\n    sel_b:\n        B: y\n    filter:\n        C: z\n    condition: 1 of sel_* and not filter\n")
	_, e := engineFor(t, y, WithMatchDetail())
	got := run(e, mkEvent("Application", "P", 1, t0, "A=x", "B=no", "C=no"))
	if len(got) != 1 || got[0].Field("Matched") != "sel_a" {
		t.Fatalf("got %v, want one finding with Matched=sel_a", got)
	}
	_, e = engineFor(t, y)
	if got := run(e, mkEvent("Application", "P", 1, t0, "A=x")); len(got) != 1 || got[0].Field("Matched") != "" {
		t.Errorf("Matched shown without WithMatchDetail: %v", got)
	}
}
