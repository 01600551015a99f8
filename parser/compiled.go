package parser

import (
	"encoding/binary"
	"time"
)

// Compiled templates: the fast path of record decoding.
//
// Nearly every record of a real log is one template instance of an
// <Event><System>…</System>%payload</Event> template, the payload being a
// BinXML value that holds one instance of an
// <EventData><Data Name="…">%n</Data>…</EventData> template (or the
// <EventData> is inline in the first template). For such templates a plan is
// compiled once per template and chunk: which value sets which System field
// and which EventData field. A record is then decoded by reading its values
// straight into the Event — numbers and times without a detour through text —
// instead of building the output tree (render.go) and mapping it (fillEvent).
//
// The plan is an optimisation, never a second semantics. Whatever it does not
// cover exactly — UserData, arrays or BinXML where System expects a scalar,
// elements inside Data, large outputs, the XML option — makes decodeFast
// report false and the record takes the general path. TestFastPathAgrees
// runs both paths over every corpus file and fixture and requires identical
// Events; FuzzFile does the same on arbitrary input.

// Kinds of a plan slot: where a text comes from.
const (
	slotNone     = iota // no content
	slotConst           // static text
	slotSubst           // a normal substitution
	slotOptSubst        // an optional substitution
)

// A slot is the source of one text: nothing, a constant or a value.
type slot struct {
	kind  uint8
	index uint16
	text  string
}

// compileSlot compiles an element's content or an attribute's value: at
// most one part, static text or a substitution. ok is false for anything
// else (entities, several parts, child elements).
func compileSlot(ps []part) (slot, bool) {
	switch len(ps) {
	case 0:
		return slot{kind: slotNone}, true
	case 1:
		switch p := &ps[0]; p.kind {
		case partText:
			return slot{kind: slotConst, text: p.text}, true
		case partSubst:
			return slot{kind: slotSubst, index: p.index}, true
		case partOptSubst:
			return slot{kind: slotOptSubst, index: p.index}, true
		}
	}
	return slot{}, false
}

// System fields the fast path sets without going through SetField.
const (
	sysOther = iota // SetField with the rendered text
	sysProvider
	sysProviderGUID
	sysEventSourceName
	sysEventID
	sysQualifiers
	sysVersion
	sysLevel
	sysTask
	sysOpcode
	sysKeywords
	sysTimeCreated
	sysEventRecordID
	sysActivityID
	sysRelatedActivityID
	sysProcessID
	sysThreadID
	sysChannel
	sysComputer
	sysUserID
)

// sysFieldOf maps a SetField path to its fast target.
func sysFieldOf(path string) uint8 {
	switch path {
	case "Provider/@Name":
		return sysProvider
	case "Provider/@Guid":
		return sysProviderGUID
	case "Provider/@EventSourceName":
		return sysEventSourceName
	case "EventID":
		return sysEventID
	case "EventID/@Qualifiers":
		return sysQualifiers
	case "Version":
		return sysVersion
	case "Level":
		return sysLevel
	case "Task":
		return sysTask
	case "Opcode":
		return sysOpcode
	case "Keywords":
		return sysKeywords
	case "TimeCreated/@SystemTime":
		return sysTimeCreated
	case "EventRecordID":
		return sysEventRecordID
	case "Correlation/@ActivityID":
		return sysActivityID
	case "Correlation/@RelatedActivityID":
		return sysRelatedActivityID
	case "Execution/@ProcessID":
		return sysProcessID
	case "Execution/@ThreadID":
		return sysThreadID
	case "Channel":
		return sysChannel
	case "Computer":
		return sysComputer
	case "Security/@UserID":
		return sysUserID
	}
	return sysOther
}

// A sysSet is one SetField call of fillSystem: an element's text or one of
// its attributes.
type sysSet struct {
	path  string
	field uint8
	attr  bool // attribute: dropped when it renders empty, like every attribute
	src   slot
	canon string // a constant Provider/@Guid as SetField stores it
}

// A sysElem is a child element of <System>.
type sysElem struct {
	dep     uint16 // dependency id (noDependency for none)
	optDrop bool   // content is one optional substitution: NULL or empty drops the element
	text    sysSet // src.kind == slotNone: no text
	attrs   []sysSet
}

