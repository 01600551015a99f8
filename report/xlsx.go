package report

import (
	"archive/zip"
	"bufio"
	"compress/flate"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/evtxscan/evtxscan/rules"
)

// maxSheetRows is Excel's row limit. It is a variable so a test can prove
// the sheet split with a few rows; the opt-in test proves the real limit.
var maxSheetRows = 1_048_576

// maxSummaryProblems caps the per-offset problem list on the Summary sheet;
// the count of the rest is shown.
const maxSummaryProblems = 1000

var timelineHeader = []string{"Time", "Computer", "Channel", "Provider", "Event ID", "Level", "Message or details", "Record ID", "File"}
var timelineWidths = []float64{34, 18, 14, 34, 9, 12, 110, 11, 50}

var findingsHeader = []string{"Time", "Level", "Rule", "Title", "Computer", "Product", "Version", "Status", "Status meaning", "User", "Message or details", "Events", "File", "Record ID"}
var findingsWidths = []float64{34, 12, 30, 40, 18, 30, 14, 10, 30, 18, 60, 8, 50, 11}

var uninstallsHeader = []string{"Start", "End", "Duration", "Kind", "Product", "Version", "Product code", "Package", "Computer", "User", "Outcome", "Reason", "Status", "Status meaning", "Cause", "Summary", "Signals", "Events", "File", "Record ID"}
var uninstallsWidths = []float64{34, 34, 14, 14, 30, 14, 40, 30, 18, 18, 16, 16, 10, 30, 60, 80, 40, 8, 50, 11}

// An xlsxWriter streams the Timeline sheets while events arrive and writes
// the small sheets at close.
type xlsxWriter struct {
	path   string // where the workbook goes, for messages
	file   string // where it is written (in the stage)
	tmpDir string
	loc    *time.Location
	f      *excelize.File

	tl      *excelize.StreamWriter
	tlName  string
	tlSheet int // 1 for "Timeline", 2 for "Timeline 2", …
	tlRow   int // last row written in the current sheet
	row     []any

	// rows writes the current Timeline sheet's events (see xlsxrows.go);
	// allRows holds one per Timeline sheet. Both are nil when
	// timelineViaExcelize is set.
	rows    *timelineRows
	allRows []*timelineRows
	// memo keeps, for the columns whose text repeats row after row
	// (computer, channel, provider, file), the last text and its cell XML.
	memo [4]cellMemo

	styles xlsxStyles
}

// timelineViaExcelize makes the Timeline rows go through excelize's stream
// writer, as they did before xlsxrows.go; tests compare the two.
var timelineViaExcelize = false

type xlsxStyles struct {
	header, title, label int
	eventLevel           map[string]int // level name → row style
	findingLevel         [rules.LevelCritical + 1]int
	outcome              map[string]int
	date                 map[int]int // row style → the same with the date format (xlsxtime.go)
}

func newXLSXWriter(st *stage, loc *time.Location) (*xlsxWriter, error) {
	f := excelize.NewFile(excelize.Options{TmpDir: st.path})
	path := filepath.Join(st.dir, XLSXName)
	x := &xlsxWriter{path: path, file: st.staged(XLSXName), tmpDir: st.path, loc: loc, f: f, row: make([]any, len(timelineHeader))}
	st.names = append(st.names, XLSXName)
	fail := func(err error) (*xlsxWriter, error) {
		_ = f.Close()
		return nil, writeErr(path, fmt.Errorf("preparing it: %w", err))
	}
	if err := f.SetSheetName("Sheet1", "Summary"); err != nil {
		return fail(err)
	}
	for _, name := range []string{"Findings", "Uninstalls"} {
		if _, err := f.NewSheet(name); err != nil {
			return fail(err)
		}
	}
	if err := x.makeStyles(); err != nil {
		return fail(err)
	}
	if err := x.makeDateStyles(); err != nil {
		return fail(err)
	}
	if err := x.startTimelineSheet(); err != nil {
		return fail(err)
	}
	return x, nil
}

