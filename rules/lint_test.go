package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLintWarnings: each lint check, with the position and words it must
// give, and rules that must lint clean.
func TestLintWarnings(t *testing.T) {
	rule := func(logsource, det string) string {
		return "title: t\nid: r\nlogsource:\n    product: windows\n    " + logsource + "\ndetection:\n" + det
	}
	contosoMap := "---\nfieldmap: contoso\nprovider: Contoso\nevent_ids: [100]\nfields:\n    ContosoThing: Data[1]\n"
	tests := []struct {
		name string
		yml  string
		want []string // "line:col: severity: kind" + " … " + a word of the message; none: clean
	}{
		{"EventId is not EventID", rule("service: application", "    s: {EventId: 1034}\n    condition: s\n"),
			[]string{"7:9: warning: unknown-field … did you mean EventID?"}},
		{"typo of a taxonomy field", rule("category: process_creation", "    s: {Imagee|endswith: '\\cmd.exe'}\n    condition: s\n"),
			[]string{"7:9: warning: unknown-field … did you mean Image?"}},
		{"field of another category", rule("category: process_creation", "    s: {TargetFilename|endswith: '.dll'}\n    condition: s\n"),
			[]string{"7:9: warning: unknown-field … Sysmon/Operational 1"}},
		{"and of two event ids", rule("service: application", "    a: {EventID: 1}\n    b: {EventID: 2}\n    condition: a and b\n"),
			[]string{"9:16: warning: never-matches … two different values"}},
		{"all of two event ids", rule("service: application", "    s_a: {EventID: 1}\n    s_b: {EventID: 2}\n    condition: all of s_*\n"),
			[]string{"9:16: warning: never-matches … two different values"}},
		{"event id the logsource never reads", rule("category: process_creation", "    s: {EventID: 4624, CommandLine|contains: x}\n    condition: s\n"),
			[]string{"8:16: warning: never-matches … reads only EventID 1, 4688"}},
		{"channel the logsource never reads", rule("service: application", "    s: {Channel: System, EventID: 7045}\n    condition: s\n"),
			[]string{"8:16: warning: never-matches … needs Channel system, but the logsource reads only Application"}},
		{"channel of the logsource, any case", rule("service: application", "    s: {Channel: application}\n    condition: s\n"), nil},
		{"channel with a wildcard", rule("service: application", "    s: {Channel: 'Sys*'}\n    condition: s\n"), nil},
		{"field map of other event ids", rule("service: application", "    s: {EventID: 200, ContosoThing: x}\n    condition: s\n") + contosoMap,
			[]string{"7:23: warning: never-matches … field map contoso (provider Contoso, event ids 100)"}},
		{"field map of the rule's event id", rule("service: application", "    s: {EventID: 100, ContosoThing: x}\n    condition: s\n") + contosoMap, nil},
		{"or of two event ids", rule("service: application", "    a: {EventID: 1}\n    b: {EventID: 2}\n    condition: a or b\n"), nil},
		{"not on an event id", rule("service: application", "    a: {EventID: 1}\n    b: {EventID: 2}\n    condition: a and not b\n"), nil},
		{"real names", rule("category: process_creation", "    s: {Image|endswith: x, ParentImage|endswith: y, OriginalFileName: z, Provider_Name: p}\n    condition: s\n"), nil},
		{"Defender names without their spaces", rule("service: windefend", "    s: {ProcessName: x, Feature_Name: y}\n    condition: s\n"), nil},
		{"unknown channel: any known name is fine", rule("service: dns-server-analytic", "    s: {CommandLine: x}\n    condition: s\n"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "w.yml")
			if err := os.WriteFile(path, []byte(tt.yml), 0o644); err != nil {
				t.Fatal(err)
			}
			probs := Lint(path)
			if len(probs) != len(tt.want) {
				t.Fatalf("got %d problems %v, want %d", len(probs), probs, len(tt.want))
			}
			for i, w := range tt.want {
				head, word, _ := strings.Cut(w, " … ")
				k := strings.LastIndex(head, " ")
				pos, kind := head[:k], head[k+1:]
				p := probs[i]
				got := p.Error()
				if !strings.HasPrefix(got, path+":"+pos+" rule r: ") || p.Kind != kind || !strings.Contains(got, word) {
					t.Errorf("got %q (kind %s), want %s%s … %q", got, p.Kind, pos, kind, word)
				}
			}
		})
	}
}

// TestSpacedEventDataNames: Defender names its data with spaces ("Process
// Name"); Sigma rules write ProcessName or Feature_Name, and must match.
func TestSpacedEventDataNames(t *testing.T) {
	y := "title: t\nid: r\nlogsource: {product: windows, service: windefend}\ndetection:\n    s: {ProcessName|endswith: '\\evil.exe', Feature_Name: AMSI}\n    condition: s\n"
	_, e := engineFor(t, y)
	ch := "Microsoft-Windows-Windows Defender/Operational"
	hit := mkEvent(ch, "Microsoft-Windows-Windows Defender", 1116, t0, `Process Name=C:\evil.exe`, "Feature Name=AMSI")
	miss := mkEvent(ch, "Microsoft-Windows-Windows Defender", 1116, t0, `Process Name=C:\good.exe`, "Feature Name=AMSI")
	if got := run(e, hit, miss); len(got) != 1 {
		t.Errorf("%d findings, want 1 (the event whose Process Name ends in evil.exe)", len(got))
	}
}