// A dataElem is a child of <EventData>: a Data field or the Binary.
type dataElem struct {
	dep     uint16
	optDrop bool
	binary  bool // <Binary>: decoded into Event.Binary
	name    slot // the Name attribute
	value   slot // the content
}

// A dataPlan is an <EventData> element.
type dataPlan struct {
	dep    uint16
	name   slot // the Name attribute
	fields []dataElem
}

// Kinds of an <Event> section.
const (
	secSystem    = iota
	secEventData // inline <EventData>
	secPayload   // a substitution holding a BinXML payload
)

type planSection struct {
	kind   uint8
	system []sysElem
	data   *dataPlan
	index  uint16 // secPayload: the value index
}

// A plan is a compiled template: either an <Event> (sections set) or an
// <EventData> payload (payload set).
type plan struct {
	eventDep uint16
	sections []planSection
	payload  *dataPlan
}

// maxFastFields bounds the fields a compiled template has, and the fields a
// record may produce on the fast path (arrays repeat Data); larger records
// take the general path, which applies the output bound of maxOutputItems.
const maxFastFields = 2048

// compiled returns the template's plan, compiling it on first use; nil when
// the template has a shape the fast path does not cover. Templates of the
// file-wide store are read by several workers and are never compiled.
func (t *template) compiled() *plan {
	if t.shared || t.err != nil {
		return nil
	}
	if !t.planned {
		t.plan, t.planned = compileTemplate(t.parts), true
	}
	return t.plan
}

func compileTemplate(ps []part) *plan {
	if len(ps) != 1 || ps[0].kind != partElement {
		return nil
	}
	root := ps[0].elem
	switch root.name {
	case "EventData":
		if d := compileData(root); d != nil {
			return &plan{payload: d}
		}
		return nil
	case "Event":
	default:
		return nil
	}
	p := &plan{eventDep: root.depID}
	fields := 0
	for i := range root.content {
		c := &root.content[i]
		switch {
		case c.kind == partElement && c.elem.name == "System":
			sys, ok := compileSystem(c.elem)
			if !ok {
				return nil
			}
			p.sections = append(p.sections, planSection{kind: secSystem, system: sys})
		case c.kind == partElement && c.elem.name == "EventData":
			d := compileData(c.elem)
			if d == nil {
				return nil
			}
			fields += len(d.fields)
			p.sections = append(p.sections, planSection{kind: secEventData, data: d})
		case c.kind == partSubst || c.kind == partOptSubst:
			p.sections = append(p.sections, planSection{kind: secPayload, index: c.index})
		default:
			// UserData, RenderingInfo, text between sections, …
			return nil
		}
	}
	if fields > maxFastFields {
		return nil
	}
	return p
}

// compileSystem compiles the children of <System>: elements whose content
// and attributes are each one static text or one substitution.
func compileSystem(e *element) ([]sysElem, bool) {
	if e.depID != noDependency {
		return nil, false
	}
	for _, a := range e.attrs {
		if _, ok := compileSlot(a.parts); !ok {
			return nil, false
		}
	}
	out := make([]sysElem, 0, len(e.content))
	for i := range e.content {
		c := &e.content[i]
		if c.kind != partElement {
			return nil, false
		}
		el := c.elem
		src, ok := compileSlot(el.content)
		if !ok {
			return nil, false
		}
		se := sysElem{dep: el.depID, optDrop: src.kind == slotOptSubst,
			text: sysSet{path: el.name, field: sysFieldOf(el.name), src: src}}
		for _, a := range el.attrs {
			asrc, ok := compileSlot(a.parts)
			if !ok {
				return nil, false
			}
			path := systemAttrPath(el.name, a.name)
			set := sysSet{path: path, field: sysFieldOf(path), attr: true, src: asrc}
			if set.field == sysProviderGUID && asrc.kind == slotConst {
				set.canon = canonicalGUID(asrc.text)
			}
			se.attrs = append(se.attrs, set)
		}
		out = append(out, se)
	}
	return out, true
}

