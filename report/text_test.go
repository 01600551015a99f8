package report

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/evtxscan/evtxscan/parser"
	"github.com/evtxscan/evtxscan/rules"
)

func TestCellText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{`=HYPERLINK("http://x","y")`, `'=HYPERLINK("http://x","y")`},
		{`+cmd|' /C calc'!A0`, `'+cmd|' /C calc'!A0`},
		{"-2+3", "'-2+3"},
		{"@SUM(1)", "'@SUM(1)"},
		{"\t=1", `'\t=1`},
		{"\r=1", `' ⏎ =1`},
		{"a=1", "a=1"},
		{"bell\x07", `bell\x07`},
		{"nul\x00del\x7f", `nul\x00del\x7f`},
		{"c1\u0085", `c1\u0085`},
		{"rlo\u202Egpj.exe", `rlo\u202egpj.exe`},
		{"non\uFFFEchar\uFFFF", `non\ufffechar\uffff`}, // as xlsx and HTML show them, not raw in the CSV
		{"iso\u2066x\u2069", `iso\u2066x\u2069`},
		{"zw\u200b\ufeff", `zw\u200b\ufeff`},
		{"lines\r\na\nb", "lines ⏎ a ⏎ b"},
		{"bad\xffutf8", "bad\ufffdutf8"},
		{"ünïcödé 日本 🙂", "ünïcödé 日本 🙂"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := cellText(tt.in); got != tt.want {
				t.Errorf("cellText(%q): got %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestCutLimits(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		limit int // UTF-16 units
	}{
		{"ascii 64 KiB", strings.Repeat("A", 64<<10), maxCellUnits},
		{"astral runes count twice", strings.Repeat("🙂", 20000), maxCellUnits},
		{"escapes expand", strings.Repeat("\x01", 20000), maxCellUnits},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := cellText(tt.in)
			units := 0
			for _, r := range got {
				units++
				if r > 0xffff {
					units++
				}
			}
			if units > tt.limit {
				t.Errorf("got %d UTF-16 units, limit %d", units, tt.limit)
			}
			if !strings.Contains(got, "…[cut: ") {
				t.Errorf("no visible cut marker at the end: %q", got[len(got)-40:])
			}
			if !utf8.ValidString(got) {
				t.Errorf("cut inside a rune")
			}
		})
	}
	if got := htmlText(strings.Repeat("x", 5000), 100); utf8.RuneCountInString(got) > 100 || !strings.HasSuffix(got, "5000 characters in all]") {
		t.Errorf("htmlText cut: got %q", got)
	}
}

func TestParseLocation(t *testing.T) {
	winter := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in      string
		offset  int // seconds east in January 2026
		label   string
		wantErr string
	}{
		{"", 0, "UTC", ""},
		{"UTC", 0, "UTC", ""},
		{"utc", 0, "UTC", ""},
		{"Europe/Berlin", 3600, "Europe/Berlin", ""},
		{"America/New_York", -5 * 3600, "America/New_York", ""},
		{"+02:00", 7200, "UTC+02:00", ""},
		{"-05:30", -(5*3600 + 1800), "UTC-05:30", ""},
		{"+0545", 5*3600 + 2700, "UTC+05:45", ""},
		{"+9", 9 * 3600, "UTC+09:00", ""},
		{"UTC+01:00", 3600, "UTC+01:00", ""},
		{"+00:00", 0, "UTC", ""},
		{"Mars/Olympus", 0, "", "IANA name"},
		{"Local", 0, "", "IANA name"},
		{"+25:00", 0, "", "+hh:mm"},
		{"+01:75", 0, "", "+hh:mm"},
		{"+1:2:3", 0, "", "+hh:mm"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			loc, err := ParseLocation(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), tt.in) {
					t.Fatalf("got %v, want an error naming %q and saying %q", err, tt.in, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, off := winter.In(loc).Zone(); off != tt.offset {
				t.Errorf("offset: got %d, want %d", off, tt.offset)
			}
			if got := zoneLabel(loc); got != tt.label {
				t.Errorf("label: got %q, want %q", got, tt.label)
			}
		})
	}
}

