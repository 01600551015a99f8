package filter

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseIDs parses event ids as PowerShell users write them: "1034",
// "1033,1034", "11000-11999", and mixes of those.
func ParseIDs(s string) ([]IDRange, error) {
	var out []IDRange
	for _, part := range splitList(s) {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := parseID(lo)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = parseID(hi); err != nil {
				return nil, err
			}
			if b < a {
				return nil, fmt.Errorf("event id range %q runs backwards: write %d-%d", part, b, a)
			}
		}
		out = append(out, IDRange{Lo: a, Hi: b})
	}
	return out, nil
}

func parseID(s string) (uint16, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 16)
	if err != nil {
		return 0, fmt.Errorf("event id %q is not a number from 0 to 65535", s)
	}
	return uint16(n), nil
}

var levelNames = map[string]uint8{
	"critical": 1, "error": 2, "warning": 3, "information": 4, "info": 4, "verbose": 5,
}

// ParseLevels parses levels by name (critical, error, warning, information,
// verbose) or number (0–255), separated by commas.
func ParseLevels(s string) ([]uint8, error) {
	var out []uint8
	for _, part := range splitList(s) {
		if l, ok := levelNames[strings.ToLower(part)]; ok {
			out = append(out, l)
			continue
		}
		n, err := strconv.ParseUint(part, 10, 8)
		if err != nil {
			return nil, fmt.Errorf("level %q: use critical, error, warning, information, verbose or a number", part)
		}
		out = append(out, uint8(n))
	}
	return out, nil
}

// ParseTime parses an absolute time (RFC 3339, "2006-01-02 15:04:05",
// "2006-01-02T15:04", or a date "2006-01-02"; without a zone it is UTC) or a
// time relative to now: "24h", "90m", "7d", "2w" (meaning now minus that).
func ParseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, fmt.Errorf("empty time")
	}
	if d, ok := parseRelative(s); ok {
		return now.Add(-d).UTC(), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q: write RFC 3339 (2024-03-01T10:00:00Z), a date (2024-03-01), or a duration back from now (24h, 7d, 2w)", s)
}

func parseRelative(s string) (time.Duration, bool) {
	if len(s) < 2 {
		return 0, false
	}
	unit := s[len(s)-1]
	var mult time.Duration
	switch unit {
	case 'd':
		mult = 24 * time.Hour
	case 'w':
		mult = 7 * 24 * time.Hour
	}
	if mult != 0 {
		n, err := strconv.ParseFloat(s[:len(s)-1], 64)
		if err != nil || n < 0 {
			return 0, false
		}
		return time.Duration(n * float64(mult)), true
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, false
	}
	return d, true
}

// splitList splits a comma-separated flag value and drops empty parts.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