// compileData compiles an <EventData> element whose children are elements
// with simple content and at most one Name attribute.
func compileData(e *element) *dataPlan {
	d := &dataPlan{dep: e.depID}
	var ok bool
	if d.name, ok = nameAttr(e.attrs); !ok {
		return nil
	}
	for i := range e.content {
		c := &e.content[i]
		if c.kind != partElement {
			return nil
		}
		el := c.elem
		f := dataElem{dep: el.depID, binary: el.name == "Binary"}
		if f.value, ok = compileSlot(el.content); !ok {
			return nil
		}
		f.optDrop = f.value.kind == slotOptSubst
		if f.name, ok = nameAttr(el.attrs); !ok {
			return nil
		}
		d.fields = append(d.fields, f)
	}
	if len(d.fields) > maxFastFields {
		return nil
	}
	return d
}

// nameAttr compiles the Name attribute of an element; other attributes are
// never read from EventData, but must be simple too (an attribute renders
// no error either way, this only keeps the plan honest). Two Name
// attributes are left to the general path.
func nameAttr(attrs []attribute) (slot, bool) {
	name := slot{kind: slotNone}
	seen := false
	for _, a := range attrs {
		s, ok := compileSlot(a.parts)
		if !ok {
			return slot{}, false
		}
		if a.name == "Name" {
			if seen {
				return slot{}, false
			}
			name, seen = s, true
		}
	}
	return name, true
}

// fastRun is the state of one record on the fast path.
type fastRun struct {
	r      *renderState
	fields int // EventData fields produced, bounded by maxFastFields
}

// decodeFast decodes a record's parsed fragment into e (a zero Event) with
// compiled templates. It reports false when the record needs the general
// path; the caller then resets e and the render state and renders the
// record the general way.
func (r *renderState) decodeFast(parts []part, e *Event) bool {
	if len(parts) != 1 || parts[0].kind != partInstance {
		return false
	}
	in := parts[0].inst
	p := in.tmpl.compiled()
	if p == nil || p.sections == nil {
		return false
	}
	vals := in.values
	if p.eventDep != noDependency && int(p.eventDep) < len(vals) && vals[p.eventDep].typ == typeNull {
		return false // the root is dropped: the general path reports it
	}
	run := fastRun{r: r}
	st := r.newInst(in, false)
	for i := range p.sections {
		sec := &p.sections[i]
		switch sec.kind {
		case secSystem:
			for j := range sec.system {
				if !run.system(&e.System, &sec.system[j], st) {
					return false
				}
			}
		case secEventData:
			if !run.data(e, sec.data, st) {
				return false
			}
		case secPayload:
			if int(sec.index) >= len(vals) {
				continue
			}
			v := vals[sec.index]
			if v.typ == typeNull {
				continue
			}
			if v.typ != typeBinXML {
				return false
			}
			c := &cursor{pos: v.off, end: v.off + v.size, nesting: 1}
			frag, err := r.d.fragment(c)
			if err != nil || len(frag) != 1 || frag[0].kind != partInstance {
				return false
			}
			nin := frag[0].inst
			np := nin.tmpl.compiled()
			if np == nil || np.payload == nil {
				return false
			}
			if !run.data(e, np.payload, r.newInst(nin, true)) {
				return false
			}
		}
	}
	if r.haveInsert {
		e.InsertionStrings = r.insertion
	} else if len(e.EventData) > 0 {
		if r.ephemeral {
			e.InsertionStrings = make([]string, len(e.EventData))
		} else {
			e.InsertionStrings = r.stringSlice(len(e.EventData))[:len(e.EventData)]
		}
		for i := range e.EventData {
			e.InsertionStrings[i] = e.EventData[i].Value
		}
	}
	return true
}

// dropped applies the two rules that remove an element: its dependency id
// names a NULL value, or its content is one optional substitution whose
// value is NULL or empty.
func dropped(vals []value, dep uint16, optDrop bool, content slot) bool {
	if dep != noDependency && int(dep) < len(vals) && vals[dep].typ == typeNull {
		return true
	}
	if optDrop && int(content.index) < len(vals) {
		v := vals[content.index]
		return v.typ == typeNull || v.size == 0
	}
	return false
}

