package parser

import (
	"math/bits"
	"strconv"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// AppendJSON appends the dump JSONL object of e to dst, without a newline.
// The format is a public interface, documented in the package doc; keys
// come in a fixed order and strings are valid UTF-8 with control characters
// escaped.
func AppendJSON(dst []byte, e *Event) []byte {
	dst = append(dst, `{"file":`...)
	dst = appendFileName(dst, e.Source.File)
	dst = append(dst, `,"record_id":`...)
	dst = strconv.AppendUint(dst, e.Source.RecordID, 10)
	if h := e.Source.HeaderRecordID; h != 0 && h != e.Source.RecordID {
		dst = append(dst, `,"header_record_id":`...)
		dst = strconv.AppendUint(dst, h, 10)
	}
	dst = append(dst, `,"time":"`...)
	dst = appendRFC3339x7(dst, e.Time())
	dst = append(dst, `","event_id":`...)
	dst = strconv.AppendUint(dst, uint64(e.System.EventID), 10)
	dst = append(dst, `,"provider":`...)
	dst = appendJSONString(dst, e.System.Provider)
	dst = append(dst, `,"channel":`...)
	dst = appendJSONString(dst, e.System.Channel)
	dst = append(dst, `,"computer":`...)
	dst = appendJSONString(dst, e.System.Computer)
	dst = append(dst, `,"level":`...)
	dst = strconv.AppendUint(dst, uint64(e.System.Level), 10)
	dst = append(dst, `,"user_sid":`...)
	dst = appendJSONString(dst, e.System.UserID)
	dst = append(dst, `,"event_data":{`...)
	n := 0
	key := func(k string) {
		if n > 0 {
			dst = append(dst, ',')
		}
		// Repeated names get _1, _2… (Ntfs 146 repeats names).
		if c := earlierSame(e, n, k); c > 0 {
			k += "_" + strconv.Itoa(c)
		}
		n++
		dst = appendJSONString(dst, k)
		dst = append(dst, ':')
	}
	for i := range e.EventData {
		if e.EventData[i].Name == "" && !namedLikeData(e) {
			// Unnamed: "Data[i]" is unique, written without building a string.
			if n > 0 {
				dst = append(dst, ',')
			}
			n++
			dst = append(dst, `"Data[`...)
			dst = strconv.AppendInt(dst, int64(i+1), 10)
			dst = append(dst, `]":`...)
		} else {
			key(e.DataKey(i))
		}
		dst = appendJSONString(dst, e.EventData[i].Value)
	}
	if e.Binary != nil {
		key("Binary")
		dst = append(dst, '"')
		dst = appendHexUpper(dst, e.Binary)
		dst = append(dst, '"')
	}
	dst = append(dst, '}')
	if e.UserData != nil {
		dst = append(dst, `,"user_data":{`...)
		dst = appendJSONString(dst, e.UserData.Name)
		dst = append(dst, ':')
		dst = appendJSONNode(dst, e.UserData, 0)
		dst = append(dst, '}')
	}
	dst = append(dst, `,"recovered":`...)
	dst = strconv.AppendBool(dst, e.Source.Recovered)
	if e.Source.Truncated {
		dst = append(dst, `,"truncated":true`...)
	}
	if e.Message != "" {
		dst = append(dst, `,"message":`...)
		dst = appendJSONString(dst, e.Message)
	}
	return append(dst, '}')
}

// quotedName is a file name and its JSON quoting: every record of a file
// carries the same name, so it is quoted once per file, not per record.
type quotedName struct {
	name   string
	quoted []byte
}

var lastQuotedName atomic.Pointer[quotedName]

// appendFileName appends the JSON string of a Source.File value.
func appendFileName(dst []byte, name string) []byte {
	if q := lastQuotedName.Load(); q != nil && q.name == name {
		return append(dst, q.quoted...)
	}
	q := &quotedName{name: name, quoted: appendJSONString(nil, name)}
	lastQuotedName.Store(q)
	return append(dst, q.quoted...)
}

// earlierSame counts the event_data keys before position n that equal k
// ("Binary" is at position len(EventData)). Records hold few fields, so a
// scan beats a map.
func earlierSame(e *Event, n int, k string) int {
	c := 0
	for j := 0; j < n && j < len(e.EventData); j++ {
		if name := e.EventData[j].Name; name == k || name == "" && len(k) > 5 && k[:5] == "Data[" && e.DataKey(j) == k {
			c++
		}
	}
	return c
}

// namedLikeData reports whether a named field looks like a positional key
// ("Data[2]"), the one case where an unnamed key could repeat.
func namedLikeData(e *Event) bool {
	for i := range e.EventData {
		if n := e.EventData[i].Name; len(n) > 5 && n[:5] == "Data[" {
			return true
		}
	}
	return false
}

// appendJSONNode writes an element as a JSON value: a string when it has
// only text, else an object of "@attr" keys, child elements (duplicate
// names suffixed _1, _2, …) and "#text" for mixed text.
func appendJSONNode(dst []byte, n *Node, depth int) []byte {
	if len(n.Attrs) == 0 && len(n.Children) == 0 {
		return appendJSONString(dst, n.Text)
	}
	if depth > maxElementDepth {
		return append(dst, "null"...)
	}
	dst = append(dst, '{')
	var seen map[string]int
	k := 0
	key := func(name string) {
		if k > 0 {
			dst = append(dst, ',')
		}
		k++
		if seen == nil {
			seen = make(map[string]int)
		}
		if c, dup := seen[name]; dup {
			seen[name] = c + 1
			name += "_" + strconv.Itoa(c)
		} else {
			seen[name] = 1
		}
		dst = appendJSONString(dst, name)
		dst = append(dst, ':')
	}
	for _, a := range n.Attrs {
		key("@" + a.Name)
		dst = appendJSONString(dst, a.Value)
	}
	for _, c := range n.Children {
		key(c.Name)
		dst = appendJSONNode(dst, c, depth+1)
	}
	if n.Text != "" {
		key("#text")
		dst = appendJSONString(dst, n.Text)
	}
	return append(dst, '}')
}

// appendJSONString writes s as a JSON string (see AppendJSONString).
func appendJSONString(dst []byte, s string) []byte { return AppendJSONString(dst, s, false) }

// AppendJSONString appends s as a JSON string: invalid UTF-8 becomes
// U+FFFD, control characters and U+2028/2029 (line ends to old JavaScript
// parsers) are escaped. With htmlSafe it also escapes <, > and &, so the
// text can sit inside an HTML <script> element without closing it. It is
// the one quoting routine of every JSON evtxscan writes: the dump JSONL
// here and the reports' JSONL files and HTML data blocks.
func AppendJSONString(dst []byte, s string, htmlSafe bool) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		// Skip eight plain bytes at a time: most event text is ASCII with
		// nothing to escape.
		if htmlSafe {
			for ; i+8 <= len(s); i += 8 {
				w := leUint64(s[i:])
				q, bs := w^(ones64*'"'), w^(ones64*'\\')
				lt, gt, amp := w^(ones64*'<'), w^(ones64*'>'), w^(ones64*'&')
				if m := (w | (w-ones64*0x20)&^w | (q-ones64)&^q | (bs-ones64)&^bs |
					(lt-ones64)&^lt | (gt-ones64)&^gt | (amp-ones64)&^amp) & highs64; m != 0 {
					i += bits.TrailingZeros64(m) >> 3
					break
				}
			}
		} else {
			for ; i+8 <= len(s); i += 8 {
				_ = s[i+7]
				w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
					uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
				// Flags each byte that is non-ASCII, below 0x20, '"' or
				// '\\' (plainJSON8, fused). Borrows can flag bytes above a
				// flagged one, never below: the lowest flag is exact, so
				// the scan goes straight to that byte.
				q, bs := w^(ones64*'"'), w^(ones64*'\\')
				if m := (w | (w-ones64*0x20)&^w | (q-ones64)&^q | (bs-ones64)&^bs) & highs64; m != 0 {
					i += bits.TrailingZeros64(m) >> 3
					break
				}
			}
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c >= 0x20 && c < 0x80 && c != '"' && c != '\\' && (!htmlSafe || (c != '<' && c != '>' && c != '&')) {
			i++
			continue
		}
		if c < 0x80 {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexLower[c>>4], hexLower[c&15])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			if htmlSafe {
				dst = append(dst, `\ufffd`...) // ASCII-only output for the page
			} else {
				dst = append(dst, "\ufffd"...)
			}
			i += size
			start = i
			continue
		}
		if r == 0x2028 || r == 0x2029 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexLower[r&15])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// SWAR constants: a byte repeated eight times.
