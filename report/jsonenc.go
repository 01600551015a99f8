package report

import (
	"strconv"
	"unicode/utf8"
)

// appendJSONString appends s as a JSON string. Besides what JSON requires it
// escapes <, > and & (so the text can sit inside an HTML <script> element
// without closing it), U+2028/U+2029 (which old JavaScript parsers treat as
// line ends), and it turns invalid UTF-8 into U+FFFD. It is the one quoting
// routine of the JSONL files and the HTML page's data blocks.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// An objectWriter appends a JSON object whose keys keep the order they are
// added in; a repeated key gets a suffix (_2, _3…) so no value is lost to a
// JSON parser that keeps only one.
type objectWriter struct {
	b    []byte
	n    int
	seen map[string]int
}

func (o *objectWriter) begin(b []byte) {
	o.b, o.n = append(b, '{'), 0
	clear(o.seen)
}

func (o *objectWriter) key(k string) {
	if o.n > 0 {
		o.b = append(o.b, ',')
	}
	o.n++
	if o.seen == nil {
		o.seen = map[string]int{}
	}
	if c := o.seen[k]; c > 0 {
		o.seen[k] = c + 1
		k += "_" + strconv.Itoa(c+1)
	} else {
		o.seen[k] = 1
	}
	o.b = appendJSONString(o.b, k)
	o.b = append(o.b, ':')
}

func (o *objectWriter) str(k, v string) {
	o.key(k)
	o.b = appendJSONString(o.b, v)
}

func (o *objectWriter) uint(k string, v uint64) {
	o.key(k)
	o.b = strconv.AppendUint(o.b, v, 10)
}

func (o *objectWriter) int(k string, v int64) {
	o.key(k)
	o.b = strconv.AppendInt(o.b, v, 10)
}

func (o *objectWriter) bool(k string, v bool) {
	o.key(k)
	o.b = strconv.AppendBool(o.b, v)
}

// raw adds a value already encoded as JSON.
func (o *objectWriter) raw(k string, v []byte) {
	o.key(k)
	o.b = append(o.b, v...)
}

func (o *objectWriter) end() []byte {
	return append(o.b, '}')
}
