package parser

import (
	"strconv"
	"strings"
	"unsafe"
)

// Instantiation turns parsed BinXML (templates plus value tables) into the
// output tree the Event and the XML rendering are built from, applying the
// rules Windows applies (§2.7, §2.9):
//   - an attribute whose value renders empty is dropped;
//   - an element whose direct content holds an optional substitution with a
//     NULL value is dropped, and so is an element whose dependency id names
//     a NULL value;
//   - an array value in an element's direct content repeats the element once
//     per item (an empty array gives one empty element); in an attribute the
//     items are joined with ",";
//   - a BinXML value (0x21) is parsed as a nested fragment and spliced in.

// Kinds of output items.
const (
	outElement = iota
	outText
	outEntity
	outCharRef
	outCDATA
	outPI
)

// An onode is an element of the output tree.
type onode struct {
	name  string
	attrs []Field
	items []oitem
}

type oitem struct {
	kind  uint8
	node  *onode
	text  string // text, entity name, CDATA, PI target
	text2 string // PI data
	r     rune
}

// maxOutputItems bounds the output of one record: template reuse can make
// output grow much faster than input (a value referenced many times, nested).
const maxOutputItems = 1 << 15

// Output budgets in bytes (names and text rendered). Items alone do not
// bound memory: a 30,000-character value referenced by 30,000 nested
// template instances is 30,000 items but 900 MB of text. A record stops
// rendering at MaxRecordOutput bytes (the event keeps what was rendered and
// is marked Source.Truncated); once a chunk's records have rendered
// maxChunkOutput bytes, each further record of that chunk gets
// minRecordOutput, so a chunk of small hostile records cannot add up to
// gigabytes either. Real records render a few KiB.
const (
	MaxRecordOutput = 4 << 20
	maxChunkOutput  = 8 << 20
	minRecordOutput = 16 << 10
)

// renderState is the state of rendering one record.
type renderState struct {
	d          *decoder
	items      int      // output items so far, bounded by maxOutputItems
	bytes      int      // output bytes so far (names and text)
	budget     int      // bytes this record may render (0: MaxRecordOutput)
	truncated  bool     // the budget ran out: rendering stopped there
	insertion  []string // values of the first nested (payload) instance
	haveInsert bool
	scratch    []byte
	arr        [][]byte

	// Slabs of output nodes and instance states, reused record after
	// record by one worker: their slices keep their capacity, so a steady
	// stream of records allocates little beyond the Event itself.
	nodes [][]onode
	nodeN int

	insts []*instState
	instN int

	// ephemeral is set while the Event being built is only read during
	// the record (File.Encoded): value strings are then views into arena,
	// which is reused record after record, instead of allocations, and the
	// insertion strings reuse insertionBuf. Nothing that outlives the
	// record may hold such a string (the template's intern cache does not).
	ephemeral    bool
	arena        []byte
	insertionBuf []string

	// Otherwise the Events a worker hands out are carved from slabs:
	// events, fields, insertion strings and value bytes come from blocks
	// allocated a few KiB at a time instead of one allocation each. A
	// block is never written again once carved: the events own it.
	evSlab    []Event
	fieldSlab []Field
	strSlab   []string
	byteSlab  []byte
}

// newEvent returns a zero Event from the slab.
func (r *renderState) newEvent() *Event {
	if len(r.evSlab) == 0 {
		r.evSlab = make([]Event, 64)
	}
	e := &r.evSlab[0]
	r.evSlab = r.evSlab[1:]
	return e
}

// fieldSlice returns an empty, non-nil slice with room for n fields.
// Appending past n moves the slice (its capacity is capped), so events
// never share elements.
func (r *renderState) fieldSlice(n int) []Field { return carve(&r.fieldSlab, n) }

// stringSlice is fieldSlice for strings.
func (r *renderState) stringSlice(n int) []string { return carve(&r.strSlab, n) }

// carve cuts an empty slice of capacity n from the front of *slab, starting
// a new block of 1024 when the slab is short (and allocating on its own a
// slice of more than 64).
func carve[T any](slab *[]T, n int) []T {
	if n > 64 {
		return make([]T, 0, n)
	}
	if len(*slab) < n || len(*slab) == 0 {
		*slab = make([]T, 1024)
	}
	s := (*slab)[:0:n]
	*slab = (*slab)[n:]
	return s
}

