package parser

import (
	"encoding/binary"
	"hash/crc32"
	"unicode/utf16"
)

// chunkBuilder writes a synthetic chunk byte by byte, so tests can exercise
// every token and value type without other projects' sample files. Offsets
// are chunk offsets, as BinXML needs them.
type chunkBuilder struct {
	b        []byte
	sizes    []int // element size fields waiting for their end
	records  []int // record start offsets
	firstID  uint64
	lastID   uint64
	lastRec  int
	tmplSize int // template data-size field waiting for its end
}

func newChunkBuilder() *chunkBuilder {
	cb := &chunkBuilder{b: make([]byte, chunkHeaderSize)}
	copy(cb.b, chunkSignature)
	return cb
}

func (cb *chunkBuilder) pos() int      { return len(cb.b) }
func (cb *chunkBuilder) u8(v byte)     { cb.b = append(cb.b, v) }
func (cb *chunkBuilder) u16(v uint16)  { cb.b = binary.LittleEndian.AppendUint16(cb.b, v) }
func (cb *chunkBuilder) u32(v uint32)  { cb.b = binary.LittleEndian.AppendUint32(cb.b, v) }
func (cb *chunkBuilder) u64(v uint64)  { cb.b = binary.LittleEndian.AppendUint64(cb.b, v) }
func (cb *chunkBuilder) raw(b ...byte) { cb.b = append(cb.b, b...) }
func (cb *chunkBuilder) patch32(at, v int) {
	binary.LittleEndian.PutUint32(cb.b[at:], uint32(v))
}

func utf16le(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return b
}

// name writes a name reference defined inline; it returns its offset so a
// later reference can point back at it.
func (cb *chunkBuilder) name(s string) uint32 {
	off := uint32(cb.pos() + 4)
	cb.u32(off)
	cb.u32(0) // next entry in the hash bucket
	var h uint32
	for _, u := range utf16.Encode([]rune(s)) {
		h = h*65599 + uint32(u)
	}
	cb.u16(uint16(h))
	cb.u16(uint16(len(utf16.Encode([]rune(s)))))
	cb.raw(utf16le(s)...)
	cb.u16(0)
	return off
}

// open starts an element; withDep writes a dependency id (template bodies).
func (cb *chunkBuilder) open(name string, dep int, attrs bool) {
	tok := byte(tokOpenStart)
	if attrs {
		tok |= tokMoreBit
	}
	cb.u8(tok)
	if dep >= 0 {
		cb.u16(uint16(dep))
	}
	cb.sizes = append(cb.sizes, cb.pos())
	cb.u32(0)
	cb.name(name)
	if attrs {
		cb.u32(0) // attribute list length (not relied upon)
	}
}

func (cb *chunkBuilder) attr(name string, more bool) {
	t := byte(tokAttribute)
	if more {
		t |= tokMoreBit
	}
	cb.u8(t)
	cb.name(name)
}

func (cb *chunkBuilder) text(s string) {
	cb.u8(tokValue)
	cb.u8(typeString)
	cb.u16(uint16(len(utf16.Encode([]rune(s)))))
	cb.raw(utf16le(s)...)
}

func (cb *chunkBuilder) subst(idx int, typ byte, optional bool) {
	t := byte(tokSubst)
	if optional {
		t = tokOptSubst
	}
	cb.u8(t)
	cb.u16(uint16(idx))
	cb.u8(typ)
}

func (cb *chunkBuilder) closeStart() { cb.u8(tokCloseStart) }

// closeEmpty ends an element start with "/>", closeEnd with "</x>".
func (cb *chunkBuilder) closeEmpty() { cb.u8(tokCloseEmpty); cb.endSize() }
func (cb *chunkBuilder) closeEnd()   { cb.u8(tokEnd); cb.endSize() }

func (cb *chunkBuilder) endSize() {
	at := cb.sizes[len(cb.sizes)-1]
	cb.sizes = cb.sizes[:len(cb.sizes)-1]
	cb.patch32(at, cb.pos()-at-4)
}

