package report

// Timeline rows without excelize
//
// Why: excelize's StreamWriter.SetRow costs about 0.8 µs a cell and the
// sheet is deflated once more when the workbook is saved; for the Timeline,
// the only sheet that grows with the input, that made the xlsx writer the
// critical path of a whole scan (issue 6).
//
// How: excelize still makes every Timeline sheet (header row, column
// widths, frozen pane, autofilter), holding row 1 only. Rows 2..N are
// written here as the very XML excelize's StreamWriter would write for them
// (same elements, attributes, escaping and _xHHHH_ handling; a test compares
// the bytes), deflated as they come into a temporary file, with their CRC-32
// and length counted. The deflate stream is sync-flushed, not closed, so it
// ends on a byte boundary without a final block.
//
// At save, sheetZip stands between excelize and the zip file. For a
// Timeline sheet part it buffers what excelize writes (a few hundred bytes),
// splits it before "</sheetData>" and stores the entry raw as
//
//	deflate(prefix, sync-flushed) ‖ rows from the temporary file ‖ deflate(suffix, final)
//
// which is one valid deflate stream: a sync flush leaves no back-reference
// into the following bytes. The entry's CRC-32 is the prefix's CRC combined
// with the rows' (crc32Combine), continued over the suffix. Every other part
// goes through the zip writer unchanged.

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math/bits"
	"os"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// timelineRows is the deflated body (rows 2..N) of one Timeline sheet.
type timelineRows struct {
	part string // the sheet's part in the package, xl/worksheets/sheetN.xml
	tmp  *os.File
	file *bufio.Writer
	zw   *flate.Writer

	buf  []byte // XML not yet deflated
	crc  uint32 // CRC-32 of the XML deflated so far
	size int64  // its length

	flushed bool  // finish ran: the deflate stream ends in a sync flush
	zsize   int64 // compressed length in tmp

	// Deflating runs on its own goroutine (the XML of the next rows is
	// built meanwhile): full buffers go to it through work, in order, and
	// come back through free.
	work    chan []byte
	free    chan []byte
	done    chan struct{}
	zerr    error // the deflater's first error; read after done is closed
	started bool
}

// rowsBuffers is how many 64 KiB XML buffers are in flight at most.
const rowsBuffers = 4

// rowsFlushAt is how much XML collects before it is hashed and deflated.
const rowsFlushAt = 64 << 10

func newTimelineRows(dir, part string) (*timelineRows, error) {
	tmp, err := os.CreateTemp(dir, ".evtxscan-timeline-*.tmp")
	if err != nil {
		return nil, err
	}
	t := &timelineRows{part: part, tmp: tmp, file: bufio.NewWriterSize(tmp, 256<<10), buf: make([]byte, 0, rowsFlushAt+4096)}
	t.zw, _ = flate.NewWriter(t.file, flate.BestSpeed) // the level is valid
	t.work = make(chan []byte, rowsBuffers)
	t.free = make(chan []byte, rowsBuffers)
	t.done = make(chan struct{})
	for i := 1; i < rowsBuffers; i++ {
		t.free <- make([]byte, 0, rowsFlushAt+4096)
	}
	return t, nil
}

// deflater hashes and deflates full buffers in order until work is closed.
func (t *timelineRows) deflater(work <-chan []byte) {
	defer close(t.done)
	for b := range work {
		if t.zerr == nil {
			t.crc = crc32.Update(t.crc, crc32.IEEETable, b)
			t.size += int64(len(b))
			_, t.zerr = t.zw.Write(b)
		}
		t.free <- b[:0]
	}
}

// flush hands the collected XML to the deflater and takes a free buffer.
func (t *timelineRows) flush() error {
	if len(t.buf) == 0 {
		return nil
	}
	if !t.started {
		t.started = true
		go t.deflater(t.work)
	}
	t.work <- t.buf
	t.buf = <-t.free
	return nil
}

// finish ends the rows with a sync flush and writes them out to tmp.
func (t *timelineRows) finish() error {
	if t.flushed {
		return nil
	}
	if err := t.flush(); err != nil {
		return err
	}
	t.stop()
	if t.zerr != nil {
		return t.zerr
	}
	if err := t.zw.Flush(); err != nil {
		return err
	}
	if err := t.file.Flush(); err != nil {
		return err
	}
	off, err := t.tmp.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	t.zsize, t.flushed = off, true
	return nil
}

// stop ends the deflater (if it runs) and waits for it.
func (t *timelineRows) stop() {
	if t.work == nil {
		return
	}
	close(t.work)
	t.work = nil
	if t.started {
		<-t.done
	}
}

// remove deletes the temporary file.
func (t *timelineRows) remove() {
	t.stop()
	_ = t.tmp.Close()
	_ = os.Remove(t.tmp.Name())
}

