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
	return &tElem{name: name, attrs: attrs, children: children}
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
	fmt.Fprintf(sb, "<%q", e.name)
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

// Substitution indexes of the System template. The order follows the one
// Windows uses (Level, Opcode, Task, EventID, Qualifiers, Keywords, …).
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
	subPayload // classic: the <Data> string array; manifest: nested BinXML
	subBinary  // classic only: <Binary>
	subRelatedActivityID
	numSystemValues
)

const eventNamespace = "http://schemas.microsoft.com/win/2004/08/events/event"

// systemTemplate builds the outer template of ev: System plus, for classic
// events, EventData; for manifest events a nested BinXML substitution.
func systemTemplate(ev *Event) *template {
	s := &ev.System
	prov := []tAttr{litAttr("Name", s.Provider)}
	if s.ProviderGUID != "" {
		prov = append(prov, litAttr("Guid", strings.ToUpper(s.ProviderGUID)))
	}
	if s.EventSourceName != "" {
		prov = append(prov, litAttr("EventSourceName", s.EventSourceName))
	}
	var eventIDAttrs []tAttr
	if s.HasQualifiers {
		eventIDAttrs = []tAttr{subAttr("Qualifiers", subQualifiers, UInt16)}
	}
	var text = func(v string) []tItem {
		if v == "" {
			return nil
		}
		return []tItem{litText(v)}
	}
	system := elem("System", nil,
		child(elem("Provider", prov)),
		child(elem("EventID", eventIDAttrs, subText(subEventID, UInt16))),
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
	var payload tItem
	if ev.Classic {
		var items []tItem
		if len(ev.Data) > 0 {
			items = append(items, child(elem("Data", nil, subText(subPayload, StringArray))))
		}
		if ev.Binary != nil {
			items = append(items, child(elem("Binary", nil, subText(subBinary, Binary))))
		}
		payload = child(elem("EventData", nil, items...))
	} else {
		payload = subText(subPayload, BinXML)
	}
	return newTemplate(elem("Event", []tAttr{litAttr("xmlns", eventNamespace)}, child(system), payload))
}

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
	qualifiers, classic, data, binary         bool
}

func (c *templateCache) system(ev *Event) *template {
	s := &ev.System
	k := systemKey{s.Provider, s.ProviderGUID, s.EventSourceName, s.Channel, s.Computer,
		s.HasQualifiers, ev.Classic, len(ev.Data) > 0, ev.Binary != nil}
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
