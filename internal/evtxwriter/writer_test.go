package evtxwriter

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
)

// checkLayout verifies an .evtx image independently of any parser: file and
// chunk CRCs, record framing, ids, and that every string and template bucket
// chain leads to well-formed entries. It returns every problem found.
func checkLayout(b []byte) []string {
	var probs []string
	bad := func(format string, a ...any) { probs = append(probs, fmt.Sprintf(format, a...)) }
	if len(b) < fileHeaderSize || string(b[:8]) != "ElfFile\x00" {
		return []string{"no file header"}
	}
	if got, want := binary.LittleEndian.Uint32(b[124:]), crc32.ChecksumIEEE(b[:120]); got != want {
		bad("file header CRC %#x, want %#x", got, want)
	}
	if (len(b)-fileHeaderSize)%chunkSize != 0 {
		bad("file size %d is not header + whole chunks", len(b))
	}
	nChunks := (len(b) - fileHeaderSize) / chunkSize
	if got := int(binary.LittleEndian.Uint16(b[42:])); got != nChunks {
		bad("header chunk count %d, file has %d", got, nChunks)
	}
	nextID := uint64(0)
	for i := range nChunks {
		c := b[fileHeaderSize+i*chunkSize : fileHeaderSize+(i+1)*chunkSize]
		if string(c[:8]) != "ElfChnk\x00" {
			bad("chunk %d: bad magic", i)
			continue
		}
		h := crc32.NewIEEE()
		h.Write(c[:120])
		h.Write(c[128:512])
		if got := binary.LittleEndian.Uint32(c[124:]); got != h.Sum32() {
			bad("chunk %d: header CRC %#x, want %#x", i, got, h.Sum32())
		}
		free := binary.LittleEndian.Uint32(c[48:])
		if free < chunkHeaderSize || free > chunkSize {
			bad("chunk %d: free space offset %d", i, free)
			continue
		}
		if got, want := binary.LittleEndian.Uint32(c[52:]), crc32.ChecksumIEEE(c[512:free]); got != want {
			bad("chunk %d: records CRC %#x, want %#x", i, got, want)
		}
		first, last := binary.LittleEndian.Uint64(c[24:]), binary.LittleEndian.Uint64(c[32:])
		if nextID != 0 && first != nextID {
			bad("chunk %d: first id %d, want %d", i, first, nextID)
		}
		off, id, lastOff := uint32(chunkHeaderSize), first, uint32(0)
		for off < free {
			if string(c[off:off+4]) != "**\x00\x00" {
				bad("chunk %d: no record signature at %#x", i, off)
				break
			}
			size := binary.LittleEndian.Uint32(c[off+4:])
			if size%8 != 0 || off+size > free || binary.LittleEndian.Uint32(c[off+size-4:]) != size {
				bad("chunk %d: record at %#x: size %d or its copy is wrong", i, off, size)
				break
			}
			if got := binary.LittleEndian.Uint64(c[off+8:]); got != id {
				bad("chunk %d: record at %#x has id %d, want %d", i, off, got, id)
			}
			lastOff = off
			off += size
			id++
		}
		if id-1 != last {
			bad("chunk %d: last id %d, records end at %d", i, last, id-1)
		}
		if got := binary.LittleEndian.Uint32(c[44:]); got != lastOff {
			bad("chunk %d: last record offset %#x, want %#x", i, got, lastOff)
		}
		nextID = last + 1
		names := map[string]bool{} // a name is defined once per chunk, then referenced
		for slot := range 64 {
			seen := map[uint32]bool{}
			for p := binary.LittleEndian.Uint32(c[128+4*slot:]); p != 0; p = binary.LittleEndian.Uint32(c[p:]) {
				if seen[p] || p < chunkHeaderSize || p+8 > free {
					bad("chunk %d: string bucket %d: bad link %#x", i, slot, p)
					break
				}
				seen[p] = true
				n := int(binary.LittleEndian.Uint16(c[p+6:]))
				units := make([]uint16, n)
				for k := range units {
					units[k] = binary.LittleEndian.Uint16(c[int(p)+8+2*k:])
				}
				name := string(utf16.Decode(units))
				if names[name] {
					bad("chunk %d: name %q is defined twice", i, name)
				}
				names[name] = true
				if hash := nameHash(name); hash != binary.LittleEndian.Uint16(c[p+4:]) || int(hash%64) != slot {
					bad("chunk %d: name %q in bucket %d has hash %#x", i, name, slot, binary.LittleEndian.Uint16(c[p+4:]))
				}
			}
		}
		for slot := range 32 {
			seen := map[uint32]bool{}
			for p := binary.LittleEndian.Uint32(c[384+4*slot:]); p != 0; p = binary.LittleEndian.Uint32(c[p:]) {
				if seen[p] || p < chunkHeaderSize+10 || p+24 > free {
					bad("chunk %d: template bucket %d: bad link %#x", i, slot, p)
					break
				}
				seen[p] = true
				// The instance token sits 10 bytes before an inline definition
				// and carries Data1 of the GUID as the template id.
				if c[p-10] != 0x0c || binary.LittleEndian.Uint32(c[p-8:]) != binary.LittleEndian.Uint32(c[p+4:]) {
					bad("chunk %d: template at %#x is not preceded by its instance", i, p)
				}
				size := binary.LittleEndian.Uint32(c[p+20:])
				body := c[p+24 : p+24+size]
				if !bytes.HasPrefix(body, []byte{0x0f, 1, 1, 0}) || body[len(body)-1] != 0 {
					bad("chunk %d: template at %#x: body is not a fragment ending in EOF", i, p)
				}
			}
		}
	}
	if got := binary.LittleEndian.Uint64(b[24:]); got != nextID {
		bad("file header next record id %d, want %d", got, nextID)
	}
	return probs
}