// keep returns b as a string that shares a byte block with other values
// of the worker's events (one allocation per block, not per value).
func (r *renderState) keep(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > 1024 {
		return string(b)
	}
	if cap(r.byteSlab)-len(r.byteSlab) < len(b) {
		r.byteSlab = make([]byte, 0, 16<<10)
	}
	start := len(r.byteSlab)
	r.byteSlab = append(r.byteSlab, b...)
	return unsafe.String(&r.byteSlab[start], len(b))
}

const slabSize = 128

// reset prepares the state for the next record of the same worker.
func (r *renderState) reset(d *decoder) {
	r.d = d
	r.items = 0
	r.bytes = 0
	r.truncated = false
	r.insertion = nil
	r.haveInsert = false
	r.nodeN = 0
	r.instN = 0
	r.arena = r.arena[:0]
}

// newNode returns a cleared output node from the slab.
func (r *renderState) newNode(name string) *onode {
	slab, i := r.nodeN/slabSize, r.nodeN%slabSize
	if slab == len(r.nodes) {
		r.nodes = append(r.nodes, make([]onode, slabSize))
	}
	r.nodeN++
	n := &r.nodes[slab][i]
	n.name, n.attrs, n.items = name, n.attrs[:0], n.items[:0]
	return n
}

// instState caches per-instance work: rendered values and parsed fragments.
type instState struct {
	in       *instance
	nested   bool
	rendered []string
	done     []bool
	frags    map[int][]part
	arrFor   int      // value index arrItems holds the items of, -1 for none
	arrItems [][]byte // see split
}

func (r *renderState) newInst(in *instance, nested bool) *instState {
	if r.instN == len(r.insts) {
		r.insts = append(r.insts, &instState{})
	}
	st := r.insts[r.instN]
	r.instN++
	st.in, st.nested, st.arrFor = in, nested, -1
	n := len(in.values)
	if cap(st.rendered) < n {
		st.rendered, st.done = make([]string, n), make([]bool, n)
	}
	st.rendered, st.done = st.rendered[:n], st.done[:n]
	clear(st.rendered)
	clear(st.done)
	clear(st.frags)
	if nested && !r.haveInsert {
		r.haveInsert = true
		if r.ephemeral {
			r.insertion = r.insertionBuf[:0]
		} else {
			r.insertion = r.stringSlice(len(in.values))
		}
		for i, v := range in.values {
			switch {
			case v.typ == typeBinXML:
				r.insertion = append(r.insertion, "")
			case v.typ&typeArray != 0:
				r.arr = arrayItems(v.typ&^typeArray, r.d.data[v.off:v.off+v.size], r.arr[:0])
				for _, it := range r.arr {
					r.insertion = append(r.insertion, string(appendValue(nil, v.typ&^typeArray, it)))
				}
			default:
				r.insertion = append(r.insertion, st.scalar(r, i))
			}
		}
	}
	return st
}

// scalar renders value i (not an array, not BinXML) once.
func (st *instState) scalar(r *renderState, i int) string {
	if st.done[i] {
		return st.rendered[i]
	}
	v := st.in.values[i]
	var s string
	if r.ephemeral {
		start := len(r.arena)
		r.arena = appendValue(r.arena, v.typ, r.d.data[v.off:v.off+v.size])
		if n := len(r.arena) - start; n > 0 {
			// The view stays valid if a later append moves the arena:
			// the old array lives on as long as a string points into it.
			s = unsafe.String(&r.arena[start], n)
		}
	} else {
		r.scratch = appendValue(r.scratch[:0], v.typ, r.d.data[v.off:v.off+v.size])
		s = r.intern(r.scratch, st, i)
	}
	st.rendered[i], st.done[i] = s, true
	return s
}

// intern returns b as a string, reusing the string the same value of the
// same template rendered last time when the bytes are equal: provider,
// channel, computer, GUIDs and small numbers repeat record after record,
// and comparing is cheaper than allocating. Templates are per chunk and per
// worker, so no locking is needed.
func (r *renderState) intern(b []byte, st *instState, i int) string {
	t := st.in.tmpl
	if t.shared {
		return r.keep(b) // read by several workers: no cache writes
	}
	if i < len(t.last) && t.last[i] == string(b) {
		return t.last[i]
	}
	s := r.keep(b)
	if len(b) <= 64 {
		if i >= len(t.last) && i < 1024 {
			t.last = append(t.last, make([]string, i+1-len(t.last))...)
		}
		if i < len(t.last) {
			t.last[i] = s
		}
	}
	return s
}

