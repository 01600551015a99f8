package parser

import (
	"encoding/binary"
	"strconv"
	"unicode/utf8"
)

// BinXML tokens (MS-EVEN6 §2.2.12). Bit 0x40 is "more data / has
// attributes"; the base token is the byte with it cleared.
const (
	tokEOF          = 0x00
	tokOpenStart    = 0x01
	tokCloseStart   = 0x02
	tokCloseEmpty   = 0x03
	tokEnd          = 0x04
	tokValue        = 0x05
	tokAttribute    = 0x06
	tokCDATA        = 0x07
	tokCharRef      = 0x08
	tokEntityRef    = 0x09
	tokPITarget     = 0x0A
	tokPIData       = 0x0B
	tokTemplate     = 0x0C
	tokSubst        = 0x0D
	tokOptSubst     = 0x0E
	tokFragment     = 0x0F
	tokMoreBit      = 0x40
	noDependency    = 0xFFFF
	maxElementDepth = 256 // open elements across nested fragments
	maxNesting      = 32  // template instances / 0x21 fragments inside each other
)

// Kinds of a part: a piece of element content or attribute value in a
// parsed (static) BinXML tree.
const (
	partText     = iota // literal text (unescaped)
	partEntity          // &name;
	partCharRef         // &#N;
	partCDATA           // <![CDATA[…]]>
	partPI              // <?target data?>
	partSubst           // normal substitution
	partOptSubst        // optional substitution
	partElement         // child element
	partInstance        // template instance (outside template bodies)
)

// A part is one item of element content or of an attribute value.
type part struct {
	kind  uint8
	vtype uint8  // declared value type of a substitution
	index uint16 // substitution index
	text  string // text, entity name, CDATA, PI target
	text2 string // PI data
	r     rune   // character reference
	elem  *element
	inst  *instance
}

// An element is a parsed element: from a template body (with substitution
// parts) or from the record stream (literal only).
type element struct {
	name    string
	depID   uint16 // dependency id: index of a value that, when NULL, drops this element
	attrs   []attribute
	content []part
}

type attribute struct {
	name  string
	parts []part
}

// A template is a parsed template definition, cached per chunk by offset.
type template struct {
	id    uint32
	guid  [16]byte
	parts []part   // the fragment body
	err   error    // why it could not be parsed (the template is unusable)
	last  []string // last rendering of each value index (see renderState.intern)
	// shared marks a template of the file-wide fallback store, read by all
	// workers: it must not be written after the store is built.
	shared bool
	// plan is the compiled form (see compiled.go), built on first use;
	// nil when the template's shape is left to the general path.
	plan    *plan
	planned bool
}

// An instance is a template instance: the template and its value table.
type instance struct {
	tmpl   *template
	values []value
}

// A value is one substitution value, by position in the chunk.
type value struct {
	typ       byte
	off, size int
}

// A cursor reads BinXML tokens from chunk bytes in [pos, end). Positions are
// chunk offsets, as BinXML offsets are.
type cursor struct {
	pos, end   int
	inTemplate bool // element starts carry a dependency id; substitutions allowed
	depth      int  // open elements
	nesting    int  // fragments / instances inside each other
}

// decoder decodes the BinXML of one chunk. It caches names and templates by
// chunk offset; it is owned by one goroutine.
type decoder struct {
	data      []byte // the whole chunk
	names     map[uint32]nameEntry
	templates map[uint32]*template
	depRetry  int // element starts that needed the other dependency-id layout
	// strict is set while decoding carved records: their name and template
	// references may point at space reused since, so names must match their
	// stored hash and templates their instance id, or the record is lost.
	strict bool
	// fallbacks counts carved records rendered with a template found by id
	// rather than at the offset they name.
	fallbacks int
	// global is the file-wide store of templates by id, built before
	// decoding (Recover only) and read-only afterwards.
	global       map[uint32]*template
	tableScanned bool // scanTemplateTable ran for this chunk

	// Per-record arenas for template instances and their value tables:
	// they live only while one record is rendered (templates never hold
	// instances), so they are recycled with recordDone.
	instSlab  []instance
	instN     int
	valBlock  []value
	partArena []part
	stack     []part // see content

	// known holds this worker's parsed templates across chunks (see
	// knownTemplate); knownBytes bounds the body bytes it keeps.
	known      map[templateKey]*knownTemplate
	knownBytes int
	noReuse    bool // never reuse a template (tests)
	// While a template body is parsed (bodyStart > 0), refs records every
	// name reference in it.
	bodyStart int
	refs      []nameRef
}

