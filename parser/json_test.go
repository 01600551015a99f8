package parser

import (
	"math/rand/v2"
	"testing"
	"time"
	"unicode/utf8"
)

// appendJSONStringRef is the byte-at-a-time definition of AppendJSONString,
// kept to check the word-at-a-time skipping against.
func appendJSONStringRef(dst []byte, s string, htmlSafe bool) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, `\n`...)
			case c == '\r':
				dst = append(dst, `\r`...)
			case c == '\t':
				dst = append(dst, `\t`...)
			case c < 0x20, htmlSafe && (c == '<' || c == '>' || c == '&'):
				dst = append(dst, '\\', 'u', '0', '0', hexLower[c>>4], hexLower[c&15])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1 && htmlSafe:
			dst = append(dst, `\ufffd`...)
		case r == utf8.RuneError && size == 1:
			dst = append(dst, "\ufffd"...)
		case r == 0x2028 || r == 0x2029:
			dst = append(dst, '\\', 'u', '2', '0', '2', hexLower[r&15])
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

var jsonStringCases = []string{
	"", "plain ascii text, long enough for several words", `C:\Program Files\x`, "quote\" at 7", `1234567"`,
	"12345678\x00", "tab\there", "<script>alert(1)</script>&amp;", "\u2028\u2029", "caf\xc3\xa9 \xff bad",
	"\x1f\x7f\x80", "ok 1234\x19", "ok 12345<", "exactly8", "exactly8exactly8\\", "日本語のテキストです", "\xed\xa0\x80",
}

func TestAppendJSONStringMatchesReference(t *testing.T) {
	for _, s := range jsonStringCases {
		for _, html := range []bool{false, true} {
			got, want := string(AppendJSONString(nil, s, html)), string(appendJSONStringRef(nil, s, html))
			if got != want {
				t.Errorf("AppendJSONString(%q, %v) = %s, want %s", s, html, got, want)
			}
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range jsonStringCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, html := range []bool{false, true} {
			got, want := string(AppendJSONString(nil, s, html)), string(appendJSONStringRef(nil, s, html))
			if got != want {
				t.Fatalf("AppendJSONString(%q, %v) = %s, want %s", s, html, got, want)
			}
		}
	})
}

// BenchmarkAppendJSONString quotes typical event text: a path with
// backslashes, a sentence, a GUID and a long plain line.
func BenchmarkAppendJSONString(b *testing.B) {
	texts := []string{`onecoreuap\enduser\winstore\licensemanager\lib\identity.cpp`, "No authenticated user, no ticket. (0x80070525)",
		"{54849625-5478-4994-A5BA-3E3B0328C30D}", "/work/shared/evtx-corpus/AndrewRathbun+DFIRArtifactMuseum/Windows/EventLogs/Win10/RathbunVM/Store.evtx"}
	n := 0
	for _, t := range texts {
		n += len(t)
	}
	b.SetBytes(int64(n))
	var dst []byte
	for b.Loop() {
		dst = dst[:0]
		for _, t := range texts {
			dst = AppendJSONString(dst, t, false)
		}
	}
}

// TestAppendRFC3339x7 checks the calendar shortcut against time.Format
// around its edges and at random instants.
func TestAppendRFC3339x7(t *testing.T) {
	const layout = "2006-01-02T15:04:05.0000000Z"
	times := []time.Time{
		time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1969, 12, 31, 23, 59, 59, 999999900, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2000, 2, 29, 12, 0, 0, 100, time.UTC),
		time.Date(2024, 12, 31, 23, 59, 59, 123456700, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999900, time.UTC),
		time.Date(1700, 3, 1, 1, 2, 3, 0, time.FixedZone("x", 3600)),
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		times = append(times, time.Unix(r.Int64N(253402300799+11644473600)-11644473600, r.Int64N(1e7)*100))
	}
	for _, tm := range times {
		if got, want := string(appendRFC3339x7(nil, tm)), tm.UTC().Format(layout); got != want {
			t.Errorf("appendRFC3339x7(%v) = %s, want %s", tm, got, want)
		}
	}
	// Out of range: the 1601 placeholder, as before.
	if got := string(appendRFC3339x7(nil, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))); got != "1601-01-01T00:00:00.0000000Z" {
		t.Errorf("year 10000: %s", got)
	}
}