// TestFixtureLayout checks every generated file with checkLayout; the corrupt
// chunk fixture must fail exactly on its records CRC.
func TestFixtureLayout(t *testing.T) {
	for _, f := range generateAll(t) {
		probs := checkLayout(f.Bytes)
		if f.corrupt != 0 {
			if len(probs) != 1 || !strings.Contains(probs[0], "chunk 1: records CRC") {
				t.Errorf("%s: want exactly the records CRC of chunk 1 to mismatch, got %q", f.Path, probs)
			}
			continue
		}
		if len(probs) > 0 {
			t.Errorf("%s:\n%s", f.Path, strings.Join(probs, "\n"))
		}
	}
}

func msiEvent(i int) Event {
	return Event{
		System: System{Provider: "MsiInstaller", EventID: 1035, HasQualifiers: true, Level: 4,
			Keywords: 0x80000000000000, TimeCreated: time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC),
			Channel: "Application", Computer: "PC", UserID: "S-1-5-18"},
		Classic: true,
		Data:    []Value{{Text: fmt.Sprintf("Product %d", i)}, {Text: "1.0"}, {Text: "1033"}, {Text: "0"}, {Text: "Vendor"}},
		Binary:  []byte("{00000000-0000-0000-0000-000000000000}"),
	}
}

