package messages

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/evtxscan/evtxscan/parser"
)

// FuzzRender: any template and any values render without panic, within the
// size bound, and valid UTF-8 in gives valid UTF-8 out.
func FuzzRender(f *testing.F) {
	for _, s := range []string{"%1 %2!08x! %%1842 %n%t%r%0", "%{Name} %99 %", "%1!*s!", "%1!.99999999999d!", "%1!-+ #0123.45I64u!"} {
		f.Add(s, "0x3e7", "%%1842 %%2 %1")
	}
	params := map[uint32]string{1842: "Yes", 2: "gone"}
	f.Fuzz(func(t *testing.T, tmpl, v1, v2 string) {
		ev := &parser.Event{EventData: []parser.Field{{Name: "Name", Value: v1}, {Value: v2}}}
		got := compileTemplate(tmpl).render(eventValues{ev}, params)
		if len(got) > MaxMessageBytes+len(truncatedMark)+len(tmpl)+8 {
			t.Fatalf("output of %d bytes", len(got))
		}
		if utf8.ValidString(tmpl) && utf8.ValidString(v1) && utf8.ValidString(v2) && !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8 from valid input: %q", got)
		}
	})
}

// FuzzLoad: a user's table file never panics the loader; errors name the file.
func FuzzLoad(f *testing.F) {
	f.Add("messages:\n  - provider: P\n    event_id: 1-3\n    template: x\nparameters:\n  - providers: '*'\n    values: {1: a}\n")
	f.Add("messages: [")
	f.Fuzz(func(t *testing.T, yml string) {
		_, err := parseTable("user.yml", []byte(yml))
		if err != nil && !strings.Contains(err.Error(), "user.yml") {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}
