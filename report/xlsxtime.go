package report

import (
	"math/bits"
	"slices"
	"strconv"
	"time"

	"github.com/xuri/excelize/v2"
)

// Times in the workbook are real date-time cells: Excel serial numbers
// (days since 1899-12-30, the 1900 date system) of the wall clock in the
// display zone, with a number format that shows milliseconds, so Excel's
// date filters, sorting and arithmetic work. The column header names the
// zone. Excel cannot hold finer than about a microsecond in a serial, and
// shows at most milliseconds, so values are rounded to the millisecond;
// the JSONL files keep the full 100 ns. A time Excel cannot show (before
// 1900-03-01 or after 9999) stays a text cell with its offset.

// excelDateFormat is the number format of every time cell.
const excelDateFormat = "yyyy-mm-dd hh:mm:ss.000"

// excelEpochUnix is 1899-12-30T00:00:00Z in Unix seconds: serial 0.
const excelEpochUnix = -2209161600

// excelFirstUnix is 1900-03-01T00:00:00Z (serial 61): before it the 1900
// date system counts a 29 February 1900 that never was. excelEndUnix is
// 10000-01-01T00:00:00Z, past Excel's last date.
const (
	excelFirstUnix = -2203891200
	excelEndUnix   = 253402300800
)

// excelTime returns t's wall clock in loc as an Excel serial date rounded
// to the millisecond, and false when Excel cannot show it.
func excelTime(t time.Time, loc *time.Location) (float64, bool) {
	var buf [32]byte
	b, ok := appendExcelTime(buf[:0], t, loc)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(b), 64)
	return v, err == nil
}

// appendExcelTime appends the serial of excelTime as excelize writes that
// float64 (shortest form, at most 15 significant digits: Excel keeps no
// more), computed with integers: the Timeline writes one per event. The
// digits are the serial rounded to 15 significant digits (about 9 µs at
// today's dates, well under the millisecond shown), so parsing them gives
// back a float64 whose shortest form is these same digits.
func appendExcelTime(dst []byte, t time.Time, loc *time.Location) ([]byte, bool) {
	if loc == nil {
		loc = time.UTC
	}
	t = t.In(loc)
	_, offset := t.Zone()
	// Seconds of the wall clock since the Unix epoch, and its milliseconds.
	wallSec := t.Unix() + int64(offset)
	ms := int64(t.Nanosecond()+int(time.Millisecond/2)) / int64(time.Millisecond)
	if ms == 1000 {
		wallSec, ms = wallSec+1, 0
	}
	if wallSec < excelFirstUnix || wallSec >= excelEndUnix {
		return dst, false
	}
	const dayMS = 86_400_000
	total := (wallSec-excelEpochUnix)*1000 + ms
	days, rem := total/dayMS, total%dayMS
	digits := 1
	for d := days; d >= 10; d /= 10 {
		digits++
	}
	decimals := 15 - digits // 10 for dates from 1927 to 2173
	pow := int64(1)
	for range decimals {
		pow *= 10
	}
	// frac = round(rem*pow / dayMS), in 128 bits: rem*pow reaches 8.6e20
	// before 1900-04-10 (3-digit serials, 12 decimals).
	hi, lo := bits.Mul64(uint64(rem), uint64(pow))
	lo, carry := bits.Add64(lo, dayMS/2, 0)
	q, _ := bits.Div64(hi+carry, lo, dayMS)
	frac := int64(q)
	if frac == pow {
		days, frac = days+1, 0
	}
	dst = strconv.AppendInt(dst, days, 10)
	if frac == 0 {
		return dst, true
	}
	for frac%10 == 0 {
		frac /= 10
		decimals--
	}
	dst = append(dst, '.')
	var tmp [20]byte
	f := strconv.AppendInt(tmp[:0], frac, 10)
	for range decimals - len(f) {
		dst = append(dst, '0')
	}
	return append(dst, f...), true
}

// makeDateStyles makes, for every row style, the same style with the date
// number format (the cell's own style replaces the row's).
func (x *xlsxWriter) makeDateStyles() error {
	x.styles.date = map[int]int{}
	ids := []int{0, x.styles.label}
	for _, id := range x.styles.eventLevel {
		ids = append(ids, id)
	}
	ids = append(ids, x.styles.findingLevel[:]...)
	for _, id := range x.styles.outcome {
		ids = append(ids, id)
	}
	slices.Sort(ids) // the same style ids in every run
	format := excelDateFormat
	for _, id := range ids {
		if _, done := x.styles.date[id]; done {
			continue
		}
		s := &excelize.Style{}
		if id != 0 {
			var err error
			if s, err = x.f.GetStyle(id); err != nil {
				return err
			}
		}
		s.NumFmt, s.CustomNumFmt = 0, &format
		dateID, err := x.f.NewStyle(s)
		if err != nil {
			return err
		}
		x.styles.date[id] = dateID
	}
	return nil
}

// timeCell is the cell of t on a row of style rowStyle: a date cell, text
// when Excel cannot show t, empty for the zero time.
func (x *xlsxWriter) timeCell(t time.Time, rowStyle int) any {
	if t.IsZero() {
		return ""
	}
	if v, ok := excelTime(t, x.loc); ok {
		return excelize.Cell{StyleID: x.styles.date[rowStyle], Value: v}
	}
	return displayTime(t, x.loc, 7)
}
