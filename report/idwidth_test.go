package report

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/evtxscan/evtxscan/internal/testenv"
)

// TestHTMLTimelineFitsLongNumbers renders a timeline of 5-digit event ids
// (MsiInstaller 10005, 11708) and 8-digit record ids in headless Chromium,
// sorted by the ID column (so its header carries the sort arrow), and
// checks that no ID or Record cell, header included, is cut. The page's
// own script renders the rows; a copy of the page without its CSP gets a
// probe script that measures the cells.
func TestHTMLTimelineFitsLongNumbers(t *testing.T) {
	testenv.Tool(t, "chromium", "chromium")
	if testing.Short() {
		t.Skip("starts a browser; skipped with -short")
	}
	dir := t.TempDir()
	w, err := New(Options{Dir: dir, Formats: []string{"html"}, Title: "ids"})
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range []uint16{10005, 11708, 65535, 1033, 4} {
		ev := fixtureEvent(i)
		ev.System.EventID = id
		ev.Source.RecordID = 98765432 - uint64(i)
		if err := w.AddEvent(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(Summary{Tool: "test"}); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, HTMLName))
	if err != nil {
		t.Fatal(err)
	}
	csp := regexp.MustCompile(`<meta http-equiv="Content-Security-Policy"[^>]*>`)
	if !csp.Match(page) {
		t.Fatal("report.html has no CSP meta element to take out")
	}
	probe := `<script>setTimeout(function () {
  var t = document.getElementById('t-table'), cut = [], n = 0;
  [5, 9].forEach(function (c) {
    t.querySelectorAll('tr > :nth-child(' + c + ')').forEach(function (el) {
      n++;
      if (el.scrollWidth > el.clientWidth) { cut.push(el.textContent + ' (' + el.scrollWidth + '>' + el.clientWidth + 'px)'); }
    });
  });
  var p = document.createElement('pre'); p.id = 'fit-probe';
  p.textContent = 'cells=' + n + ' cut=' + cut.join(' | ');
  document.body.appendChild(p);
}, 500);</script></body>`
	probed := strings.Replace(string(csp.ReplaceAll(page, nil)), "</body>", probe, 1)
	path := filepath.Join(dir, "probe.html")
	if err := os.WriteFile(path, []byte(probed), 0o644); err != nil {
		t.Fatal(err)
	}
	dom := testenv.Chromium(t, "file://"+path+"#sort=4&desc=1", "")
	m := regexp.MustCompile(`<pre id="fit-probe">cells=(\d+) cut=([^<]*)</pre>`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("the probe did not run; DOM tail:\n%s", dom[max(0, len(dom)-2000):])
	}
	if m[1] != "12" { // 2 columns × (header + 5 rows)
		t.Errorf("probe measured %s cells, want 12", m[1])
	}
	if m[2] != "" {
		t.Errorf("timeline cells cut: %s", m[2])
	}
	if !strings.Contains(dom, `aria-sort="descending"`) {
		t.Errorf("the page was not sorted by the hash: the header arrow was not measured")
	}
}
