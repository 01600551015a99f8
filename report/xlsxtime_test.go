package report

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

func TestExcelTime(t *testing.T) {
	berlin, err := ParseLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	india := time.FixedZone("UTC+05:30", 5*3600+1800)
	for _, tc := range []struct {
		t    time.Time
		loc  *time.Location
		want float64
		ok   bool
	}{
		{time.Date(1900, 3, 1, 0, 0, 0, 0, time.UTC), time.UTC, 61, true},
		{time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC), time.UTC, 46110 + 30.0/1440, true},
		// The display zone's wall clock: 00:30 UTC is 01:30 CET, 01:30 UTC
		// is 03:30 CEST (the same day's switch), 06:00 at +05:30.
		{time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC), berlin, 46110 + 90.0/1440, true},
		{time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC), berlin, 46110 + 210.0/1440, true},
		{time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC), india, 46110 + 360.0/1440, true},
		// Milliseconds kept, 100 ns rounded.
		{time.Date(2026, 3, 29, 0, 0, 0, 123_456_700, time.UTC), time.UTC, 46110 + 0.123/86400, true},
		{time.Date(1899, 12, 31, 0, 0, 0, 0, time.UTC), time.UTC, 0, false},
		{time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC), time.UTC, 0, false}, // a FILETIME of 0
	} {
		got, ok := excelTime(tc.t, tc.loc)
		if ok != tc.ok || (ok && strconv.FormatFloat(got, 'g', 12, 64) != strconv.FormatFloat(tc.want, 'g', 12, 64)) {
			t.Errorf("excelTime(%v in %v) = %v, %v; want %v, %v", tc.t, tc.loc, got, ok, tc.want, tc.ok)
		}
		if ok {
			back, err := serialTime(got), error(nil)
			wall := tc.t.In(tc.loc)
			want := time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), wall.Second(), wall.Nanosecond(), time.UTC).Round(time.Millisecond)
			if err != nil || !back.Round(time.Millisecond).Equal(want) {
				t.Errorf("excelTime(%v in %v) reads back in Excel as %v (%v), want %v", tc.t, tc.loc, back, err, want)
			}
		}
	}
}

// TestXLSXTimesAreDateCells reads every time of the workbook back: each is a
// number (no string type) with the date number format, whose value is the
// event's wall clock in the display zone to the millisecond, and the column
// header names the zone, so Excel's date filters work.
func TestXLSXTimesAreDateCells(t *testing.T) {
	india := time.FixedZone("UTC+05:30", 5*3600+1800)
	for _, loc := range []*time.Location{time.UTC, india} {
		t.Run(zoneLabel(loc), func(t *testing.T) {
			dir := t.TempDir()
			const n = 40
			s, err := writeFixture(dir, n, Options{Formats: []string{"xlsx"}, Location: loc})
			if err != nil {
				t.Fatal(err)
			}
			f, err := excelize.OpenFile(filepath.Join(dir, XLSXName))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			zone := zoneLabel(loc)
			checkDate := func(sheet, cell string, want time.Time) {
				t.Helper()
				typ, err := f.GetCellType(sheet, cell)
				if err != nil || (typ != excelize.CellTypeUnset && typ != excelize.CellTypeNumber) {
					t.Errorf("%s!%s: cell type %v (%v), want a number", sheet, cell, typ, err)
					return
				}
				styleID, _ := f.GetCellStyle(sheet, cell)
				st, err := f.GetStyle(styleID)
				if err != nil || st.CustomNumFmt == nil || *st.CustomNumFmt != excelDateFormat {
					t.Errorf("%s!%s: style %d has no date format: %+v %v", sheet, cell, styleID, st, err)
				}
				raw, _ := f.GetCellValue(sheet, cell, excelize.Options{RawCellValue: true})
				v, err := strconv.ParseFloat(raw, 64)
				if err != nil {
					t.Errorf("%s!%s: value %q is not a number", sheet, cell, raw)
					return
				}
				got := serialTime(v)
				w := want.In(loc)
				wantWall := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), time.UTC).Round(time.Millisecond)
				if !got.Round(time.Millisecond).Equal(wantWall) {
					t.Errorf("%s!%s = %v (%s), want %v", sheet, cell, got, raw, wantWall)
				}
			}
			header := func(sheet, cell, want string) {
				t.Helper()
				if got, _ := f.GetCellValue(sheet, cell); got != want {
					t.Errorf("%s!%s header %q, want %q", sheet, cell, got, want)
				}
			}
			header("Timeline", "A1", "Time ("+zone+")")
			for i := range n {
				checkDate("Timeline", "A"+strconv.Itoa(i+2), fixtureEvent(i).System.TimeCreated)
			}
			header("Findings", "A1", "Time ("+zone+")")
			for i, fi := range v(s, loc).findings {
				checkDate("Findings", "A"+strconv.Itoa(i+2), fi.Time)
			}
			header("Uninstalls", "A1", "Start ("+zone+")")
			header("Uninstalls", "B1", "End ("+zone+")")
			for i, se := range v(s, loc).sessions {
				row := strconv.Itoa(i + 2)
				checkDate("Uninstalls", "A"+row, se.Start)
				if se.End.IsZero() {
					if got, _ := f.GetCellValue("Uninstalls", "B"+row); got != "never ended" {
						t.Errorf("Uninstalls!B%s = %q, want never ended", row, got)
					}
				} else {
					checkDate("Uninstalls", "B"+row, se.End)
				}
			}
			rows, _ := f.GetRows("Summary")
			for i, r := range rows {
				if len(r) > 0 && r[0] == "Run started" {
					checkDate("Summary", "B"+strconv.Itoa(i+1), s.Started)
				}
				if len(r) > 0 && r[0] == "First event" {
					checkDate("Summary", "B"+strconv.Itoa(i+1), fixtureBase)
				}
			}
		})
	}
}

