package parser

import (
	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// BinXML value types (MS-EVEN6 §3.1.4.7.3). Array types set bit 0x80.
const (
	typeNull       = 0x00
	typeString     = 0x01
	typeAnsiString = 0x02
	typeInt8       = 0x03
	typeUint8      = 0x04
	typeInt16      = 0x05
	typeUint16     = 0x06
	typeInt32      = 0x07
	typeUint32     = 0x08
	typeInt64      = 0x09
	typeUint64     = 0x0A
	typeReal32     = 0x0B
	typeReal64     = 0x0C
	typeBool       = 0x0D
	typeBinary     = 0x0E
	typeGUID       = 0x0F
	typeSizeT      = 0x10
	typeFileTime   = 0x11
	typeSystemTime = 0x12
	typeSID        = 0x13
	typeHexInt32   = 0x14
	typeHexInt64   = 0x15
	typeBinXML     = 0x21
	typeArray      = 0x80 // flag: an array of the base type
)

const hexUpper = "0123456789ABCDEF"
const hexLower = "0123456789abcdef"

// fixedSize returns the byte size of one element of a fixed-size type, or 0
// for variable-size types.
func fixedSize(t byte, total int) int {
	switch t {
	case typeInt8, typeUint8:
		return 1
	case typeInt16, typeUint16:
		return 2
	case typeInt32, typeUint32, typeReal32, typeHexInt32, typeBool:
		return 4
	case typeInt64, typeUint64, typeReal64, typeHexInt64, typeFileTime:
		return 8
	case typeGUID, typeSystemTime:
		return 16
	case typeSizeT:
		if total%8 == 0 && total != 4 {
			return 8
		}
		return 4
	}
	return 0
}

// arrayItems splits an array value (base type t) into its items. String and
// ANSI arrays are NUL-terminated items (an empty item is a bare NUL, a
// missing final NUL is tolerated); SID arrays walk each SID's own length;
// fixed-size types are cut by element size, a trailing remainder dropped.
func arrayItems(t byte, data []byte, items [][]byte) [][]byte {
	switch t {
	case typeString:
		start := 0
		for i := 0; i+1 < len(data); i += 2 {
			if data[i] == 0 && data[i+1] == 0 {
				items = append(items, data[start:i])
				start = i + 2
			}
		}
		if start < len(data)-1 {
			items = append(items, data[start:len(data)&^1])
		}
		return items
	case typeAnsiString:
		start := 0
		for i := 0; i < len(data); i++ {
			if data[i] == 0 {
				items = append(items, data[start:i])
				start = i + 1
			}
		}
		if start < len(data) {
			items = append(items, data[start:])
		}
		return items
	case typeSID:
		for len(data) >= 8 {
			n := 8 + 4*int(data[1])
			if n > len(data) {
				n = len(data)
			}
			items = append(items, data[:n])
			data = data[n:]
		}
		return items
	}
	size := fixedSize(t, len(data))
	if size == 0 {
		return append(items, data)
	}
	for len(data) >= size {
		items = append(items, data[:size])
		data = data[size:]
	}
	return items
}

// appendValue renders one scalar value of type t the way Windows renders it
// in event XML, before XML escaping. Values whose size does not fit their
// type render what the bytes hold (integers read the bytes present,
// zero-extended), never failing.
func appendValue(dst []byte, t byte, b []byte) []byte {
	switch t {
	case typeNull:
		return dst
	case typeString:
		return appendUTF16(dst, b)
	case typeAnsiString:
		return appendANSI(dst, b)
	case typeInt8:
		return strconv.AppendInt(dst, int64(int8(leUint(b, 1))), 10)
	case typeUint8:
		return strconv.AppendUint(dst, leUint(b, 1), 10)
	case typeInt16:
		return strconv.AppendInt(dst, int64(int16(leUint(b, 2))), 10)
	case typeUint16:
		return strconv.AppendUint(dst, leUint(b, 2), 10)
	case typeInt32:
		return strconv.AppendInt(dst, int64(int32(leUint(b, 4))), 10)
	case typeUint32:
		return strconv.AppendUint(dst, leUint(b, 4), 10)
	case typeInt64:
		return strconv.AppendInt(dst, int64(leUint(b, 8)), 10)
	case typeUint64:
		return strconv.AppendUint(dst, leUint(b, 8), 10)
	case typeReal32:
		return appendFloat(dst, float64(math.Float32frombits(uint32(leUint(b, 4)))), 32)
	case typeReal64:
		return appendFloat(dst, math.Float64frombits(leUint(b, 8)), 64)
	case typeBool:
		if leUint(b, 8) != 0 {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case typeBinary:
		return appendHexUpper(dst, b)
	case typeGUID:
		if len(b) < 16 {
			return appendHexUpper(dst, b)
		}
		return appendGUID(dst, b)
	case typeSizeT, typeHexInt32, typeHexInt64:
		n := len(b)
		if n > 8 {
			n = 8
		}
		return appendHexInt(dst, leUint(b, n))
	case typeFileTime:
		return appendFileTime(dst, leUint(b, 8))
	case typeSystemTime:
		return appendSystemTime(dst, b)
	case typeSID:
		return appendSID(dst, b)
	}
	// EvtHandle, EvtXml and unknown types never belong in a file: show the
	// bytes so nothing is hidden.
	return appendHexUpper(dst, b)
}

// leUint reads up to n little-endian bytes of b (fewer when b is short).
func leUint(b []byte, n int) uint64 {
	if len(b) >= 8 && n == 8 {
		return binary.LittleEndian.Uint64(b)
	}
	if n > len(b) {
		n = len(b)
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

func appendFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(dst, "INF"...)
	case math.IsInf(f, -1):
		return append(dst, "-INF"...)
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bits)
}

func appendHexUpper(dst, b []byte) []byte {
	for _, c := range b {
		dst = append(dst, hexUpper[c>>4], hexUpper[c&15])
	}
	return dst
}

// appendHexInt renders 0x + lower-case hex without zero padding, as Windows
// renders HexInt32/HexInt64 (e.g. 0x3e7, 0x0).
func appendHexInt(dst []byte, v uint64) []byte {
	dst = append(dst, '0', 'x')
	var buf [16]byte
	i := len(buf)
	for {
		i--
		buf[i] = hexLower[v&15]
		v >>= 4
		if v == 0 {
			break
		}
	}
	return append(dst, buf[i:]...)
}

func appendGUID(dst, b []byte) []byte {
	dst = append(dst, '{')
	for i := 3; i >= 0; i-- {
		dst = append(dst, hexUpper[b[i]>>4], hexUpper[b[i]&15])
	}
	dst = append(dst, '-', hexUpper[b[5]>>4], hexUpper[b[5]&15], hexUpper[b[4]>>4], hexUpper[b[4]&15])
	dst = append(dst, '-', hexUpper[b[7]>>4], hexUpper[b[7]&15], hexUpper[b[6]>>4], hexUpper[b[6]&15], '-')
	dst = appendHexUpper(dst, b[8:10])
	dst = append(dst, '-')
	dst = appendHexUpper(dst, b[10:16])
	return append(dst, '}')
}

// FILETIME arithmetic: 100 ns ticks since 1601-01-01.
const (
	ticksPerSecond    = 10_000_000
	ticksPerDay       = 86400 * ticksPerSecond
	unixEpochInTicks  = 116444736000000000 // 1970-01-01 as a FILETIME
	maxRenderableTick = 1<<63 - 1
)

// appendFileTime renders a FILETIME as YYYY-MM-DDThh:mm:ss.fffffffZ with 7
// fractional digits (what Windows 10 and later write). Zero renders as
// 1601-01-01T00:00:00.0000000Z. Values past year 9999 render as raw hex.
func appendFileTime(dst []byte, ft uint64) []byte {
	days := ft / ticksPerDay
	if days > 3_000_000 { // beyond year 9999
		return appendHexInt(dst, ft)
	}
	rem := ft % ticksPerDay
	y, m, d := civilFromDays(int64(days) - 134774) // days from 1601 to 1970
	sec := rem / ticksPerSecond
	frac := rem % ticksPerSecond
	return appendTimeParts(dst, y, m, d, int(sec/3600), int(sec/60%60), int(sec%60), frac)
}

// civilFromDays converts days since 1970-01-01 to a proleptic Gregorian date
// (Howard Hinnant's algorithm).
func civilFromDays(z int64) (int, int, int) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return int(y), int(m), int(d)
}

func append2(dst []byte, v int) []byte {
	return append(dst, byte('0'+v/10%10), byte('0'+v%10))
}

func appendTimeParts(dst []byte, y, mo, d, h, mi, s int, frac uint64) []byte {
	dst = append(dst, byte('0'+y/1000%10), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-')
	dst = append2(dst, mo)
	dst = append(dst, '-')
	dst = append2(dst, d)
	dst = append(dst, 'T')
	dst = append2(dst, h)
	dst = append(dst, ':')
	dst = append2(dst, mi)
	dst = append(dst, ':')
	dst = append2(dst, s)
	dst = append(dst, '.')
	var buf [7]byte
	for i := 6; i >= 0; i-- {
		buf[i] = byte('0' + frac%10)
		frac /= 10
	}
	dst = append(dst, buf[:]...)
	return append(dst, 'Z')
}

// appendSystemTime renders a SYSTEMTIME (year, month, weekday, day, hour,
// minute, second, milliseconds as u16) like a FILETIME; all-zero renders as
// 1601-01-01, implausible fields as raw hex.
func appendSystemTime(dst, b []byte) []byte {
	if len(b) < 16 {
		return appendHexUpper(dst, b)
	}
	f := func(i int) int { return int(binary.LittleEndian.Uint16(b[2*i:])) }
	y, mo, d, h, mi, s, ms := f(0), f(1), f(3), f(4), f(5), f(6), f(7)
	if y == 0 && mo == 0 && d == 0 && h == 0 && mi == 0 && s == 0 && ms == 0 {
		return appendTimeParts(dst, 1601, 1, 1, 0, 0, 0, 0)
	}
	if y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 || ms > 999 {
		return appendHexUpper(dst, b)
	}
	return appendTimeParts(dst, y, mo, d, h, mi, s, uint64(ms)*10000)
}

// appendSID renders S-R-A-S1-…; the sub-authority count is capped by the
// bytes present (plaso#66). Authorities ≥ 2^32 print as hex (SDDL rule).
func appendSID(dst, b []byte) []byte {
	if len(b) < 8 {
		return appendHexUpper(dst, b)
	}
	var auth uint64
	for _, c := range b[2:8] {
		auth = auth<<8 | uint64(c)
	}
	dst = append(dst, 'S', '-')
	dst = strconv.AppendUint(dst, uint64(b[0]), 10)
	dst = append(dst, '-')
	if auth >= 1<<32 {
		dst = appendHexInt(dst, auth)
	} else {
		dst = strconv.AppendUint(dst, auth, 10)
	}
	n := int(b[1])
	for i := 0; i < n && 8+4*i+4 <= len(b); i++ {
		dst = append(dst, '-')
		dst = strconv.AppendUint(dst, uint64(binary.LittleEndian.Uint32(b[8+4*i:])), 10)
	}
	return dst
}

// appendUTF16 converts UTF-16LE to UTF-8, stopping at the first NUL unit.
// Lone surrogates become U+FFFD; an odd trailing byte is ignored.
func appendUTF16(dst, b []byte) []byte {
	n := len(b) &^ 1
	dst = slices.Grow(dst, n/2)
	for i := 0; i < n; i += 2 {
		// Four ASCII units (none NUL) at a time: most event text.
		for i+8 <= n {
			w := binary.LittleEndian.Uint64(b[i:])
			if w&0xFF80FF80FF80FF80 != 0 || (w-0x0001000100010001)&^w&0x8000800080008000 != 0 {
				break
			}
			dst = append(dst, byte(w), byte(w>>16), byte(w>>32), byte(w>>48))
			i += 8
		}
		if i >= n {
			break
		}
		u := uint16(b[i]) | uint16(b[i+1])<<8
		switch {
		case u == 0:
			return dst
		case u < 0x80:
			dst = append(dst, byte(u))
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

// cp1252High maps Windows-1252 bytes 0x80–0x9F to Unicode (0 = undefined).
var cp1252High = [32]rune{
	0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
	0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
}

// appendANSI decodes an AnsiString as Windows-1252, dropping NUL bytes;
// undefined bytes become U+FFFD.
func appendANSI(dst, b []byte) []byte {
	// ASCII without NULs is copied eight bytes at a time.
	i := 0
	for i+8 <= len(b) {
		w := binary.LittleEndian.Uint64(b[i:])
		if w&highs64 != 0 || (w-ones64)&^w&highs64 != 0 {
			break
		}
		i += 8
	}
	dst = append(dst, b[:i]...)
	for _, c := range b[i:] {
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