// system applies one <System> child the way fillSystem does: the text,
// when there is any, then each non-empty attribute, in document order.
func (run *fastRun) system(s *System, se *sysElem, st *instState) bool {
	vals := st.in.values
	if dropped(vals, se.dep, se.optDrop, se.text.src) {
		return true
	}
	if se.text.src.kind != slotNone && !run.set(s, &se.text, st) {
		return false
	}
	for i := range se.attrs {
		if !run.set(s, &se.attrs[i], st) {
			return false
		}
	}
	return true
}

// set performs one sysSet. Values of the type Windows writes for the field
// are stored directly; anything else goes through its text and SetField,
// which is what the general path does for every value.
func (run *fastRun) set(s *System, f *sysSet, st *instState) bool {
	var text string
	switch f.src.kind {
	case slotConst:
		if f.attr && f.src.text == "" {
			return true // an empty attribute is dropped
		}
		switch f.field {
		case sysProvider, sysEventSourceName, sysChannel, sysComputer, sysUserID:
			text = f.src.text // assigned below, as SetField would
		case sysProviderGUID:
			s.ProviderGUID = f.canon
			return true
		default:
			s.SetField(f.path, f.src.text)
			return true
		}
	case slotSubst, slotOptSubst:
		i := int(f.src.index)
		if i >= len(st.in.values) {
			return true // out of range renders nothing
		}
		v := st.in.values[i]
		switch {
		case v.typ == typeNull:
			return true
		case v.typ == typeBinXML:
			// An attribute renders it empty (dropped); in content it
			// becomes child elements, which the general path handles.
			return f.attr
		case v.typ&typeArray != 0:
			return false
		}
		if setTyped(s, f.field, v, run.r.d.data[v.off:v.off+v.size]) {
			return true
		}
		text = st.scalar(run.r, i)
		if text == "" {
			return true // renders nothing: no text, or a dropped attribute
		}
		if v.typ == typeGUID && v.size == 16 {
			// A GUID value renders canonical: canonicalGUID would return
			// it as it is.
			switch f.field {
			case sysProviderGUID:
				s.ProviderGUID = text
				return true
			case sysActivityID:
				s.ActivityID = text
				return true
			case sysRelatedActivityID:
				s.RelatedActivityID = text
				return true
			}
		}
	default:
		return true
	}
	switch f.field {
	case sysProvider:
		s.Provider = text
	case sysEventSourceName:
		s.EventSourceName = text
	case sysChannel:
		s.Channel = text
	case sysComputer:
		s.Computer = text
	case sysUserID:
		s.UserID = text
	default:
		s.SetField(f.path, text)
	}
	return true
}

// setTyped stores a value of the exact type and size Windows writes for a
// System field without rendering it, and reports whether it did. The result
// equals SetField of the value's rendering (TestFastPathAgrees checks it).
func setTyped(s *System, field uint8, v value, b []byte) bool {
	switch field {
	case sysEventID, sysTask, sysQualifiers:
		if v.typ != typeUint16 || len(b) != 2 {
			return false
		}
		n := binary.LittleEndian.Uint16(b)
		switch field {
		case sysEventID:
			s.EventID = n
		case sysTask:
			s.Task = n
		default:
			s.Qualifiers, s.HasQualifiers = n, true
		}
		return true
	case sysVersion, sysLevel, sysOpcode:
		if v.typ != typeUint8 || len(b) != 1 {
			return false
		}
		switch field {
		case sysVersion:
			s.Version = b[0]
		case sysLevel:
			s.Level = b[0]
		default:
			s.Opcode = b[0]
		}
		return true
	case sysKeywords:
		if v.typ != typeHexInt64 || len(b) != 8 {
			return false
		}
		s.Keywords = binary.LittleEndian.Uint64(b)
		return true
	case sysEventRecordID:
		if v.typ != typeUint64 || len(b) != 8 {
			return false
		}
		s.EventRecordID = binary.LittleEndian.Uint64(b)
		return true
	case sysProcessID, sysThreadID:
		if v.typ != typeUint32 || len(b) != 4 {
			return false
		}
		if field == sysProcessID {
			s.ProcessID = binary.LittleEndian.Uint32(b)
		} else {
			s.ThreadID = binary.LittleEndian.Uint32(b)
		}
		return true
	case sysTimeCreated:
		if v.typ != typeFileTime || len(b) != 8 {
			return false
		}
		ft := binary.LittleEndian.Uint64(b)
		if ft/ticksPerDay > 3_000_000 {
			return false // rendered as hex, which SetField keeps in Extra
		}
		s.TimeCreated = time.Unix(int64(ft/ticksPerSecond)-unixEpochInTicks/ticksPerSecond, int64(ft%ticksPerSecond)*100).UTC()
		return true
	case sysProviderGUID, sysActivityID, sysRelatedActivityID:
		return false // rendered (and interned) by the caller, then set
	}
	return false
}