// split returns the items of array value i, split once per instance and
// value (an element repeated per item must not re-split the array for each
// item: that would be quadratic in the item count).
func (st *instState) split(r *renderState, i int) [][]byte {
	if st.arrFor != i {
		v := st.in.values[i]
		st.arrItems = arrayItems(v.typ&^typeArray, r.d.data[v.off:v.off+v.size], st.arrItems[:0])
		st.arrFor = i
	}
	return st.arrItems
}

// item renders array item k of value i.
func (st *instState) item(r *renderState, i, k int) (string, bool) {
	items := st.split(r, i)
	if k < 0 || k >= len(items) {
		return "", false
	}
	return string(appendValue(nil, st.in.values[i].typ&^typeArray, items[k])), true
}

func (st *instState) arrayLen(r *renderState, i int) int {
	return len(st.split(r, i))
}

// spend counts n output bytes against the record's budget and reports
// whether they fit; once they do not, the record is truncated and nothing
// more is rendered.
func (r *renderState) spend(n int) bool {
	r.bytes += n
	budget := r.budget
	if budget <= 0 {
		budget = MaxRecordOutput
	}
	if r.bytes > budget {
		r.truncated = true
	}
	return !r.truncated
}

func (r *renderState) grow(n int) error {
	r.items += n
	if r.items > maxOutputItems {
		return errAt(ErrTooDeep, "record output over "+strconv.Itoa(maxOutputItems)+" items", 0)
	}
	return nil
}

// parts renders static parts in element-content position. sel selects the
// array item for array substitutions (-1: none).
func (r *renderState) parts(ps []part, st *instState, sel int, depth int, out []oitem) ([]oitem, error) {
	if depth > maxNesting {
		return out, errAt(ErrTooDeep, "nested fragments", 0)
	}
	var err error
	for i := range ps {
		if r.truncated {
			return out, nil
		}
		p := &ps[i]
		switch p.kind {
		case partText:
			if r.spend(len(p.text)) {
				out = append(out, oitem{kind: outText, text: p.text})
			}
		case partEntity:
			out = append(out, oitem{kind: outEntity, text: p.text})
		case partCharRef:
			out = append(out, oitem{kind: outCharRef, r: p.r})
		case partCDATA:
			if r.spend(len(p.text)) {
				out = append(out, oitem{kind: outCDATA, text: p.text})
			}
		case partPI:
			if r.spend(len(p.text) + len(p.text2)) {
				out = append(out, oitem{kind: outPI, text: p.text, text2: p.text2})
			}
		case partElement:
			if out, err = r.element(p.elem, st, depth, out); err != nil {
				return out, err
			}
		case partInstance:
			ist := r.newInst(p.inst, st != nil || depth > 0)
			if out, err = r.parts(p.inst.tmpl.parts, ist, -1, depth+1, out); err != nil {
				return out, err
			}
		case partSubst, partOptSubst:
			if st == nil || int(p.index) >= len(st.in.values) {
				continue // out of range: render nothing (fail-soft, as peers do)
			}
			v := st.in.values[p.index]
			switch {
			case v.typ == typeNull:
			case v.typ == typeBinXML:
				frag, ok := st.frags[int(p.index)]
				if !ok {
					c := &cursor{pos: v.off, end: v.off + v.size, nesting: depth}
					frag, err = r.d.fragment(c)
					if err != nil {
						return out, err
					}
					if st.frags == nil {
						st.frags = make(map[int][]part)
					}
					st.frags[int(p.index)] = frag
				}
				if out, err = r.parts(frag, nil, -1, depth+1, out); err != nil {
					return out, err
				}
			case v.typ&typeArray != 0:
				var s string
				if sel >= 0 {
					s, _ = st.item(r, int(p.index), sel)
				} else {
					s = st.joined(r, int(p.index))
				}
				if s != "" && r.spend(len(s)) {
					out = append(out, oitem{kind: outText, text: s})
				}
			default:
				if s := st.scalar(r, int(p.index)); s != "" && r.spend(len(s)) {
					out = append(out, oitem{kind: outText, text: s})
				}
			}
		}
	}
	return out, r.grow(len(ps))
}

