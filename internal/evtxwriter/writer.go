package evtxwriter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"
	"unicode/utf16"
)

// An Event is one event to write.
type Event struct {
	// System holds the System values. EventRecordID is ignored unless
	// Options.KeepEventRecordIDs: the writer assigns record ids (see
	// Options). TimeCreated is also the record's written time.
	System System
	// Classic selects the classic (ReportEvent) shape: Data are unnamed
	// strings written as one string array, followed by Binary when non-nil.
	// Otherwise Data are named manifest values (followed by Binary when
	// non-nil, as Service Control Manager writes it), or UserData is used.
	Classic  bool
	Data     []Value
	Binary   []byte
	UserData *Element
}

// An Element is a UserData element: literal attributes, an optional text
// value (a substitution) and child elements.
type Element struct {
	Name     string
	Attrs    []Value // literal; Type is ignored
	Value    *Value
	Children []*Element
}

// Options control Write. The zero value writes ids from 1 and fills chunks.
type Options struct {
	// FirstRecordID is the id of the first record (0 means 1).
	FirstRecordID uint64
	// MaxRecordsPerChunk starts a new chunk after this many records
	// (0 = only when the chunk is full).
	MaxRecordsPerChunk int
	// Slack events are written after the last record of the last chunk,
	// beyond its free-space offset, as a reused chunk keeps old records.
	// Their ids come from System.EventRecordID. Each defines its names and
	// templates inline, so it decodes on its own; neither header counts them
	// and the records CRC does not cover them.
	Slack []Event
	// KeepEventRecordIDs writes each event's own System.EventRecordID (when
	// non-zero) in its <EventRecordID> while the record headers are
	// numbered from FirstRecordID, as in a log saved or exported by Windows
	// (headers renumbered from 1, events keeping their original ids).
	KeepEventRecordIDs bool
}

// Layout constants (evtx-format.md §1).
const (
	fileHeaderSize  = 4096  // file header block; chunks start here
	chunkSize       = 65536 // one chunk
	chunkHeaderSize = 512   // chunk header incl. string and template tables
	recordHeader    = 24    // signature, size, id, written time
	recordTrailer   = 4     // size copy
)

// ErrTooLarge is returned for an event whose record cannot fit in a chunk.
var ErrTooLarge = errors.New("evtxwriter: event does not fit in an empty chunk")

// Write returns the bytes of an .evtx file holding events in order.
func Write(events []Event, opts Options) ([]byte, error) {
	id := opts.FirstRecordID
	if id == 0 {
		id = 1
	}
	var chunks []*chunk
	cache := &templateCache{}
	newChunk := func() *chunk { c := newChunk(); c.cache, c.keepIDs = cache, opts.KeepEventRecordIDs; return c }
	cur := newChunk()
	for i := range events {
		ev := &events[i]
		if opts.MaxRecordsPerChunk > 0 && cur.records >= opts.MaxRecordsPerChunk {
			chunks = append(chunks, cur)
			cur = newChunk()
		}
		ok, err := cur.add(ev, id)
		if err != nil {
			return nil, fmt.Errorf("event %d (record %d, event id %d): %w", i, id, ev.System.EventID, err)
		}
		if !ok {
			if cur.records == 0 {
				return nil, fmt.Errorf("event %d (record %d, event id %d): %w", i, id, ev.System.EventID, ErrTooLarge)
			}
			chunks = append(chunks, cur)
			cur = newChunk()
			if ok, err = cur.add(ev, id); err != nil || !ok {
				return nil, fmt.Errorf("event %d (record %d, event id %d): %w", i, id, ev.System.EventID, ErrTooLarge)
			}
		}
		id++
	}
	if cur.records > 0 || len(chunks) == 0 {
		chunks = append(chunks, cur)
	}
	last := chunks[len(chunks)-1]
	last.finish()
	if err := last.addSlack(opts.Slack); err != nil {
		return nil, err
	}

	out := make([]byte, fileHeaderSize, fileHeaderSize+len(chunks)*chunkSize)
	copy(out, "ElfFile\x00")
	binary.LittleEndian.PutUint64(out[8:], 0)                      // first (oldest) chunk
	binary.LittleEndian.PutUint64(out[16:], uint64(len(chunks)-1)) // last (current) chunk
	binary.LittleEndian.PutUint64(out[24:], id)                    // next record id
	binary.LittleEndian.PutUint32(out[32:], 128)                   // header size
	binary.LittleEndian.PutUint16(out[36:], 1)                     // minor version
	binary.LittleEndian.PutUint16(out[38:], 3)                     // major version
	binary.LittleEndian.PutUint16(out[40:], fileHeaderSize)        // header block size
	binary.LittleEndian.PutUint16(out[42:], uint16(len(chunks)))   // chunk count
	binary.LittleEndian.PutUint32(out[120:], 0)                    // flags: clean
	binary.LittleEndian.PutUint32(out[124:], crc32.ChecksumIEEE(out[:120]))
	for _, c := range chunks {
		c.finish()
		out = append(out, c.buf...)
	}
	return out, nil
}

