package report

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // IANA names must resolve on Windows hosts without Go installed
)

// ParseLocation parses the --tz value: "UTC" (or empty), an IANA zone name
// such as "Europe/Berlin", or a fixed offset "+02:00", "-0530", "+2",
// optionally written after "UTC" ("UTC+02:00"). The tz database is embedded,
// so names resolve on any host.
func ParseLocation(s string) (*time.Location, error) {
	s = strings.TrimSpace(s)
	switch strings.ToUpper(s) {
	case "", "UTC", "Z", "GMT", "+00:00", "-00:00":
		return time.UTC, nil
	}
	off := s
	if u := strings.ToUpper(s); strings.HasPrefix(u, "UTC") || strings.HasPrefix(u, "GMT") {
		off = s[3:]
	}
	if off != "" && (off[0] == '+' || off[0] == '-') {
		secs, ok := parseOffset(off)
		if !ok {
			return nil, fmt.Errorf("time zone %q: write an offset as +hh:mm or -hh:mm between -14:00 and +14:00, e.g. +02:00", s)
		}
		if secs == 0 {
			return time.UTC, nil
		}
		return time.FixedZone("UTC"+formatOffset(secs), secs), nil
	}
	loc, err := time.LoadLocation(s)
	if err != nil || strings.EqualFold(s, "local") {
		return nil, fmt.Errorf("time zone %q is not known: write an IANA name such as Europe/Berlin or America/New_York, UTC, or an offset such as +02:00", s)
	}
	return loc, nil
}

// parseOffset parses "+hh:mm", "+hhmm", "+h" or "+hh" into seconds east.
func parseOffset(s string) (int, bool) {
	sign := 1
	if s[0] == '-' {
		sign = -1
	}
	s = s[1:]
	var hh, mm string
	switch {
	case strings.Contains(s, ":"):
		hh, mm, _ = strings.Cut(s, ":")
	case len(s) == 4:
		hh, mm = s[:2], s[2:]
	case len(s) == 1 || len(s) == 2:
		hh, mm = s, "0"
	default:
		return 0, false
	}
	if hh == "" || len(hh) > 2 || mm == "" || len(mm) > 2 {
		return 0, false
	}
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if err1 != nil || err2 != nil || h < 0 || m < 0 || m > 59 || h*60+m > 14*60 {
		return 0, false
	}
	return sign * (h*3600 + m*60), true
}

// formatOffset writes seconds east of UTC as "+hh:mm".
func formatOffset(secs int) string {
	sign := byte('+')
	if secs < 0 {
		sign, secs = '-', -secs
	}
	return fmt.Sprintf("%c%02d:%02d", sign, secs/3600, secs/60%60)
}

// Time layouts. Data formats (JSONL) keep UTC with 100 ns precision, as the
// dump command writes them; display formats show the chosen zone with its
// offset on every value, because a zone with daylight saving time has two.
const (
	dataTimeLayout    = "2006-01-02T15:04:05.0000000Z"
	displayTimeLayout = "2006-01-02 15:04:05.0000000 -07:00" // xlsx, CSV
	shortTimeLayout   = "2006-01-02 15:04:05.000 -07:00"     // HTML
)

// displayTime formats t in loc as displayTimeLayout (frac 7) or
// shortTimeLayout (frac 3) does, without walking the layout for every row:
// each timeline row has a time, so this is paid once per event and format.
func displayTime(t time.Time, loc *time.Location, frac int) string {
	t = t.In(loc)
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		if frac == 3 {
			return t.Format(shortTimeLayout)
		}
		return t.Format(displayTimeLayout)
	}
	h, mi, sec := t.Clock()
	var b [36]byte
	n := 0
	put := func(v, width int) {
		for i := width - 1; i >= 0; i-- {
			b[n+i] = byte('0' + v%10)
			v /= 10
		}
		n += width
	}
	sep := func(c byte) { b[n] = c; n++ }
	put(y, 4)
	sep('-')
	put(int(mo), 2)
	sep('-')
	put(d, 2)
	sep(' ')
	put(h, 2)
	sep(':')
	put(mi, 2)
	sep(':')
	put(sec, 2)
	sep('.')
	if frac == 3 {
		put(t.Nanosecond()/1e6, 3) // truncated, as Format does
	} else {
		put(t.Nanosecond()/100, 7)
	}
	sep(' ')
	_, off := t.Zone()
	zone := off / 60 // Format drops the seconds of an offset
	if zone < 0 {
		sep('-')
		zone = -zone
	} else {
		sep('+')
	}
	put(zone/60, 2)
	sep(':')
	put(zone%60, 2)
	return string(b[:n])
}

func dataTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(dataTimeLayout)
}

// zoneLabel names the display zone for headers: "UTC", "Europe/Berlin", or
// "UTC+05:30".
func zoneLabel(loc *time.Location) string {
	if loc == nil || loc == time.UTC {
		return "UTC"
	}
	return loc.String()
}