// joined renders all items of array value i joined with ",".
func (st *instState) joined(r *renderState, i int) string {
	v := st.in.values[i]
	base := v.typ &^ typeArray
	r.arr = arrayItems(base, r.d.data[v.off:v.off+v.size], r.arr[:0])
	var b []byte
	for k, it := range r.arr {
		if k > 0 {
			b = append(b, ',')
		}
		b = appendValue(b, base, it)
	}
	return string(b)
}

// element renders a static element, repeating it for array values and
// dropping it by the optional-substitution and dependency-id rules.
func (r *renderState) element(e *element, st *instState, depth int, out []oitem) ([]oitem, error) {
	count, expand := 1, -1
	if st != nil {
		vals := st.in.values
		if e.depID != noDependency && int(e.depID) < len(vals) && vals[e.depID].typ == typeNull {
			return out, nil
		}
		// Only an element whose content is nothing but substitutions is
		// dropped for a NULL optional one: <Event> keeps its <System> when
		// the payload value is missing.
		onlySubst := true
		for i := range e.content {
			if k := e.content[i].kind; k != partSubst && k != partOptSubst {
				onlySubst = false
				break
			}
		}
		for i := range e.content {
			p := &e.content[i]
			if (p.kind != partSubst && p.kind != partOptSubst) || int(p.index) >= len(vals) {
				continue
			}
			v := vals[p.index]
			if onlySubst && p.kind == partOptSubst && (v.typ == typeNull || v.size == 0) {
				return out, nil
			}
			if v.typ&typeArray != 0 && expand < 0 {
				expand = int(p.index)
				if count = st.arrayLen(r, expand); count == 0 {
					count = 1
				}
			}
		}
	}
	for k := 0; k < count; k++ {
		if err := r.grow(1); err != nil {
			return out, err
		}
		if !r.spend(len(e.name)) {
			return out, nil
		}
		sel := -1
		if expand >= 0 {
			sel = k
		}
		n := r.newNode(e.name)
		for i := range e.attrs {
			a := &e.attrs[i]
			if s := r.attrText(a.parts, st); s != "" && r.spend(len(a.name)+len(s)) {
				n.attrs = append(n.attrs, Field{Name: a.name, Value: s})
			}
		}
		var err error
		if len(e.content) > 0 {
			if n.items, err = r.parts(e.content, st, sel, depth, n.items[:0]); err != nil {
				return out, err
			}
		}
		out = append(out, oitem{kind: outElement, node: n})
	}
	return out, nil
}

// attrText renders an attribute value: texts, references and substitutions
// concatenated, arrays joined with ",", nested BinXML rendered empty.
func (r *renderState) attrText(ps []part, st *instState) string {
	if len(ps) == 1 {
		switch p := &ps[0]; p.kind {
		case partText:
			return p.text
		case partSubst, partOptSubst:
			if st != nil && int(p.index) < len(st.in.values) {
				if t := st.in.values[p.index].typ; t != typeNull && t != typeBinXML && t&typeArray == 0 {
					return st.scalar(r, int(p.index))
				}
			}
		}
	}
	var b strings.Builder
	for i := range ps {
		if b.Len() > MaxRecordOutput {
			break // spend refuses it anyway: stop before it grows further
		}
		p := &ps[i]
		switch p.kind {
		case partText:
			b.WriteString(p.text)
		case partEntity:
			b.WriteString(entityText(p.text))
		case partCharRef:
			b.Write(appendRune(nil, p.r))
		case partSubst, partOptSubst:
			if st == nil || int(p.index) >= len(st.in.values) {
				continue
			}
			v := st.in.values[p.index]
			switch {
			case v.typ == typeNull, v.typ == typeBinXML:
			case v.typ&typeArray != 0:
				b.WriteString(st.joined(r, int(p.index)))
			default:
				b.WriteString(st.scalar(r, int(p.index)))
			}
		}
	}
	return b.String()
}

// entityText resolves the predefined XML entities; others stay literal.
func entityText(name string) string {
	switch name {
	case "lt":
		return "<"
	case "gt":
		return ">"
	case "amp":
		return "&"
	case "quot":
		return "\""
	case "apos":
		return "'"
	}
	return "&" + name + ";"
}

// text returns the character data of an output element's direct content,
// references resolved.
func (n *onode) text() string {
	switch len(n.items) {
	case 0:
		return ""
	case 1:
		if n.items[0].kind == outText {
			return n.items[0].text
		}
	}
	var b []byte
	for i := range n.items {
		it := &n.items[i]
		switch it.kind {
		case outText, outCDATA:
			b = append(b, it.text...)
		case outEntity:
			b = append(b, entityText(it.text)...)
		case outCharRef:
			b = appendRune(b, it.r)
		}
	}
	return string(b)
}

