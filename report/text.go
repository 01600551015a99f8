package report

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/evtxscan/evtxscan/parser"
)

// Cell size limits. Event text is attacker-controlled, so every value that
// reaches a display format is bounded.
const (
	maxCellUnits   = 32767 // Excel's cell limit, in UTF-16 code units
	maxHTMLDetails = 4096  // runes of a timeline row's details in the HTML page
	maxHTMLField   = 2048  // runes of any other string in the HTML page
)

// cutMarker ends a value that was shortened; the number says how long the
// value was, so an analyst knows to look in the JSONL for the rest.
func cutMarker(totalRunes int) string {
	return " …[cut: " + strconv.Itoa(totalRunes) + " characters in all]"
}

// visible returns s as one line in which nothing is hidden: control
// characters become \xNN (or \t, \r, \n… escapes), line breaks become " ⏎ ",
// bidirectional overrides and invisible format characters become \uNNNN,
// and invalid UTF-8 becomes U+FFFD. Text that needs none of this is returned
// as is, without allocating.
func visible(s string) string { return visibleText(s, false) }

// visibleMultiline is visible but keeps line breaks (as \n) and tabs, for the HTML
// page, where text is set with textContent and CSS decides how lines show.
func visibleMultiline(s string) string { return visibleText(s, true) }

func visibleText(s string, keepLines bool) string {
	i := nextSpecial(s, 0, keepLines)
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	last := 0
	for i < len(s) {
		b.WriteString(s[last:i]) // a plain run, copied at once
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			b.WriteRune(utf8.RuneError)
		case r == '\r' && i+1 < len(s) && s[i+1] == '\n', r == '\n', r == '\r':
			if r == '\r' && i+1 < len(s) && s[i+1] == '\n' {
				size = 2
			}
			if keepLines {
				b.WriteByte('\n')
			} else {
				b.WriteString(" ⏎ ")
			}
		case r == '\t':
			b.WriteString(`\t`) // with keepLines a tab is plain
		case r < 0x20 || r == 0x7f:
			b.WriteString(`\x`)
			b.WriteByte("0123456789abcdef"[r>>4])
			b.WriteByte("0123456789abcdef"[r&0xf])
		default: // needsEscape
			b.WriteString(`\u`)
			h := strconv.FormatInt(int64(r), 16)
			for n := len(h); n < 4; n++ {
				b.WriteByte('0')
			}
			b.WriteString(h)
		}
		i += size
		last = i
		i = nextSpecial(s, i, keepLines)
	}
	b.WriteString(s[last:])
	return b.String()
}

// nextSpecial returns the index of the first rune at or after i that
// visibleText changes (len(s) when none): not printable ASCII, not a
// non-ASCII rune shown as is, and with keepLines not a line feed or tab.
func nextSpecial(s string, i int, keepLines bool) int {
	for i < len(s) {
		// Eight printable ASCII bytes at a time: no byte below 0x20, none
		// at 0x7f or above (most event text).
		for ; i+8 <= len(s); i += 8 {
			w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
				uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
			if ((w-0x2020202020202020)&^w|(w+0x0101010101010101)|w)&0x8080808080808080 != 0 {
				break
			}
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			i++
			continue
		}
		if keepLines && (c == '\n' || c == '\t') {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if c < 0x80 || needsEscape(r, size) {
			return i
		}
		i += size
	}
	return len(s)
}

// needsEscape reports whether a decoded rune must be shown as an escape:
// C0/C1 controls, DEL, invalid bytes, and the characters that reorder or
// hide text (bidi embeddings/overrides/isolates, marks, zero-width
// characters, the byte-order mark, line and paragraph separators).
func needsEscape(r rune, size int) bool {
	switch {
	case r == utf8.RuneError && size <= 1:
		return true
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	case r == 0x200e, r == 0x200f, r == 0x061c: // LRM, RLM, ALM
		return true
	case r >= 0x200b && r <= 0x200d, r == 0xfeff, r == 0x2060: // zero width
		return true
	case r == 0x2028, r == 0x2029:
		return true
	case r == 0xfffe, r == 0xffff: // noncharacters: no font shows them
		return true
	}
	return false
}

// Hidden reports whether r is a character every report shows as an escape
// (\xNN, \uNNNN) because a terminal or a viewer would hide it or let it
// reorder or fake text: C0 and C1 controls, DEL, bidirectional controls,
// zero-width and invisible format characters, line and paragraph
// separators, U+FFFE and U+FFFF. The command line escapes them on stderr
// too.
func Hidden(r rune) bool { return needsEscape(r, utf8.RuneLen(r)) }

// cutRunes shortens s to at most limit runes, marker included.
func cutRunes(s string, limit int) string {
	if len(s) <= limit { // bytes ≥ runes: nothing to count
		return s
	}
	n := utf8.RuneCountInString(s)
	if n <= limit {
		return s
	}
	marker := cutMarker(n)
	keep := limit - utf8.RuneCountInString(marker)
	if keep < 0 {
		keep = 0
	}
	i := 0
	for k := 0; k < keep; k++ {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i] + marker
}

// cutUTF16 shortens s to at most limit UTF-16 code units (how Excel counts a
// cell), marker included.
func cutUTF16(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	units, runes := 0, 0
	for _, r := range s {
		units++
		if r > 0xffff {
			units++
		}
		runes++
	}
	if units <= limit {
		return s
	}
	marker := cutMarker(runes)
	budget := limit - len(marker) // the marker is short; bytes ≥ units
	i, used := 0, 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		w := 1
		if r > 0xffff {
			w = 2
		}
		if used+w > budget {
			break
		}
		used += w
		i += size
	}
	return s[:i] + marker
}