func (cb *chunkBuilder) fragmentHeader() { cb.raw(tokFragment, 1, 1, 0) }

// beginRecord starts a record; endRecord closes it (size and size copy).
func (cb *chunkBuilder) beginRecord(id uint64, written uint64) {
	cb.records = append(cb.records, cb.pos())
	cb.raw([]byte(recordSignature)...)
	cb.u32(0)
	cb.u64(id)
	cb.u64(written)
	if cb.firstID == 0 {
		cb.firstID = id
	}
	cb.lastID = id
}

func (cb *chunkBuilder) endRecord() {
	start := cb.records[len(cb.records)-1]
	for (cb.pos()+4-start)%8 != 0 {
		cb.u8(0) // pad to a multiple of 8 as Windows does
	}
	size := cb.pos() + 4 - start
	cb.u32(uint32(size))
	cb.patch32(start+4, size)
	cb.lastRec = start
}

// beginTemplate writes a template instance with an inline definition; the
// body follows (fragment header, element tree, EOF) and endTemplate closes
// the definition. Values are written with values.
func (cb *chunkBuilder) beginTemplate(guid [16]byte) (defOff int) {
	cb.u8(tokTemplate)
	cb.u8(1)
	cb.raw(guid[:4]...)
	defOff = cb.pos() + 4
	cb.u32(uint32(defOff))
	cb.u32(0) // next definition
	cb.raw(guid[:]...)
	cb.tmplSize = cb.pos()
	cb.u32(0)
	cb.fragmentHeader()
	return defOff
}

func (cb *chunkBuilder) endTemplate() {
	cb.u8(tokEOF)
	cb.patch32(cb.tmplSize, cb.pos()-cb.tmplSize-4)
}

// refTemplate writes a template instance referring to a definition earlier
// in the chunk (at the offset of its definition header).
func (cb *chunkBuilder) refTemplate(defOff int, id uint32) {
	cb.u8(tokTemplate)
	cb.u8(1)
	cb.u32(id)
	cb.u32(uint32(defOff))
}

type tv struct {
	typ  byte
	data []byte
}

func (cb *chunkBuilder) values(vs ...tv) {
	cb.u32(uint32(len(vs)))
	for _, v := range vs {
		cb.u16(uint16(len(v.data)))
		cb.u8(v.typ)
		cb.u8(0)
	}
	for _, v := range vs {
		cb.raw(v.data...)
	}
}

// finish pads the chunk and fills the header (ids, offsets, checksums).
func (cb *chunkBuilder) finish() []byte {
	free := cb.pos()
	c := make([]byte, chunkSize)
	copy(c, cb.b)
	le := binary.LittleEndian
	le.PutUint64(c[8:], cb.firstID)
	le.PutUint64(c[16:], cb.lastID)
	le.PutUint64(c[24:], cb.firstID)
	le.PutUint64(c[32:], cb.lastID)
	le.PutUint32(c[40:], 128)
	le.PutUint32(c[44:], uint32(cb.lastRec))
	le.PutUint32(c[48:], uint32(free))
	le.PutUint32(c[52:], crc32.ChecksumIEEE(c[chunkHeaderSize:free]))
	le.PutUint32(c[124:], chunkHeaderCRC(c))
	return c
}

// buildFile joins a file header and chunks into an .evtx image.
func buildFile(chunks ...[]byte) []byte {
	h := make([]byte, fileHeaderBlock)
	copy(h, fileSignature)
	le := binary.LittleEndian
	le.PutUint64(h[16:], uint64(max(0, len(chunks)-1)))
	le.PutUint32(h[32:], 128)
	le.PutUint16(h[36:], 1)
	le.PutUint16(h[38:], 3)
	le.PutUint16(h[40:], fileHeaderBlock)
	le.PutUint16(h[42:], uint16(len(chunks)))
	le.PutUint32(h[124:], crc32.ChecksumIEEE(h[:120]))
	for _, c := range chunks {
		h = append(h, c...)
	}
	return h
}
