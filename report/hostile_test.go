package report

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/evtxscan/evtxscan/internal/testenv"
	"github.com/evtxscan/evtxscan/parser"
)

// hostileFixture reads testdata/evtx/hostile/Application.evtx, the
// attacker-controlled strings the writer engineer put into real records.
func hostileFixture(t *testing.T) ([]*parser.Event, parser.Stats) {
	t.Helper()
	path := filepath.Join(testenv.RepoRoot(t), "testdata", "evtx", "hostile", "Application.evtx")
	f, err := parser.Open(path, parser.Options{})
	if err != nil {
		t.Fatalf("the hostile fixture: %v", err)
	}
	defer f.Close()
	var evs []*parser.Event
	for ev, err := range f.Events(context.Background()) {
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		evs = append(evs, ev)
	}
	if len(evs) == 0 {
		t.Fatalf("%s: no events", path)
	}
	return evs, f.Stats()
}

// TestHostileFixtureCells writes the hostile fixture to xlsx and CSV and
// checks every cell: no formula start, no raw control or bidi character,
// nothing over Excel's cell limit, and the 64 KiB value (21,846 "€", under
// the limit) kept whole.
func TestHostileFixtureCells(t *testing.T) {
	evs, st := hostileFixture(t)
	dir := t.TempDir()
	w, err := New(Options{Dir: dir, Formats: []string{"xlsx", "csv"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if err := w.AddEvent(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(Summary{Files: []parser.Stats{st}, Tool: "test"}); err != nil {
		t.Fatal(err)
	}
	var cells []string
	f, err := excelize.OpenFile(filepath.Join(dir, XLSXName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := f.GetRows("Timeline")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows)-1 != len(evs) {
		t.Errorf("Timeline rows: got %d, want %d", len(rows)-1, len(evs))
	}
	for _, r := range rows {
		cells = append(cells, r...)
	}
	fh, err := os.Open(filepath.Join(dir, TimelineCSVName))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	recs, err := csv.NewReader(fh).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		cells = append(cells, r...)
	}
	var whole, script bool
	for _, c := range cells {
		if formulaStart(c) {
			t.Errorf("cell starts like a formula: %q", c)
		}
		if strings.ContainsAny(c, "\x00\x01\x07\x0b\x1f\x7f\n\r\u202e") {
			t.Errorf("raw control character in %q", c[:min(len(c), 80)])
		}
		units := 0
		for _, r := range c {
			units += 1 + btoi(r > 0xffff)
		}
		if units > maxCellUnits {
			t.Errorf("cell of %d UTF-16 units", units)
		}
		whole = whole || (strings.Contains(c, "Data[5]=€") && strings.Count(c, "€") == 21846)
		script = script || strings.Contains(c, "<script>alert(1)</script>")
	}
	if !whole {
		t.Errorf("the 64 KiB value under the cell limit was not kept whole")
	}
	if !script {
		t.Errorf("the script text is not shown literally")
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