func (x *xlsxWriter) makeStyles() error {
	var err error
	style := func(s *excelize.Style) int {
		if err != nil {
			return 0
		}
		var id int
		id, err = x.f.NewStyle(s)
		return id
	}
	fill := func(color string) excelize.Fill {
		return excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{color}}
	}
	x.styles.header = style(&excelize.Style{
		Font:   &excelize.Font{Bold: true, Color: "FFFFFF"},
		Fill:   fill("1F3A5F"),
		Border: []excelize.Border{{Type: "bottom", Color: "0B1A2E", Style: 2}},
	})
	x.styles.title = style(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 14, Color: "1F3A5F"}})
	x.styles.label = style(&excelize.Style{Font: &excelize.Font{Bold: true}})
	x.styles.eventLevel = map[string]int{
		"Critical": style(&excelize.Style{Font: &excelize.Font{Bold: true, Color: "7A0010"}, Fill: fill("F8C9CE")}),
		"Error":    style(&excelize.Style{Font: &excelize.Font{Color: "7A0010"}, Fill: fill("FCE4E6")}),
		"Warning":  style(&excelize.Style{Font: &excelize.Font{Color: "6B4A00"}, Fill: fill("FFF3CC")}),
	}
	x.styles.findingLevel = [...]int{
		rules.LevelInformational: 0,
		rules.LevelLow:           style(&excelize.Style{Fill: fill("E3EEFB")}),
		rules.LevelMedium:        style(&excelize.Style{Fill: fill("FFF3CC")}),
		rules.LevelHigh:          style(&excelize.Style{Font: &excelize.Font{Color: "7A3300"}, Fill: fill("FDDDC2")}),
		rules.LevelCritical:      style(&excelize.Style{Font: &excelize.Font{Bold: true, Color: "7A0010"}, Fill: fill("F8C9CE")}),
	}
	x.styles.outcome = map[string]int{
		"failed":                style(&excelize.Style{Font: &excelize.Font{Color: "7A0010"}, Fill: fill("F8C9CE")}),
		"rolled back":           style(&excelize.Style{Font: &excelize.Font{Color: "7A3300"}, Fill: fill("FDDDC2")}),
		"unterminated":          style(&excelize.Style{Fill: fill("FFF3CC")}),
		"rollback failed":       style(&excelize.Style{Font: &excelize.Font{Bold: true, Color: "7A0010"}, Fill: fill("F8C9CE")}),
		"crashed":               style(&excelize.Style{Font: &excelize.Font{Color: "7A0010"}, Fill: fill("F8C9CE")}),
		"superseded by upgrade": style(&excelize.Style{Fill: fill("E3EEFB")}),
		"succeeded":             style(&excelize.Style{Fill: fill("E2F2E4")}),
	}
	return err
}

// timelineSheetName is "Timeline", then "Timeline 2", "Timeline 3"…
func timelineSheetName(n int) string {
	if n <= 1 {
		return "Timeline"
	}
	return "Timeline " + strconv.Itoa(n)
}

// startTimelineSheet opens the next Timeline sheet and writes its header.
func (x *xlsxWriter) startTimelineSheet() error {
	x.tlSheet++
	x.tlName = timelineSheetName(x.tlSheet)
	if _, err := x.f.NewSheet(x.tlName); err != nil {
		return err
	}
	if !timelineViaExcelize {
		part, err := x.sheetPart(x.tlName)
		if err != nil {
			return err
		}
		if x.rows, err = newTimelineRows(x.tmpDir, part); err != nil {
			return err
		}
		x.allRows = append(x.allRows, x.rows)
	}
	header := append([]string(nil), timelineHeader...)
	header[0] = "Time (" + zoneLabel(x.loc) + ")"
	sw, err := x.newTable(x.tlName, header, timelineWidths)
	if err != nil {
		return err
	}
	x.tl, x.tlRow = sw, 1
	return nil
}

// sheetPart returns the package part of a sheet excelize made with
// NewSheet: xl/worksheets/sheet{sheetId}.xml. sheetZip checks at save that
// every such part was written.
func (x *xlsxWriter) sheetPart(sheet string) (string, error) {
	for id, name := range x.f.GetSheetMap() {
		if name == sheet {
			return "xl/worksheets/sheet" + strconv.Itoa(id) + ".xml", nil
		}
	}
	return "", fmt.Errorf("sheet %q not in the workbook", sheet)
}

// finishTimeline ends the current Timeline sheet.
func (x *xlsxWriter) finishTimeline() error {
	if err := x.finishTable(x.tl, x.tlName, len(timelineHeader), x.tlRow); err != nil {
		return err
	}
	if x.rows != nil {
		return x.rows.finish()
	}
	return nil
}