// A templateKey names a template definition by what a chunk says of it.
type templateKey struct {
	guid [16]byte
	size uint32
}

// A knownTemplate is a parsed template with what its parse depended on:
// the body bytes and how each name reference in it resolved.
type knownTemplate struct {
	body []byte
	refs []nameRef
	t    *template
}

// Kinds of a name reference in a template body.
const (
	refInline   = iota // the name entry follows the reference
	refInternal        // an entry defined earlier in the body
	refExternal        // an entry defined before the body, elsewhere in the chunk
)

// A nameRef is a name reference at body offset rel.
type nameRef struct {
	rel    int
	kind   uint8
	target int    // refInternal: the entry's body offset
	s      string // refInternal, refExternal: the name
}

// maxKnownBytes bounds the template bodies a worker keeps across chunks.
const maxKnownBytes = 8 << 20

// newInstance returns an instance with n zeroed values from the arenas.
func (d *decoder) newInstance(t *template, n int) *instance {
	if d.instN == len(d.instSlab) {
		d.instSlab = make([]instance, max(64, 2*len(d.instSlab)))
		d.instN = 0
	}
	in := &d.instSlab[d.instN]
	d.instN++
	if cap(d.valBlock)-len(d.valBlock) < n {
		d.valBlock = make([]value, 0, max(1024, n))
	}
	start := len(d.valBlock)
	d.valBlock = d.valBlock[:start+n]
	in.tmpl, in.values = t, d.valBlock[start:start+n:start+n]
	clear(in.values)
	return in
}

// recordDone recycles the per-record arenas.
func (d *decoder) recordDone() {
	clear(d.instSlab[:d.instN])
	d.instN = 0
	d.valBlock = d.valBlock[:0]
	clear(d.partArena)
	d.partArena = d.partArena[:0]
}

type nameEntry struct {
	s      string
	hashOK bool
}

func newDecoder() *decoder {
	return &decoder{names: make(map[uint32]nameEntry, 64), templates: make(map[uint32]*template, 16)}
}

// reset prepares the decoder for another chunk.
func (d *decoder) reset(data []byte) {
	d.data = data
	clear(d.names)
	clear(d.templates)
	d.depRetry = 0
	d.tableScanned = false
	d.stack = d.stack[:0] // normally empty; not after a recovered panic
	d.recordDone()
}

func (d *decoder) u8(c *cursor) (byte, error) {
	if c.pos >= c.end {
		return 0, errAt(ErrTruncated, "token", c.pos)
	}
	b := d.data[c.pos]
	c.pos++
	return b, nil
}

func (d *decoder) u16(c *cursor) (uint16, error) {
	if c.end-c.pos < 2 {
		return 0, errAt(ErrTruncated, "16-bit field", c.pos)
	}
	v := binary.LittleEndian.Uint16(d.data[c.pos:])
	c.pos += 2
	return v, nil
}

func (d *decoder) u32(c *cursor) (uint32, error) {
	if c.end-c.pos < 4 {
		return 0, errAt(ErrTruncated, "32-bit field", c.pos)
	}
	v := binary.LittleEndian.Uint32(d.data[c.pos:])
	c.pos += 4
	return v, nil
}

// utf16String reads n UTF-16 units at the cursor.
func (d *decoder) utf16String(c *cursor, n int) (string, error) {
	if (c.end-c.pos)/2 < n {
		return "", errAt(ErrTruncated, "string of "+strconv.Itoa(n)+" characters", c.pos)
	}
	b := d.data[c.pos : c.pos+2*n]
	c.pos += 2 * n
	return utf16ToString(b), nil
}

