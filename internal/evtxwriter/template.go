package evtxwriter

import (
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"strings"
)

// A tElem is an element of a template body. Its attributes and content are
// literal text or substitutions; content may also hold child elements.
type tElem struct {
	name     string
	dep      int // dependency id: the value whose NULL drops the element; -1 = none (0xFFFF)
	attrs    []tAttr
	children []tItem
}

// A tAttr is an attribute: literal text, or substitution sub when sub >= 0.
type tAttr struct {
	name string
	text string
	sub  int
	typ  ValueType
}

// A tItem is one piece of element content: a child element, literal text, or
// (sub >= 0) a substitution.
type tItem struct {
	elem *tElem
	text string
	sub  int
	typ  ValueType
}

func litAttr(name, text string) tAttr               { return tAttr{name: name, text: text, sub: -1} }
func subAttr(name string, i int, t ValueType) tAttr { return tAttr{name: name, sub: i, typ: t} }
func child(e *tElem) tItem                          { return tItem{elem: e, sub: -1} }
func litText(s string) tItem                        { return tItem{text: s, sub: -1} }
func subText(i int, t ValueType) tItem              { return tItem{sub: i, typ: t} }

func elem(name string, attrs []tAttr, children ...tItem) *tElem {
	return &tElem{name: name, dep: -1, attrs: attrs, children: children}
}

// A template is a template definition: its GUID (a hash of the body, so equal
// bodies share a definition and output stays deterministic) and its root.
type template struct {
	guid [16]byte
	root *tElem
}

// id is the template "id" of the instance token: Data1 of the GUID.
func (t *template) id() uint32 { return binary.LittleEndian.Uint32(t.guid[:4]) }

func newTemplate(root *tElem) *template {
	var sb strings.Builder
	describe(&sb, root)
	sum := sha1.Sum([]byte(sb.String()))
	t := &template{root: root}
	copy(t.guid[:], sum[:16])
	t.guid[7] = t.guid[7]&0x0F | 0x50 // a name-based (v5-like) GUID
	t.guid[8] = t.guid[8]&0x3F | 0x80
	return t
}

func describe(sb *strings.Builder, e *tElem) {
	fmt.Fprintf(sb, "<%q/%d", e.name, e.dep)
	for _, a := range e.attrs {
		fmt.Fprintf(sb, " %q=%q/%d/%d", a.name, a.text, a.sub, a.typ)
	}
	sb.WriteString(">")
	for _, c := range e.children {
		if c.elem != nil {
			describe(sb, c.elem)
		} else {
			fmt.Fprintf(sb, "[%q/%d/%d]", c.text, c.sub, c.typ)
		}
	}
	sb.WriteString("</>")
}

// Substitution indexes of the System template, as Windows numbers them
// (checked on the corpus: Level, Opcode, Task, EventID, Qualifiers, Keywords,
// TimeCreated, ActivityID, ProcessID, ThreadID, EventRecordID, Version,
// UserID, …, and the payload last: index 19 of 20 values for classic events,
// 17 of 18 for manifest ones; the values in between are NULL here).
const (
	subLevel = iota
	subOpcode
	subTask
	subEventID
	subQualifiers
	subKeywords
	subTimeCreated
	subActivityID
	subProcessID
	subThreadID
	subRecordID
	subVersion
	subUserID
	subRelatedActivityID

	subClassicPayload  = 19 // nested BinXML: the classic EventData template
	subManifestPayload = 17 // nested BinXML: EventData or UserData template
)

const eventNamespace = "http://schemas.microsoft.com/win/2004/08/events/event"

// payloadIndex returns the index of the nested payload and the number of
// System template values for ev.
func payloadIndex(ev *Event) (index, count int) {
	if ev.Classic {
		return subClassicPayload, subClassicPayload + 1
	}
	return subManifestPayload, subManifestPayload + 1
}