// A chunk is a chunk being filled.
type chunk struct {
	buf       []byte
	pos       uint32 // free-space offset
	records   int
	firstID   uint64
	lastID    uint64
	lastRec   uint32 // offset of the last record
	names     map[string]uint32
	templates map[[16]byte]uint32
	nameTail  [64]uint32 // last entry of each string bucket chain
	tmplTail  [32]uint32 // last definition of each template bucket chain
	finished  bool
	cache     *templateCache
	keepIDs   bool // Options.KeepEventRecordIDs
}

func newChunk() *chunk {
	return &chunk{
		buf:       make([]byte, chunkSize),
		pos:       chunkHeaderSize,
		names:     map[string]uint32{},
		templates: map[[16]byte]uint32{},
	}
}

// add appends ev as record id; it reports false (and changes nothing) when
// the record does not fit in what is left of the chunk.
func (c *chunk) add(ev *Event, id uint64) (bool, error) {
	e := &recordEncoder{c: c, base: c.pos}
	if err := e.record(ev, id); err != nil {
		return false, err
	}
	if int(c.pos)+len(e.b) > chunkSize {
		return false, nil
	}
	c.commit(e)
	if c.records == 0 {
		c.firstID = id
	}
	c.records++
	c.lastID = id
	c.lastRec = e.base
	return true, nil
}

// commit copies an encoded record into the chunk and links the names and
// templates it defined into the hash bucket chains.
func (c *chunk) commit(e *recordEncoder) {
	copy(c.buf[c.pos:], e.b)
	c.pos += uint32(len(e.b))
	for _, n := range e.newNames {
		c.names[n.name] = n.off
		bucket := nameHash(n.name) % 64
		c.link(c.nameTail[bucket:bucket+1], 128+4*uint32(bucket), n.off)
	}
	for _, t := range e.newTemplates {
		c.templates[t.guid] = t.off
		bucket := binary.LittleEndian.Uint32(t.guid[:4]) % 32
		c.link(c.tmplTail[bucket:bucket+1], 384+4*bucket, t.off)
	}
}

// link appends the entry at off to a bucket chain whose head slot is at
// tableSlot and whose current tail is tail[0].
func (c *chunk) link(tail []uint32, tableSlot, off uint32) {
	if tail[0] == 0 {
		binary.LittleEndian.PutUint32(c.buf[tableSlot:], off)
	} else {
		binary.LittleEndian.PutUint32(c.buf[tail[0]:], off)
	}
	tail[0] = off
}

// finish writes the chunk header and both CRCs (once; slack added later is
// outside the records CRC by design).
func (c *chunk) finish() {
	if c.finished {
		return
	}
	c.finished = true
	h := c.buf
	copy(h, "ElfChnk\x00")
	binary.LittleEndian.PutUint64(h[8:], c.firstID)  // first record number
	binary.LittleEndian.PutUint64(h[16:], c.lastID)  // last record number
	binary.LittleEndian.PutUint64(h[24:], c.firstID) // first record id
	binary.LittleEndian.PutUint64(h[32:], c.lastID)  // last record id
	binary.LittleEndian.PutUint32(h[40:], 128)       // header size
	binary.LittleEndian.PutUint32(h[44:], c.lastRec) // last record offset
	binary.LittleEndian.PutUint32(h[48:], c.pos)     // free space offset
	binary.LittleEndian.PutUint32(h[52:], crc32.ChecksumIEEE(h[chunkHeaderSize:c.pos]))
	binary.LittleEndian.PutUint32(h[120:], 0) // flags
	crc := crc32.NewIEEE()
	crc.Write(h[:120])
	crc.Write(h[128:chunkHeaderSize])
	binary.LittleEndian.PutUint32(h[124:], crc.Sum32())
}