// v builds the sorted view of a summary, as Close does.
func v(s Summary, loc *time.Location) *view {
	w := &Writer{loc: loc, byLevel: map[string]int{}}
	return w.view(&s)
}

// serialTime reads an Excel serial date (1900 system, after February 1900)
// back to the millisecond; excelize.ExcelDateToTime rounds to the second.
func serialTime(v float64) time.Time {
	days := math.Floor(v)
	ms := math.Round((v - days) * 86_400_000)
	return time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(days)).Add(time.Duration(ms) * time.Millisecond)
}

// TestAppendExcelTimeAsExcelizeWrites: the digits the fast Timeline writer
// appends are what excelize writes for the float64 excelTime returns (its
// shortest form cut to 15 significant digits), for times all over Excel's
// range and zones, milliseconds near every rounding edge included.
func TestAppendExcelTimeAsExcelizeWrites(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 17))
	zones := []*time.Location{time.UTC, time.FixedZone("UTC+05:30", 5*3600+1800), time.FixedZone("UTC-11:00", -11*3600)}
	first, end := time.Date(1900, 3, 2, 0, 0, 0, 0, time.UTC).Unix(), time.Date(9999, 12, 30, 0, 0, 0, 0, time.UTC).Unix()
	for i := range 200_000 {
		var sec int64
		if i%2 == 0 {
			sec = first + rng.Int64N(end-first) // anywhere
		} else {
			sec = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Unix() + rng.Int64N(60*365*86400) // today's logs
		}
		ns := rng.IntN(1e9)
		if i%3 == 0 {
			ns = rng.IntN(1000)*int(time.Millisecond) + []int{0, 499_999, 500_000, 999_999}[i%4] // rounding edges
		}
		tm := time.Unix(sec, int64(ns))
		loc := zones[i%len(zones)]
		got, ok := appendExcelTime(nil, tm, loc)
		v, ok2 := excelTime(tm, loc)
		if !ok || !ok2 {
			t.Fatalf("%v in %v: not representable", tm, loc)
		}
		if want := formatAsExcelize(v); string(got) != want {
			t.Fatalf("%v in %v: appended %s, excelize writes %s", tm, loc, got, want)
		}
		if back := serialTime(v); back.Sub(wallClock(tm, loc)).Abs() > 10*time.Microsecond+500*time.Microsecond {
			t.Fatalf("%v in %v: serial %s reads back as %v", tm, loc, got, back)
		}
	}
}

// formatAsExcelize is excelize's formatCellFloat(v, -1, 64): the shortest
// form, cut to 15 significant digits.
func formatAsExcelize(v float64) string {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	sig := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' || sig == 0 && s[i] == '0' {
			continue
		}
		if sig++; sig > 15 {
			return strings.TrimSuffix(s[:i], ".")
		}
	}
	return s
}

func wallClock(t time.Time, loc *time.Location) time.Time {
	w := t.In(loc)
	return time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), time.UTC)
}