func TestWriteSpansChunksAndRedefinesTemplates(t *testing.T) {
	var evs []Event
	for i := range 400 {
		evs = append(evs, msiEvent(i))
	}
	b, err := Write(evs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if probs := checkLayout(b); len(probs) > 0 {
		t.Fatal(strings.Join(probs, "\n"))
	}
	chunks := (len(b) - fileHeaderSize) / chunkSize
	if chunks < 2 {
		t.Fatalf("400 records fit in %d chunk(s); the test needs several", chunks)
	}
	for i := range chunks {
		c := b[fileHeaderSize+i*chunkSize:]
		// First record: instance at 512+24+4, definition inline right after.
		inst := chunkHeaderSize + recordHeader + 4
		if c[inst] != 0x0c || binary.LittleEndian.Uint32(c[inst+6:]) != uint32(inst+10) {
			t.Errorf("chunk %d: the first record does not define its template inline", i)
		}
		second := chunkHeaderSize + int(binary.LittleEndian.Uint32(c[chunkHeaderSize+4:]))
		if got := binary.LittleEndian.Uint32(c[second+recordHeader+4+6:]); got != uint32(inst+10) {
			t.Errorf("chunk %d: the second record refers to template offset %#x, want %#x", i, got, inst+10)
		}
	}
}

func TestWriteDeterministic(t *testing.T) {
	evs := []Event{msiEvent(1), msiEvent(2)}
	a, err := Write(evs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Write(evs, Options{})
	if !bytes.Equal(a, b) {
		t.Fatal("same events gave different bytes")
	}
}

func TestWriteErrors(t *testing.T) {
	huge := msiEvent(0)
	// 64,602 bytes of UTF-16: the payload value fits its u16 size, the
	// record with its System values does not fit the 65,024 bytes a chunk has.
	huge.Data[0].Text = strings.Repeat("x", 32300)
	huge.Binary = nil
	bigValue := msiEvent(0)
	bigValue.Classic = false
	bigValue.Binary = nil
	bigValue.Data = []Value{{Name: "Big", Text: strings.Repeat("z", 33000)}} // 66,002 bytes
	badSID := msiEvent(0)
	badSID.System.UserID = "S-1-nope"
	badType := msiEvent(0)
	badType.Data[0].Type = SID
	for _, tc := range []struct {
		name string
		ev   Event
		want string
	}{
		{"too large for a chunk", huge, "does not fit"},
		{"value over 65535 bytes", bigValue, "more than a BinXML value can hold"},
		{"bad user SID", badSID, "user SID"},
		{"typed classic data", badType, "only strings"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Write([]Event{tc.ev}, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if _, err := Write([]Event{huge}, Options{}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("got %v, want ErrTooLarge", err)
	}
}

func TestEncodeValues(t *testing.T) {
	for _, tc := range []struct {
		typ  ValueType
		text string
		want string // hex
	}{
		{String, "Ab", "4100620000 00"},
		{String, "", "0000"},
		{HexInt64, "0x1a2c", "2c1a000000000000"},
		{HexInt32, "0x80070005", "05000780"},
		{UInt16, "1033", "0904"},
		{SID, "S-1-5-18", "010100000000000512000000"},
		{SID, "S-1-5-21-1-2-3-1001", "010500000000000515000000010000000200000003000000e9030000"},
		{GUID, "{54849625-5478-4994-A5BA-3E3B0328C30D}", "2596845478549449a5ba3e3b0328c30d"},
		{FileTime, "1601-01-01T00:00:00.0000001Z", "0100000000000000"},
		{FileTime, "2026-02-10T10:00:00Z", fmt.Sprintf("%016x", swap64(uint64(time.Date(2026, 2, 10, 10, 0, 0, 0, time.UTC).Unix()+unixToFileTime)*10_000_000))},
		{Bool, "true", "01000000"},
	} {
		got, err := encodeValue(tc.typ, tc.text)
		if err != nil {
			t.Errorf("encode %#x %q: %v", tc.typ, tc.text, err)
			continue
		}
		if want := strings.ReplaceAll(tc.want, " ", ""); fmt.Sprintf("%x", got) != want {
			t.Errorf("encode %#x %q = %x, want %s", tc.typ, tc.text, got, want)
		}
	}
}

func swap64(v uint64) uint64 {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	return binary.BigEndian.Uint64(b[:])
}

func TestNameHash(t *testing.T) {
	// h = h*65599 + unit, low 16 bits: "A" = 0x41; "AB" = 0x41*65599+0x42.
	for _, tc := range []struct {
		s    string
		want uint16
	}{{"", 0}, {"A", 0x41}, {"AB", uint16((0x41*65599 + 0x42) & 0xffff)}} {
		if got := nameHash(tc.s); got != tc.want {
			t.Errorf("nameHash(%q) = %#x, want %#x", tc.s, got, tc.want)
		}
	}
}

func BenchmarkWrite(b *testing.B) {
	var evs []Event
	for i := range 1000 {
		evs = append(evs, msiEvent(i))
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Write(evs, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
