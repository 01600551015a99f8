package parser

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// SetField sets the System field that path names from its rendered text
// value, the way both the file parser and the live mode's XML mapper fill
// System, so the two sources produce identical Events.
//
// Paths are relative to <System>: an element's text is its name ("EventID",
// "Channel"), an attribute is "Element/@Attr" ("Provider/@Name",
// "TimeCreated/@SystemTime"). Numbers are decimal except Keywords, which is
// hexadecimal with a 0x prefix as Windows renders it. A value that does not
// parse leaves the typed field unchanged and is kept in Extra under its path,
// so nothing is lost. Unknown paths go to Extra too.
func (s *System) SetField(path, value string) {
	ok := true
	switch path {
	case "Provider/@Name":
		s.Provider = value
	case "Provider/@Guid":
		s.ProviderGUID = canonicalGUID(value)
	case "Provider/@EventSourceName":
		s.EventSourceName = value
	case "EventID":
		var v uint64
		if v, ok = parseSystemUint(value, 16); ok {
			s.EventID = uint16(v)
		}
	case "EventID/@Qualifiers":
		if value == "" { // python-evtx#71: Qualifiers="" means absent
			return
		}
		var v uint64
		if v, ok = parseSystemUint(value, 16); ok {
			s.Qualifiers, s.HasQualifiers = uint16(v), true
		}
	case "Version":
		var v uint64
		if v, ok = parseSystemUint(value, 8); ok {
			s.Version = uint8(v)
		}
	case "Level":
		var v uint64
		if v, ok = parseSystemUint(value, 8); ok {
			s.Level = uint8(v)
		}
	case "Task":
		var v uint64
		if v, ok = parseSystemUint(value, 16); ok {
			s.Task = uint16(v)
		}
	case "Opcode":
		var v uint64
		if v, ok = parseSystemUint(value, 8); ok {
			s.Opcode = uint8(v)
		}
	case "Keywords":
		var v uint64
		if v, ok = parseSystemUint(value, 64); ok {
			s.Keywords = v
		}
	case "TimeCreated/@SystemTime":
		t, err := ParseSystemTime(value)
		if ok = err == nil; ok {
			s.TimeCreated = t
		}
	case "EventRecordID":
		var v uint64
		if v, ok = parseSystemUint(value, 64); ok {
			s.EventRecordID = v
		}
	case "Correlation/@ActivityID":
		s.ActivityID = canonicalGUID(value)
	case "Correlation/@RelatedActivityID":
		s.RelatedActivityID = canonicalGUID(value)
	case "Execution/@ProcessID":
		var v uint64
		if v, ok = parseSystemUint(value, 32); ok {
			s.ProcessID = uint32(v)
		}
	case "Execution/@ThreadID":
		var v uint64
		if v, ok = parseSystemUint(value, 32); ok {
			s.ThreadID = uint32(v)
		}
	case "Channel":
		s.Channel = value
	case "Computer":
		s.Computer = value
	case "Security/@UserID":
		s.UserID = value
	default:
		ok = false
	}
	if !ok {
		s.Extra = append(s.Extra, Field{Name: path, Value: value})
	}
}

// parseSystemUint parses a decimal or 0x-prefixed hexadecimal unsigned number that
// fits in bits. Surrounding spaces are tolerated (hand-edited XML).
func parseSystemUint(s string, bits int) (uint64, bool) {
	// Fast path: short plain decimal, what every record holds.
	if n := len(s); n > 0 && n <= 19 {
		var v uint64
		i := 0
		for ; i < n && s[i] >= '0' && s[i] <= '9'; i++ {
			v = v*10 + uint64(s[i]-'0')
		}
		if i == n {
			if bits < 64 && v >= 1<<bits {
				return 0, false
			}
			return v, true
		}
	}
	s = strings.TrimSpace(s)
	base := 10
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		s, base = s[2:], 16
	}
	v, err := strconv.ParseUint(s, base, bits)
	if err != nil {
		return 0, false
	}
	return v, true
}

// canonicalGUID returns a GUID in the form Windows renders GUID-typed
// values, "{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}" upper-case, when s is a
// GUID with or without braces in any case; anything else is returned as is.
func canonicalGUID(s string) string {
	if isCanonicalGUID(s) {
		return s
	}
	inner := s
	if len(inner) == 38 && inner[0] == '{' && inner[37] == '}' {
		inner = inner[1:37]
	}
	if len(inner) != 36 {
		return s
	}
	var b [38]byte
	b[0], b[37] = '{', '}'
	for i := 0; i < 36; i++ {
		c := inner[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return s
			}
		case c >= '0' && c <= '9', c >= 'A' && c <= 'F':
		case c >= 'a' && c <= 'f':
			c -= 'a' - 'A'
		default:
			return s
		}
		b[i+1] = c
	}
	if string(b[:]) == s {
		return s
	}
	return string(b[:])
}

// isCanonicalGUID reports whether s is already "{XXXXXXXX-…}" upper-case.
func isCanonicalGUID(s string) bool {
	if len(s) != 38 || s[0] != '{' || s[37] != '}' {
		return false
	}
	for i := 1; i < 37; i++ {
		c := s[i]
		switch i {
		case 9, 14, 19, 24:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// parseSystemTime7 parses exactly "YYYY-MM-DDThh:mm:ss.fffffffZ", the form
// the parser itself renders, without the generic layout machinery.
func parseSystemTime7(s string) (time.Time, bool) {
	if len(s) != 28 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != '.' || s[27] != 'Z' {
		return time.Time{}, false
	}
	num := func(from, to int) (int, bool) {
		v := 0
		for i := from; i < to; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	y, ok1 := num(0, 4)
	mo, ok2 := num(5, 7)
	d, ok3 := num(8, 10)
	h, ok4 := num(11, 13)
	mi, ok5 := num(14, 16)
	sec, ok6 := num(17, 19)
	frac, ok7 := num(20, 27)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, frac*100, time.UTC)
	if t.Day() != d { // 31 February and the like: leave it to time.Parse
		return time.Time{}, false
	}
	return t, true
}

// ErrBadTime is returned by [ParseSystemTime] for text that is not an
// RFC 3339 UTC time.
var ErrBadTime = errors.New("parser: not a SystemTime (want YYYY-MM-DDThh:mm:ss[.fffffff]Z)")

// ParseSystemTime parses a TimeCreated/@SystemTime value as Windows renders
// it: RFC 3339 in UTC with 0 to 9 fractional digits ("2024-03-01T10:00:04.3010000Z";
// Windows 7 and Server 2016 write 9 digits, 10 and later 7). A numeric offset
// instead of Z is accepted and converted to UTC. The result is in UTC.
func ParseSystemTime(s string) (time.Time, error) {
	if t, ok := parseSystemTime7(s); ok {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		// Some producers omit the zone designator; Windows times are UTC.
		t2, err2 := time.Parse("2006-01-02T15:04:05.999999999", s)
		if err2 != nil {
			return time.Time{}, ErrBadTime
		}
		t = t2
	}
	return t.UTC(), nil
}
