package main

import (
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/evtxscan/evtxscan/report"
)

// A visibleWriter shows everything written to it, on stderr, with nothing
// hidden: file names and archive member names are attacker-controlled, and
// a bidi override or an escape sequence in one must not reorder, hide or
// fake what the terminal shows. Characters report.Hidden names become \xNN
// or \uNNNN, invalid UTF-8 bytes \xNN; line feeds, carriage returns (the
// progress bar) and tabs pass.
type visibleWriter struct{ w io.Writer }

func (v visibleWriter) Write(p []byte) (int, error) {
	if _, err := v.w.Write(visibleBytes(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// unwrap returns the writer underneath, for the terminal check.
func (v visibleWriter) unwrap() io.Writer { return v.w }

func visibleBytes(p []byte) []byte {
	var out []byte
	last := 0
	for i := 0; i < len(p); {
		c := p[i]
		if c >= 0x20 && c < 0x7f || c == '\n' || c == '\r' || c == '\t' {
			i++
			continue
		}
		r, size := utf8.DecodeRune(p[i:])
		bad := r == utf8.RuneError && size <= 1
		if !bad && !report.Hidden(r) {
			i += size
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(p)+16)
		}
		out = append(out, p[last:i]...)
		switch {
		case bad || r < 0x80:
			out = append(out, '\\', 'x', "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
			size = 1
		default:
			h := strconv.FormatInt(int64(r), 16)
			out = append(out, '\\', 'u')
			for n := len(h); n < 4; n++ {
				out = append(out, '0')
			}
			out = append(out, h...)
		}
		i += size
		last = i
	}
	if out == nil {
		return p
	}
	return append(out, p[last:]...)
}