// cellText returns s ready for a spreadsheet or CSV cell: visible, cut to
// Excel's limit, and never starting like a formula. A value starting with
// =, +, -, @, tab or CR gets a leading apostrophe, as OWASP advises against
// CSV injection; the apostrophe is visible, which is intended: the analyst
// sees the value was neutralized.
func cellText(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		s = "'" + s
	}
	// Escape after the check: tab and CR would be escaped to "\t"/" ⏎ ",
	// which are harmless, but the apostrophe keeps the rule simple to audit.
	return cutUTF16(visible(s), maxCellUnits)
}

// htmlText returns s ready for the HTML page: visible, one line, cut.
func htmlText(s string, limit int) string {
	return cutRunes(visible(s), limit)
}

// htmlLines is htmlText keeping line breaks, for event details and field
// values, which the page shows on one line until expanded.
func htmlLines(s string, limit int) string {
	return cutRunes(visibleMultiline(s), limit)
}

// details returns what the "message or details" column shows for an event:
// its message when one is known, else a compact "name=value; …" of its
// EventData (unnamed fields as Data[n]) or of its UserData leaves. The
// result is raw text; each format neutralizes it.
func details(ev *parser.Event) string {
	if ev.Message != "" {
		return ev.Message
	}
	if ev.RenderedMessage != "" {
		return ev.RenderedMessage
	}
	var b strings.Builder
	for i := range ev.EventData {
		v := ev.EventData[i].Value
		if v == "" || v == "(NULL)" {
			continue // MsiInstaller pads Data with these; they say nothing
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(ev.DataKey(i))
		b.WriteByte('=')
		b.WriteString(v)
		if b.Len() > 4*maxCellUnits {
			break // the cell cuts it anyway
		}
	}
	if ev.UserData != nil {
		writeNodeLeaves(&b, ev.UserData, 0)
	}
	return b.String()
}

// writeNodeLeaves appends "name=text" for every leaf of n with text or
// attributes, depth-first, bounded in depth and size.
func writeNodeLeaves(b *strings.Builder, n *parser.Node, depth int) {
	if n == nil || depth > 16 || b.Len() > 4*maxCellUnits {
		return
	}
	for _, a := range n.Attrs {
		sep(b)
		b.WriteString(n.Name + "@" + a.Name + "=" + a.Value)
	}
	if len(n.Children) == 0 {
		if n.Text != "" && depth > 0 {
			sep(b)
			b.WriteString(n.Name + "=" + n.Text)
		}
		return
	}
	for _, c := range n.Children {
		writeNodeLeaves(b, c, depth+1)
	}
}

func sep(b *strings.Builder) {
	if b.Len() > 0 {
		b.WriteString("; ")
	}
}