// addSlack writes old records after the free-space offset, each with a fresh
// name and template state so it is self-contained.
func (c *chunk) addSlack(events []Event) error {
	pos := c.pos
	for i := range events {
		ev := &events[i]
		scratch := &chunk{buf: c.buf, pos: pos, names: map[string]uint32{}, templates: map[[16]byte]uint32{}, cache: c.cache}
		e := &recordEncoder{c: scratch, base: pos}
		if err := e.record(ev, ev.System.EventRecordID); err != nil {
			return fmt.Errorf("slack event %d: %w", i, err)
		}
		if int(pos)+len(e.b) > chunkSize {
			return fmt.Errorf("slack event %d (record %d): %w", i, ev.System.EventRecordID, errors.New("evtxwriter: slack records do not fit in the last chunk"))
		}
		copy(c.buf[pos:], e.b)
		pos += uint32(len(e.b))
	}
	return nil
}

// nameHash is the BinXML NameHash: h = h*65599 + unit over UTF-16 units,
// low 16 bits kept.
func nameHash(s string) uint16 {
	var h uint32
	for _, u := range utf16.Encode([]rune(s)) {
		h = h*65599 + uint32(u)
	}
	return uint16(h)
}

// A recordEncoder encodes one record into b, whose first byte will sit at
// chunk offset base. Names and templates it defines are kept aside until the
// record is committed.
type recordEncoder struct {
	c            *chunk
	base         uint32
	b            []byte
	newNames     []pending
	newTemplates []pendingTemplate
}

type pending struct {
	name string
	off  uint32
}

type pendingTemplate struct {
	guid [16]byte
	off  uint32
}

func (e *recordEncoder) here() uint32 { return e.base + uint32(len(e.b)) }

func (e *recordEncoder) u8(v byte)    { e.b = append(e.b, v) }
func (e *recordEncoder) u16(v uint16) { e.b = binary.LittleEndian.AppendUint16(e.b, v) }
func (e *recordEncoder) u32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *recordEncoder) u64(v uint64) { e.b = binary.LittleEndian.AppendUint64(e.b, v) }

func (e *recordEncoder) patch32(at int, v uint32) { binary.LittleEndian.PutUint32(e.b[at:], v) }

func (e *recordEncoder) record(ev *Event, id uint64) error {
	e.u32(0x00002a2a)
	sizeAt := len(e.b)
	e.u32(0)
	e.u64(id)
	e.u64(fileTime(ev.System.TimeCreated))
	if err := e.fragment(e.c.cache.system(ev), func() ([]value, error) { return e.systemValues(ev, id) }); err != nil {
		return err
	}
	for len(e.b)%8 != 4 { // the size copy then ends the record on a multiple of 8
		e.u8(0)
	}
	size := uint32(len(e.b) + recordTrailer)
	e.u32(size)
	e.patch32(sizeAt, size)
	if size > chunkSize-chunkHeaderSize {
		return ErrTooLarge
	}
	return nil
}

// A value is an instance value: its type and either bytes or, for nested
// BinXML, a function writing the fragment in place.
type value struct {
	typ    ValueType
	data   []byte
	nested func() error
}

// fragment writes a fragment header, one template instance and EOF.
func (e *recordEncoder) fragment(t *template, values func() ([]value, error)) error {
	e.b = append(e.b, 0x0f, 0x01, 0x01, 0x00)
	if err := e.instance(t, values); err != nil {
		return err
	}
	e.u8(0x00)
	return nil
}