// utf16ToString converts UTF-16LE (not NUL-terminated) to a string. Runs of
// ASCII avoid a scratch buffer.
func utf16ToString(b []byte) string {
	ascii := true
	for i := 0; i+1 < len(b); i += 2 {
		if b[i+1] != 0 || b[i] >= 0x80 || b[i] == 0 {
			ascii = false
			break
		}
	}
	if ascii {
		buf := make([]byte, len(b)/2)
		for i := range buf {
			buf[i] = b[2*i]
		}
		return string(buf)
	}
	return string(appendUTF16(make([]byte, 0, len(b)), b))
}

// name reads a name reference: a chunk offset that either points at the
// current position (the entry follows inline and is skipped) or back at an
// entry defined earlier in the chunk.
func (d *decoder) name(c *cursor) (string, error) {
	at := c.pos
	off, err := d.u32(c)
	if err != nil {
		return "", err
	}
	if int(off) == c.pos {
		s, size, err := d.nameAt(off)
		if err != nil {
			return "", err
		}
		if c.end-c.pos < size {
			return "", errAt(ErrTruncated, "inline name", c.pos)
		}
		c.pos += size
		if d.bodyStart > 0 {
			d.refs = append(d.refs, nameRef{rel: at - d.bodyStart, kind: refInline})
		}
		return s, nil
	}
	if int(off) >= at {
		// A name is defined at its first use, so a forward reference is damage.
		return "", errAt(ErrBadToken, "name offset 0x"+strconv.FormatUint(uint64(off), 16)+" points forward", at)
	}
	s, _, err := d.nameAt(off)
	if err == nil && d.bodyStart > 0 {
		if int(off) >= d.bodyStart {
			d.refs = append(d.refs, nameRef{rel: at - d.bodyStart, kind: refInternal, target: int(off) - d.bodyStart, s: s})
		} else {
			d.refs = append(d.refs, nameRef{rel: at - d.bodyStart, kind: refExternal, s: s})
		}
	}
	return s, err
}

// nameAt decodes (and caches) the name entry at a chunk offset: next-link
// u32, hash u16, count u16, UTF-16 text, NUL. It returns the entry size.
func (d *decoder) nameAt(off uint32) (string, int, error) {
	o := int(off)
	if o < 0 || o > len(d.data)-8 {
		return "", 0, errAt(ErrTruncated, "name entry", o)
	}
	n := int(binary.LittleEndian.Uint16(d.data[o+6:]))
	size := 8 + 2*n + 2
	if size > len(d.data)-o {
		return "", 0, errAt(ErrTruncated, "name of "+strconv.Itoa(n)+" characters", o)
	}
	ne, ok := d.names[off]
	if !ok {
		text := d.data[o+8 : o+8+2*n]
		var h uint32
		for i := 0; i < len(text); i += 2 {
			h = h*65599 + uint32(binary.LittleEndian.Uint16(text[i:]))
		}
		ne = nameEntry{s: utf16ToString(text), hashOK: uint16(h) == binary.LittleEndian.Uint16(d.data[o+4:])}
		d.names[off] = ne
	}
	if d.strict && !ne.hashOK {
		return "", 0, errAt(ErrBadToken, "name entry hash mismatch (space reused since the record was written)", o)
	}
	return ne.s, size, nil
}

// fragment parses a BinXML fragment up to EOF or the end of the cursor:
// fragment headers, PIs, and the root element or template instance.
func (d *decoder) fragment(c *cursor) ([]part, error) {
	if c.nesting++; c.nesting > maxNesting {
		return nil, errAt(ErrTooDeep, "fragment", c.pos)
	}
	defer func() { c.nesting-- }()
	return d.content(c, true)
}

// content parses tokens into parts until the end of the element (the end
// token is consumed) or, at the top of a fragment, until EOF.
func (d *decoder) content(c *cursor, top bool) ([]part, error) {
	// Parts are collected on a stack shared by the recursion (element
	// content nests), then copied out: exactly sized for templates, which
	// live as long as the chunk, into the per-record arena otherwise.
	mark := len(d.stack)
	err := d.parseContent(c, top)
	parts := d.stack[mark:]
	var out []part
	if c.inTemplate {
		out = append([]part(nil), parts...)
	} else {
		start := len(d.partArena)
		if cap(d.partArena)-start < len(parts) {
			d.partArena = make([]part, 0, max(256, len(parts)))
			start = 0
		}
		d.partArena = append(d.partArena, parts...)
		out = d.partArena[start : start+len(parts) : start+len(parts)]
	}
	clear(parts)
	d.stack = d.stack[:mark]
	return out, err
}