func TestHistogram(t *testing.T) {
	tests := []struct {
		name  string
		times func(i int) time.Time
		n     int
	}{
		{"one minute", func(i int) time.Time { return fixtureBase.Add(time.Duration(i) * 100 * time.Millisecond) }, 600},
		{"ten years", func(i int) time.Time { return fixtureBase.Add(time.Duration(i) * 53 * time.Hour) }, 1700},
		{"out of order", func(i int) time.Time {
			return fixtureBase.Add(time.Duration(rand.New(rand.NewPCG(uint64(i), 1)).IntN(1e6)) * time.Second)
		}, 5000},
		{"implausible times", func(i int) time.Time {
			if i%2 == 0 {
				return time.Time{}
			}
			return time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC)
		}, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h histogram
			var lo, hi time.Time
			for i := 0; i < tt.n; i++ {
				tm := tt.times(i)
				h.add(tm)
				if tm.Year() >= 1980 {
					if lo.IsZero() || tm.Before(lo) {
						lo = tm
					}
					if tm.After(hi) {
						hi = tm
					}
				}
			}
			if len(h.counts) > histBuckets {
				t.Errorf("buckets: got %d, limit %d", len(h.counts), histBuckets)
			}
			c := buildChart(&h, nil)
			total := c.Skipped
			for _, b := range c.Buckets {
				total += b.Events
			}
			if total != tt.n {
				t.Errorf("charted+skipped: got %d, want %d", total, tt.n)
			}
			if len(c.Buckets) > chartBars {
				t.Errorf("bars: got %d, want ≤ %d", len(c.Buckets), chartBars)
			}
			if len(c.Buckets) > 0 {
				first, last := c.Buckets[0].Start, c.Buckets[len(c.Buckets)-1].Start.Add(c.Width)
				if lo.Before(first) || !hi.Before(last) {
					t.Errorf("range [%v, %v) does not hold [%v, %v]", first, last, lo, hi)
				}
			}
		})
	}
}

