package evtxwriter

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// A ValueType is a BinXML value type (evtx-format.md §2.8).
type ValueType byte

// The value types the writer can encode.
const (
	Null        ValueType = 0x00
	String      ValueType = 0x01
	UInt8       ValueType = 0x04
	UInt16      ValueType = 0x06
	Int32       ValueType = 0x07
	UInt32      ValueType = 0x08
	Int64       ValueType = 0x09
	UInt64      ValueType = 0x0A
	Bool        ValueType = 0x0D
	Binary      ValueType = 0x0E
	GUID        ValueType = 0x0F
	FileTime    ValueType = 0x11
	SID         ValueType = 0x13
	HexInt32    ValueType = 0x14
	HexInt64    ValueType = 0x15
	BinXML      ValueType = 0x21
	StringArray ValueType = 0x81
)

// valueTypeNames are the names scenarios use as YAML tags (!sid, !hex64, …).
var valueTypeNames = map[string]ValueType{
	"string": String, "u8": UInt8, "u16": UInt16, "i32": Int32, "u32": UInt32,
	"i64": Int64, "u64": UInt64, "bool": Bool, "binary": Binary, "guid": GUID,
	"filetime": FileTime, "sid": SID, "hex32": HexInt32, "hex64": HexInt64,
}

// A Value is one payload value: a named or unnamed <Data>, or the text of a
// UserData element. Text is the value as Windows renders it (e.g. "0x1a2c" for
// HexInt64, "S-1-5-18" for a SID, "{…}" for a GUID, upper-case hex for
// Binary); the writer encodes it into the binary form of Type.
type Value struct {
	Name string
	Type ValueType // zero means String
	Text string
}

func (v Value) typ() ValueType {
	if v.Type == Null {
		return String
	}
	return v.Type
}

// encode returns the binary form of v.
func (v Value) encode() ([]byte, error) {
	b, err := encodeValue(v.typ(), v.Text)
	if err != nil {
		return nil, fmt.Errorf("value %q (%s): %w", v.Text, v.Name, err)
	}
	return b, nil
}

func encodeValue(t ValueType, s string) ([]byte, error) {
	switch t {
	case String:
		// Windows ends payload strings with a NUL, and writes an empty string
		// as that NUL alone (size 2), never as size 0: checked on the
		// Security and System logs of the corpus (RathbunVM).
		return append(utf16le(s), 0, 0), nil
	case UInt8, UInt16, UInt32, UInt64:
		bits := map[ValueType]int{UInt8: 8, UInt16: 16, UInt32: 32, UInt64: 64}[t]
		n, err := strconv.ParseUint(s, 10, bits)
		if err != nil {
			return nil, err
		}
		return leBytes(n, bits/8), nil
	case Int32, Int64:
		bits := 32
		if t == Int64 {
			bits = 64
		}
		n, err := strconv.ParseInt(s, 10, bits)
		if err != nil {
			return nil, err
		}
		return leBytes(uint64(n), bits/8), nil
	case HexInt32, HexInt64:
		bits := 32
		if t == HexInt64 {
			bits = 64
		}
		h, ok := strings.CutPrefix(s, "0x")
		if !ok {
			return nil, fmt.Errorf("hex value must start with 0x")
		}
		n, err := strconv.ParseUint(h, 16, bits)
		if err != nil {
			return nil, err
		}
		return leBytes(n, bits/8), nil
	case Bool:
		switch s {
		case "true":
			return leBytes(1, 4), nil
		case "false":
			return leBytes(0, 4), nil
		}
		return nil, fmt.Errorf("bool must be true or false")
	case Binary:
		return hex.DecodeString(s)
	case GUID:
		return encodeGUID(s)
	case FileTime:
		tm, err := parseTime(s)
		if err != nil {
			return nil, err
		}
		return leBytes(fileTime(tm), 8), nil
	case SID:
		return encodeSID(s)
	}
	return nil, fmt.Errorf("cannot encode type 0x%02x", byte(t))
}