func (e *recordEncoder) instance(t *template, valuesFn func() ([]value, error)) error {
	e.u8(0x0c)
	e.u8(0x01)
	e.u32(t.id())
	if off, ok := e.lookupTemplate(t.guid); ok {
		e.u32(off)
	} else {
		def := e.here() + 4
		e.u32(def)
		e.newTemplates = append(e.newTemplates, pendingTemplate{t.guid, def})
		e.u32(0) // next definition in the bucket, linked on commit
		e.b = append(e.b, t.guid[:]...)
		sizeAt := len(e.b)
		e.u32(0)
		start := len(e.b)
		e.b = append(e.b, 0x0f, 0x01, 0x01, 0x00)
		e.element(t.root)
		e.u8(0x00)
		e.patch32(sizeAt, uint32(len(e.b)-start))
	}
	values, err := valuesFn()
	if err != nil {
		return err
	}
	e.u32(uint32(len(values)))
	descAt := len(e.b)
	e.b = append(e.b, make([]byte, 4*len(values))...)
	for i, v := range values {
		start := len(e.b)
		if v.nested != nil {
			if err := v.nested(); err != nil {
				return err
			}
		} else {
			e.b = append(e.b, v.data...)
		}
		size := len(e.b) - start
		if size > 0xffff {
			return fmt.Errorf("value %d is %d bytes, more than a BinXML value can hold (65535)", i, size)
		}
		d := e.b[descAt+4*i:]
		binary.LittleEndian.PutUint16(d, uint16(size))
		typ := v.typ
		if size == 0 && typ != String && typ != StringArray && typ != Binary {
			typ = Null
		}
		d[2] = byte(typ)
		d[3] = 0
	}
	return nil
}

func (e *recordEncoder) lookupTemplate(g [16]byte) (uint32, bool) {
	if off, ok := e.c.templates[g]; ok {
		return off, true
	}
	for _, t := range e.newTemplates {
		if t.guid == g {
			return t.off, true
		}
	}
	return 0, false
}

// name writes a name reference, defining the name inline at first use.
func (e *recordEncoder) name(s string) {
	if off, ok := e.c.names[s]; ok {
		e.u32(off)
		return
	}
	for _, n := range e.newNames {
		if n.name == s {
			e.u32(n.off)
			return
		}
	}
	off := e.here() + 4
	e.u32(off)
	e.newNames = append(e.newNames, pending{s, off})
	units := utf16.Encode([]rune(s))
	e.u32(0) // next in bucket, linked on commit
	e.u16(nameHash(s))
	e.u16(uint16(len(units)))
	for _, u := range units {
		e.u16(u)
	}
	e.u16(0)
}

// element writes a template-body element (with a dependency id).
func (e *recordEncoder) element(t *tElem) {
	tok := byte(0x01)
	if len(t.attrs) > 0 {
		tok = 0x41
	}
	e.u8(tok)
	dep := uint16(0xffff) // dependency id: none
	if t.dep >= 0 {
		dep = uint16(t.dep)
	}
	e.u16(dep)
	lenAt := len(e.b)
	e.u32(0)
	e.name(t.name)
	if len(t.attrs) > 0 {
		alAt := len(e.b)
		e.u32(0)
		for i, a := range t.attrs {
			tok := byte(0x06)
			if i < len(t.attrs)-1 {
				tok = 0x46
			}
			e.u8(tok)
			e.name(a.name)
			if a.sub >= 0 {
				e.substitution(a.sub, a.typ)
			} else {
				e.text(a.text)
			}
		}
		e.patch32(alAt, uint32(len(e.b)-alAt-4))
	}
	if len(t.children) == 0 {
		e.u8(0x03)
	} else {
		e.u8(0x02)
		for _, c := range t.children {
			switch {
			case c.elem != nil:
				e.element(c.elem)
			case c.sub >= 0:
				e.substitution(c.sub, c.typ)
			default:
				e.text(c.text)
			}
		}
		e.u8(0x04)
	}
	e.patch32(lenAt, uint32(len(e.b)-lenAt-4))
}

// substitution writes an optional substitution, as Windows does for nearly
// every template value.
func (e *recordEncoder) substitution(i int, t ValueType) {
	e.u8(0x0e)
	e.u16(uint16(i))
	e.u8(byte(t))
}

func (e *recordEncoder) text(s string) {
	units := utf16.Encode([]rune(s))
	e.u8(0x05)
	e.u8(0x01)
	e.u16(uint16(len(units)))
	for _, u := range units {
		e.u16(u)
	}
}

