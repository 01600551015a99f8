package report

import (
	"archive/zip"
	"bytes"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/evtxscan/evtxscan/internal/testenv"
)

func TestCRC32Combine(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 70_000)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	cuts := []int{0, 1, 2, 3, 7, 8, 255, 256, 4096, 65535, 65536, len(data) - 1, len(data)}
	for range 20 {
		cuts = append(cuts, rng.IntN(len(data)+1))
	}
	for _, cut := range cuts {
		a, b := data[:cut], data[cut:]
		got := crc32Combine(crc32.ChecksumIEEE(a), crc32.ChecksumIEEE(b), int64(len(b)))
		if want := crc32.ChecksumIEEE(data); got != want {
			t.Errorf("cut at %d: got %08x, want %08x", cut, got, want)
		}
	}
	// Three parts, as a Timeline part is stitched.
	a, b, c := data[:100], data[100:60_000], data[60_000:]
	crc := crc32Combine(crc32.ChecksumIEEE(a), crc32.ChecksumIEEE(b), int64(len(b)))
	if got, want := crc32.Update(crc, crc32.IEEETable, c), crc32.ChecksumIEEE(data); got != want {
		t.Errorf("three parts: got %08x, want %08x", got, want)
	}
}

// cellTexts are texts whose XML must come out as excelize writes it: the
// hostile strings raw (not made safe by cellText), OOXML _xHHHH_ escapes,
// whitespace at either end, invalid characters and over-long cells.
func cellTexts() []string {
	texts := append([]string{
		"", " ", "a", " lead", "trail ", "\ttab", "nl\n", "\rcr", "a\r\nb", "x\x00y\x01z\x1f",
		"quote\" apos' amp& lt< gt>", "&#xA; literal", "\u00e9\u4e2d\U0001F600", "\uFFFD real", "\uFFFE\uFFFF",
		"\xed\xa0\x80 encoded surrogate", "\xc3", "trunc\xe2\x82",
		"_x0041_", "_x005F_", "_x005f_", "_x005F_x0041_", "_x005F_xD800_", "_x005F_x12", "_xD800_ dropped",
		"_xDFFF_", "_x00_", "_xGGGG_", "__x0041__", "_x0041_x0042_", "_x005F_x0041_x0042_", "a_xb", "snake_case_x",
		"C:\\Windows\\Installer\\_x0020_.msi", "_x1234_&_xABCD_<_xabcd_",
		strings.Repeat("x", 40_000), strings.Repeat("\U0001F600", 20_000), strings.Repeat("é", 33_000) + " ",
		strings.Repeat("a", 32_766) + "\U0001F600",
	}, hostileStrings...)
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []string{"a", " ", "_", "x", "0", "5", "F", "D", "8", "\n", "\t", "\r", "&", "<", "\"", "'", "\x00", "\xff", "é", "\U0001F600", "\uFFFE"}
	for range 300 {
		var b strings.Builder
		for range rng.IntN(20) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		texts = append(texts, b.String())
	}
	return texts
}

// sheetDataOf returns what is between <sheetData> and </sheetData> in
// sheet's part of an xlsx.
func sheetDataOf(t *testing.T, xlsx []byte, part string) string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(xlsx), int64(len(xlsx)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if f.Name != part {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		i, j := strings.Index(s, "<sheetData>"), strings.LastIndex(s, "</sheetData>")
		if i < 0 || j < i {
			t.Fatalf("%s: no sheetData in %q", part, s)
		}
		return s[i+len("<sheetData>") : j]
	}
	t.Fatalf("no %s in the xlsx", part)
	return ""
}

// TestRowXMLAsExcelize: rows written by timelineRows are byte for byte what
// excelize's StreamWriter.SetRow writes for the same values.
func TestRowXMLAsExcelize(t *testing.T) { compareRowXML(t, cellTexts()) }

// FuzzRowXML: go test ./report -run '^$' -fuzz FuzzRowXML
func FuzzRowXML(f *testing.F) {
	for _, s := range cellTexts()[:60] {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { compareRowXML(t, []string{s}) })
}