func (n *onode) hasText() bool {
	for i := range n.items {
		if k := n.items[i].kind; k != outElement && k != outPI {
			return true
		}
	}
	return false
}

func (n *onode) attr(name string) (string, bool) {
	for _, a := range n.attrs {
		if a.Name == name {
			return a.Value, true
		}
	}
	return "", false
}

// fillEvent maps the output tree's root <Event> onto e.
func fillEvent(e *Event, root *onode) {
	for i := range root.items {
		it := &root.items[i]
		if it.kind != outElement {
			continue
		}
		sec := it.node
		switch sec.name {
		case "System":
			fillSystem(&e.System, sec)
		case "EventData":
			e.EventDataName, _ = sec.attr("Name")
			if e.EventData == nil {
				e.EventData = make([]Field, 0, len(sec.items))
			}
			for j := range sec.items {
				c := &sec.items[j]
				if c.kind != outElement {
					continue
				}
				if c.node.name == "Binary" {
					e.Binary = decodeHex(c.node.text())
					continue
				}
				name, _ := c.node.attr("Name")
				e.EventData = append(e.EventData, Field{Name: name, Value: c.node.text()})
			}
		case "UserData":
			for j := range sec.items {
				if c := &sec.items[j]; c.kind == outElement {
					e.UserData = toNode(c.node)
					break
				}
			}
		default:
			if sec.name == "RenderingInfo" {
				for j := range sec.items {
					if c := &sec.items[j]; c.kind == outElement && c.node.name == "Message" {
						e.RenderedMessage = c.node.text()
					}
				}
			}
			e.Other = append(e.Other, toNode(sec))
		}
	}
}

func fillSystem(s *System, sec *onode) {
	for i := range sec.items {
		it := &sec.items[i]
		if it.kind != outElement {
			continue
		}
		n := it.node
		if n.hasText() {
			s.SetField(n.name, n.text())
		}
		for _, a := range n.attrs {
			s.SetField(systemAttrPath(n.name, a.Name), a.Value)
		}
	}
}

// systemAttrPath returns "Elem/@Attr", without allocating for the paths
// every record has.
func systemAttrPath(elem, attr string) string {
	switch elem {
	case "Provider":
		switch attr {
		case "Name":
			return "Provider/@Name"
		case "Guid":
			return "Provider/@Guid"
		case "EventSourceName":
			return "Provider/@EventSourceName"
		}
	case "EventID":
		if attr == "Qualifiers" {
			return "EventID/@Qualifiers"
		}
	case "TimeCreated":
		if attr == "SystemTime" {
			return "TimeCreated/@SystemTime"
		}
	case "Correlation":
		switch attr {
		case "ActivityID":
			return "Correlation/@ActivityID"
		case "RelatedActivityID":
			return "Correlation/@RelatedActivityID"
		}
	case "Execution":
		switch attr {
		case "ProcessID":
			return "Execution/@ProcessID"
		case "ThreadID":
			return "Execution/@ThreadID"
		}
	case "Security":
		if attr == "UserID" {
			return "Security/@UserID"
		}
	}
	return elem + "/@" + attr
}

func toNode(o *onode) *Node {
	n := &Node{Name: o.name}
	if len(o.attrs) > 0 {
		n.Attrs = append([]Field(nil), o.attrs...) // o is reused for the next record
	}
	var text []byte
	for i := range o.items {
		it := &o.items[i]
		switch it.kind {
		case outElement:
			n.Children = append(n.Children, toNode(it.node))
		case outText, outCDATA:
			text = append(text, it.text...)
		case outEntity:
			text = append(text, entityText(it.text)...)
		case outCharRef:
			text = appendRune(text, it.r)
		}
	}
	n.Text = string(text)
	return n
}

// decodeHex decodes the upper- or lower-case hex of a <Binary> element;
// a non-hex character ends it.
func decodeHex(s string) []byte {
	b := make([]byte, 0, len(s)/2)
	for i := 0; i+1 < len(s); i += 2 {
		h, ok1 := unhex(s[i])
		l, ok2 := unhex(s[i+1])
		if !ok1 || !ok2 {
			break
		}
		b = append(b, h<<4|l)
	}
	return b
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