// parseContent parses like content, pushing the parts on d.stack.
func (d *decoder) parseContent(c *cursor, top bool) error {
	for c.pos < c.end {
		at := c.pos
		tok := d.data[c.pos]
		c.pos++
		switch tok &^ tokMoreBit {
		case tokEOF:
			if top {
				return nil
			}
			return errAt(ErrBadToken, "end of data inside an element", at)
		case tokEnd:
			if top {
				return errAt(ErrBadToken, "end-element token outside an element", at)
			}
			return nil
		case tokFragment:
			if c.end-c.pos < 3 {
				return errAt(ErrTruncated, "fragment header", at)
			}
			c.pos += 3
		case tokOpenStart:
			e, err := d.element(c, tok)
			if err != nil {
				return err
			}
			d.stack = append(d.stack, part{kind: partElement, elem: e})
		case tokValue:
			if c.end-c.pos < 3 {
				return errAt(ErrTruncated, "value text", at)
			}
			c.pos++ // value type: string in practice
			n, _ := d.u16(c)
			s, err := d.utf16String(c, int(n))
			if err != nil {
				return err
			}
			d.stack = append(d.stack, part{kind: partText, text: s})
		case tokCDATA:
			n, err := d.u16(c)
			if err != nil {
				return err
			}
			s, err := d.utf16String(c, int(n))
			if err != nil {
				return err
			}
			d.stack = append(d.stack, part{kind: partCDATA, text: s})
		case tokCharRef:
			n, err := d.u16(c)
			if err != nil {
				return err
			}
			d.stack = append(d.stack, part{kind: partCharRef, r: rune(n)})
		case tokEntityRef:
			s, err := d.name(c)
			if err != nil {
				return err
			}
			d.stack = append(d.stack, part{kind: partEntity, text: s})
		case tokPITarget:
			s, err := d.name(c)
			if err != nil {
				return err
			}
			p := part{kind: partPI, text: s}
			if c.pos < c.end && d.data[c.pos] == tokPIData {
				c.pos++
				n, err := d.u16(c)
				if err != nil {
					return err
				}
				if p.text2, err = d.utf16String(c, int(n)); err != nil {
					return err
				}
			}
			d.stack = append(d.stack, p)
		case tokSubst, tokOptSubst:
			if c.end-c.pos < 3 {
				return errAt(ErrTruncated, "substitution", at)
			}
			idx, _ := d.u16(c)
			t, _ := d.u8(c)
			if !c.inTemplate {
				return errAt(ErrBadToken, "substitution outside a template", at)
			}
			k := uint8(partSubst)
			if tok == tokOptSubst {
				k = partOptSubst
			}
			d.stack = append(d.stack, part{kind: k, index: idx, vtype: t})
		case tokTemplate:
			if c.inTemplate {
				return errAt(ErrBadToken, "template instance inside a template definition", at)
			}
			in, err := d.instance(c)
			if err != nil {
				return err
			}
			d.stack = append(d.stack, part{kind: partInstance, inst: in})
		default:
			return errAt(ErrBadToken, "unknown token 0x"+strconv.FormatUint(uint64(tok), 16), at)
		}
	}
	if top {
		return nil // a missing EOF at the very end is tolerated
	}
	return errAt(ErrTruncated, "element content", c.pos)
}