// systemTemplate builds the outer template of ev: System and a nested BinXML
// substitution for the payload. EventID always carries the Qualifiers
// substitution; manifest events give it a NULL value, which drops the
// attribute.
func systemTemplate(ev *Event) *template {
	s := &ev.System
	prov := []tAttr{litAttr("Name", s.Provider)}
	if s.ProviderGUID != "" {
		prov = append(prov, litAttr("Guid", strings.ToUpper(s.ProviderGUID)))
	}
	if s.EventSourceName != "" {
		prov = append(prov, litAttr("EventSourceName", s.EventSourceName))
	}
	var text = func(v string) []tItem {
		if v == "" {
			return nil
		}
		return []tItem{litText(v)}
	}
	system := elem("System", nil,
		child(elem("Provider", prov)),
		child(elem("EventID", []tAttr{subAttr("Qualifiers", subQualifiers, UInt16)}, subText(subEventID, UInt16))),
		child(elem("Version", nil, subText(subVersion, UInt8))),
		child(elem("Level", nil, subText(subLevel, UInt8))),
		child(elem("Task", nil, subText(subTask, UInt16))),
		child(elem("Opcode", nil, subText(subOpcode, UInt8))),
		child(elem("Keywords", nil, subText(subKeywords, HexInt64))),
		child(elem("TimeCreated", []tAttr{subAttr("SystemTime", subTimeCreated, FileTime)})),
		child(elem("EventRecordID", nil, subText(subRecordID, UInt64))),
		child(elem("Correlation", []tAttr{subAttr("ActivityID", subActivityID, GUID), subAttr("RelatedActivityID", subRelatedActivityID, GUID)})),
		child(elem("Execution", []tAttr{subAttr("ProcessID", subProcessID, UInt32), subAttr("ThreadID", subThreadID, UInt32)})),
		child(elem("Channel", nil, text(s.Channel)...)),
		child(elem("Computer", nil, text(s.Computer)...)),
		child(elem("Security", []tAttr{subAttr("UserID", subUserID, SID)})),
	)
	index, _ := payloadIndex(ev)
	return newTemplate(elem("Event", []tAttr{litAttr("xmlns", eventNamespace)}, child(system), subText(index, BinXML)))
}

// classicTemplate is the EventData template of every classic event, as
// Windows writes it: <Data> holds the string array (value 0) and <Binary>
// the raw data (value 2); each element's dependency id names its value, so
// a NULL value drops the element. Value 1 is a UInt32 Windows sets to 0.
var classicTemplate = func() *template {
	data := elem("Data", nil, subText(0, StringArray))
	data.dep = 0
	bin := elem("Binary", nil, subText(2, Binary))
	bin.dep = 2
	return newTemplate(elem("EventData", nil, child(data), child(bin)))
}()

// payloadTemplate builds the inner template of a manifest event and returns
// it with its values in substitution order.
func payloadTemplate(ev *Event) (*template, []Value) {
	if ev.UserData != nil {
		var vals []Value
		root := userDataElem(ev.UserData, &vals)
		return newTemplate(elem("UserData", nil, child(root))), vals
	}
	var items []tItem
	for i, d := range ev.Data {
		items = append(items, child(elem("Data", []tAttr{litAttr("Name", d.Name)}, subText(i, d.typ()))))
	}
	if ev.Binary != nil {
		items = append(items, child(elem("Binary", nil, subText(len(ev.Data), Binary))))
	}
	return newTemplate(elem("EventData", nil, items...)), ev.Data
}

func userDataElem(e *Element, vals *[]Value) *tElem {
	out := &tElem{name: e.Name}
	for _, a := range e.Attrs {
		out.attrs = append(out.attrs, litAttr(a.Name, a.Text))
	}
	if e.Value != nil {
		out.children = append(out.children, subText(len(*vals), e.Value.typ()))
		*vals = append(*vals, *e.Value)
	}
	for _, c := range e.Children {
		out.children = append(out.children, child(userDataElem(c, vals)))
	}
	return out
}

// A templateCache keeps the System templates built during one Write: building
// one hashes its description, which dominated the writer's time.
type templateCache struct {
	byKey map[systemKey]*template
}

// systemKey is everything systemTemplate reads from an event.
type systemKey struct {
	provider, guid, source, channel, computer string
	classic                                   bool
}

func (c *templateCache) system(ev *Event) *template {
	s := &ev.System
	k := systemKey{s.Provider, s.ProviderGUID, s.EventSourceName, s.Channel, s.Computer, ev.Classic}
	if t, ok := c.byKey[k]; ok {
		return t
	}
	if c.byKey == nil {
		c.byKey = map[systemKey]*template{}
	}
	t := systemTemplate(ev)
	c.byKey[k] = t
	return t
}
