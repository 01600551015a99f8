package messages

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxMessageBytes caps a rendered message. A template repeats an insert at
// most a few times in practice, but both the table (a user file) and the
// values (event data) are untrusted, so the product is bounded.
const MaxMessageBytes = 256 << 10

// truncatedMark ends a message cut at MaxMessageBytes.
const truncatedMark = "…[truncated]"

// A template is a message text compiled once into literal runs and inserts,
// so rendering an event is a walk over a short op list.
type template struct {
	ops []op
	// literalBytes is the size of all literal text, a floor for the output.
	literalBytes int
	// maxInsert is the highest %N the text uses, to pick among texts of
	// one event by the number of values an event carries.
	maxInsert int
}

// An op is literal text, an insert of value insert (1-based, formatted by
// format when it is not empty), a named insert (%{Name}, our extension), or
// the end of the message (%0). raw is the source text of an insert, written
// back when the value does not exist.
type op struct {
	text   string
	insert int
	name   string
	format string
	raw    string
	stop   bool
}

// compileTemplate turns FormatMessage syntax into ops. It never fails: text
// that is not a valid escape is kept literally, as FormatMessage does.
func compileTemplate(src string) *template {
	src = strings.ReplaceAll(src, "\r\n", "\n")
	src = strings.TrimRight(src, "\r\n")
	t := &template{}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.ops = append(t.ops, op{text: lit.String()})
			t.literalBytes += lit.Len()
			lit.Reset()
		}
	}
	for i := 0; i < len(src); {
		c := src[i]
		if c != '%' {
			j := strings.IndexByte(src[i:], '%')
			if j < 0 {
				j = len(src) - i
			}
			lit.WriteString(src[i : i+j])
			i += j
			continue
		}
		if i+1 >= len(src) { // a lone % at the end
			lit.WriteByte('%')
			i++
			continue
		}
		next := src[i+1]
		switch {
		case next == '0':
			flush()
			t.ops = append(t.ops, op{stop: true})
			i += 2
			// everything after %0 is unreachable; keep compiling so the
			// op list stays honest, render stops at the stop op.
		case next >= '1' && next <= '9':
			// %1 … %99: at most two digits, as FormatMessage reads them.
			j := i + 2
			if j < len(src) && src[j] >= '0' && src[j] <= '9' {
				j++
			}
			n, _ := strconv.Atoi(src[i+1 : j])
			format := ""
			if j < len(src) && src[j] == '!' {
				if k := strings.IndexByte(src[j+1:], '!'); k >= 0 {
					format = src[j+1 : j+1+k]
					j = j + 1 + k + 1
				}
			}
			flush()
			t.ops = append(t.ops, op{insert: n, format: format, raw: src[i:j]})
			t.maxInsert = max(t.maxInsert, n)
			i = j
		case next == '{':
			// %{Name}: the EventData field (or UserData leaf) of that name.
			// Not FormatMessage syntax (there "%{" is "{"); it lets a
			// hand-written entry name fields whose order differs between
			// Windows versions.
			end := strings.IndexByte(src[i+2:], '}')
			if end <= 0 || end > 128 || !isFieldName(src[i+2:i+2+end]) {
				lit.WriteByte('{')
				i += 2
				continue
			}
			flush()
			t.ops = append(t.ops, op{name: src[i+2 : i+2+end], raw: src[i : i+3+end]})
			i += 3 + end
		case next == 'n':
			lit.WriteByte('\n')
			i += 2
		case next == 't':
			lit.WriteByte('\t')
			i += 2
		case next == 'r':
			lit.WriteByte('\r')
			i += 2
		default:
			// %% %. %! "% " and any other %c: the character itself.
			_, size := utf8.DecodeRuneInString(src[i+1:])
			lit.WriteString(src[i+1 : i+1+size])
			i += 1 + size
		}
	}
	flush()
	return t
}

func isFieldName(s string) bool {
	for _, r := range s {
		if !(r == '_' || r == '.' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return s != ""
}

// valueSource hands out insertion values by 1-based index or by name.
type valueSource interface {
	value(n int) (string, bool)
	named(name string) (string, bool)
}

// render fills the template. params resolves %%N references inside values
// (nil: none known).
func (t *template) render(values valueSource, params map[uint32]string) string {
	var b strings.Builder
	b.Grow(t.literalBytes + 64)
	for i := range t.ops {
		o := &t.ops[i]
		if o.stop {
			break
		}
		var v string
		var ok bool
		switch {
		case o.insert > 0:
			v, ok = values.value(o.insert)
		case o.name != "":
			v, ok = values.named(o.name)
		default:
			b.WriteString(o.text)
			continue
		}
		if !ok {
			b.WriteString(o.raw) // Event Viewer leaves a missing insert as %N
		} else {
			if params != nil && strings.Contains(v, "%%") {
				v = resolveParameters(v, params)
			}
			if o.format != "" {
				v = applyFormat(o.format, v)
			}
			b.WriteString(v)
		}
		if b.Len() > MaxMessageBytes {
			return truncate(b.String(), MaxMessageBytes) + truncatedMark
		}
	}
	return b.String()
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// resolveParameters replaces each %%N in v whose N the table knows with its
// text; unknown references stay as written.
func resolveParameters(v string, params map[uint32]string) string {
	var b strings.Builder
	last := 0
	for i := 0; i+2 < len(v); {
		if v[i] != '%' || v[i+1] != '%' || v[i+2] < '0' || v[i+2] > '9' {
			i++
			continue
		}
		j := i + 2
		for j < len(v) && v[j] >= '0' && v[j] <= '9' && j-i < 12 {
			j++
		}
		n, err := strconv.ParseUint(v[i+2:j], 10, 32)
		text, ok := params[uint32(n)]
		if err != nil || !ok {
			i = j
			continue
		}
		b.WriteString(v[last:i])
		b.WriteString(text)
		last = j
		i = j
	}
	if last == 0 {
		return v
	}
	b.WriteString(v[last:])
	return b.String()
}