// element parses an element start (the token byte already read), its
// attributes and its content.
func (d *decoder) element(c *cursor, tok byte) (*element, error) {
	if c.depth++; c.depth > maxElementDepth {
		return nil, errAt(ErrTooDeep, "element", c.pos)
	}
	defer func() { c.depth-- }()
	start := c.pos - 1
	e := &element{depID: noDependency}
	// The dependency id is present in template bodies and absent elsewhere
	// (§2.3), but third-party writers break the rule: if the layout fails
	// its sanity checks, retry with the other one.
	hasDep := c.inTemplate
	if !d.plausibleStart(c.pos, c.end, hasDep) && d.plausibleStart(c.pos, c.end, !hasDep) {
		hasDep = !hasDep
		d.depRetry++
	}
	if hasDep {
		dep, err := d.u16(c)
		if err != nil {
			return nil, err
		}
		e.depID = dep
	}
	size, err := d.u32(c)
	if err != nil {
		return nil, err
	}
	if int64(size) > int64(c.end-c.pos) {
		return nil, errAt(ErrTruncated, "element of "+strconv.FormatUint(uint64(size), 10)+" bytes", start)
	}
	if e.name, err = d.name(c); err != nil {
		return nil, err
	}
	if tok&tokMoreBit != 0 {
		if _, err := d.u32(c); err != nil { // attribute list length: a claim we bound-check by parsing
			return nil, err
		}
	}
	for c.pos < c.end && d.data[c.pos]&^tokMoreBit == tokAttribute {
		c.pos++
		var a attribute
		if a.name, err = d.name(c); err != nil {
			return nil, err
		}
		if a.parts, err = d.attrValue(c); err != nil {
			return nil, err
		}
		e.attrs = append(e.attrs, a)
	}
	if c.pos >= c.end {
		return nil, errAt(ErrTruncated, "element start", start)
	}
	switch d.data[c.pos] {
	case tokCloseEmpty:
		c.pos++
		return e, nil
	case tokCloseStart:
		c.pos++
		e.content, err = d.content(c, false)
		return e, err
	}
	return nil, errAt(ErrBadToken, "element start not closed (token 0x"+strconv.FormatUint(uint64(d.data[c.pos]), 16)+")", c.pos)
}

// plausibleStart checks an element-start layout at pos: the byte length
// must fit and the name offset must be inline or point backwards.
func (d *decoder) plausibleStart(pos, end int, hasDep bool) bool {
	if hasDep {
		pos += 2
	}
	if end-pos < 8 {
		return false
	}
	size := int64(binary.LittleEndian.Uint32(d.data[pos:]))
	nameOff := int(binary.LittleEndian.Uint32(d.data[pos+4:]))
	if size > int64(end-pos-4) {
		return false
	}
	return nameOff == pos+8 || (nameOff < pos && nameOff >= 0)
}

// attrValue parses the value tokens of an attribute.
func (d *decoder) attrValue(c *cursor) ([]part, error) {
	var parts []part
	for c.pos < c.end {
		at := c.pos
		tok := d.data[c.pos]
		switch tok &^ tokMoreBit {
		case tokValue:
			c.pos++
			if c.end-c.pos < 3 {
				return parts, errAt(ErrTruncated, "value text", at)
			}
			c.pos++
			n, _ := d.u16(c)
			s, err := d.utf16String(c, int(n))
			if err != nil {
				return parts, err
			}
			parts = append(parts, part{kind: partText, text: s})
		case tokSubst, tokOptSubst:
			c.pos++
			if c.end-c.pos < 3 {
				return parts, errAt(ErrTruncated, "substitution", at)
			}
			idx, _ := d.u16(c)
			t, _ := d.u8(c)
			if !c.inTemplate {
				return parts, errAt(ErrBadToken, "substitution outside a template", at)
			}
			k := uint8(partSubst)
			if tok == tokOptSubst {
				k = partOptSubst
			}
			parts = append(parts, part{kind: k, index: idx, vtype: t})
		case tokCharRef:
			c.pos++
			n, err := d.u16(c)
			if err != nil {
				return parts, err
			}
			parts = append(parts, part{kind: partCharRef, r: rune(n)})
		case tokEntityRef:
			c.pos++
			s, err := d.name(c)
			if err != nil {
				return parts, err
			}
			parts = append(parts, part{kind: partEntity, text: s})
		default:
			return parts, nil
		}
	}
	return parts, nil
}

// Template definition header: next offset u32, GUID, data size u32.
const templateHeaderSize = 24

