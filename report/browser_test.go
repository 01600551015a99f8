package report

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/evtxscan/evtxscan/internal/testenv"
	"github.com/evtxscan/evtxscan/rules"
)

// chromium runs headless Chromium on url (see testenv.Chromium).
func chromium(t *testing.T, _ string, url, shot string) string {
	t.Helper()
	return testenv.Chromium(t, url, shot)
}

// TestHTMLInBrowser loads report.html in headless Chromium: the script runs
// under the page's CSP, every finding is in the DOM, a filter preset by the
// URL hash works, hostile event text shows literally and runs nothing, and
// the page makes no network request.
func TestHTMLInBrowser(t *testing.T) {
	bin := testenv.Tool(t, "chromium", "chromium")
	if testing.Short() {
		t.Skip("starts a browser; skipped with -short")
	}

	// Any request reaching this server is a failure: hostile events point
	// at it from every place markup could load something.
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		t.Errorf("the page made a network request: %s %s", r.Method, r.URL)
	}))
	defer srv.Close()
	beacons := []string{
		`<img src="` + srv.URL + `/img">`,
		`<link rel=stylesheet href="` + srv.URL + `/css">`,
		`<iframe src="` + srv.URL + `/frame"></iframe>`,
		`<svg><image href="` + srv.URL + `/svg"/></svg>`,
		`<style>@import url(` + srv.URL + `/import);</style>`,
	}

	dir := t.TempDir()
	const n = 600
	title := "evtxscan report — browser test"
	w, err := New(Options{Dir: dir, Formats: []string{"html"}, Title: title})
	if err != nil {
		t.Fatal(err)
	}
	// The hostile fixture's records come first (they are older).
	hostile, _ := hostileFixture(t)
	for _, ev := range hostile {
		if err := w.AddEvent(ev); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < n; i++ {
		ev := fixtureEvent(i)
		if i%50 == 7 {
			ev.Message = beacons[(i/50)%len(beacons)]
		}
		if err := w.AddEvent(ev); err != nil {
			t.Fatal(err)
		}
	}
	s := fixtureSummary(n)
	for i, b := range beacons {
		s.Findings[i+1].Fields = append(s.Findings[i+1].Fields, fieldOf("Beacon", b))
	}
	if err := w.Close(s); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(dir, HTMLName)
	url := "file://" + page

	dom := chromium(t, bin, url, "")
	mustContain := func(what, s string) {
		t.Helper()
		if !strings.Contains(dom, s) {
			t.Errorf("%s: the DOM lacks %q", what, s)
		}
	}
	mustContain("script ran under the CSP", `data-evx-ready="1"`)
	mustContain("style sheet applied under the CSP", `data-evx-css="rgb(246, 247, 249)"`)
	mustContain("no script set window.__xss", `data-evx-xss="undefined"`)
	pwned := regexp.MustCompile(`<html[^>]*data-pwned`)
	if pwned.MatchString(dom) {
		t.Errorf("an event handler from event text ran")
	}
	if m := regexp.MustCompile(`<title>([^<]*)</title>`).FindStringSubmatch(dom); m == nil || m[1] != title {
		t.Errorf("document title: got %q, want %q", m, title)
	}
	if got := strings.Count(dom, `<details class="finding`); got != len(s.Findings) {
		t.Errorf("findings in the DOM: got %d, want %d", got, len(s.Findings))
	}
	for _, f := range s.Findings {
		mustContain("finding rule", `data-rule="`+f.RuleID+`"`)
	}
	// Hostile text is shown literally, as text: escaped in the serialized DOM.
	mustContain("script tag as text", `MSI uninstall failed: &lt;script&gt;window.__xss=1;document.title='pwned'&lt;/script&gt;`)
	mustContain("rtl override made visible", `safe\u202eexe.txt`)
	mustContain("timeline rows rendered", fmt.Sprintf(`data-matched="%d"`, n+len(hostile)))

	// Filters preset by the URL hash: text and level.
	wantRemoval := 0
	for i := 0; i < n; i++ {
		if i%5 == 2 && i%50 != 7 {
			wantRemoval++
		}
	}
	dom = chromium(t, bin, url+"#q=removal+failed&level=Error", "")
	mustContain("text+level filter", fmt.Sprintf(`data-matched="%d"`, wantRemoval))
	if got := strings.Count(dom, "<tr class=\"lv-Error"); got != min(wantRemoval, 100) {
		t.Errorf("rows shown for the filter: got %d, want %d", got, min(wantRemoval, 100))
	}
	// Rule filter: events of one rule; and a filter that shows hostile rows,
	// which the table must render as text.
	dom = chromium(t, bin, url+"#rule=msi_rollback_inferred", "")
	mustContain("rule filter", `data-matched="4"`)
	dom = chromium(t, bin, url+"#q=__xss", "")
	mustContain("script ran with hostile rows shown", `data-evx-xss="undefined"`)
	if pwned.MatchString(dom) {
		t.Errorf("an event handler from event text ran in the timeline")
	}
	mustContain("hostile row as text", `&lt;/script&gt;&lt;script&gt;window.__xss=1&lt;/script&gt;`)
	if strings.Contains(dom, "<img src=\"x\"") || strings.Contains(dom, "<img src=x") {
		t.Errorf("event text became an element")
	}

	// Sorting preset by the hash: record id descending puts the last
	// fixture event (record 1599, after the 9 hostile ones) first; levels
	// sort by severity, not by name.
	dom = chromium(t, bin, url+"#sort=8&desc=1", "")
	if m := regexp.MustCompile(`<tbody id="t-body"><tr[^>]*data-index="(\d+)"`).FindStringSubmatch(dom); m == nil || m[1] != fmt.Sprint(len(hostile)+n-1) {
		t.Errorf("sorted by record id descending: first row %v, want index %d", m, len(hostile)+n-1)
	}
	dom = chromium(t, bin, url+"#sort=5&desc=1", "")
	if m := regexp.MustCompile(`<tbody id="t-body"><tr class="lv-(\w+)`).FindStringSubmatch(dom); m == nil || m[1] != "Information" {
		t.Errorf("sorted by level, least severe first: first row %v, want Information (by name it would be Warning)", m)
	}

	// The hostile fixture file's rows, as text.
	dom = chromium(t, bin, url+"#computer=HOSTILE-PC", "")
	mustContain("hostile fixture rows", `data-matched="8"`)
	mustContain("hostile fixture script as text", `&lt;script&gt;alert(1)&lt;/script&gt;`)
	mustContain("hostile fixture control characters visible", `Ctl\x01\x02`)
	mustContain("script ran with hostile fixture rows", `data-evx-xss="undefined"`)

	shotDir := os.Getenv("EVTXSCAN_ARTIFACTS")
	if shotDir == "" {
		shotDir = t.TempDir()
	}
	if err := os.MkdirAll(shotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(shotDir, "report-html.png")
	chromium(t, bin, url, shot)
	if st, err := os.Stat(shot); err != nil || st.Size() < 10_000 {
		t.Errorf("screenshot %s missing or empty: %v", shot, err)
	}
	t.Logf("screenshot: %s", shot)
	if hits.Load() != 0 {
		t.Errorf("%d network requests", hits.Load())
	}
}

func fieldOf(name, value string) rules.DisplayField {
	return rules.DisplayField{Name: name, Value: value}
}