// newTable opens a stream writer on sheet with widths, a frozen styled
// header row in row 1.
func (x *xlsxWriter) newTable(sheet string, header []string, widths []float64) (*excelize.StreamWriter, error) {
	sw, err := x.f.NewStreamWriter(sheet)
	if err != nil {
		return nil, err
	}
	for i, w := range widths {
		if err := sw.SetColWidth(i+1, i+1, w); err != nil {
			return nil, err
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return nil, err
	}
	cells := make([]any, len(header))
	for i, h := range header {
		cells[i] = h
	}
	if err := sw.SetRow("A1", cells, excelize.RowOpts{StyleID: x.styles.header}); err != nil {
		return nil, err
	}
	return sw, nil
}

// finishTable sets the autofilter over rows 1..lastRow and flushes. The
// filter must be set before Flush: Flush writes it after the sheet data.
func (x *xlsxWriter) finishTable(sw *excelize.StreamWriter, sheet string, columns, lastRow int) error {
	end, err := excelize.CoordinatesToCellName(columns, max(lastRow, 1))
	if err != nil {
		return err
	}
	if err := x.f.AutoFilter(sheet, "A1:"+end, nil); err != nil {
		return err
	}
	return sw.Flush()
}

func (x *xlsxWriter) event(r *eventRow) error {
	if x.tlRow >= maxSheetRows {
		if err := x.finishTimeline(); err != nil {
			return x.wrap(err)
		}
		if err := x.startTimelineSheet(); err != nil {
			return x.wrap(err)
		}
	}
	ev := r.ev
	if t := x.rows; t != nil {
		x.tlRow++
		row, style := x.tlRow, x.styles.eventLevel[r.level]
		t.startRow(row, style)
		if !t.timeCell('A', row, x.styles.date[style], r.time, x.loc) {
			t.textCell('A', row, style, displayTime(r.time, x.loc, 7))
		}
		t.memoCell('B', row, style, ev.System.Computer, &x.memo[0])
		t.memoCell('C', row, style, ev.System.Channel, &x.memo[1])
		t.memoCell('D', row, style, ev.System.Provider, &x.memo[2])
		t.uintCell('E', row, style, uint64(ev.System.EventID))
		t.textCell('F', row, style, r.level)
		t.textCell('G', row, style, cellText(r.details))
		t.uintCell('H', row, style, recordID(ev.Source.RecordID, ev.System.EventRecordID))
		t.memoCell('I', row, style, ev.Source.File, &x.memo[3])
		if err := t.endRow(); err != nil {
			return x.wrap(err)
		}
		return nil
	}
	x.row[0] = x.timeCell(r.time, x.styles.eventLevel[r.level])
	x.row[1] = cellText(ev.System.Computer)
	x.row[2] = cellText(ev.System.Channel)
	x.row[3] = cellText(ev.System.Provider)
	x.row[4] = int(ev.System.EventID)
	x.row[5] = r.level
	x.row[6] = cellText(r.details)
	x.row[7] = recordID(ev.Source.RecordID, ev.System.EventRecordID)
	x.row[8] = cellText(ev.Source.File)
	x.tlRow++
	cell, _ := excelize.CoordinatesToCellName(1, x.tlRow)
	if err := x.tl.SetRow(cell, x.row, excelize.RowOpts{StyleID: x.styles.eventLevel[r.level]}); err != nil {
		return x.wrap(err)
	}
	return nil
}

// recordID prefers the record header's id, which is what evtxexport and
// Event Viewer's "Event Record ID" agree on for local logs.
func recordID(header, system uint64) uint64 {
	if header != 0 {
		return header
	}
	return system
}

func (x *xlsxWriter) wrap(err error) error {
	return writeErr(x.path, err)
}

func (x *xlsxWriter) close(v *view) error {
	if err := x.finishTimeline(); err != nil {
		return x.fail(err)
	}
	if err := x.writeSummary(v); err != nil {
		return x.fail(err)
	}
	if err := x.writeFindings(v); err != nil {
		return x.fail(err)
	}
	if err := x.writeUninstalls(v); err != nil {
		return x.fail(err)
	}
	_ = x.f.SetDocProps(&excelize.DocProperties{Title: cellText(v.title), Creator: cellText(v.s.Tool), Created: time.Now().UTC().Format(time.RFC3339)})
	if err := x.save(); err != nil {
		return x.fail(err)
	}
	x.removeRows()
	if err := x.f.Close(); err != nil {
		return x.wrap(err)
	}
	return nil
}

// save writes the workbook straight into the file. excelize's SaveAs first
// builds the whole zip in a bytes.Buffer, which for a million-row timeline
// is a hundred MB of heap; handing it a zip writer on the file keeps memory
// flat (its own buffer then stays empty). One thing is lost: excelize marks
// zip64 local headers of parts over 4 GiB uncompressed, which a Timeline
// sheet reaches only with rows of about 4 KB on average.
func (x *xlsxWriter) save() error {
	out, err := os.Create(x.file)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(out, 1<<20)
	x.f.SetZipWriter(func(io.Writer) excelize.ZipWriter {
		zw := zip.NewWriter(bw)
		// Deflate at its fastest level: compressing the timeline at the
		// default level took a third of a whole scan's time; the file is
		// about a fifth larger.
		zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
			return flate.NewWriter(w, flate.BestSpeed)
		})
		return newSheetZip(zw, x.allRows)
	})
	err = x.f.Write(io.Discard)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

