package parser

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"encoding/xml"
	"errors"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func le16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func le64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

var (
	guidOuter = [16]byte{0x25, 0x96, 0x84, 0x54, 0x78, 0x54, 0x94, 0x49, 0xA5, 0xBA, 0x3E, 0x3B, 0x03, 0x28, 0xC3, 0x0D}
	guidInner = [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	sid18     = []byte{1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0}
	// 2024-03-01T10:00:04.3010000Z as a FILETIME.
	ft20240301 = uint64(time.Date(2024, 3, 1, 10, 0, 4, 301000000, time.UTC).UnixNano()/100) + 116444736000000000
)

// writeSystemTemplate writes the outer, Windows-shaped template body: System
// from substitutions 0–16 and the payload as BinXML value 17.
func writeSystemTemplate(cb *chunkBuilder) {
	cb.open("Event", 0xFFFF, true)
	cb.attr("xmlns", false)
	cb.text("http://schemas.microsoft.com/win/2004/08/events/event")
	cb.closeStart()
	cb.open("System", 0xFFFF, false)
	cb.closeStart()
	cb.open("Provider", 0xFFFF, true)
	cb.attr("Name", true)
	cb.subst(0, typeString, true)
	cb.attr("Guid", false)
	cb.subst(1, typeGUID, true)
	cb.closeEmpty()
	cb.open("EventID", 0xFFFF, true)
	cb.attr("Qualifiers", false)
	cb.subst(2, typeUint16, true)
	cb.closeStart()
	cb.subst(3, typeUint16, false)
	cb.closeEnd()
	for i, n := range []string{"Version", "Level", "Task", "Opcode", "Keywords"} {
		cb.open(n, 0xFFFF, false)
		cb.closeStart()
		cb.subst(4+i, []byte{typeUint8, typeUint8, typeUint16, typeUint8, typeHexInt64}[i], true)
		cb.closeEnd()
	}
	cb.open("TimeCreated", 0xFFFF, true)
	cb.attr("SystemTime", false)
	cb.subst(9, typeFileTime, true)
	cb.closeEmpty()
	cb.open("EventRecordID", 0xFFFF, false)
	cb.closeStart()
	cb.subst(10, typeUint64, true)
	cb.closeEnd()
	cb.open("Correlation", 0xFFFF, true)
	cb.attr("ActivityID", false)
	cb.subst(11, typeGUID, true)
	cb.closeEmpty()
	cb.open("Execution", 0xFFFF, true)
	cb.attr("ProcessID", true)
	cb.subst(12, typeUint32, true)
	cb.attr("ThreadID", false)
	cb.subst(13, typeUint32, true)
	cb.closeEmpty()
	for i, n := range []string{"Channel", "Computer"} {
		cb.open(n, 0xFFFF, false)
		cb.closeStart()
		cb.subst(14+i, typeString, true)
		cb.closeEnd()
	}
	cb.open("Security", 0xFFFF, true)
	cb.attr("UserID", false)
	cb.subst(16, typeSID, true)
	cb.closeEmpty()
	cb.closeEnd() // System
	cb.subst(17, typeBinXML, true)
	cb.closeEnd() // Event
}

func str16(s string) tv { return tv{typeString, utf16le(s)} }

func systemValues(eventID uint16, recordID uint64, payload []byte) []tv {
	return []tv{
		str16("MsiInstaller"), {typeGUID, guidOuter[:]}, {typeNull, nil}, {typeUint16, le16(eventID)},
		{typeUint8, []byte{0}}, {typeUint8, []byte{4}}, {typeUint16, le16(0)}, {typeNull, nil},
		{typeHexInt64, le64(0x80000000000000)}, {typeFileTime, le64(ft20240301)}, {typeUint64, le64(recordID)},
		{typeNull, nil}, {typeUint32, le32(1234)}, {typeUint32, le32(5678)}, str16("Application"),
		str16("HOST"), {typeSID, sid18}, {typeBinXML, payload},
	}
}

// payloadBuilder builds a nested 0x21 value. It must be written at its
// final chunk position, so it is built on the chunk builder directly by
// writePayload, which returns the value bytes.
func writePayload(cb *chunkBuilder, at int, inline bool, defOff int, vals []tv) []byte {
	p := &chunkBuilder{b: make([]byte, at)}
	p.fragmentHeader()
	var off int
	if inline {
		off = p.beginTemplate(guidInner)
		p.open("EventData", 0xFFFF, false)
		p.closeStart()
		names := []string{"ProductName", "Status", "Arr", "Empty", "Bin", "Flag", "R", "H32"}
		types := []byte{typeString, typeInt32, typeString | typeArray, typeString, typeBinary, typeBool, typeReal64, typeHexInt32}
		for i, n := range names {
			p.open("Data", 0xFFFF, true)
			p.attr("Name", false)
			p.text(n)
			p.closeStart()
			p.subst(i, types[i], n == "Empty")
			p.closeEnd()
		}
		p.open("Data", 0xFFFF, true)
		p.attr("Name", false)
		p.text("Ent")
		p.closeStart()
		p.text("a")
		p.u8(tokEntityRef)
		p.name("amp")
		p.text("b")
		p.u8(tokCharRef)
		p.u16('A')
		p.u8(tokCDATA)
		p.u16(3)
		p.raw(utf16le("x<y")...)
		p.closeEnd()
		p.closeEnd() // EventData
		p.endTemplate()
	} else {
		off = defOff
		p.refTemplate(defOff, binary.LittleEndian.Uint32(guidInner[:4]))
	}
	p.values(vals...)
	p.u8(tokEOF)
	_ = off
	return p.b[at:]
}

func payloadValues(product string, status int32, arr []string) []tv {
	var a []byte
	for _, s := range arr {
		a = append(a, utf16le(s)...)
		a = append(a, 0, 0)
	}
	return []tv{
		str16(product), {typeInt32, le32(uint32(status))}, {typeString | typeArray, a}, {typeNull, nil},
		{typeBinary, []byte{0xDE, 0xAD, 0x01}}, {typeBool, le32(1)}, {typeReal64, le64(math.Float64bits(1.5))},
		{typeHexInt32, le32(0x3e7)},
	}
}

// syntheticFile builds one chunk with two records: the first defines both
// templates inline, the second refers back to them.
func syntheticFile(t testing.TB) []byte {
	t.Helper()
	cb := newChunkBuilder()
	var outerDef, innerDef int
	for i, rec := range []struct {
		id      uint64
		product string
		status  int32
		arr     []string
	}{{1, "Contoso Agent", 1603, []string{"one", "", "three"}}, {2, "Fabrikam <Tool> & co", -1, []string{"solo"}}} {
		cb.beginRecord(rec.id, ft20240301)
		cb.fragmentHeader()
		if i == 0 {
			outerDef = cb.beginTemplate(guidOuter)
			writeSystemTemplate(cb)
			cb.endTemplate()
		} else {
			cb.refTemplate(outerDef, binary.LittleEndian.Uint32(guidOuter[:4]))
		}
		// The payload value's position depends on the descriptor table size.
		vals := systemValues(11724, rec.id, nil)
		at := cb.pos() + 4 + 4*len(vals)
		for _, v := range vals[:17] {
			at += len(v.data)
		}
		payload := writePayload(cb, at, i == 0, innerDef, payloadValues(rec.product, rec.status, rec.arr))
		if i == 0 {
			// the inner definition header sits 10 bytes after the 0x0C token,
			// which follows the 4-byte fragment header.
			innerDef = at + 4 + 10
		}
		vals[17].data = payload
		cb.values(vals...)
		cb.u8(tokEOF)
		cb.endRecord()
	}
	return buildFile(cb.finish())
}

func readAll(t testing.TB, data []byte, opts Options) ([]*Event, []error, Stats) {
	t.Helper()
	f, err := NewFile(bytes.NewReader(data), int64(len(data)), "synthetic.evtx", opts)
	if err != nil {
		t.Fatalf("NewFile: %v", err)
	}
	var evs []*Event
	var errs []error
	for ev, err := range f.Events(context.Background()) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		evs = append(evs, ev)
	}
	return evs, errs, f.Stats()
}

