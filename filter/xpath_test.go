package filter

import (
	"strings"
	"testing"
	"time"
)

func TestXPath(t *testing.T) {
	day := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	many := make([]IDRange, 25)
	for i := range many {
		many[i] = IDRange{Lo: uint16(100 + 2*i), Hi: uint16(100 + 2*i)}
	}
	tests := []struct {
		name string
		f    Filter
		want string
	}{
		{"empty", Filter{}, "*"},
		{"channels and keywords are not in the query", Filter{Channels: []string{"System"}, Keywords: []string{"x"}, Computers: []string{"PC"}}, "*"},
		{"one id", Filter{IDs: []IDRange{{1033, 1033}}}, "*[System[EventID=1033]]"},
		{"ids and a range, merged and sorted",
			Filter{IDs: []IDRange{{11000, 11999}, {1034, 1034}, {1033, 1033}, {11500, 12100}}},
			"*[System[((EventID>=1033 and EventID<=1034) or (EventID>=11000 and EventID<=12100))]]"},
		{"adjacent ranges merge", Filter{IDs: []IDRange{{1, 5}, {6, 9}}}, "*[System[(EventID>=1 and EventID<=9)]]"},
		{"open-ended ranges", Filter{IDs: []IDRange{{0, 10}, {60000, 65535}}}, "*[System[(EventID<=10 or EventID>=60000)]]"},
		{"every id is no clause", Filter{IDs: []IDRange{{0, 30000}, {30001, 65535}}}, "*"},
		{"level 4 brings 0", Filter{Levels: []uint8{2, 4}}, "*[System[(Level=0 or Level=2 or Level=4)]]"},
		{"level 0 brings 4", Filter{Levels: []uint8{0}}, "*[System[(Level=0 or Level=4)]]"},
		{"one level", Filter{Levels: []uint8{2}}, "*[System[Level=2]]"},
		{"providers", Filter{Providers: []string{"MsiInstaller", "Application Error"}},
			"*[System[Provider[@Name='MsiInstaller' or @Name='Application Error']]]"},
		{"provider with a single quote", Filter{Providers: []string{"O'Brien"}}, `*[System[Provider[@Name="O'Brien"]]]`},
		{"provider with both quotes is left to Match", Filter{Providers: []string{`a'b"c`}, Levels: []uint8{2}}, "*[System[Level=2]]"},
		{"since and until, until rounded up",
			Filter{Since: day.Add(1500 * time.Microsecond), Until: day.Add(24*time.Hour + 100)},
			"*[System[TimeCreated[@SystemTime>='2024-05-01T00:00:00.001Z' and @SystemTime<'2024-05-02T00:00:00.001Z']]]"},
		{"since in another zone is written in UTC", Filter{Since: time.Date(2024, 5, 1, 2, 0, 0, 0, time.FixedZone("CEST", 7200))},
			"*[System[TimeCreated[@SystemTime>='2024-05-01T00:00:00.000Z']]]"},
		{"all together",
			Filter{Providers: []string{"MsiInstaller"}, IDs: []IDRange{{1033, 1034}}, Levels: []uint8{2}, Since: day},
			"*[System[Provider[@Name='MsiInstaller'] and (EventID>=1033 and EventID<=1034) and Level=2 and TimeCreated[@SystemTime>='2024-05-01T00:00:00.000Z']]]"},
		{"too many expressions drops the ids", Filter{IDs: many, Levels: []uint8{2}}, "*[System[Level=2]]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.XPath(); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestXPathDoesNotModifyFilter(t *testing.T) {
	f := Filter{IDs: []IDRange{{5, 5}, {1, 1}}}
	_ = f.XPath()
	if f.IDs[0].Lo != 5 {
		t.Errorf("XPath reordered the caller's IDs: %v", f.IDs)
	}
}

func TestXPathExpressionBudget(t *testing.T) {
	for n := 1; n <= 30; n++ {
		ids := make([]IDRange, n)
		for i := range ids {
			ids[i] = IDRange{Lo: uint16(10 * i), Hi: uint16(10*i + 1)}
		}
		q := (&Filter{IDs: ids, Providers: []string{"A", "B"}, Since: time.Unix(0, 0)}).XPath()
		exprs := strings.Count(q, "=") // every comparison has one = (<=, >=, =)
		if exprs > maxXPathExpressions {
			t.Errorf("%d ranges: %d comparisons in %s", n, exprs, q)
		}
	}
}