func (e *recordEncoder) systemValues(ev *Event, id uint64) ([]value, error) {
	s := &ev.System
	index, count := payloadIndex(ev)
	v := make([]value, count) // unset values are NULL
	v[subLevel] = value{typ: UInt8, data: []byte{s.Level}}
	v[subOpcode] = value{typ: UInt8, data: []byte{s.Opcode}}
	v[subTask] = value{typ: UInt16, data: leBytes(uint64(s.Task), 2)}
	v[subEventID] = value{typ: UInt16, data: leBytes(uint64(s.EventID), 2)}
	if s.HasQualifiers {
		v[subQualifiers] = value{typ: UInt16, data: leBytes(uint64(s.Qualifiers), 2)}
	}
	v[subKeywords] = value{typ: HexInt64, data: leBytes(s.Keywords, 8)}
	v[subTimeCreated] = value{typ: FileTime, data: leBytes(fileTime(s.TimeCreated), 8)}
	for _, a := range []struct {
		i   int
		txt string
	}{{subActivityID, s.ActivityID}, {subRelatedActivityID, s.RelatedActivityID}} {
		if a.txt != "" {
			b, err := encodeGUID(a.txt)
			if err != nil {
				return nil, fmt.Errorf("activity id %q: %w", a.txt, err)
			}
			v[a.i] = value{typ: GUID, data: b}
		}
	}
	v[subProcessID] = value{typ: UInt32, data: leBytes(uint64(s.ProcessID), 4)}
	v[subThreadID] = value{typ: UInt32, data: leBytes(uint64(s.ThreadID), 4)}
	if e.c.keepIDs && s.EventRecordID != 0 {
		id = s.EventRecordID
	}
	v[subRecordID] = value{typ: UInt64, data: leBytes(id, 8)}
	v[subVersion] = value{typ: UInt8, data: []byte{s.Version}}
	if s.UserID != "" {
		b, err := encodeSID(s.UserID)
		if err != nil {
			return nil, fmt.Errorf("user SID %q: %w", s.UserID, err)
		}
		v[subUserID] = value{typ: SID, data: b}
	}

	var inner *template
	var enc []value
	if ev.Classic {
		if ev.UserData != nil {
			return nil, errors.New("a classic event has no UserData")
		}
		inner = classicTemplate
		enc = make([]value, 3)
		if len(ev.Data) > 0 {
			var arr []byte
			for _, d := range ev.Data {
				if d.typ() != String {
					return nil, fmt.Errorf("classic event data %q: only strings are allowed", d.Text)
				}
				arr = append(arr, utf16le(d.Text)...)
				arr = append(arr, 0, 0)
			}
			enc[0] = value{typ: StringArray, data: arr}
		}
		enc[1] = value{typ: UInt32, data: leBytes(0, 4)}
		if ev.Binary != nil {
			enc[2] = value{typ: Binary, data: ev.Binary}
		}
	} else {
		if ev.Binary != nil && ev.UserData != nil {
			return nil, errors.New("Binary goes with EventData, not UserData")
		}
		var vals []Value
		inner, vals = payloadTemplate(ev)
		enc = make([]value, len(vals))
		for i, d := range vals {
			b, err := d.encode()
			if err != nil {
				return nil, err
			}
			enc[i] = value{typ: d.typ(), data: b}
		}
		if ev.Binary != nil {
			enc = append(enc, value{typ: Binary, data: ev.Binary})
		}
	}
	v[index] = value{typ: BinXML, nested: func() error {
		if ev.System.Channel == "Security" {
			// The Security log writes the nested value as a bare template
			// instance and EOF, without a fragment header (5,225 of 5,229
			// records in RathbunVM Security.evtx); other logs mostly write
			// the header. Parsers must take both.
			if err := e.instance(inner, func() ([]value, error) { return enc, nil }); err != nil {
				return err
			}
			e.u8(0x00)
			return nil
		}
		return e.fragment(inner, func() ([]value, error) { return enc, nil })
	}}
	return v, nil
}

// System holds an event's System values, with the field names of
// parser.System so tests can compare the two field by field.
type System struct {
	Provider        string // Provider/@Name
	ProviderGUID    string // Provider/@Guid, "{…}" upper-case, or empty
	EventSourceName string // Provider/@EventSourceName, or empty

	EventID       uint16
	Qualifiers    uint16
	HasQualifiers bool // classic events: EventID/@Qualifiers is written
	Version       uint8
	Level         uint8
	Task          uint16
	Opcode        uint8
	Keywords      uint64

	TimeCreated   time.Time // also the record's written time
	EventRecordID uint64    // set by Scenario.Files; written only with Options.KeepEventRecordIDs

	ActivityID        string // Correlation/@ActivityID, or empty
	RelatedActivityID string
	ProcessID         uint32
	ThreadID          uint32

	Channel  string
	Computer string
	UserID   string // Security/@UserID SID, or empty (no attribute)
}
