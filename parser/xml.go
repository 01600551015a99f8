package parser

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// appendXML renders an output tree as Windows renders event XML
// (EvtRender): compact, attributes in single quotes, empty elements as
// <x/>. Text is escaped (& < > in content; & < ' in attributes; line breaks
// as &#10; and &#13; so one record is one line) and
// characters XML 1.0 forbids become U+FFFD, so the result is always
// well-formed whatever the record holds.
func appendXML(dst []byte, items []oitem) []byte {
	for i := range items {
		it := &items[i]
		switch it.kind {
		case outElement:
			dst = appendXMLElement(dst, it.node)
		case outText:
			dst = appendEscaped(dst, it.text, false)
		case outEntity:
			if validXMLName(it.text) {
				dst = append(dst, '&')
				dst = append(dst, it.text...)
				dst = append(dst, ';')
			} else {
				dst = appendEscaped(dst, "&"+it.text+";", false)
			}
		case outCharRef:
			if validXMLChar(it.r) {
				dst = append(dst, "&#"...)
				dst = strconv.AppendInt(dst, int64(it.r), 10)
				dst = append(dst, ';')
			} else {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			}
		case outCDATA:
			dst = append(dst, "<![CDATA["...)
			s := it.text
			for {
				j := indexOf(s, "]]>")
				if j < 0 {
					break
				}
				dst = appendSanitized(dst, s[:j+2])
				dst = append(dst, "]]><![CDATA["...)
				s = s[j+2:]
			}
			dst = appendSanitized(dst, s)
			dst = append(dst, "]]>"...)
		case outPI:
			dst = append(dst, "<?"...)
			dst = appendEscaped(dst, it.text, false)
			if it.text2 != "" {
				dst = append(dst, ' ')
				dst = appendSanitized(dst, it.text2)
			}
			dst = append(dst, "?>"...)
		}
	}
	return dst
}

func appendXMLElement(dst []byte, n *onode) []byte {
	dst = append(dst, '<')
	dst = appendName(dst, n.name)
	for i, a := range n.attrs {
		if i > 0 && repeatedAttr(n.attrs, i) {
			continue // a document with a repeated attribute is not well-formed
		}
		dst = append(dst, ' ')
		dst = appendName(dst, a.Name)
		dst = append(dst, '=', '\'')
		dst = appendEscaped(dst, a.Value, true)
		dst = append(dst, '\'')
	}
	if len(n.items) == 0 {
		return append(dst, '/', '>')
	}
	dst = append(dst, '>')
	dst = appendXML(dst, n.items)
	dst = append(dst, '<', '/')
	dst = appendName(dst, n.name)
	return append(dst, '>')
}

// appendName writes an element or attribute name; characters that cannot
// be in an XML name become '_' so the document stays well-formed.
// One colon inside the name is kept (a namespace prefix, as in xmlns:x);
// other colons become '_' too.
func appendName(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, '_')
	}
	colon := strings.IndexByte(s, ':')
	prefixed := colon > 0 && colon < len(s)-1 && strings.IndexByte(s[colon+1:], ':') < 0
	first := true
	for _, r := range s {
		switch {
		case r == ':' && prefixed:
			dst = append(dst, ':')
			first = true
			continue
		case r != ':' && isNameChar(r, first):
			dst = utf8.AppendRune(dst, r)
		default:
			dst = append(dst, '_')
		}
		first = false
	}
	return dst
}

// repeatedAttr reports whether attribute i renders with the name of an
// earlier one (names are sanitized, so different names can collide).
func repeatedAttr(attrs []Field, i int) bool {
	var b1, b2 [64]byte
	name := appendName(b1[:0], attrs[i].Name)
	for j := 0; j < i; j++ {
		if string(appendName(b2[:0], attrs[j].Name)) == string(name) {
			return true
		}
	}
	return false
}

func isNameChar(r rune, first bool) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '_':
		return true
	case r >= '0' && r <= '9', r == '-', r == '.':
		return !first
	case r < 0x80, r == utf8.RuneError:
		return false
	}
	// Non-ASCII: letters of the common scripts only, a conservative subset
	// of the XML 1.0 name tables that every XML reader accepts — including
	// the older Appendix B classes encoding/xml implements, which leave
	// holes even among Latin letters (fuzz finding F5: U+0149 'ŉ').
	switch {
	case r >= 0xC0 && r <= 0x1FF:
		return latinBaseChar(r)
	case r >= 0x391 && r <= 0x3C9, r >= 0x410 && r <= 0x44F, r >= 0x4E00 && r <= 0x9FA5:
		return unicode.IsLetter(r)
	}
	return false
}

// latinBaseChar reports whether r (U+00C0–U+01FF) is a BaseChar of XML 1.0
// Appendix B.
func latinBaseChar(r rune) bool {
	switch {
	case r >= 0xC0 && r <= 0xD6, r >= 0xD8 && r <= 0xF6, r >= 0xF8 && r <= 0x131,
		r >= 0x134 && r <= 0x13E, r >= 0x141 && r <= 0x148, r >= 0x14A && r <= 0x17E,
		r >= 0x180 && r <= 0x1C3, r >= 0x1CD && r <= 0x1F0, r >= 0x1F4 && r <= 0x1F5,
		r >= 0x1FA && r <= 0x1FF:
		return true
	}
	return false
}

func validXMLName(s string) bool {
	for i, r := range s {
		if !isNameChar(r, i == 0) {
			return false
		}
	}
	return s != ""
}

// validXMLChar reports whether r is allowed in XML 1.0 documents.
func validXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		(r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
}

func appendEscaped(dst []byte, s string, attr bool) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x80 && c != '&' && c != '<' && c != '>' && c != '\'' {
			i++
			continue
		}
		var rep string
		size := 1
		switch {
		case c == '&':
			rep = "&amp;"
		case c == '<':
			rep = "&lt;"
		case c == '>':
			rep = "&gt;"
		case c == '\'':
			if !attr {
				i++
				continue
			}
			rep = "&apos;"
		case c == '\t':
			if !attr {
				i++
				continue
			}
			rep = "&#9;"
		case c == '\n' || c == '\r':
			// Escaped in text too, so a record is always one line of
			// output (an XML reader decodes it back to the same text).
			rep = "&#" + strconv.Itoa(int(c)) + ";"
		case c < 0x20:
			rep = "\uFFFD"
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			size = n
			if r != utf8.RuneError && validXMLChar(r) || (r == utf8.RuneError && n == 3) {
				i += n
				continue
			}
			rep = "\uFFFD"
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, rep...)
		i += size
		start = i
	}
	return append(dst, s[start:]...)
}

// appendSanitized copies s replacing characters XML forbids with U+FFFD.
func appendSanitized(dst []byte, s string) []byte {
	for _, r := range s {
		if !validXMLChar(r) {
			r = utf8.RuneError
		}
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}
