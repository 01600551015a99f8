package rules

import (
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/evtxscan/evtxscan/parser"
)

// Field names rules use, resolved against one event. System fields have
// fixed names; Data[n] is the n-th EventData value, Data any of them; other
// names go through the field maps, then named EventData, then UserData.

type fieldKind uint8

const (
	fkNamed fieldKind = iota // field map → named EventData → UserData leaf
	fkEventID
	fkProvider
	fkProviderGUID
	fkEventSourceName
	fkChannel
	fkComputer
	fkLevel
	fkTask
	fkOpcode
	fkKeywordsMask
	fkRecordID
	fkProcessID
	fkThreadID
	fkUserID
	fkVersion
	fkQualifiers
	fkActivityID
	fkRelatedActivityID
	fkDataPos
	fkDataAny
	fkBinary
	fkMessage
	fkKeyword // no field: search every value
	numFieldKinds
)

var systemFields = map[string]fieldKind{
	"EventID":                       fkEventID,
	"Provider_Name":                 fkProvider,
	"Provider":                      fkProvider,
	"Provider_Guid":                 fkProviderGUID,
	"EventSourceName":               fkEventSourceName,
	"Provider_EventSourceName":      fkEventSourceName,
	"Channel":                       fkChannel,
	"Computer":                      fkComputer,
	"Level":                         fkLevel,
	"Task":                          fkTask,
	"Opcode":                        fkOpcode,
	"Keywords":                      fkKeywordsMask,
	"EventRecordID":                 fkRecordID,
	"ProcessID":                     fkProcessID,
	"Execution_ProcessID":           fkProcessID,
	"ThreadID":                      fkThreadID,
	"Execution_ThreadID":            fkThreadID,
	"UserID":                        fkUserID,
	"Security_UserID":               fkUserID,
	"Version":                       fkVersion,
	"Qualifiers":                    fkQualifiers,
	"EventID_Qualifiers":            fkQualifiers,
	"ActivityID":                    fkActivityID,
	"Correlation_ActivityID":        fkActivityID,
	"RelatedActivityID":             fkRelatedActivityID,
	"Correlation_RelatedActivityID": fkRelatedActivityID,
	"Data":                          fkDataAny,
	"Binary":                        fkBinary,
	"Message":                       fkMessage,
}

// A fieldRef is a field name compiled for lookup.
type fieldRef struct {
	name string
	kind fieldKind
	pos  int        // fkDataPos: 1-based
	id   int32      // fkNamed: interned name (see internField); 0 if not
	alt  *fieldConv // process_creation rules: the name on Security 4688
}

func newFieldRef(name string) fieldRef {
	if k, ok := systemFields[name]; ok {
		return fieldRef{name: name, kind: k}
	}
	if strings.HasPrefix(name, "Data[") && strings.HasSuffix(name, "]") {
		if n, err := strconv.Atoi(name[5 : len(name)-1]); err == nil && n >= 1 {
			return fieldRef{name: name, kind: fkDataPos, pos: n}
		}
	}
	return fieldRef{name: name, kind: fkNamed, id: internField(name)}
}

// Field names rules use are interned to small integers, so that an event's
// EventData can be indexed once and every lookup after that is an array
// access instead of a scan of the fields. The table only grows (by the
// names of loaded rules); contexts take a snapshot when they are made, and
// names interned later fall back to the scan.
var fieldIntern = struct {
	sync.RWMutex
	ids map[string]int32
}{ids: map[string]int32{}}

func internField(name string) int32 {
	fieldIntern.RLock()
	id, ok := fieldIntern.ids[name]
	fieldIntern.RUnlock()
	if ok {
		return id
	}
	fieldIntern.Lock()
	defer fieldIntern.Unlock()
	id, ok = fieldIntern.ids[name]
	if !ok {
		id = int32(len(fieldIntern.ids)) + 1 // 0: not interned
		fieldIntern.ids[name] = id
	}
	return id
}

func fieldIDSnapshot() map[string]int32 {
	fieldIntern.RLock()
	defer fieldIntern.RUnlock()
	m := make(map[string]int32, len(fieldIntern.ids))
	for k, v := range fieldIntern.ids {
		m[k] = v
	}
	return m
}

// Some providers name their EventData with spaces (Defender: "Process
// Name", "New Value"); Sigma rules write those names without the spaces or
// with underscores (ProcessName, Feature_Name). A rule may use either.
var spacedAliases sync.Map // string → [2]string

// spacedNameAliases returns name without its spaces, and with underscores
// for them.
func spacedNameAliases(name string) [2]string {
	if v, ok := spacedAliases.Load(name); ok {
		return v.([2]string)
	}
	a := [2]string{strings.ReplaceAll(name, " ", ""), strings.ReplaceAll(name, " ", "_")}
	spacedAliases.Store(name, a)
	return a
}