func (x *xlsxWriter) fail(err error) error {
	x.abort()
	return x.wrap(err)
}

func (x *xlsxWriter) abort() {
	x.removeRows()
	_ = x.f.Close() // removes the stream writers' temporary files
}

// removeRows deletes the Timeline rows' temporary files.
func (x *xlsxWriter) removeRows() {
	for _, t := range x.allRows {
		t.remove()
	}
	x.allRows, x.rows = nil, nil
}

// rowWriter writes consecutive rows into a stream writer.
type rowWriter struct {
	sw  *excelize.StreamWriter
	row int
	err error
}

func (r *rowWriter) put(style int, cells ...any) {
	if r.err != nil {
		return
	}
	r.row++
	for i, c := range cells {
		if s, ok := c.(string); ok {
			cells[i] = cellText(s)
		}
	}
	cell, _ := excelize.CoordinatesToCellName(1, r.row)
	r.err = r.sw.SetRow(cell, cells, excelize.RowOpts{StyleID: style})
}

func (r *rowWriter) blank() { r.row++ }

func (x *xlsxWriter) writeSummary(v *view) error {
	sw, err := x.f.NewStreamWriter("Summary")
	if err != nil {
		return err
	}
	for i, w := range []float64{60, 40, 14, 14, 12, 12, 10, 10, 60} {
		if err := sw.SetColWidth(i+1, i+1, w); err != nil {
			return err
		}
	}
	r := &rowWriter{sw: sw}
	s := v.s
	r.put(x.styles.title, v.title)
	r.blank()
	kv := func(k string, val any) { r.put(0, excelize.Cell{StyleID: x.styles.label, Value: k}, val) }
	kv("Tool", s.Tool)
	kv("Run started", x.timeCell(s.Started, 0))
	kv("Run took", s.Elapsed.Round(time.Millisecond).String())
	kv("Times shown in", v.zone+" (date-time cells to the millisecond; JSONL files are UTC to 100 ns)")
	kv("Input files", len(s.Files))
	kv("Unreadable files", v.unreadable)
	kv("Records read", v.records)
	kv("Records recovered (carved)", v.recovered)
	kv("Records lost", v.lost)
	kv("Incomplete files", len(v.incomplete))
	for _, f := range v.incomplete {
		r.put(x.styles.eventLevel["Error"], "  "+f.File, "lost "+f.Lost)
	}
	kv("Duplicates dropped", s.Duplicates)
	kv("Events in timeline", v.events)
	kv("First event", x.timeCell(v.first, 0))
	kv("Last event", x.timeCell(v.last, 0))
	kv("Rules loaded", s.Rules)
	kv("Findings", len(v.findings))
	for l := rules.LevelCritical; l >= rules.LevelInformational; l-- {
		kv("  "+l.String(), v.findingsByLevel[l])
	}
	kv("Uninstall sessions", len(v.sessions))

	r.blank()
	r.put(x.styles.header, "Input file", "Size (bytes)", "Chunks", "Chunks skipped", "Records", "Recovered", "Lost", "Problems", "Error")
	for _, f := range s.Files {
		errText := ""
		if f.Err != nil {
			errText = f.Err.Error()
		}
		style := 0
		if f.Incomplete() {
			style = x.styles.eventLevel["Error"]
		}
		r.put(style, f.File, f.Size, f.Chunks, f.ChunksSkipped, f.Records, f.Recovered, f.Lost, len(f.Problems), errText)
	}

	problems := 0
	for _, f := range s.Files {
		problems += len(f.Problems)
	}
	if problems > 0 {
		r.blank()
		r.put(x.styles.header, "Problem in file", "Offset", "Chunk", "Record ID", "Reason")
		shown := 0
		for _, f := range s.Files {
			for _, p := range f.Problems {
				if shown == maxSummaryProblems {
					break
				}
				shown++
				chunk := any(p.Chunk)
				if p.Chunk < 0 {
					chunk = ""
				}
				rec := any(p.RecordID)
				if p.RecordID == 0 {
					rec = ""
				}
				r.put(0, f.File, fmt.Sprintf("0x%08x", p.Offset), chunk, rec, p.Reason)
			}
		}
		if shown < problems {
			r.put(0, fmt.Sprintf("… %d more problems not listed here", problems-shown))
		}
	}

	r.blank()
	r.put(x.styles.header, "Findings per rule", "Title", "Level", "Findings", "Computers")
	for _, c := range v.perRule {
		r.put(x.styles.findingLevel[clampLevel(c.Level)], c.RuleID, c.Title, c.Level.String(), c.Count, c.Computers)
	}
	if len(v.perRule) == 0 {
		r.put(0, "no findings")
	}

	r.blank()
	r.put(x.styles.header, "Operations: product", "Computer", "Operations", "Last outcome", "Outcomes")
	for _, a := range v.attempts {
		var parts []string
		for _, o := range a.Outcomes {
			parts = append(parts, fmt.Sprintf("%s %d", o.Outcome, o.Count))
		}
		r.put(x.styles.outcome[a.LastOutcome], a.Product, a.Computer, a.Attempts, a.LastOutcome, strings.Join(parts, ", "))
	}
	if len(v.attempts) == 0 {
		r.put(0, "no installs, removals or upgrades")
	}
	if r.err != nil {
		return r.err
	}
	return sw.Flush()
}