// data appends an <EventData> element the way fillEvent does: its Name, then
// each child as a Field, or as the Binary.
func (run *fastRun) data(e *Event, d *dataPlan, st *instState) bool {
	vals := st.in.values
	if dropped(vals, d.dep, false, slot{}) {
		return true
	}
	name, ok := run.text(d.name, st, -1)
	if !ok {
		return false
	}
	e.EventDataName = name
	if e.EventData == nil {
		e.EventData = run.r.fieldSlice(len(d.fields))
	}
	for i := range d.fields {
		f := &d.fields[i]
		if dropped(vals, f.dep, f.optDrop, f.value) {
			continue
		}
		// An array value repeats the element once per item (an empty
		// array gives one empty element).
		count, expand := 1, false
		if k := f.value.kind; (k == slotSubst || k == slotOptSubst) && int(f.value.index) < len(vals) {
			v := vals[f.value.index]
			if v.typ == typeBinXML {
				return false // child elements: the general path
			}
			if v.typ&typeArray != 0 {
				if f.binary {
					return false
				}
				expand = true
				if count = st.arrayLen(run.r, int(f.value.index)); count == 0 {
					count = 1
				}
			}
		}
		if run.fields += count; run.fields > maxFastFields {
			return false
		}
		fname, ok := run.text(f.name, st, -1)
		if !ok {
			return false
		}
		if f.binary {
			if !run.binary(e, f.value, st) {
				return false
			}
			continue
		}
		for k := 0; k < count; k++ {
			sel := -1
			if expand {
				sel = k
			}
			val, ok := run.text(f.value, st, sel)
			if !ok || !run.r.spend(len(fname)+len(val)) {
				return false // over the budget: the general path truncates
			}
			e.EventData = append(e.EventData, Field{Name: fname, Value: val})
		}
	}
	return true
}

// text renders a slot as element text or attribute value: a NULL value or
// an out-of-range index renders empty; sel picks an array item (-1: the
// items joined with ",", as in an attribute). ok is false for a value the
// fast path leaves to the general one.
func (run *fastRun) text(s slot, st *instState, sel int) (string, bool) {
	switch s.kind {
	case slotConst:
		return s.text, true
	case slotSubst, slotOptSubst:
		i := int(s.index)
		if i >= len(st.in.values) {
			return "", true
		}
		v := st.in.values[i]
		switch {
		case v.typ == typeNull, v.typ == typeBinXML:
			return "", true // BinXML in content is refused by the caller
		case v.typ&typeArray != 0:
			if sel < 0 {
				return st.joined(run.r, i), true
			}
			t, _ := st.item(run.r, i, sel)
			return t, true
		}
		return st.scalar(run.r, i), true
	}
	return "", true
}

// binary sets Event.Binary from a <Binary> element's content.
func (run *fastRun) binary(e *Event, s slot, st *instState) bool {
	if k := s.kind; (k == slotSubst || k == slotOptSubst) && int(s.index) < len(st.in.values) {
		if v := st.in.values[s.index]; v.typ == typeBinary {
			e.Binary = append(make([]byte, 0, v.size), run.r.d.data[v.off:v.off+v.size]...)
			return true
		}
	}
	t, ok := run.text(s, st, -1)
	if !ok {
		return false
	}
	e.Binary = decodeHex(t)
	return true
}