// eventData returns the first EventData field named name (interned as id),
// or whose spaced name reads name without the spaces (see
// spacedNameAliases).
func (c *evalCtx) eventData(id int32, name string) (string, bool) {
	if id <= 0 || int(id) >= len(c.dataPos) {
		return c.ev.Data(name)
	}
	if c.indexedGen != c.gen {
		for i := range c.ev.EventData {
			n := c.ev.EventData[i].Name
			if n == "" {
				continue
			}
			if k, ok := c.nameIDs[n]; ok && c.dataGen[k] != c.gen {
				c.dataPos[k], c.dataGen[k] = int32(i), c.gen
			}
			if strings.IndexByte(n, ' ') >= 0 {
				for _, alias := range spacedNameAliases(n) {
					if k, ok := c.nameIDs[alias]; ok && c.dataGen[k] != c.gen {
						c.dataPos[k], c.dataGen[k] = int32(i), c.gen
					}
				}
			}
		}
		c.indexedGen = c.gen
	}
	if c.dataGen[id] == c.gen {
		return c.ev.EventData[c.dataPos[id]].Value, true
	}
	return "", false
}

// An evalCtx resolves fields of one event at a time; it is reused across
// events (gen invalidates its caches) so matching allocates nothing on the
// common path.
type evalCtx struct {
	ev      *parser.Event
	maps    *mapIndex
	gen     uint32
	is4688  bool
	sys     [numFieldKinds]string
	sysGen  [numFieldKinds]uint32
	fm      []*fieldMap // maps applying to ev (valid when fmGen == gen)
	fmGen   uint32
	cache   []fmSlot
	multi   []string
	multiOK bool

	// EventData indexed by interned name (see eventData)
	nameIDs    map[string]int32
	dataPos    []int32
	dataGen    []uint32
	indexedGen uint32

	// lowered: the last value lower-cased (ASCII letters only), reused
	// while the same value is matched by several patterns
	lowBuf []byte
	low    string
	lowSrc string // keeps the source alive, so its address identifies it
}

// lowered returns v with ASCII letters lower-cased. The result lives in a
// buffer the next call with another value overwrites: use it at once.
func (c *evalCtx) lowered(v string) string {
	if len(v) == 0 {
		return ""
	}
	if len(v) == len(c.lowSrc) && unsafe.StringData(v) == unsafe.StringData(c.lowSrc) {
		return c.low
	}
	buf := c.lowBuf[:0]
	for i := 0; i < len(v); i++ {
		buf = append(buf, lowerASCII(v[i]))
	}
	c.lowBuf = buf
	c.low = unsafe.String(&buf[0], len(buf))
	c.lowSrc = v
	return c.low
}

type fmSlot struct {
	gen uint32
	ok  bool
	v   string
}

func newEvalCtx(mi *mapIndex) *evalCtx {
	ids := fieldIDSnapshot()
	return &evalCtx{maps: mi, cache: make([]fmSlot, mi.slots),
		nameIDs: ids, dataPos: make([]int32, len(ids)+1), dataGen: make([]uint32, len(ids)+1)}
}

// reset points the context at a new event.
func (c *evalCtx) reset(ev *parser.Event) {
	c.ev = ev
	c.gen++
	if c.gen == 0 { // wrapped: clear the stamps
		c.gen = 1
		c.sysGen = [numFieldKinds]uint32{}
		c.fmGen = 0
		c.indexedGen = 0
		for i := range c.cache {
			c.cache[i].gen = 0
		}
		clear(c.dataGen)
	}
	c.multiOK = false
	c.is4688 = ev.System.EventID == 4688 && strings.EqualFold(ev.System.Channel, chSecurity)
}

func (c *evalCtx) get(f *fieldRef) (string, bool) {
	if f.alt != nil && c.is4688 {
		return c.getConv(f.alt)
	}
	return c.getKind(f, 0)
}

