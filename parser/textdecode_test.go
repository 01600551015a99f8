package parser

import (
	"bytes"
	"testing"
	"unicode/utf16"
	"unicode/utf8"
)

// appendUTF16Ref and appendANSIRef are the unit-at-a-time definitions the
// word-at-a-time decoders are checked against.
func appendUTF16Ref(dst, b []byte) []byte {
	n := len(b) &^ 1
	for i := 0; i < n; i += 2 {
		u := uint16(b[i]) | uint16(b[i+1])<<8
		switch {
		case u == 0:
			return dst
		case u < 0xD800 || u > 0xDFFF:
			dst = utf8.AppendRune(dst, rune(u))
		case u < 0xDC00 && i+3 < n:
			u2 := uint16(b[i+2]) | uint16(b[i+3])<<8
			if u2 >= 0xDC00 && u2 <= 0xDFFF {
				dst = utf8.AppendRune(dst, utf16.DecodeRune(rune(u), rune(u2)))
				i += 2
			} else {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			}
		default:
			dst = utf8.AppendRune(dst, utf8.RuneError)
		}
	}
	return dst
}

func appendANSIRef(dst, b []byte) []byte {
	for _, c := range b {
		switch {
		case c == 0:
		case c < 0x80:
			dst = append(dst, c)
		case c < 0xA0:
			r := cp1252High[c-0x80]
			if r == 0 {
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
		default:
			dst = utf8.AppendRune(dst, rune(c))
		}
	}
	return dst
}

var textDecodeCases = [][]byte{
	nil, {0x41}, utf16le("plain ASCII, long enough for words"), utf16le("abc\x00def"), utf16le("abcdefg\x00h"),
	utf16le("Größe 日本 😀 end"), append(utf16le("1234567"), 0x3D, 0xD8), // lone high surrogate at the end
	append(utf16le("abc"), 0x00, 0xDC, 0x41, 0x00), []byte("ANSI text\x00with NUL\x80\x81\x9f\xa0\xff"),
	append(utf16le("abcdefgh"), 0x41), // odd trailing byte
}

func TestTextDecodersMatchReference(t *testing.T) {
	for _, b := range textDecodeCases {
		if got, want := appendUTF16([]byte("x"), b), appendUTF16Ref([]byte("x"), b); !bytes.Equal(got, want) {
			t.Errorf("appendUTF16(% x) = %q, want %q", b, got, want)
		}
		if got, want := appendANSI([]byte("x"), b), appendANSIRef([]byte("x"), b); !bytes.Equal(got, want) {
			t.Errorf("appendANSI(% x) = %q, want %q", b, got, want)
		}
	}
}

func FuzzTextDecoders(f *testing.F) {
	for _, b := range textDecodeCases {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := appendUTF16(nil, b), appendUTF16Ref(nil, b); !bytes.Equal(got, want) {
			t.Fatalf("appendUTF16(% x) = %q, want %q", b, got, want)
		}
		if got, want := appendANSI(nil, b), appendANSIRef(nil, b); !bytes.Equal(got, want) {
			t.Fatalf("appendANSI(% x) = %q, want %q", b, got, want)
		}
	})
}
