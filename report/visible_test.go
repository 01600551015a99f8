package report

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// visibleTextRef is visibleText without the word-at-a-time prefix scan,
// the definition the fast version is checked against.
func visibleTextRef(s string, keepLines bool) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			b.WriteRune(utf8.RuneError)
		case r == '\r' && i+1 < len(s) && s[i+1] == '\n', r == '\n', r == '\r':
			if r == '\r' && i+1 < len(s) && s[i+1] == '\n' {
				size = 2
			}
			if keepLines {
				b.WriteByte('\n')
			} else {
				b.WriteString(" ⏎ ")
			}
		case r == '\t' && keepLines:
			b.WriteByte('\t')
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			b.WriteString(`\x`)
			b.WriteByte("0123456789abcdef"[r>>4])
			b.WriteByte("0123456789abcdef"[r&0xf])
		case needsEscape(r, size):
			h := strconv.FormatInt(int64(r), 16)
			b.WriteString(`\u` + strings.Repeat("0", max(0, 4-len(h))) + h)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

var visibleCases = []string{"", "plain text of some length", "tab\there and more text", "line\r\nbreak in the middle",
	"12345678\x7f", "1234567\x00", "éèà unicode text", "\u202e reversed", "abcdefgh\xffbad", "\x7e\x7e\x7e\x7e\x7e\x7e\x7e\x7e~",
	"ok ok ok ok\u200bzero width"}

func TestVisibleTextMatchesReference(t *testing.T) {
	for _, s := range append(visibleCases, hostileStrings...) {
		for _, keep := range []bool{false, true} {
			if got, want := visibleText(s, keep), visibleTextRef(s, keep); got != want {
				t.Errorf("visibleText(%q, %v) = %q, want %q", s, keep, got, want)
			}
		}
	}
}

func FuzzVisibleText(f *testing.F) {
	for _, s := range visibleCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, keep := range []bool{false, true} {
			if got, want := visibleText(s, keep), visibleTextRef(s, keep); got != want {
				t.Fatalf("visibleText(%q, %v) = %q, want %q", s, keep, got, want)
			}
		}
	})
}

// TestDisplayTime checks the hand-written formatter against time.Format
// for both layouts, in zones with odd offsets and daylight saving time.
func TestDisplayTime(t *testing.T) {
	zones := []*time.Location{time.UTC, time.FixedZone("x", 5*3600+30*60), time.FixedZone("y", -(3*3600 + 30*60)),
		time.FixedZone("lmt", -(17*60 + 30)), time.FixedZone("z", 14*3600)}
	if ny, err := time.LoadLocation("America/New_York"); err == nil {
		zones = append(zones, ny)
	}
	r := rand.New(rand.NewPCG(3, 4))
	times := []time.Time{time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2024, 3, 10, 7, 0, 0, 123456789, time.UTC), time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(10001, 1, 1, 0, 0, 0, 0, time.UTC)}
	for range 3000 {
		times = append(times, time.Unix(r.Int64N(253402300799+11644473600)-11644473600, r.Int64N(1e9)))
	}
	for _, loc := range zones {
		for _, tm := range times {
			if got, want := displayTime(tm, loc, 7), tm.In(loc).Format(displayTimeLayout); got != want {
				t.Fatalf("displayTime(%v, %v, 7) = %q, want %q", tm, loc, got, want)
			}
			if got, want := displayTime(tm, loc, 3), tm.In(loc).Format(shortTimeLayout); got != want {
				t.Fatalf("displayTime(%v, %v, 3) = %q, want %q", tm, loc, got, want)
			}
		}
	}
}