func (c *evalCtx) getKind(f *fieldRef, depth int) (string, bool) {
	ev := c.ev
	s := &ev.System
	switch f.kind {
	case fkNamed:
		return c.named(f.name, f.id, depth)
	case fkProvider:
		return s.Provider, s.Provider != ""
	case fkProviderGUID:
		return s.ProviderGUID, s.ProviderGUID != ""
	case fkEventSourceName:
		return s.EventSourceName, s.EventSourceName != ""
	case fkChannel:
		return s.Channel, s.Channel != ""
	case fkComputer:
		return s.Computer, s.Computer != ""
	case fkUserID:
		return s.UserID, s.UserID != ""
	case fkActivityID:
		return s.ActivityID, s.ActivityID != ""
	case fkRelatedActivityID:
		return s.RelatedActivityID, s.RelatedActivityID != ""
	case fkMessage:
		return ev.Message, ev.Message != ""
	case fkDataPos:
		return ev.Positional(f.pos)
	case fkDataAny:
		if len(ev.EventData) == 0 {
			return "", false
		}
		return ev.EventData[0].Value, true
	case fkQualifiers:
		if !s.HasQualifiers {
			return "", false
		}
	case fkBinary:
		if ev.Binary == nil {
			return "", false
		}
	case fkKeyword:
		return "", false
	}
	// formatted values, cached per event
	if c.sysGen[f.kind] == c.gen {
		return c.sys[f.kind], true
	}
	var v string
	switch f.kind {
	case fkEventID:
		v = strconv.FormatUint(uint64(s.EventID), 10)
	case fkLevel:
		v = strconv.FormatUint(uint64(s.Level), 10)
	case fkTask:
		v = strconv.FormatUint(uint64(s.Task), 10)
	case fkOpcode:
		v = strconv.FormatUint(uint64(s.Opcode), 10)
	case fkKeywordsMask:
		v = "0x" + strconv.FormatUint(s.Keywords, 16)
	case fkRecordID:
		v = strconv.FormatUint(s.EventRecordID, 10)
	case fkProcessID:
		v = strconv.FormatUint(uint64(s.ProcessID), 10)
	case fkThreadID:
		v = strconv.FormatUint(uint64(s.ThreadID), 10)
	case fkVersion:
		v = strconv.FormatUint(uint64(s.Version), 10)
	case fkQualifiers:
		v = strconv.FormatUint(uint64(s.Qualifiers), 10)
	case fkBinary:
		v = strings.ToUpper(hex.EncodeToString(ev.Binary))
	}
	c.sys[f.kind], c.sysGen[f.kind] = v, c.gen
	return v, true
}

// getConv reads a process_creation taxonomy field from a Security 4688
// event.
func (c *evalCtx) getConv(fc *fieldConv) (string, bool) {
	if fc.absent {
		return "", false
	}
	v, ok := c.eventData(fc.id, fc.name)
	if !ok {
		return "", false
	}
	switch fc.conv {
	case convHexToDec:
		if n, ok := parseNumber(v); ok {
			return strconv.FormatUint(uint64(n), 10), true
		}
	case convDomainUser:
		if d, ok := c.eventData(subjectDomainID, "SubjectDomainName"); ok && d != "" {
			return d + `\` + v, true
		}
	case convIntegrityLabel:
		switch strings.ToUpper(v) {
		case "S-1-16-0":
			return "Untrusted", true
		case "S-1-16-4096":
			return "Low", true
		case "S-1-16-8192":
			return "Medium", true
		case "S-1-16-8448":
			return "MediumPlus", true
		case "S-1-16-12288":
			return "High", true
		case "S-1-16-16384":
			return "System", true
		}
	}
	return v, true
}

// named resolves a non-system name: field map, EventData, UserData.
func (c *evalCtx) named(name string, id int32, depth int) (string, bool) {
	for _, m := range c.applicableMaps() {
		if i, ok := m.index[name]; ok {
			return c.mapValue(m, i, depth)
		}
	}
	if v, ok := c.eventData(id, name); ok {
		return v, true
	}
	if c.ev.UserData != nil {
		if n := findUserData(c.ev.UserData, name); n != nil {
			return n.Text, true
		}
	}
	return "", false
}

// findUserData finds a leaf by element name (depth first, document order)
// or by a dotted path below the UserData child.
func findUserData(root *parser.Node, name string) *parser.Node {
	if strings.Contains(name, ".") {
		n := root
		for _, part := range strings.Split(name, ".") {
			var next *parser.Node
			for _, ch := range n.Children {
				if ch.Name == part {
					next = ch
					break
				}
			}
			if next == nil {
				return nil
			}
			n = next
		}
		return n
	}
	var walk func(n *parser.Node, depth int) *parser.Node
	walk = func(n *parser.Node, depth int) *parser.Node {
		if depth > 32 {
			return nil
		}
		for _, ch := range n.Children {
			if ch.Name == name {
				return ch
			}
			if r := walk(ch, depth+1); r != nil {
				return r
			}
		}
		return nil
	}
	return walk(root, 0)
}

// multiValues returns every EventData value (fkDataAny) or every value of
// the event for a keyword search (EventData, UserData leaves, Message).
func (c *evalCtx) multiValues(kind fieldKind) []string {
	ev := c.ev
	if c.multiOK {
		if kind == fkDataAny {
			return c.multi[:len(ev.EventData)]
		}
		return c.multi
	}
	c.multi = c.multi[:0]
	for i := range ev.EventData {
		c.multi = append(c.multi, ev.EventData[i].Value)
	}
	if ev.UserData != nil {
		var walk func(n *parser.Node, depth int)
		walk = func(n *parser.Node, depth int) {
			if depth > 32 {
				return
			}
			if n.Text != "" {
				c.multi = append(c.multi, n.Text)
			}
			for _, ch := range n.Children {
				walk(ch, depth+1)
			}
		}
		walk(ev.UserData, 0)
	}
	if ev.Message != "" {
		c.multi = append(c.multi, ev.Message)
	}
	c.multiOK = true
	if kind == fkDataAny {
		return c.multi[:len(ev.EventData)]
	}
	return c.multi
}
