package report

import (
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
// date system counts a 29 February 1900 that never was.
const excelFirstUnix = -2203891200

// excelTime returns t's wall clock in loc as an Excel serial date rounded
// to the millisecond, and false when Excel cannot show it.
func excelTime(t time.Time, loc *time.Location) (float64, bool) {
	if loc == nil {
		loc = time.UTC
	}
	t = t.In(loc)
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	wall := time.Date(y, mo, d, h, mi, s, t.Nanosecond(), time.UTC).Round(time.Millisecond)
	if wall.Unix() < excelFirstUnix || wall.Year() > 9999 {
		return 0, false
	}
	ms := (wall.Unix()-excelEpochUnix)*1000 + int64(wall.Nanosecond()/int(time.Millisecond))
	const dayMS = 86_400_000
	v := float64(ms/dayMS) + float64(ms%dayMS)/dayMS
	// Excel keeps 15 significant digits (excelize cuts to them too): round
	// to them here, so the value written is the value meant (about 9 µs
	// resolution, well under the millisecond shown).
	v, _ = strconv.ParseFloat(strconv.FormatFloat(v, 'g', 15, 64), 64)
	return v, true
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