// Render returns the text a parser must render for v: its Text in the
// canonical form Windows uses for the type (e.g. a GUID upper-cased).
func (v Value) Render() string {
	switch v.typ() {
	case GUID:
		return strings.ToUpper(v.Text)
	case Binary:
		return strings.ToUpper(v.Text)
	case HexInt32, HexInt64:
		n, err := strconv.ParseUint(strings.TrimPrefix(v.Text, "0x"), 16, 64)
		if err == nil {
			return "0x" + strconv.FormatUint(n, 16)
		}
	case FileTime:
		if tm, err := parseTime(v.Text); err == nil {
			return tm.UTC().Format("2006-01-02T15:04:05.0000000Z")
		}
	case String:
		// Parsers stop at the first NUL (evtx-format.md §2.8).
		if i := strings.IndexByte(v.Text, 0); i >= 0 {
			return v.Text[:i]
		}
	}
	return v.Text
}

func leBytes(n uint64, size int) []byte {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint64(b, n)
	return b[:size]
}

func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
}

// unixToFileTime is the number of seconds from 1601-01-01 to 1970-01-01.
const unixToFileTime = 11644473600

// fileTime converts t to 100-ns ticks since 1601-01-01 UTC (finer digits
// dropped). Times before 1601 are not representable and give 0.
func fileTime(t time.Time) uint64 {
	sec := t.Unix() + unixToFileTime
	if sec < 0 {
		return 0
	}
	return uint64(sec)*10_000_000 + uint64(t.Nanosecond()/100)
}

// encodeGUID encodes "{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}" (braces
// optional) in the Microsoft layout: Data1–Data3 little-endian, Data4 as is.
func encodeGUID(s string) ([]byte, error) {
	h := strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	parts := strings.Split(h, "-")
	if len(parts) != 5 || len(parts[0]) != 8 || len(parts[1]) != 4 || len(parts[2]) != 4 || len(parts[3]) != 4 || len(parts[4]) != 12 {
		return nil, fmt.Errorf("not a GUID")
	}
	raw, err := hex.DecodeString(strings.Join(parts, ""))
	if err != nil {
		return nil, fmt.Errorf("not a GUID: %w", err)
	}
	b := make([]byte, 16)
	binary.LittleEndian.PutUint32(b[0:], binary.BigEndian.Uint32(raw[0:]))
	binary.LittleEndian.PutUint16(b[4:], binary.BigEndian.Uint16(raw[4:]))
	binary.LittleEndian.PutUint16(b[6:], binary.BigEndian.Uint16(raw[6:]))
	copy(b[8:], raw[8:])
	return b, nil
}

// encodeSID encodes "S-1-5-21-…": revision, sub-authority count, 48-bit
// big-endian authority, little-endian sub-authorities.
func encodeSID(s string) ([]byte, error) {
	parts := strings.Split(s, "-")
	if len(parts) < 3 || parts[0] != "S" {
		return nil, fmt.Errorf("not a SID")
	}
	rev, err := strconv.ParseUint(parts[1], 10, 8)
	if err != nil {
		return nil, fmt.Errorf("not a SID: %w", err)
	}
	auth, err := strconv.ParseUint(parts[2], 10, 48)
	if err != nil {
		return nil, fmt.Errorf("not a SID: %w", err)
	}
	subs := parts[3:]
	if len(subs) > 15 {
		return nil, fmt.Errorf("SID has more than 15 sub-authorities")
	}
	b := []byte{byte(rev), byte(len(subs)), byte(auth >> 40), byte(auth >> 32), byte(auth >> 24), byte(auth >> 16), byte(auth >> 8), byte(auth)}
	for _, p := range subs {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("not a SID: %w", err)
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(n))
	}
	return b, nil
}

// parseTime parses an RFC 3339 UTC time with up to 9 fraction digits.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, err
	}
	return t.UTC(), nil
}
