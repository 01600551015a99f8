package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// TestEveryReportNamesTheBuild: the xlsx Summary, the HTML page (header and
// footer) and run.json all carry Summary.Tool, so an old report can be
// traced to the code that wrote it.
func TestEveryReportNamesTheBuild(t *testing.T) {
	dir := t.TempDir()
	s, err := writeFixture(dir, 30, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tool := s.Tool
	html, err := os.ReadFile(filepath.Join(dir, HTMLName))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(html), tool); n < 2 {
		t.Errorf("report.html names %q %d times, want the header and the footer", tool, n)
	}
	f, err := excelize.OpenFile(filepath.Join(dir, XLSXName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := f.GetRows("Summary")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range rows {
		if len(r) >= 2 && r[0] == "Tool" && r[1] == tool {
			found = true
		}
	}
	if !found {
		t.Errorf("xlsx Summary has no Tool row with %q", tool)
	}
	b, err := os.ReadFile(filepath.Join(dir, RunInfoName))
	if err != nil {
		t.Fatal(err)
	}
	var ri runInfo
	if err := json.Unmarshal(b, &ri); err != nil {
		t.Fatalf("run.json: %v\n%s", err, b)
	}
	if ri.Tool != tool || ri.Files != len(s.Files) || ri.Findings != len(s.Findings) || ri.Rules != s.Rules ||
		ri.Started == "" || ri.Events != 30 {
		t.Errorf("run.json = %+v, want tool %q, %d files, %d findings, %d rules, 30 events", ri, tool, len(s.Files), len(s.Findings), s.Rules)
	}
}

// TestRunInfoOnlyWithDataFormats: run.json accompanies the CSV and JSONL
// files; an xlsx/HTML-only run (which carry the same in their summaries)
// writes none.
func TestRunInfoOnlyWithDataFormats(t *testing.T) {
	for _, tc := range []struct {
		formats []string
		want    bool
	}{
		{[]string{"xlsx", "html"}, false},
		{[]string{"csv"}, true},
		{[]string{"jsonl"}, true},
	} {
		dir := t.TempDir()
		if _, err := writeFixture(dir, 3, Options{Formats: tc.formats}); err != nil {
			t.Fatal(err)
		}
		_, err := os.Stat(filepath.Join(dir, RunInfoName))
		if got := err == nil; got != tc.want {
			t.Errorf("formats %v: run.json written %v, want %v", tc.formats, got, tc.want)
		}
	}
}
