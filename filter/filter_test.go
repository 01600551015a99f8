package filter

import (
	"testing"
	"time"

	"github.com/evtxscan/evtxscan/parser"
)

func ev(channel, provider string, id uint16, level uint8, t string, data ...string) *parser.Event {
	tm, _ := time.Parse(time.RFC3339, t)
	e := &parser.Event{System: parser.System{Channel: channel, Provider: provider, EventID: id, Level: level, TimeCreated: tm, Computer: "WS01.contoso.local"}}
	for _, d := range data {
		e.EventData = append(e.EventData, parser.Field{Value: d})
	}
	return e
}

func TestMatch(t *testing.T) {
	e := ev("Application", "MsiInstaller", 1034, 4, "2024-03-01T10:00:04Z", "Contoso Agent", "4.2.0.17", "1033", "1603")
	since, _ := ParseTime("2024-03-01", time.Time{})
	tests := []struct {
		name string
		f    Filter
		want bool
	}{
		{"zero", Filter{}, true},
		{"channel fold", Filter{Channels: []string{"application"}}, true},
		{"channel other", Filter{Channels: []string{"System"}}, false},
		{"provider", Filter{Providers: []string{"msiinstaller"}}, true},
		{"id in range", Filter{IDs: []IDRange{{1033, 1035}}}, true},
		{"id outside", Filter{IDs: []IDRange{{1040, 1040}}}, false},
		{"level info", Filter{Levels: []uint8{4}}, true},
		{"level error", Filter{Levels: []uint8{2}}, false},
		{"since", Filter{Since: since}, true},
		{"until exclusive", Filter{Until: e.System.TimeCreated}, false},
		{"computer", Filter{Computers: []string{"ws01.CONTOSO.local"}}, true},
		{"keyword in data", Filter{Keywords: []string{"contoso AGENT"}}, true},
		{"keyword absent", Filter{Keywords: []string{"nimbus"}}, false},
		{"and across fields", Filter{Channels: []string{"Application"}, IDs: []IDRange{{1040, 1040}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.Match(e); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLevelZeroIsInformation(t *testing.T) {
	e := ev("Security", "Microsoft-Windows-Security-Auditing", 4688, 0, "2024-03-01T10:00:00Z")
	f := Filter{Levels: []uint8{4}}
	if !f.Match(e) {
		t.Error("level 0 (LogAlways) should match information")
	}
}

func TestParseIDs(t *testing.T) {
	tests := []struct {
		in      string
		want    []IDRange
		wantErr bool
	}{
		{"1034", []IDRange{{1034, 1034}}, false},
		{"1033, 1034", []IDRange{{1033, 1033}, {1034, 1034}}, false},
		{"11000-11999,1034", []IDRange{{11000, 11999}, {1034, 1034}}, false},
		{"5-3", nil, true},
		{"abc", nil, true},
		{"70000", nil, true},
	}
	for _, tt := range tests {
		got, err := ParseIDs(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseIDs(%q) err = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if len(got) != len(tt.want) {
			t.Errorf("ParseIDs(%q) = %v, want %v", tt.in, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("ParseIDs(%q) = %v, want %v", tt.in, got, tt.want)
			}
		}
	}
}

func TestParseLevels(t *testing.T) {
	got, err := ParseLevels("error,Warning,4")
	if err != nil || len(got) != 3 || got[0] != 2 || got[1] != 3 || got[2] != 4 {
		t.Errorf("ParseLevels = %v, %v", got, err)
	}
	if _, err := ParseLevels("loud"); err == nil {
		t.Error("ParseLevels(loud) should fail")
	}
}

func TestParseTime(t *testing.T) {
	now := time.Date(2024, 3, 8, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"24h", now.Add(-24 * time.Hour)},
		{"7d", now.Add(-7 * 24 * time.Hour)},
		{"1w", now.Add(-7 * 24 * time.Hour)},
		{"2024-03-01", time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)},
		{"2024-03-01T10:00:00+02:00", time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)},
		{"2024-03-01 10:30", time.Date(2024, 3, 1, 10, 30, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		got, err := ParseTime(tt.in, now)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "yesterday", "-5d"} {
		if _, err := ParseTime(bad, now); err == nil {
			t.Errorf("ParseTime(%q) should fail", bad)
		}
	}
}