// Cells of one row, in the forms excelize writes: inline strings and
// integers.
func (t *timelineRows) startRow(row, style int) {
	t.buf = append(t.buf, `<row r="`...)
	t.buf = strconv.AppendInt(t.buf, int64(row), 10)
	t.buf = append(t.buf, '"')
	if style > 0 {
		t.buf = append(t.buf, ` s="`...)
		t.buf = strconv.AppendInt(t.buf, int64(style), 10)
		t.buf = append(t.buf, `" customFormat="1"`...)
	}
	t.buf = append(t.buf, '>')
}

func (t *timelineRows) endRow() error {
	t.buf = append(t.buf, `</row>`...)
	if len(t.buf) >= rowsFlushAt {
		return t.flush()
	}
	return nil
}

// cellStart writes `<c r="B7" s="3"` (no s when style is 0).
func (t *timelineRows) cellStart(col byte, row, style int) {
	t.buf = append(t.buf, `<c r="`...)
	t.buf = append(t.buf, col)
	t.buf = strconv.AppendInt(t.buf, int64(row), 10)
	t.buf = append(t.buf, '"')
	if style != 0 {
		t.buf = append(t.buf, ` s="`...)
		t.buf = strconv.AppendInt(t.buf, int64(style), 10)
		t.buf = append(t.buf, '"')
	}
}

func (t *timelineRows) uintCell(col byte, row, style int, v uint64) {
	t.cellStart(col, row, style)
	t.buf = append(t.buf, `><v>`...)
	t.buf = strconv.AppendUint(t.buf, v, 10)
	t.buf = append(t.buf, `</v></c>`...)
}

// timeCell writes tm as a date cell (see appendExcelTime), as excelize
// writes the float64 of excelTime; false when Excel cannot show tm.
func (t *timelineRows) timeCell(col byte, row, style int, tm time.Time, loc *time.Location) bool {
	mark := len(t.buf)
	t.cellStart(col, row, style)
	t.buf = append(t.buf, `><v>`...)
	var ok bool
	if t.buf, ok = appendExcelTime(t.buf, tm, loc); !ok {
		t.buf = t.buf[:mark]
		return false
	}
	t.buf = append(t.buf, `</v></c>`...)
	return true
}

func (t *timelineRows) textCell(col byte, row, style int, s string) {
	t.cellStart(col, row, style)
	t.buf = append(t.buf, ` t="inlineStr"><is><t`...)
	if keepsSpace(s) {
		t.buf = append(t.buf, ` xml:space="preserve"`...)
	}
	t.buf = append(t.buf, '>')
	t.buf = appendCellXML(t.buf, s)
	t.buf = append(t.buf, `</t></is></c>`...)
}

// A cellMemo remembers the last raw text of a column and the XML of its
// cell after the cell reference: textCell of cellText(raw), computed once
// while the column repeats.
type cellMemo struct {
	raw string
	ok  bool
	xml []byte
}

// memoCell writes textCell(col, row, style, cellText(raw)), reusing the
// XML of the previous row when raw is the same.
func (t *timelineRows) memoCell(col byte, row, style int, raw string, m *cellMemo) {
	if !m.ok || m.raw != raw {
		s := cellText(raw)
		m.raw, m.ok = raw, true
		m.xml = append(m.xml[:0], ` t="inlineStr"><is><t`...)
		if keepsSpace(s) {
			m.xml = append(m.xml, ` xml:space="preserve"`...)
		}
		m.xml = append(m.xml, '>')
		m.xml = appendCellXML(m.xml, s)
		m.xml = append(m.xml, `</t></is></c>`...)
	}
	t.cellStart(col, row, style)
	t.buf = append(t.buf, m.xml...)
}

// excelCellUnits is the most UTF-16 units excelize keeps of a cell.
const excelCellUnits = 32767

// keepsSpace reports whether excelize marks the text xml:space="preserve":
// when its first or last byte is a tab, line feed, carriage return or space.
func keepsSpace(s string) bool {
	if s == "" {
		return false
	}
	s = cutCellUnits(s)
	for _, b := range [...]byte{s[0], s[len(s)-1]} {
		switch b {
		case '\t', '\n', '\r', ' ':
			return true
		}
	}
	return false
}

// cutCellUnits cuts s to excelCellUnits UTF-16 units, as excelize does.
// cellText has already cut every text to that length, so this is a check.
func cutCellUnits(s string) string {
	if len(s) <= excelCellUnits {
		return s // every UTF-16 unit takes at least one byte
	}
	n := 0
	for i, r := range s {
		if n += utf16.RuneLen(r); n > excelCellUnits {
			return s[:i]
		}
	}
	return s
}

// SWAR constants: a byte repeated eight times.
const (
	ones64  = 0x0101010101010101
	highs64 = 0x8080808080808080
)