func TestDetails(t *testing.T) {
	tests := []struct {
		name string
		ev   parser.Event
		want string
	}{
		{"message wins", parser.Event{Message: "Windows Installer removed the product.", EventData: []parser.Field{{Value: "x"}}}, "Windows Installer removed the product."},
		{"unnamed data, padding dropped", parser.Event{EventData: []parser.Field{{Value: "A"}, {Value: "(NULL)"}, {Value: ""}, {Value: "1603"}}}, "Data[1]=A; Data[4]=1603"},
		{"named data", parser.Event{EventData: []parser.Field{{Name: "param1", Value: "Svc"}, {Name: "param2", Value: "stopped"}}}, "param1=Svc; param2=stopped"},
		{"user data leaves", parser.Event{UserData: &parser.Node{Name: "RmSessionEvent", Children: []*parser.Node{{Name: "RmSessionId", Text: "3"}, {Name: "Files", Children: []*parser.Node{{Name: "File", Text: `C:\a.dll`}}}}}}, `RmSessionId=3; File=C:\a.dll`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := details(&tt.ev); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestHTMLStatic checks the page bytes without a browser: hostile text never
// appears as markup, the data blocks cannot be closed early, the CSP is
// there and nothing outside the data blocks points at the network.
func TestHTMLStatic(t *testing.T) {
	dir := t.TempDir()
	s, err := writeFixture(dir, 300, Options{Formats: []string{"html"}, HTMLTimelineLimit: 120})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, HTMLName))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, bad := range []string{"<script>window.__xss", "<img src=x", "</script><script>window", "\u202e", "\x07"} {
		if strings.Contains(page, bad) {
			t.Errorf("page holds %q raw", bad)
		}
	}
	if !strings.Contains(page, `content="default-src &#39;none&#39;; script-src &#39;sha256-`) || strings.Contains(page, "unsafe-inline") {
		t.Errorf("no Content-Security-Policy meta with default-src 'none'")
	}
	if got := strings.Count(page, "<script"); got != 4 { // tables, events, rules, the page script
		t.Errorf("<script elements: got %d, want 4", got)
	}
	// Outside the JSON data blocks no attribute names a URL.
	outside := regexp.MustCompile(`(?s)<script type="application/json".*?</script>`).ReplaceAllString(page, "")
	if m := regexp.MustCompile(`(?i)(src|href|action)\s*=\s*"?(https?:|//)`).FindString(outside); m != "" {
		t.Errorf("a URL outside the data: %q", m)
	}
	// The embedded events parse as JSON, hold exactly the limit, and the
	// page says the timeline was cut.
	m := regexp.MustCompile(`(?s)<script type="application/json" id="evx-events">(.*?)</script>`).FindStringSubmatch(page)
	var rows [][]any
	if m == nil || json.Unmarshal([]byte(m[1]), &rows) != nil {
		t.Fatalf("events block missing or not JSON")
	}
	if len(rows) != 120 {
		t.Errorf("embedded events: got %d, want 120", len(rows))
	}
	if !strings.Contains(page, "first 120 of 300 events") {
		t.Errorf("the page does not say the timeline was cut")
	}
	if got := strings.Count(page, `<details class="finding`); got != len(s.Findings) {
		t.Errorf("findings: got %d, want %d", got, len(s.Findings))
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range append(hostileStrings, "\u2028\u2029", "quote\" back\\slash", "\x00\x1f") {
		b := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		if want := strings.Map(func(r rune) rune { return r }, s); back != want { // one U+FFFD per bad byte
			t.Errorf("round trip: got %q, want %q", back, want)
		}
		if strings.ContainsAny(string(b), "<>&\u2028\u2029") {
			t.Errorf("unescaped HTML-significant character in %s", b)
		}
	}
}

func TestFindingLayout(t *testing.T) {
	f := rules.Finding{Fields: []rules.DisplayField{{Name: "ProductName", Value: "P"}, {Name: "ProductVersion", Value: "1"},
		{Name: "Status", Value: "1603"}, {Name: "StatusMeaning", Value: "fatal"}, {Name: "UserID", Value: "S-1-5-18"}, {Name: "ProductCode", Value: "{X}"}},
		Events: []rules.EventRef{{File: "a.evtx", RecordID: 7}, {File: "a.evtx", RecordID: 8}}}
	got := layoutFinding(&f)
	want := findingRow{Product: "P", Version: "1", Status: "1603", Meaning: "fatal", User: "S-1-5-18", Details: "ProductCode={X}; 2 events", File: "a.evtx", RecordID: 7}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestHTMLLines(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a\r\nb\nc\rd", "a\nb\nc\nd"},
		{"x\u202e\x07", `x\u202e\x07`},
		{"plain", "plain"},
		{"Security ID:\t\tS-1-5-18", "Security ID:\t\tS-1-5-18"}, // Event Viewer's alignment stays
	}
	for _, tt := range tests {
		if got := htmlLines(tt.in, 100); got != tt.want {
			t.Errorf("htmlLines(%q): got %q, want %q", tt.in, got, tt.want)
		}
		if got := htmlText(tt.in, 100); strings.Contains(got, "\n") {
			t.Errorf("htmlText(%q) kept a line break: %q", tt.in, got)
		}
	}
}

func TestBaseName(t *testing.T) {
	for in, want := range map[string]string{
		`C:\logs\Application.evtx`:                           "Application.evtx",
		"/cases/ws01/System.evtx":                            "System.evtx",
		"kape.zip!C/Windows/System32/winevt/Logs/Setup.evtx": "Setup.evtx",
		"live:Application":                                   "live:Application",
		"Application.evtx":                                   "Application.evtx",
		`trailing\`:                                          `trailing\`,
	} {
		if got := baseName(in); got != want {
			t.Errorf("baseName(%q): got %q, want %q", in, got, want)
		}
	}
}
