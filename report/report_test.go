package report

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

func TestXLSXReadBack(t *testing.T) {
	dir := t.TempDir()
	const n = 137
	berlin, err := ParseLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	s, err := writeFixture(dir, n, Options{Formats: []string{"xlsx"}, Location: berlin})
	if err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenFile(filepath.Join(dir, XLSXName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	if got, want := f.GetSheetList(), []string{"Summary", "Findings", "Uninstalls", "Timeline"}; !slices.Equal(got, want) {
		t.Fatalf("sheets: got %q, want %q", got, want)
	}
	tests := []struct {
		sheet  string
		header []string
		rows   int // data rows
	}{
		{"Timeline", append([]string{"Time (Europe/Berlin)"}, timelineHeader[1:]...), n},
		{"Findings", append([]string{"Time (Europe/Berlin)"}, findingsHeader[1:]...), len(s.Findings)},
		{"Uninstalls", append([]string{"Start (Europe/Berlin)", "End (Europe/Berlin)"}, uninstallsHeader[2:]...), len(s.Incidents)},
	}
	for _, tt := range tests {
		t.Run(tt.sheet, func(t *testing.T) {
			rows, err := f.GetRows(tt.sheet)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(rows[0], tt.header) {
				t.Errorf("header: got %q, want %q", rows[0], tt.header)
			}
			if got := len(rows) - 1; got != tt.rows {
				t.Errorf("data rows: got %d, want %d", got, tt.rows)
			}
			if w, _ := f.GetColWidth(tt.sheet, "A"); w < 30 {
				t.Errorf("column A width %v: times would show as ####", w)
			}
			panes, err := f.GetPanes(tt.sheet)
			if err != nil || !panes.Freeze || panes.YSplit != 1 {
				t.Errorf("top row not frozen: %+v, %v", panes, err)
			}
		})
	}

	// Styled header; rows coloured by level (row 4 is an Error event, row 2
	// an Information one).
	if st, _ := f.GetCellStyle("Timeline", "A1"); st == 0 {
		t.Errorf("Timeline header is not styled")
	}
	errStyle, _ := f.GetCellStyle("Timeline", "G4")
	infoStyle, _ := f.GetCellStyle("Timeline", "G2")
	if errStyle == 0 || errStyle == infoStyle {
		t.Errorf("Error row style %d, Information row style %d: want a colour for errors", errStyle, infoStyle)
	}

	// Every table sheet has an autofilter over its header and rows.
	filters := map[string]bool{}
	for _, dn := range f.GetDefinedName() {
		if dn.Name == "_xlnm._FilterDatabase" {
			filters[dn.Scope] = true
		}
	}
	for _, sheet := range []string{"Findings", "Uninstalls", "Timeline"} {
		if !filters[sheet] {
			t.Errorf("%s: no autofilter (defined names: %+v)", sheet, f.GetDefinedName())
		}
	}

	// Times are date cells of the zone's wall clock (TestXLSXTimesAreDateCells
	// checks every sheet): 00:30 UTC is 01:30 CET.
	rows, _ := f.GetRows("Timeline")
	if got := rows[1][0]; !strings.HasPrefix(got, "2026-03-29 01:30:00") {
		t.Errorf("first time: got %q", got)
	}
	if got := rows[1][6]; !strings.Contains(got, "Data[1]=Contoso Agent") || strings.Contains(got, "(NULL)") {
		t.Errorf("details column: got %q", got)
	}

	// No cell anywhere is a formula or starts like one, and hostile text is
	// neutralized.
	for _, sheet := range f.GetSheetList() {
		rows, err := f.GetRows(sheet)
		if err != nil {
			t.Fatal(err)
		}
		for r, row := range rows {
			for c, v := range row {
				name, _ := excelize.CoordinatesToCellName(c+1, r+1)
				if formula, _ := f.GetCellFormula(sheet, name); formula != "" {
					t.Errorf("%s!%s is a formula: %q", sheet, name, formula)
				}
				if formulaStart(v) {
					t.Errorf("%s!%s starts like a formula: %q", sheet, name, v)
				}
				if strings.ContainsAny(v, "\x00\x07\x1b\x7f\u202e\u2066\n\r") {
					t.Errorf("%s!%s holds a raw control or bidi character: %q", sheet, name, v)
				}
			}
		}
	}
	var sawHyperlink, sawRLO bool
	for _, row := range rows {
		for _, v := range row {
			sawHyperlink = sawHyperlink || v == `'=HYPERLINK("http://x","y")`
			sawRLO = sawRLO || strings.Contains(v, `safe\u202eexe.txt`)
		}
	}
	if !sawHyperlink || !sawRLO {
		t.Errorf("hostile strings not shown neutralized: hyperlink %v, rlo %v", sawHyperlink, sawRLO)
	}

	// The Summary names every input file and its accounting.
	sum, _ := f.GetRows("Summary")
	flat := ""
	for _, row := range sum {
		flat += strings.Join(row, "|") + "\n"
	}
	for _, want := range []string{`C:\logs\broken.evtx`, "not an EVTX file", "0x00011000", "record checksum mismatch",
		"msi_uninstall_failed_status", "Contoso Agent|WS01.corp.example|1|rolled back", "Duplicates dropped|5"} {
		if !strings.Contains(flat, want) {
			t.Errorf("Summary lacks %q", want)
		}
	}
}

func TestTimelineSheetSplit(t *testing.T) {
	old := maxSheetRows
	maxSheetRows = 10 // header + 9 events a sheet
	defer func() { maxSheetRows = old }()
	dir := t.TempDir()
	if _, err := writeFixture(dir, 25, Options{Formats: []string{"xlsx"}}); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenFile(filepath.Join(dir, XLSXName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]int{"Timeline": 9, "Timeline 2": 9, "Timeline 3": 7}
	if got := f.GetSheetList(); !slices.Equal(got, []string{"Summary", "Findings", "Uninstalls", "Timeline", "Timeline 2", "Timeline 3"}) {
		t.Fatalf("sheets: got %q", got)
	}
	next := uint64(1000)
	for _, sheet := range []string{"Timeline", "Timeline 2", "Timeline 3"} {
		rows, _ := f.GetRows(sheet)
		if rows[0][1] != "Computer" {
			t.Errorf("%s: no header row: %q", sheet, rows[0])
		}
		if got := len(rows) - 1; got != want[sheet] {
			t.Errorf("%s: got %d events, want %d", sheet, got, want[sheet])
		}
		for _, r := range rows[1:] { // events continue without gap or repeat
			if r[7] != itoa(int(next)) {
				t.Errorf("%s: record %s, want %d", sheet, r[7], next)
			}
			next++
		}
	}
}

func TestCSV(t *testing.T) {
	dir := t.TempDir()
	const n = 60
	s, err := writeFixture(dir, n, Options{Formats: []string{"csv"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		rows int
	}{{TimelineCSVName, n}, {FindingsCSVName, len(s.Findings)}} {
		t.Run(tt.name, func(t *testing.T) {
			fh, err := os.Open(filepath.Join(dir, tt.name))
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			recs, err := csv.NewReader(fh).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if got := len(recs) - 1; got != tt.rows {
				t.Errorf("rows: got %d, want %d", got, tt.rows)
			}
			if recs[0][0] != "Time (UTC)" {
				t.Errorf("header: got %q", recs[0])
			}
			for _, rec := range recs {
				for _, v := range rec {
					if formulaStart(v) || strings.ContainsAny(v, "\x00\x07\n\r\u202e") {
						t.Errorf("unsafe cell %q", v)
					}
				}
			}
		})
	}
}

func TestJSONL(t *testing.T) {
	dir := t.TempDir()
	const n = 40
	s, err := writeFixture(dir, n, Options{Formats: []string{"jsonl"}, Location: time.FixedZone("x", 3600)})
	if err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, filepath.Join(dir, TimelineJSONLName))
	if len(lines) != n {
		t.Fatalf("timeline.jsonl: got %d lines, want %d", len(lines), n)
	}
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, l)
		}
		for _, k := range []string{"message", "datetime", "timestamp_desc", "file", "record_id", "event_id", "provider", "channel", "computer", "event_data"} {
			if _, ok := m[k]; !ok {
				t.Errorf("line %d lacks %q", i+1, k)
			}
		}
		if i == 0 {
			if got := m["datetime"]; got != "2026-03-29T00:30:00.123456Z" {
				t.Errorf("datetime: got %v (data stays UTC)", got)
			}
			if got := m["time"]; got != "2026-03-29T00:30:00.1234567Z" {
				t.Errorf("time: got %v", got)
			}
			// event_data keeps document order; Binary is upper hex.
			if !strings.Contains(l, `"event_data":{"Data[1]":"Contoso Agent","Data[2]":"4.2.0","Data[3]":"1033","Data[4]":"1603","Data[5]":"Contoso","Data[6]":"(NULL)","Data[7]":"","Binary":"7B30`) {
				t.Errorf("event_data order: %s", l)
			}
		}
		// JSONL is data: hostile text is kept exactly (JSON escapes it).
		if i%5 == 4 {
			ed, _ := m["event_data"].(map[string]any)
			if want := strings.Map(func(r rune) rune { return r }, hostileStrings[(i/5)%len(hostileStrings)]); ed["Data[1]"] != want {
				t.Errorf("line %d: Data[1] = %q, want %q", i+1, ed["Data[1]"], want)
			}
		}
	}
	lines = readLines(t, filepath.Join(dir, FindingsJSONLName))
	if len(lines) != len(s.Findings) {
		t.Fatalf("findings.jsonl: got %d lines, want %d", len(lines), len(s.Findings))
	}
	type ev struct {
		File     string `json:"file"`
		RecordID uint64 `json:"record_id"`
		EventID  int    `json:"event_id"`
		Provider string `json:"provider"`
		Time     string `json:"time"`
	}
	var first struct {
		RuleID   string            `json:"rule_id"`
		Title    string            `json:"title"`
		Level    string            `json:"level"`
		Time     string            `json:"time"`
		Computer string            `json:"computer"`
		Fields   map[string]string `json:"fields"`
		Events   []ev              `json:"events"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if first.RuleID != "msi_rollback_inferred" || first.Level != "high" || first.Time != "2026-03-29T00:30:00.1234567Z" ||
		len(first.Events) != 4 || first.Events[1].RecordID != 1001 || first.Events[1].EventID != 7036 || first.Fields["User"] != `CORP\admin` {
		t.Errorf("first finding: %+v", first)
	}
	if !strings.Contains(lines[0], `"fields":{"ProductName":"Contoso Agent","User":"CORP\\admin","Cause":"Error 1722"}`) {
		t.Errorf("fields not in rule order: %s", lines[0])
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var out []string
	sc := bufio.NewScanner(fh)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no dir", Options{}, "--out"},
		{"unknown format", Options{Dir: dir, Formats: []string{"pdf"}}, `unknown format "pdf": use any of xlsx, html, csv, jsonl`},
		{"dir is a file", Options{Dir: filepath.Join(file, "sub")}, file},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestNoTempFilesLeft(t *testing.T) {
	dir := t.TempDir()
	if _, err := writeFixture(dir, 30, Options{}); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	want := []string{FindingsCSVName, FindingsJSONLName, HTMLName, XLSXName, RunInfoName, TimelineCSVName, TimelineJSONLName}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("output folder: got %q, want %q", names, want)
	}
}

// TestSmallSheetsCapped: findings beyond the sheet's row limit end in a
// line that says where the rest is, instead of failing the workbook.
func TestSmallSheetsCapped(t *testing.T) {
	old := maxSheetRows
	maxSheetRows = 10
	defer func() { maxSheetRows = old }()
	dir := t.TempDir()
	s, err := writeFixture(dir, 200, Options{Formats: []string{"xlsx"}})
	if err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenFile(filepath.Join(dir, XLSXName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, _ := f.GetRows("Findings")
	if len(rows) != maxSheetRows {
		t.Fatalf("Findings rows: got %d, want %d", len(rows), maxSheetRows)
	}
	if want := "… " + itoa(len(s.Findings)-(maxSheetRows-2)) + " more findings: see findings.jsonl"; rows[len(rows)-1][0] != want {
		t.Errorf("last row: got %q, want %q", rows[len(rows)-1][0], want)
	}
}