func clampLevel(l rules.Level) rules.Level {
	return min(max(l, rules.LevelInformational), rules.LevelCritical)
}

func (x *xlsxWriter) writeFindings(v *view) error {
	header := append([]string(nil), findingsHeader...)
	header[0] = "Time (" + v.zone + ")"
	sw, err := x.newTable("Findings", header, findingsWidths)
	if err != nil {
		return err
	}
	r := &rowWriter{sw: sw, row: 1}
	for i := range v.findings {
		if r.row == maxSheetRows-1 {
			r.put(0, fmt.Sprintf("… %d more findings: see findings.jsonl", len(v.findings)-i))
			break
		}
		f := &v.findings[i]
		c := layoutFinding(f)
		style := x.styles.findingLevel[clampLevel(f.Level)]
		r.put(style, x.timeCell(f.Time, style), f.Level.String(), f.RuleID, f.Title,
			f.Computer, c.Product, c.Version, c.Status, c.Meaning, c.User, c.Details, len(f.Events), c.File, c.RecordID)
	}
	if r.err != nil {
		return r.err
	}
	return x.finishTable(sw, "Findings", len(header), r.row)
}

func (x *xlsxWriter) writeUninstalls(v *view) error {
	header := append([]string(nil), uninstallsHeader...)
	header[0], header[1] = "Start ("+v.zone+")", "End ("+v.zone+")"
	sw, err := x.newTable("Uninstalls", header, uninstallsWidths)
	if err != nil {
		return err
	}
	r := &rowWriter{sw: sw, row: 1}
	for i := range v.sessions {
		if r.row == maxSheetRows-1 {
			r.put(0, fmt.Sprintf("… %d more sessions not listed", len(v.sessions)-i))
			break
		}
		se := &v.sessions[i]
		style := x.styles.outcome[se.Outcome]
		end := x.timeCell(se.End, style)
		if se.End.IsZero() {
			end = "never ended"
		}
		file, rec := "", uint64(0)
		if len(se.Events) > 0 {
			file, rec = se.Events[0].File, se.Events[0].RecordID
		}
		r.put(style, x.timeCell(se.Start, style), end, sessionDuration(se), se.Kind, se.Product, se.Version,
			se.ProductCode, se.Package, se.Computer, se.User, se.Outcome, se.Reason, se.Status, se.StatusMeaning, se.Cause.String(),
			se.Summary(), strings.Join(se.Signals, ", "), len(se.Events), file, rec)
	}
	if r.err != nil {
		return r.err
	}
	return x.finishTable(sw, "Uninstalls", len(header), r.row)
}
