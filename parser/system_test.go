package parser

import (
	"testing"
	"time"
)

func TestSystemSetField(t *testing.T) {
	tests := []struct {
		path, value string
		check       func(s *System) bool
		wantExtra   int
	}{
		{"Provider/@Name", "MsiInstaller", func(s *System) bool { return s.Provider == "MsiInstaller" }, 0},
		{"Provider/@Guid", "{54849625-5478-4994-a5ba-3e3b0328c30d}", func(s *System) bool { return s.ProviderGUID == "{54849625-5478-4994-A5BA-3E3B0328C30D}" }, 0},
		{"Provider/@Guid", "54849625-5478-4994-A5BA-3E3B0328C30D", func(s *System) bool { return s.ProviderGUID == "{54849625-5478-4994-A5BA-3E3B0328C30D}" }, 0},
		{"Provider/@Guid", "not-a-guid", func(s *System) bool { return s.ProviderGUID == "not-a-guid" }, 0},
		{"Provider/@EventSourceName", "Service Control Manager", func(s *System) bool { return s.EventSourceName == "Service Control Manager" }, 0},
		{"EventID", "11724", func(s *System) bool { return s.EventID == 11724 }, 0},
		{"EventID", "70000", func(s *System) bool { return s.EventID == 0 }, 1},
		{"EventID/@Qualifiers", "16384", func(s *System) bool { return s.Qualifiers == 16384 && s.HasQualifiers }, 0},
		{"EventID/@Qualifiers", "", func(s *System) bool { return !s.HasQualifiers }, 0},
		{"Version", "2", func(s *System) bool { return s.Version == 2 }, 0},
		{"Level", "4", func(s *System) bool { return s.Level == 4 }, 0},
		{"Task", "12544", func(s *System) bool { return s.Task == 12544 }, 0},
		{"Opcode", "0", func(s *System) bool { return s.Opcode == 0 }, 0},
		{"Keywords", "0x8020000000000000", func(s *System) bool { return s.Keywords == 0x8020000000000000 }, 0},
		{"Keywords", "0x80000000000000", func(s *System) bool { return s.Keywords == 0x80000000000000 }, 0},
		{"TimeCreated/@SystemTime", "2024-03-01T10:00:04.3010000Z", func(s *System) bool {
			return s.TimeCreated.Equal(time.Date(2024, 3, 1, 10, 0, 4, 301000000, time.UTC))
		}, 0},
		{"TimeCreated/@SystemTime", "2016-06-07T18:23:07.673398400Z", func(s *System) bool {
			return s.TimeCreated.Nanosecond() == 673398400
		}, 0},
		{"TimeCreated/@SystemTime", "yesterday", func(s *System) bool { return s.TimeCreated.IsZero() }, 1},
		{"EventRecordID", "68556", func(s *System) bool { return s.EventRecordID == 68556 }, 0},
		{"Correlation/@ActivityID", "{b2b0b3e0-0000-0000-0000-000000000000}", func(s *System) bool { return s.ActivityID == "{B2B0B3E0-0000-0000-0000-000000000000}" }, 0},
		{"Correlation/@RelatedActivityID", "{B2B0B3E0-0000-0000-0000-000000000001}", func(s *System) bool { return s.RelatedActivityID == "{B2B0B3E0-0000-0000-0000-000000000001}" }, 0},
		{"Execution/@ProcessID", "4", func(s *System) bool { return s.ProcessID == 4 }, 0},
		{"Execution/@ThreadID", "4294967295", func(s *System) bool { return s.ThreadID == 4294967295 }, 0},
		{"Channel", "Application", func(s *System) bool { return s.Channel == "Application" }, 0},
		{"Computer", "", func(s *System) bool { return s.Computer == "" }, 0},
		{"Security/@UserID", "S-1-5-18", func(s *System) bool { return s.UserID == "S-1-5-18" }, 0},
		{"Execution/@ProcessorID", "1", func(s *System) bool { return s.Extra[0] == Field{"Execution/@ProcessorID", "1"} }, 1},
	}
	for _, tc := range tests {
		t.Run(tc.path+"="+tc.value, func(t *testing.T) {
			var s System
			s.SetField(tc.path, tc.value)
			if !tc.check(&s) {
				t.Errorf("SetField(%q, %q) gave %+v", tc.path, tc.value, s)
			}
			if len(s.Extra) != tc.wantExtra {
				t.Errorf("Extra = %v, want %d entries", s.Extra, tc.wantExtra)
			}
		})
	}
}

func TestParseSystemTime(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"2024-03-01T10:00:04.3010000Z", time.Date(2024, 3, 1, 10, 0, 4, 301000000, time.UTC), false},
		{"1601-01-01T00:00:00.0000000Z", time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{"2024-03-01T10:00:04Z", time.Date(2024, 3, 1, 10, 0, 4, 0, time.UTC), false},
		{"2024-03-01T12:00:04.5+02:00", time.Date(2024, 3, 1, 10, 0, 4, 500000000, time.UTC), false},
		{"2024-03-01T10:00:04.123", time.Date(2024, 3, 1, 10, 0, 4, 123000000, time.UTC), false},
		{"", time.Time{}, true},
		{"2024-13-01T10:00:04Z", time.Time{}, true},
		{"2024-02-30T10:00:04.0000000Z", time.Time{}, true},
		{"2024-02-29T23:59:59.9999999Z", time.Date(2024, 2, 29, 23, 59, 59, 999999900, time.UTC), false},
		{"2024-03-01T10:00:04.30100a0Z", time.Time{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSystemTime(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if !got.Equal(tc.want) || got.Location() != time.UTC {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseSystemUint(t *testing.T) {
	tests := []struct {
		in   string
		bits int
		want uint64
		ok   bool
	}{
		{"0", 8, 0, true}, {"255", 8, 255, true}, {"256", 8, 0, false}, {"65535", 16, 65535, true},
		{"0x3e7", 32, 0x3e7, true}, {" 12 ", 16, 12, true}, {"", 16, 0, false}, {"-1", 16, 0, false},
		{"18446744073709551615", 64, 1<<64 - 1, true}, {"18446744073709551616", 64, 0, false}, {"12a", 16, 0, false},
	}
	for _, tc := range tests {
		got, ok := parseSystemUint(tc.in, tc.bits)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseSystemUint(%q, %d) = %d, %v; want %d, %v", tc.in, tc.bits, got, ok, tc.want, tc.ok)
		}
	}
}