// instance parses a template instance (the 0x0C byte already read): the
// template reference (and the inline definition, skipped), then the value
// descriptors and values.
func (d *decoder) instance(c *cursor) (*instance, error) {
	start := c.pos - 1
	if c.nesting++; c.nesting > maxNesting {
		return nil, errAt(ErrTooDeep, "template instance", start)
	}
	defer func() { c.nesting-- }()
	if c.end-c.pos < 9 {
		return nil, errAt(ErrTruncated, "template instance", start)
	}
	c.pos++ // unknown byte, 0x01 in practice
	id, _ := d.u32(c)
	defOff, _ := d.u32(c)
	if int(defOff) == c.pos {
		// Defined inline at its first use: skip the definition.
		if c.end-c.pos < templateHeaderSize {
			return nil, errAt(ErrTruncated, "template definition", c.pos)
		}
		size := int64(binary.LittleEndian.Uint32(d.data[c.pos+20:]))
		if size > int64(c.end-c.pos-templateHeaderSize) {
			return nil, errAt(ErrTruncated, "template definition of "+strconv.FormatInt(size, 10)+" bytes", c.pos)
		}
		c.pos += templateHeaderSize + int(size)
	}
	t := d.template(defOff, id)
	if d.strict && (t.err != nil || binary.LittleEndian.Uint32(t.guid[:4]) != id) {
		// A carved record's template may have been overwritten since; the
		// chunk usually defines the same template (same GUID) elsewhere.
		if alt := d.templateByID(id); alt != nil {
			t = alt
			d.fallbacks++
		} else if t.err == nil {
			return nil, errAt(ErrNoTemplate, "template at 0x"+strconv.FormatUint(uint64(defOff), 16)+" is not the one the record names (space reused) and the chunk defines no template with id 0x"+strconv.FormatUint(uint64(id), 16), start)
		}
	}
	if t.err != nil {
		return nil, t.err
	}
	n, err := d.u32(c)
	if err != nil {
		return nil, err
	}
	if int64(n) > int64((c.end-c.pos)/4) {
		return nil, errAt(ErrTruncated, strconv.FormatUint(uint64(n), 10)+" template values", c.pos)
	}
	in := d.newInstance(t, int(n))
	desc := c.pos
	c.pos += 4 * int(n)
	for i := range in.values {
		size := int(binary.LittleEndian.Uint16(d.data[desc+4*i:]))
		typ := d.data[desc+4*i+2]
		if size > c.end-c.pos {
			return nil, errAt(ErrTruncated, "template value "+strconv.Itoa(i)+" of "+strconv.Itoa(size)+" bytes", c.pos)
		}
		in.values[i] = value{typ: typ, off: c.pos, size: size}
		c.pos += size
	}
	return in, nil
}

// templateByID returns a usable template of this chunk whose GUID starts
// with id (the instance's template id is the GUID's first 32 bits), or nil
// when none or several different ones match.
func (d *decoder) templateByID(id uint32) *template {
	if !d.tableScanned {
		d.scanTemplateTable()
	}
	// Several definitions of one GUID can sit in a chunk (with different
	// bodies, in a damaged or crafted one): the lowest offset wins, so the
	// choice does not depend on map order.
	var found *template
	var foundOff uint32
	for off, t := range d.templates {
		if t.err != nil || binary.LittleEndian.Uint32(t.guid[:4]) != id {
			continue
		}
		if found != nil && found.guid != t.guid {
			return nil
		}
		if found == nil || off < foundOff {
			found, foundOff = t, off
		}
	}
	if found == nil {
		// Another chunk's definition: parsed templates hold their names
		// as strings, so they do not depend on the chunk they came from.
		found = d.global[id]
	}
	return found
}

// scanTemplateTable parses every template the chunk header's template
// table (32 hash buckets, each a chain by next-offset) points at, so a
// carved record can find its template by id even when no allocated record
// of the chunk used it. Chains are walked with a bound and a visited check:
// a crafted chain may loop.
func (d *decoder) scanTemplateTable() {
	d.tableScanned = true
	if len(d.data) < chunkHeaderSize {
		return
	}
	for slot := 0; slot < 32; slot++ {
		off := binary.LittleEndian.Uint32(d.data[384+4*slot:])
		for steps := 0; off != 0 && steps < 256; steps++ {
			if _, seen := d.templates[off]; seen {
				break
			}
			t := d.template(off, 0)
			if t.err != nil || int(off) > len(d.data)-4 {
				break
			}
			off = binary.LittleEndian.Uint32(d.data[off:])
		}
	}
}