// appendCellXML appends s escaped as excelize escapes inline strings:
// encoding/xml's EscapeText (with its invalid-character replacement, and
// line feeds then restored), then every _xHHHH_ in the escaped text
// guarded as an OOXML escape (see appendUnescapableX).
func appendCellXML(dst []byte, s string) []byte {
	s = cutCellUnits(s)
	start := len(dst)
	hasX := false
	last := 0
	for i := 0; i < len(s); {
		// Skip words of plain text: ASCII from 0x20, none of "'&<>_.
		// The lowest flag is exact (borrows only flag bytes above a true
		// hit), so the byte loop resumes right at it.
		for ; i+8 <= len(s); i += 8 {
			w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
				uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
			m := w | (w-ones64*0x20)&^w
			for _, c := range [...]uint64{'"', '\'', '&', '<', '>', '_'} {
				x := w ^ (ones64 * c)
				m |= (x - ones64) &^ x
			}
			if m &= highs64; m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c >= 0x20 && c < 0x80 {
			i++
			switch c {
			case '"', '\'', '&', '<', '>':
			case '_':
				hasX = hasX || i < len(s) && s[i] == 'x'
				continue
			default:
				continue
			}
			dst = append(dst, s[last:i-1]...)
			dst = append(dst, xmlEscapes[c]...)
			last = i
			continue
		}
		r, width := utf8.DecodeRuneInString(s[i:])
		i += width
		var esc string
		switch {
		case r == '\n':
			continue // EscapeText writes &#xA;, which excelize turns back
		case r == '\t':
			esc = "&#x9;"
		case r == '\r':
			esc = "&#xD;"
		case !validXMLChar(r) || r == utf8.RuneError && width == 1:
			esc = "\uFFFD"
		default:
			continue
		}
		dst = append(dst, s[last:i-width]...)
		dst = append(dst, esc...)
		last = i
	}
	dst = append(dst, s[last:]...)
	if hasX {
		escaped := string(dst[start:])
		dst = appendUnescapableX(dst[:start], escaped)
	}
	return dst
}

var xmlEscapes = [128]string{'"': "&#34;", '\'': "&#39;", '&': "&amp;", '<': "&lt;", '>': "&gt;"}

// validXMLChar is XML 1.0's Char production, as encoding/xml checks it.
func validXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// appendUnescapableX appends s with its _xHHHH_ sequences treated as
// excelize treats them, so that a reader does not decode them as OOXML
// character escapes. Scanning left to right for non-overlapping
// "_x" + four hex digits + "_":
//   - "_x005F_" (an escaped underscore) becomes "_x005F_x005F_x005F_" when
//     "xHHHH_" for a valid character follows it, else "_x005F_x005F_";
//   - "_xHHHH_" naming a valid character gets "_x005F" in front;
//   - "_xHHHH_" naming a surrogate half is dropped.
func appendUnescapableX(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		if !isXEscape(s, i) {
			dst = append(dst, s[i])
			i++
			continue
		}
		seq := s[i : i+7]
		i += 7
		switch {
		case seq == "_x005F_":
			if i+6 <= len(s) && s[i] == 'x' && isHex4(s[i+1:i+5]) && s[i+5] == '_' {
				if _, ok := hexChar(s[i+1 : i+5]); ok {
					dst = append(dst, "_x005F_x005F_x005F_"...)
					continue
				}
			}
			dst = append(dst, "_x005F_x005F_"...)
		default:
			if _, ok := hexChar(seq[2:6]); ok {
				dst = append(dst, "_x005F"...)
				dst = append(dst, seq...)
			}
		}
	}
	return dst
}

// isXEscape reports whether s[i:] starts with "_x" + four hex digits + "_".
func isXEscape(s string, i int) bool {
	return i+7 <= len(s) && s[i] == '_' && s[i+1] == 'x' && isHex4(s[i+2:i+6]) && s[i+6] == '_'
}

