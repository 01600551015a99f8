package report

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzCellText checks the spreadsheet neutralization on any input: valid
// UTF-8, never a formula start, no raw control, bidi or invisible character,
// within Excel's cell limit.
func FuzzCellText(f *testing.F) {
	for _, s := range hostileStrings {
		f.Add(s)
	}
	f.Add(strings.Repeat("\u202e=", 20000))
	f.Fuzz(func(t *testing.T, s string) {
		got := cellText(s)
		if !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8 out of %q", s)
		}
		if formulaStart(got) {
			t.Fatalf("formula start: %q", got)
		}
		units := 0
		for _, r := range got {
			units += 1 + btoi(r > 0xffff)
			if needsEscape(r, utf8.RuneLen(r)) {
				t.Fatalf("raw %U in %q", r, got)
			}
		}
		if units > maxCellUnits {
			t.Fatalf("%d UTF-16 units", units)
		}
	})
}

// FuzzAppendJSONString checks the JSON quoting used for the HTML data
// blocks: it parses back to the input (invalid bytes as U+FFFD) and never
// holds a character that could end a <script> element.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range hostileStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		if want := strings.Map(func(r rune) rune { return r }, s); back != want {
			t.Fatalf("round trip of %q: got %q", s, back)
		}
		if strings.ContainsAny(string(b), "<>&\u2028\u2029") {
			t.Fatalf("unescaped HTML-significant character in %s", b)
		}
	})
}