// template returns the parsed template defined at a chunk offset, parsing
// and caching it on first use. Failures are cached as well.
func (d *decoder) template(off uint32, id uint32) *template {
	if t, ok := d.templates[off]; ok {
		return t
	}
	t := &template{id: id}
	d.templates[off] = t
	o := int(off)
	if o < chunkHeaderSize || o > len(d.data)-templateHeaderSize {
		t.err = errAt(ErrNoTemplate, "template offset outside the chunk", o)
		return t
	}
	copy(t.guid[:], d.data[o+4:o+20])
	size := int64(binary.LittleEndian.Uint32(d.data[o+20:]))
	body := o + templateHeaderSize
	if size > int64(len(d.data)-body) || size < 4 {
		t.err = errAt(ErrNoTemplate, "template of "+strconv.FormatInt(size, 10)+" bytes", o)
		return t
	}
	if d.data[body] != tokFragment {
		t.err = errAt(ErrNoTemplate, "template body does not start with a fragment header", body)
		return t
	}
	key := templateKey{guid: t.guid, size: uint32(size)}
	bodyBytes := d.data[body : body+int(size)]
	if known := d.knownTemplate(key, bodyBytes, body); known != nil {
		d.templates[off] = known
		return known
	}
	c := &cursor{pos: body, end: body + int(size), inTemplate: true}
	d.bodyStart, d.refs = body, d.refs[:0]
	t.parts, t.err = d.fragment(c)
	d.bodyStart = 0
	if t.err != nil {
		t.err = errAt(ErrNoTemplate, "template: "+t.err.Error(), o)
		return t
	}
	d.remember(key, bodyBytes, t)
	return t
}

// knownTemplate returns the template this worker parsed in an earlier
// chunk from an equivalent definition: same GUID and size, the same body
// bytes except where they hold chunk offsets, and every name reference
// resolving the same way — an inline entry right after the reference, the
// same entry earlier in the body, or a name with the same text defined
// before the body. The parse reads nothing else (an inline entry's
// next-link is never read), so the result is what parsing again would
// give. Most chunks of a log define the same few templates (699 of the 735
// definitions of the largest corpus file have a twin in an earlier chunk),
// so this saves most template parsing. Carved records (strict) always
// parse: their checks differ.
func (d *decoder) knownTemplate(key templateKey, body []byte, bodyStart int) *template {
	if d.strict || d.known == nil || d.noReuse {
		return nil
	}
	k := d.known[key]
	if k == nil {
		return nil
	}
	prev := 0
	for _, r := range k.refs {
		if string(body[prev:r.rel]) != string(k.body[prev:r.rel]) {
			return nil
		}
		v := int(binary.LittleEndian.Uint32(body[r.rel:]))
		prev = r.rel + 4
		switch r.kind {
		case refInline:
			if v != bodyStart+r.rel+4 {
				return nil
			}
			prev += 4 // the entry's next-link, a chunk offset nothing reads
		case refInternal, refExternal:
			// The position relation, then the text: a crafted reference
			// may point into bytes this comparison skips.
			if r.kind == refInternal && v != bodyStart+r.target || r.kind == refExternal && v >= bodyStart {
				return nil
			}
			if s, _, err := d.nameAt(uint32(v)); err != nil || s != r.s {
				return nil
			}
		}
	}
	if string(body[prev:]) != string(k.body[prev:]) {
		return nil
	}
	return k.t
}

// remember keeps a parsed template for later chunks.
func (d *decoder) remember(key templateKey, body []byte, t *template) {
	if d.strict {
		return
	}
	if d.known == nil || d.knownBytes+len(body) > maxKnownBytes {
		d.known, d.knownBytes = make(map[templateKey]*knownTemplate), 0
	}
	d.known[key] = &knownTemplate{body: append([]byte(nil), body...), refs: append([]nameRef(nil), d.refs...), t: t}
	d.knownBytes += len(body)
}

// appendRune appends r as UTF-8, mapping invalid code points to U+FFFD.
func appendRune(dst []byte, r rune) []byte {
	if !utf8.ValidRune(r) {
		r = utf8.RuneError
	}
	return utf8.AppendRune(dst, r)
}