func isHex4(h string) bool {
	for i := 0; i < 4; i++ {
		c := h[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// hexChar decodes four hex digits; surrogate halves are not characters.
func hexChar(h string) (rune, bool) {
	v, err := strconv.ParseUint(h, 16, 32)
	r := rune(v)
	return r, err == nil && utf8.ValidRune(r)
}

// crc32Combine returns the CRC-32 (IEEE) of A‖B from crcA = CRC(A),
// crcB = CRC(B) and lenB = len(B), without B's bytes.
//
// The CRC register after B is linear over GF(2) in the register before it:
// CRC(A‖B) = M^lenB·CRC(A) ⊕ CRC(B), where M is the 32×32 bit matrix that
// feeds one zero byte through the register (the pre/post inversion cancels
// out in the xor). M^lenB is applied by square-and-multiply over the bits
// of lenB, each operator kept as 32 columns.
func crc32Combine(crcA, crcB uint32, lenB int64) uint32 {
	if lenB <= 0 {
		return crcA
	}
	// oneBit feeds one zero bit: column 0 is the reflected polynomial,
	// column n (n ≥ 1) is bit n-1, a right shift.
	var op, sq gf2Matrix
	op[0] = crc32.IEEE
	for n := 1; n < 32; n++ {
		op[n] = 1 << (n - 1)
	}
	// Square three times: 2, 4, then 8 zero bits — one zero byte.
	for range 3 {
		sq.square(&op)
		op = sq
	}
	for lenB > 0 {
		if lenB&1 != 0 {
			crcA = op.times(crcA)
		}
		lenB >>= 1
		if lenB > 0 {
			sq.square(&op)
			op = sq
		}
	}
	return crcA ^ crcB
}

// gf2Matrix is a 32×32 bit matrix, column n in element n.
type gf2Matrix [32]uint32

func (m *gf2Matrix) times(v uint32) uint32 {
	var sum uint32
	for n := 0; v != 0; n, v = n+1, v>>1 {
		if v&1 != 0 {
			sum ^= m[n]
		}
	}
	return sum
}

// square sets m to a·a.
func (m *gf2Matrix) square(a *gf2Matrix) {
	for n := range a {
		m[n] = a.times(a[n])
	}
}

// sheetZip is the zip writer excelize saves through: it stitches each
// Timeline part from excelize's header and the deflated rows, and passes
// every other part to the zip writer.
type sheetZip struct {
	zw   *zip.Writer
	rows map[string]*timelineRows // by part name

	part    *timelineRows // the Timeline part being buffered, if any
	partXML bytes.Buffer
	done    int // Timeline parts written
}

func newSheetZip(zw *zip.Writer, rows []*timelineRows) *sheetZip {
	z := &sheetZip{zw: zw, rows: make(map[string]*timelineRows, len(rows))}
	for _, r := range rows {
		z.rows[r.part] = r
	}
	return z
}

func (z *sheetZip) Create(name string) (io.Writer, error) {
	if err := z.endPart(); err != nil {
		return nil, err
	}
	if r, ok := z.rows[name]; ok {
		z.part = r
		z.partXML.Reset()
		return &z.partXML, nil
	}
	return z.zw.Create(name)
}

func (z *sheetZip) AddFS(fsys fs.FS) error {
	if err := z.endPart(); err != nil {
		return err
	}
	return z.zw.AddFS(fsys)
}

func (z *sheetZip) Close() error {
	if err := z.endPart(); err != nil {
		return err
	}
	if z.done != len(z.rows) {
		return fmt.Errorf("%d of %d Timeline sheets were saved", z.done, len(z.rows))
	}
	return z.zw.Close()
}

var sheetDataEnd = []byte("</sheetData>")

// endPart writes the buffered Timeline part, if any.
func (z *sheetZip) endPart() error {
	r := z.part
	if r == nil {
		return nil
	}
	z.part = nil
	z.done++
	xml := z.partXML.Bytes()
	cut := bytes.LastIndex(xml, sheetDataEnd)
	if cut < 0 {
		return fmt.Errorf("%s: no </sheetData> in the sheet excelize wrote", r.part)
	}
	if !r.flushed {
		return errors.New(r.part + ": rows not finished")
	}
	prefix, suffix := xml[:cut], xml[cut:]

	crc := crc32.ChecksumIEEE(prefix)
	crc = crc32Combine(crc, r.crc, r.size)
	crc = crc32.Update(crc, crc32.IEEETable, suffix)

	var head, tail bytes.Buffer
	fw, _ := flate.NewWriter(&head, flate.BestSpeed)
	_, _ = fw.Write(prefix)
	if err := fw.Flush(); err != nil { // sync flush: byte-aligned, not final
		return err
	}
	fw.Reset(&tail)
	_, _ = fw.Write(suffix)
	if err := fw.Close(); err != nil {
		return err
	}

	size := int64(len(prefix)) + r.size + int64(len(suffix))
	zsize := int64(head.Len()) + r.zsize + int64(tail.Len())
	w, err := z.zw.CreateRaw(&zip.FileHeader{
		Name:               r.part,
		Method:             zip.Deflate,
		CreatorVersion:     20, // as zip.Writer.Create sets them
		ReaderVersion:      20,
		CRC32:              crc,
		CompressedSize64:   uint64(zsize),
		UncompressedSize64: uint64(size),
	})
	if err != nil {
		return err
	}
	if _, err := w.Write(head.Bytes()); err != nil {
		return err
	}
	if _, err := r.tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if n, err := io.Copy(w, r.tmp); err != nil {
		return err
	} else if n != r.zsize {
		return fmt.Errorf("%s: read %d of %d deflated bytes back", r.tmp.Name(), n, r.zsize)
	}
	_, err = w.Write(tail.Bytes())
	return err
}