const (
	ones64  = 0x0101010101010101
	highs64 = 0x8080808080808080
)

// leUint64 reads eight bytes of s, little-endian.
func leUint64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// appendRFC3339x7 writes t in UTC as 2006-01-02T15:04:05.0000000 (7
// fractional digits; the caller adds the quotes and this adds the Z).
func appendRFC3339x7(dst []byte, t time.Time) []byte {
	// The usual case, years 1601 to 9999, straight from the Unix time:
	// Date and Clock would each recompute the calendar.
	const minUnix, maxUnix = -11644473600, 253402300799 // 1601-01-01, 9999-12-31T23:59:59
	if u := t.Unix(); u >= minUnix && u <= maxUnix {
		days, sec := u/86400, u%86400
		if sec < 0 {
			days, sec = days-1, sec+86400
		}
		y, mo, d := civilFromDays(days)
		return appendTimeParts(dst, y, mo, d, int(sec/3600), int(sec/60%60), int(sec%60), uint64(t.Nanosecond()/100))
	}
	t = t.UTC()
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	if y < 0 || y > 9999 {
		y, mo, d, h, mi, s = 1601, 1, 1, 0, 0, 0
		return appendTimeParts(dst, y, int(mo), d, h, mi, s, 0)
	}
	return appendTimeParts(dst, y, int(mo), d, h, mi, s, uint64(t.Nanosecond()/100))
}
