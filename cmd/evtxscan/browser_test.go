package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/evtxscan/evtxscan/internal/testenv"
)

// TestScanReportInBrowser loads the HTML report of a scan of testdata/evtx
// in headless Chromium: every finding is in the DOM, a filter works, the
// hostile-strings fixture shows its text literally and runs nothing, and
// nothing in the page can reach the network. A screenshot is kept under
// $EVTXSCAN_ARTIFACTS when set.
func TestScanReportInBrowser(t *testing.T) {
	testenv.Tool(t, "chromium", "chromium")
	if testing.Short() {
		t.Skip("starts a browser; skipped with -short")
	}
	root := testenv.RepoRoot(t)
	out := t.TempDir()
	code, _, stderr := scan(t, "--format", "html,jsonl", "--out", out, filepath.Join(root, "testdata", "evtx"))
	wantFixturesIncomplete(t, code, stderr)
	findings := readJSONL[findingLine](t, filepath.Join(out, "findings.jsonl"))
	timeline := readJSONL[timelineLine](t, filepath.Join(out, "timeline.jsonl"))
	page := filepath.Join(out, "report.html")
	raw, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing to fetch: a CSP that forbids every network source, and no
	// absolute URL in any src/href of the page as written.
	if !regexp.MustCompile(`http-equiv="Content-Security-Policy" content="default-src (?:'|&#39;)none`).Match(raw) {
		t.Error("report.html has no Content-Security-Policy with default-src 'none'")
	}
	if m := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:|//)`).Find(raw); m != nil {
		t.Errorf("report.html loads from the network: %s", m)
	}

	url := "file://" + page
	dom := testenv.Chromium(t, url, "")
	if !strings.Contains(dom, `data-evx-ready="1"`) {
		t.Fatal("the page's script did not run")
	}
	if got := strings.Count(dom, `<details class="finding`); got != len(findings) {
		t.Errorf("findings in the DOM: %d, in findings.jsonl: %d", got, len(findings))
	}
	for _, f := range findings {
		if !strings.Contains(dom, `data-rule="`+f.RuleID+`"`) {
			t.Errorf("finding %s is not in the DOM", f.RuleID)
		}
	}
	if !strings.Contains(dom, fmt.Sprintf(`data-matched="%d"`, len(timeline))) {
		t.Errorf("timeline: the page does not show all %d events", len(timeline))
	}
	// A filter: the events of one computer.
	want := 0
	for _, e := range timeline {
		if e.Computer == "PC-ALICE.corp.contoso.com" {
			want++
		}
	}
	dom = testenv.Chromium(t, url+"#computer=PC-ALICE.corp.contoso.com", "")
	if !strings.Contains(dom, fmt.Sprintf(`data-matched="%d"`, want)) {
		t.Errorf("computer filter: want %d events matched", want)
	}
	// The hostile fixture, literally, and nothing ran.
	dom = testenv.Chromium(t, url+"#computer=HOSTILE-PC", "")
	for _, s := range []string{`&lt;script&gt;alert(1)&lt;/script&gt;`, `data-evx-xss="undefined"`} {
		if !strings.Contains(dom, s) {
			t.Errorf("hostile rows: the DOM lacks %q", s)
		}
	}
	if regexp.MustCompile(`<img[^>]+onerror`).MatchString(dom) {
		t.Error("an <img onerror> from event text became an element")
	}

	shotDir := os.Getenv("EVTXSCAN_ARTIFACTS")
	if shotDir == "" {
		shotDir = t.TempDir()
	}
	if err := os.MkdirAll(shotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(shotDir, "scan-testdata-report.png")
	testenv.Chromium(t, url, shot)
	if st, err := os.Stat(shot); err != nil || st.Size() < 10_000 {
		t.Errorf("screenshot %s missing or empty: %v", shot, err)
	}
}