func TestSyntheticRecords(t *testing.T) {
	evs, errs, st := readAll(t, syntheticFile(t), Options{Workers: 1, XML: true})
	if len(errs) != 0 || len(evs) != 2 {
		t.Fatalf("got %d events, errors %v; want 2 events, no errors", len(evs), errs)
	}
	if st.Records != 2 || st.Chunks != 1 || st.Lost != 0 || len(st.Problems) != 0 {
		t.Errorf("stats = %+v", st)
	}
	e := evs[0]
	sys := e.System
	checks := []struct{ name, got, want string }{
		{"Provider", sys.Provider, "MsiInstaller"},
		{"ProviderGUID", sys.ProviderGUID, "{54849625-5478-4994-A5BA-3E3B0328C30D}"},
		{"EventID", itoa(int64(sys.EventID)), "11724"},
		{"HasQualifiers", boolText(sys.HasQualifiers), "false"},
		{"Level", itoa(int64(sys.Level)), "4"},
		{"Keywords", itoa(int64(sys.Keywords)), itoa(0x80000000000000)},
		{"TimeCreated", sys.TimeCreated.Format(time.RFC3339Nano), "2024-03-01T10:00:04.301Z"},
		{"EventRecordID", itoa(int64(sys.EventRecordID)), "1"},
		{"ActivityID", sys.ActivityID, ""},
		{"ProcessID", itoa(int64(sys.ProcessID)), "1234"},
		{"ThreadID", itoa(int64(sys.ThreadID)), "5678"},
		{"Channel", sys.Channel, "Application"},
		{"Computer", sys.Computer, "HOST"},
		{"UserID", sys.UserID, "S-1-5-18"},
		{"Source.RecordID", itoa(int64(e.Source.RecordID)), "1"},
		{"Source.Offset", itoa(e.Source.Offset), itoa(fileHeaderBlock + chunkHeaderSize)},
		{"Source.Written", e.Source.Written.Format(time.RFC3339Nano), "2024-03-01T10:00:04.301Z"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	wantData := []Field{
		{"ProductName", "Contoso Agent"}, {"Status", "1603"},
		{"Arr", "one"}, {"Arr", ""}, {"Arr", "three"}, // array repeats the element, empty items kept
		// "Empty" is an optional substitution with a NULL value: the element is dropped
		{"Bin", "DEAD01"}, {"Flag", "true"}, {"R", "1.5"}, {"H32", "0x3e7"},
		{"Ent", "a&bAx<y"},
	}
	if !equalFields(e.EventData, wantData) {
		t.Errorf("EventData = %v\nwant %v", e.EventData, wantData)
	}
	// Opcode (NULL optional) is elided; Correlation keeps the element, drops the attribute.
	for _, want := range []string{"<Correlation/>", "<Version>0</Version>", "a&amp;b&#65;<![CDATA[x<y]]>", "<Data Name='Arr'/>"} {
		if !strings.Contains(e.XML, want) {
			t.Errorf("XML lacks %q:\n%s", want, e.XML)
		}
	}
	if strings.Contains(e.XML, "Opcode") || strings.Contains(e.XML, "'Empty'") {
		t.Errorf("XML keeps an element whose optional substitution is NULL:\n%s", e.XML)
	}
	if err := xml.Unmarshal([]byte(e.XML), new(any)); err != nil {
		t.Errorf("XML is not well-formed: %v", err)
	}
	wantIns := []string{"Contoso Agent", "1603", "one", "", "three", "", "DEAD01", "true", "1.5", "0x3e7"}
	if strings.Join(e.InsertionStrings, "|") != strings.Join(wantIns, "|") {
		t.Errorf("InsertionStrings = %q, want %q", e.InsertionStrings, wantIns)
	}
	// The second record reuses both templates by back-reference.
	e2 := evs[1]
	if v, _ := e2.Data("ProductName"); v != "Fabrikam <Tool> & co" {
		t.Errorf("record 2 ProductName = %q", v)
	}
	if v, _ := e2.Data("Status"); v != "-1" {
		t.Errorf("record 2 Status = %q", v)
	}
	if !strings.Contains(e2.XML, "Fabrikam &lt;Tool&gt; &amp; co") {
		t.Errorf("record 2 XML not escaped: %s", e2.XML)
	}
	if e2.System.EventRecordID != 2 {
		t.Errorf("record 2 EventRecordID = %d", e2.System.EventRecordID)
	}
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func equalFields(a, b []Field) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestAppendValue(t *testing.T) {
	guid := []byte{0x25, 0x96, 0x84, 0x54, 0x78, 0x54, 0x94, 0x49, 0xA5, 0xBA, 0x3E, 0x3B, 0x03, 0x28, 0xC3, 0x0D}
	systime := append(append(append(append(le16(2024), le16(3)...), le16(5)...), le16(1)...), append(append(append(le16(10), le16(0)...), le16(4)...), le16(301)...)...)
	tests := []struct {
		name string
		typ  byte
		data []byte
		want string
	}{
		{"null", typeNull, []byte{1, 2}, ""},
		{"string", typeString, utf16le("héllo wörld"), "héllo wörld"},
		{"string stops at NUL", typeString, append(utf16le("ab"), 0, 0, 'c', 0), "ab"},
		{"string surrogate pair", typeString, utf16le("😀"), "😀"},
		{"string lone surrogate", typeString, []byte{0x00, 0xD8, 'a', 0}, "\uFFFDa"},
		{"ansi cp1252", typeAnsiString, []byte{'a', 0x80, 0xE9, 0}, "a€é"},
		{"int8", typeInt8, []byte{0xFF}, "-1"},
		{"uint8", typeUint8, []byte{0xFF}, "255"},
		{"int16", typeInt16, le16(0xFFFE), "-2"},
		{"uint16", typeUint16, le16(65535), "65535"},
		{"int32", typeInt32, le32(0xFFFFF9C5), "-1595"},
		{"uint32", typeUint32, le32(1603), "1603"},
		{"int64", typeInt64, le64(math.MaxUint64), "-1"},
		{"uint64", typeUint64, le64(math.MaxUint64), "18446744073709551615"},
		{"real32", typeReal32, le32(math.Float32bits(0.25)), "0.25"},
		{"real64", typeReal64, le64(math.Float64bits(-2.5e10)), "-2.5e+10"},
		{"bool true", typeBool, le32(1), "true"},
		{"bool irregular", typeBool, le32(0x100), "true"},
		{"bool false", typeBool, le32(0), "false"},
		{"binary", typeBinary, []byte{0x0A, 0xBC}, "0ABC"},
		{"guid", typeGUID, guid, "{54849625-5478-4994-A5BA-3E3B0328C30D}"},
		{"sizet 8", typeSizeT, le64(0x4), "0x4"},
		{"sizet 4", typeSizeT, le32(0x10), "0x10"},
		{"filetime", typeFileTime, le64(ft20240301), "2024-03-01T10:00:04.3010000Z"},
		{"filetime zero", typeFileTime, le64(0), "1601-01-01T00:00:00.0000000Z"},
		{"filetime huge", typeFileTime, le64(math.MaxUint64), "0xffffffffffffffff"},
		{"systemtime", typeSystemTime, systime, "2024-03-01T10:00:04.3010000Z"},
		{"systemtime zero", typeSystemTime, make([]byte, 16), "1601-01-01T00:00:00.0000000Z"},
		{"sid", typeSID, sid18, "S-1-5-18"},
		{"sid long", typeSID, []byte{1, 2, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 0xE9, 3, 0, 0}, "S-1-5-21-1001"},
		{"sid truncated", typeSID, []byte{1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0}, "S-1-5-21"},
		{"hexint32", typeHexInt32, le32(0x3e7), "0x3e7"},
		{"hexint32 zero", typeHexInt32, le32(0), "0x0"},
		{"hexint64", typeHexInt64, le64(0x8020000000000000), "0x8020000000000000"},
		{"short int", typeUint32, []byte{5}, "5"},
		{"evthandle", 0x20, []byte{1, 2}, "0102"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(appendValue(nil, tc.typ, tc.data)); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestArrayItems(t *testing.T) {
	tests := []struct {
		name string
		typ  byte
		data []byte
		want []string
	}{
		{"strings with empty", typeString, append(append(append(utf16le("a"), 0, 0, 0, 0), utf16le("b")...), 0, 0), []string{"a", "", "b"}},
		{"strings no final NUL", typeString, append(append(utf16le("a"), 0, 0), utf16le("bc")...), []string{"a", "bc"}},
		{"ansi", typeAnsiString, []byte("x\x00yz\x00"), []string{"x", "yz"}},
		{"uint16", typeUint16, append(le16(1), le16(2)...), []string{"1", "2"}},
		{"uint32 remainder dropped", typeUint32, append(le32(7), 1, 2), []string{"7"}},
		{"hexint64", typeHexInt64, append(le64(1), le64(255)...), []string{"0x1", "0xff"}},
		{"sids", typeSID, append(append([]byte{}, sid18...), 1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x20, 2, 0, 0), []string{"S-1-5-18", "S-1-5-32-544"}},
		{"empty", typeUint32, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, it := range arrayItems(tc.typ, tc.data, nil) {
				got = append(got, string(appendValue(nil, tc.typ, it)))
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAppendJSON(t *testing.T) {
	ts := time.Date(2024, 3, 1, 10, 0, 4, 301000000, time.UTC)
	tests := []struct {
		name string
		ev   Event
		want string
	}{
		{"minimal", Event{Source: Source{File: "a.evtx", RecordID: 7}, System: System{EventID: 1033, TimeCreated: ts}},
			`{"file":"a.evtx","record_id":7,"time":"2024-03-01T10:00:04.3010000Z","event_id":1033,"provider":"","channel":"","computer":"","level":0,"user_sid":"","event_data":{},"recovered":false}`},
		{"data, binary, duplicates, recovered, message", Event{
			Source:    Source{File: `C:\logs\App "x".evtx`, RecordID: 1, Recovered: true},
			System:    System{EventID: 11724, Provider: "MsiInstaller", Channel: "Application", Computer: "PC", Level: 4, UserID: "S-1-5-18", TimeCreated: ts},
			EventData: []Field{{"", "Product"}, {"Status", "1603"}, {"Status", "0"}, {"", "tab\there\x01"}, {"Status", "x"}},
			Binary:    []byte{0xAB, 0x01},
			Message:   "Removal failed.\r\n",
		}, `{"file":"C:\\logs\\App \"x\".evtx","record_id":1,"time":"2024-03-01T10:00:04.3010000Z","event_id":11724,"provider":"MsiInstaller","channel":"Application","computer":"PC","level":4,"user_sid":"S-1-5-18","event_data":{"Data[1]":"Product","Status":"1603","Status_1":"0","Data[4]":"tab\there\u0001","Status_2":"x","Binary":"AB01"},"recovered":true,"message":"Removal failed.\r\n"}`},
		{"user data tree", Event{
			Source: Source{File: "u.evtx", Written: ts},
			UserData: &Node{Name: "EventXML", Attrs: []Field{{"xmlns", "LoadPerf"}}, Children: []*Node{
				{Name: "param1", Text: "v1"}, {Name: "param1", Text: "v2"}, {Name: "Item", Attrs: []Field{{"Code", "5"}}, Text: "mixed"}}},
		}, `{"file":"u.evtx","record_id":0,"time":"2024-03-01T10:00:04.3010000Z","event_id":0,"provider":"","channel":"","computer":"","level":0,"user_sid":"","event_data":{},"user_data":{"EventXML":{"@xmlns":"LoadPerf","param1":"v1","param1_1":"v2","Item":{"@Code":"5","#text":"mixed"}}},"recovered":false}`},
		{"invalid utf8", Event{Source: Source{File: "bad\xffname\u2028"}, System: System{TimeCreated: ts}},
			`{"file":"bad` + "\uFFFD" + `name\u2028","record_id":0,"time":"2024-03-01T10:00:04.3010000Z","event_id":0,"provider":"","channel":"","computer":"","level":0,"user_sid":"","event_data":{},"recovered":false}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := string(AppendJSON(nil, &tc.ev))
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			if !json.Valid([]byte(got)) {
				t.Errorf("not valid JSON: %s", got)
			}
		})
	}
}

// mutate returns a copy of data with fn applied.
func mutate(data []byte, fn func(b []byte)) []byte {
	b := append([]byte(nil), data...)
	fn(b)
	return b
}

func TestDamage(t *testing.T) {
	good := syntheticFile(t)
	chunk := fileHeaderBlock
	rec1 := chunk + chunkHeaderSize
	rec2size := int(binary.LittleEndian.Uint32(good[rec1+4:]))
	tests := []struct {
		name           string
		data           []byte
		recover        bool
		records, recov int
		lost, skipped  int
		wantErr        error
		wantProblemAt  int64
	}{
		{"good", good, false, 2, 0, 0, 0, nil, -1},
		{"bad chunk magic", mutate(good, func(b []byte) { b[chunk] = 'X' }), false, 0, 0, 0, 1, ErrBadSignature, int64(chunk)},
		{"bad chunk magic, recover", mutate(good, func(b []byte) { b[chunk] = 'X' }), true, 0, 2, 0, 1, ErrBadSignature, int64(chunk)},
		// a checksum mismatch is reported (ErrChecksum) but the records are read
		{"records checksum", mutate(good, func(b []byte) { b[chunk+52]++ }), false, 2, 0, 0, 0, ErrChecksum, int64(chunk)},
		{"chunk header checksum", mutate(good, func(b []byte) { b[chunk+124]++ }), false, 2, 0, 0, 0, ErrChecksum, int64(chunk)},
		{"no checksums (NO_CRC32 flag, zero sums)", mutate(good, func(b []byte) {
			binary.LittleEndian.PutUint32(b[chunk+120:], FlagNoCRC32)
			binary.LittleEndian.PutUint32(b[chunk+52:], 0)
			binary.LittleEndian.PutUint32(b[chunk+124:], 0)
		}), false, 2, 0, 0, 0, nil, -1},
		// a damaged size copy alone does not hide a record whose size leads to the next one
		{"broken record size copy", mutate(good, func(b []byte) { b[rec1+rec2size-4]++ }), false, 2, 0, 0, 0, nil, int64(rec1)},
		{"broken record size", mutate(good, func(b []byte) { binary.LittleEndian.PutUint32(b[rec1+4:], 100) }), false, 0, 0, 1, 0, ErrBadRecord, int64(rec1)},
		{"broken record size, recover", mutate(good, func(b []byte) { binary.LittleEndian.PutUint32(b[rec1+4:], 100) }), true, 0, 1, 1, 0, ErrBadRecord, int64(rec1)},
		// record 2 still decodes: the templates record 1 defined are found by offset
		{"bad token in record 1", mutate(good, func(b []byte) { b[rec1+24+4] = 0x3F }), false, 1, 0, 1, 0, ErrBadToken, int64(rec1)},
		{"truncated in the first record", good[:chunk+1000], false, 0, 0, 1, 0, ErrBadRecord, int64(rec1)},
		{"truncated in the chunk header", good[:chunk+300], false, 0, 0, 0, 1, ErrBadSignature, int64(chunk)},
		{"free space offset lies", mutate(good, func(b []byte) { binary.LittleEndian.PutUint32(b[chunk+48:], 0xFFFFFF) }), false, 2, 0, 0, 0, nil, -1},
		{"zero size record", mutate(good, func(b []byte) { binary.LittleEndian.PutUint32(b[rec1+4:], 0) }), false, 0, 0, 1, 0, ErrBadRecord, int64(rec1)},
		{"record size past chunk", mutate(good, func(b []byte) { binary.LittleEndian.PutUint32(b[rec1+4:], 0x7FFFFFFF) }), false, 0, 0, 1, 0, ErrBadRecord, int64(rec1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, workers := range []int{1, 3} {
				evs, errs, st := readAll(t, tc.data, Options{Workers: workers, Recover: tc.recover})
				if st.Records != tc.records || st.Recovered != tc.recov || st.Lost != tc.lost || st.ChunksSkipped != tc.skipped {
					t.Errorf("workers=%d: records %d recovered %d lost %d skipped %d; want %d %d %d %d (problems %v)",
						workers, st.Records, st.Recovered, st.Lost, st.ChunksSkipped, tc.records, tc.recov, tc.lost, tc.skipped, st.Problems)
				}
				if len(evs) != tc.records+tc.recov {
					t.Errorf("workers=%d: %d events, want %d", workers, len(evs), tc.records+tc.recov)
				}
				for _, ev := range evs {
					if ev.Source.Recovered != tc.recover || ev.Source.Recovered && ev.Source.RecoverReason == "" {
						if tc.recov > 0 && !ev.Source.Recovered {
							t.Errorf("workers=%d: event %d not marked recovered", workers, ev.Source.RecordID)
						}
					}
				}
				if tc.wantErr != nil {
					found := false
					for _, err := range errs {
						found = found || errors.Is(err, tc.wantErr)
					}
					if !found {
						t.Errorf("workers=%d: errors %v, want one wrapping %v", workers, errs, tc.wantErr)
					}
				}
				if tc.wantProblemAt >= 0 {
					found := false
					for _, p := range st.Problems {
						found = found || p.Offset == tc.wantProblemAt
					}
					if !found {
						t.Errorf("workers=%d: problems %v, want one at offset %#x", workers, st.Problems, tc.wantProblemAt)
					}
				}
			}
		})
	}
}

func TestNotEVTX(t *testing.T) {
	for _, data := range [][]byte{nil, []byte("MZ this is not a log"), bytes.Repeat([]byte{0}, 5000)} {
		_, err := NewFile(bytes.NewReader(data), int64(len(data)), "x.bin", Options{})
		if !errors.Is(err, ErrNotEVTX) || !strings.Contains(err.Error(), "x.bin") {
			t.Errorf("NewFile(%d bytes) error = %v, want ErrNotEVTX naming the file", len(data), err)
		}
	}
	if !HasSignature([]byte("ElfFile\x00rest")) || HasSignature([]byte("ElfFile")) {
		t.Error("HasSignature wrong")
	}
}

// manyChunks builds a file of n copies of the synthetic chunk.
func manyChunks(t testing.TB, n int) []byte {
	one := syntheticFile(t)[fileHeaderBlock:]
	chunks := make([][]byte, n)
	for i := range chunks {
		chunks[i] = one
	}
	return buildFile(chunks...)
}

func TestEventsStopEarly(t *testing.T) {
	data := manyChunks(t, 40)
	for _, workers := range []int{1, 4} {
		before := runtime.NumGoroutine()
		f, err := NewFile(bytes.NewReader(data), int64(len(data)), "many.evtx", Options{Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, err := range f.Events(context.Background()) {
			if err != nil {
				t.Fatal(err)
			}
			if n++; n == 3 {
				break
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		var got []error
		n = 0
		for _, err := range f.Events(ctx) {
			if err != nil {
				got = append(got, err)
				continue
			}
			if n++; n == 5 {
				cancel()
			}
		}
		cancel()
		if len(got) != 1 || !errors.Is(got[0], context.Canceled) || n >= 80 {
			t.Errorf("workers=%d: after cancel got %d events and errors %v; want the iteration to end with context.Canceled", workers, n, got)
		}
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if g := runtime.NumGoroutine(); g > before {
			t.Errorf("workers=%d: %d goroutines left running (were %d)", workers, g, before)
		}
	}
}

func TestChunkCountNotTrusted(t *testing.T) {
	data := manyChunks(t, 5)
	binary.LittleEndian.PutUint16(data[42:], 1) // the header claims one chunk
	evs, errs, st := readAll(t, data, Options{Workers: 2})
	if len(errs) != 0 || len(evs) != 10 || st.Chunks != 5 {
		t.Errorf("got %d events, %d chunks, errors %v; want 10 events from 5 chunks", len(evs), st.Chunks, errs)
	}
	for i, ev := range evs {
		if want := i / 2; ev.Source.Chunk != want {
			t.Errorf("event %d from chunk %d, want %d (chunk order)", i, ev.Source.Chunk, want)
		}
	}
}

// slackFile builds the synthetic chunk with extra records written into its
// slack (after the free-space offset), each a copy of record 2 changed by
// edit.
func slackFile(t *testing.T, edits ...func(rec []byte)) []byte {
	data := syntheticFile(t)
	chunk := data[fileHeaderBlock:]
	rec1 := chunkHeaderSize
	size1 := int(binary.LittleEndian.Uint32(chunk[rec1+4:]))
	rec2 := rec1 + size1
	size2 := int(binary.LittleEndian.Uint32(chunk[rec2+4:]))
	free := int(binary.LittleEndian.Uint32(chunk[48:]))
	at := free + 64 // some zero bytes, then the old copies
	for _, edit := range edits {
		cp := append([]byte(nil), chunk[rec2:rec2+size2]...)
		edit(cp)
		copy(chunk[at:], cp)
		at += len(cp)
	}
	return data
}

func TestRecoverSlack(t *testing.T) {
	setID := func(id uint64) func([]byte) {
		return func(rec []byte) { binary.LittleEndian.PutUint64(rec[8:], id) }
	}
	// In record 2 the outer template instance starts after the 24-byte
	// header and the 4-byte fragment header: 0x0C, 1, id u32, offset u32.
	breakTemplateRef := func(rec []byte) { binary.LittleEndian.PutUint32(rec[24+4+6:], 600) }
	tests := []struct {
		name       string
		edits      []func([]byte)
		wantIDs    []uint64 // recovered record ids
		wantReason string
	}{
		{"stale copy of a live record is not yielded again", []func([]byte){setID(2)}, nil, ""},
		{"old record with its own id is recovered", []func([]byte){setID(99)}, []uint64{99}, "chunk slack"},
		{"template offset reused: found by id", []func([]byte){func(rec []byte) { setID(77)(rec); breakTemplateRef(rec) }}, []uint64{77}, "template found by id"},
		{"two old records", []func([]byte){setID(90), setID(91)}, []uint64{90, 91}, "chunk slack"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := slackFile(t, tc.edits...)
			for _, workers := range []int{1, 2} {
				evs, errs, st := readAll(t, data, Options{Workers: workers, Recover: true})
				if len(errs) != 0 || st.Records != 2 {
					t.Fatalf("errors %v, records %d", errs, st.Records)
				}
				var got []uint64
				for _, ev := range evs {
					if ev.Source.Recovered {
						got = append(got, ev.Source.HeaderRecordID)
						if !strings.Contains(ev.Source.RecoverReason, tc.wantReason) {
							t.Errorf("RecoverReason = %q, want it to say %q", ev.Source.RecoverReason, tc.wantReason)
						}
						if v, _ := ev.Data("ProductName"); v != "Fabrikam <Tool> & co" {
							t.Errorf("recovered record ProductName = %q", v)
						}
					}
				}
				if !slices.Equal(got, tc.wantIDs) || st.Recovered != len(tc.wantIDs) || st.Lost != 0 {
					t.Errorf("workers=%d: recovered ids %v (stats %d recovered, %d lost), want %v", workers, got, st.Recovered, st.Lost, tc.wantIDs)
				}
			}
			// Without Recover, slack is not read.
			evs, _, _ := readAll(t, data, Options{Workers: 1})
			if len(evs) != 2 {
				t.Errorf("without Recover: %d events, want 2", len(evs))
			}
		})
	}
}

// TestTruncatedSecondChunk: a file cut inside its second chunk. The worker's
// buffer still holds the first chunk; nothing past the cut may be read (the
// chunk slice is capped at the bytes read, and the free-space offset is
// clamped to them).
func TestTruncatedSecondChunk(t *testing.T) {
	full := manyChunks(t, 2)
	data := full[:fileHeaderBlock+chunkSize+1000]
	for _, workers := range []int{1, 2} {
		evs, errs, st := readAll(t, data, Options{Workers: workers, Recover: true})
		if len(evs) != 2 || st.Records != 2 || st.Lost != 1 || len(errs) != 1 || !errors.Is(errs[0], ErrBadRecord) {
			t.Errorf("workers=%d: %d events, stats %+v, errors %v; want 2 events from chunk 0 and one lost record in chunk 1", workers, len(evs), st, errs)
		}
	}
}