func compareRowXML(t *testing.T, texts []string) {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		t.Fatal(err)
	}
	var rows timelineRows
	for i, s := range texts {
		row, style := i+2, i%3 // 0 is "no style"
		id := uint64(i) * 7919
		if err := sw.SetRow("A"+itoa(row), []any{s, id, "next"}, excelize.RowOpts{StyleID: style}); err != nil {
			t.Fatal(err)
		}
		rows.startRow(row, style)
		rows.textCell('A', row, style, s)
		rows.uintCell('B', row, style, id)
		rows.textCell('C', row, style, "next")
		rows.buf = append(rows.buf, `</row>`...)
	}
	if err := sw.Flush(); err != nil {
		t.Fatal(err)
	}
	buf, err := f.WriteToBuffer()
	if err != nil {
		t.Fatal(err)
	}
	want := sheetDataOf(t, buf.Bytes(), "xl/worksheets/sheet1.xml")
	got := string(rows.buf)
	if got == want {
		return
	}
	// Report the first row that differs.
	gotRows, wantRows := strings.SplitAfter(got, "</row>"), strings.SplitAfter(want, "</row>")
	for i := range min(len(gotRows), len(wantRows)) {
		if gotRows[i] != wantRows[i] {
			t.Fatalf("row for %q:\n got %.300q\nwant %.300q", texts[i], gotRows[i], wantRows[i])
		}
	}
	t.Fatalf("got %d rows, excelize wrote %d", len(gotRows), len(wantRows))
}

// TestTimelineSameAsExcelizePath: the workbook written with our rows has
// the same Timeline sheets, byte for byte once inflated, as the one
// excelize's stream writer makes, with hostile texts and across a sheet
// split; every part's CRC-32 and sizes check out.
func TestTimelineSameAsExcelizePath(t *testing.T) {
	old := maxSheetRows
	maxSheetRows = 200 // two sheets
	defer func() { maxSheetRows = old }()
	write := func(viaExcelize bool) []byte {
		timelineViaExcelize = viaExcelize
		defer func() { timelineViaExcelize = false }()
		dir := t.TempDir()
		if _, err := writeFixture(dir, 300, Options{Formats: []string{"xlsx"}}); err != nil {
			t.Fatal(err)
		}
		b, err := readFile(filepath.Join(dir, XLSXName))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ours, theirs := write(false), write(true)

	// Every part inflates with a matching CRC-32 and size (archive/zip
	// checks both at EOF), and the sheets are the same.
	parts := func(b []byte) map[string][]byte {
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		m := map[string][]byte{}
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(rc)
			if err != nil {
				t.Fatalf("%s: %v", f.Name, err)
			}
			m[f.Name] = data
		}
		return m
	}
	op, tp := parts(ours), parts(theirs)
	var names []string
	for name := range tp {
		names = append(names, name)
	}
	slices.Sort(names)
	sheets := 0
	for _, name := range names {
		if !strings.HasPrefix(name, "xl/worksheets/") {
			continue
		}
		sheets++
		if !bytes.Equal(op[name], tp[name]) {
			t.Errorf("%s differs: %d bytes, excelize path %d", name, len(op[name]), len(tp[name]))
		}
	}
	if sheets != 5 || len(op) != len(tp) {
		t.Errorf("got %d parts, %d sheets; excelize path %d parts", len(op), sheets, len(tp))
	}

	// Cell for cell as excelize reads them back.
	fo, err := excelize.OpenReader(bytes.NewReader(ours))
	if err != nil {
		t.Fatal(err)
	}
	defer fo.Close()
	ft, err := excelize.OpenReader(bytes.NewReader(theirs))
	if err != nil {
		t.Fatal(err)
	}
	defer ft.Close()
	for _, sheet := range []string{"Timeline", "Timeline 2"} {
		got, err := fo.GetRows(sheet)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := ft.GetRows(sheet)
		if len(got) < 2 || !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("%s: rows differ (%d rows, excelize path %d)", sheet, len(got), len(want))
		}
	}

	unzip := testenv.Tool(t, "unzip", "unzip")
	dir := t.TempDir()
	path := filepath.Join(dir, XLSXName)
	if err := writeBytes(path, ours); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(unzip, "-t", path).CombinedOutput(); err != nil || !strings.Contains(string(out), "No errors detected") {
		t.Errorf("unzip -t: %v\n%s", err, out)
	}
}

// TestTimelineRowsRemoved: the rows' temporary files go, whether the
// workbook is saved or abandoned.
func TestTimelineRowsRemoved(t *testing.T) {
	for _, abort := range []bool{false, true} {
		dir := t.TempDir()
		w, err := New(Options{Dir: dir, Formats: []string{"xlsx"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range fixtureEvents(50) {
			if err := w.AddEvent(ev); err != nil {
				t.Fatal(err)
			}
		}
		if abort {
			w.pipe.finish()
			w.abort()
		} else if err := w.Close(fixtureSummary(50)); err != nil {
			t.Fatal(err)
		}
		tmps, _ := filepath.Glob(filepath.Join(dir, ".evtxscan*")) // stages and temporary files
		if len(tmps) > 0 {
			t.Errorf("abort=%v: left %q", abort, tmps)
		}
	}
}

func readFile(path string) ([]byte, error) { return os.ReadFile(path) }

func writeBytes(path string, b []byte) error { return os.WriteFile(path, b, 0o644) }
