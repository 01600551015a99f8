package messages

import (
	"slices"
	"strings"
	"sync"

	"github.com/evtxscan/evtxscan/parser"
)

// An Entry is one message template: the text Windows shows for an event of
// a provider, optionally narrowed to an event version, to classic events
// with given qualifiers, or to an event source name.
type Entry struct {
	Provider    string // Provider/@Name, matched case-insensitively
	EventSource string // when set, only events with this Provider/@EventSourceName
	EventID     uint16
	Version     *uint8  // when set, only events of this version
	Qualifiers  *uint16 // when set, only classic events with these qualifiers
	Template    string  // FormatMessage syntax: %1…%99, %n!fmt!, %n, %t, %%, …
	Source      string  // where the text comes from (document, DLL, observation)
}

// A Table holds compiled message templates and %%N parameter strings. It is
// safe for concurrent Render calls; Merge must not run concurrently with
// anything else.
type Table struct {
	entries map[entryKey][]*compiledEntry
	// params maps a lower-case provider name to its parameter strings;
	// defaultParams is used for providers without their own (the system
	// error texts classic providers such as the SCM reference as %%N).
	params        map[string]map[uint32]string
	defaultParams map[uint32]string
	// spelled maps provider names as the table writes them to their lower
	// case key: Windows spells names the same way, so lookups rarely need
	// to lower-case (and allocate).
	spelled map[string]string
}

// providerKey returns the lower-case key of a provider name.
func (t *Table) providerKey(name string) string {
	if k, ok := t.spelled[name]; ok {
		return k
	}
	return strings.ToLower(name)
}

type entryKey struct {
	provider string // lower case
	id       uint16
}

type compiledEntry struct {
	Entry
	tmpl *template
}

// specificity counts the narrowing conditions of an entry.
func (c *compiledEntry) specificity() int {
	n := 0
	if c.Version != nil {
		n++
	}
	if c.Qualifiers != nil {
		n++
	}
	if c.EventSource != "" {
		n++
	}
	return n
}

// fits reports whether every narrowing condition holds for ev.
func (c *compiledEntry) fits(ev *parser.Event) bool {
	if c.Version != nil && *c.Version != ev.System.Version {
		return false
	}
	if c.Qualifiers != nil && (!ev.System.HasQualifiers || *c.Qualifiers != ev.System.Qualifiers) {
		return false
	}
	if c.EventSource != "" && !strings.EqualFold(c.EventSource, ev.System.EventSourceName) {
		return false
	}
	return true
}

// sameNarrowing reports whether two entries apply to exactly the same events.
func sameNarrowing(a, b *compiledEntry) bool {
	return ptrEqual(a.Version, b.Version) && ptrEqual(a.Qualifiers, b.Qualifiers) &&
		strings.EqualFold(a.EventSource, b.EventSource)
}

func ptrEqual[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func newTable() *Table {
	return &Table{
		entries: make(map[entryKey][]*compiledEntry),
		params:  make(map[string]map[uint32]string),
		spelled: make(map[string]string),
	}
}

// add inserts an entry; an earlier entry with the same key, narrowing and
// highest insert number is replaced. Entries that differ only in how many
// inserts they use are kept side by side: Windows changed some texts by
// appending fields (Application Error 1000 gained %14 and %15), and an event
// is rendered with the text that fits the values it carries.
func (t *Table) add(c *compiledEntry) {
	k := entryKey{strings.ToLower(c.Provider), c.EventID}
	t.spelled[c.Provider] = k.provider
	list := t.entries[k]
	for i, old := range list {
		if sameNarrowing(old, c) && old.tmpl.maxInsert == c.tmpl.maxInsert {
			list[i] = c
			return
		}
	}
	t.entries[k] = append(list, c)
}

// Len returns the number of (provider, event id, narrowing) entries.
func (t *Table) Len() int {
	n := 0
	for _, l := range t.entries {
		n += len(l)
	}
	return n
}

var (
	builtinOnce  sync.Once
	builtinTable *Table
)

// Builtin returns a new Table holding the built-in templates. Each call
// returns its own Table, so merging a user table into it affects no one
// else; the templates themselves are compiled once and shared.
//
// The built-in table is written as YAML in messages/table/*.yml, each entry
// with its source:. What the program loads is builtin_gen.go, the same
// entries as Go literals generated from those files, so that start-up does
// not parse YAML; a test keeps the two identical.
func Builtin() *Table {
	builtinOnce.Do(func() {
		builtinTable = buildTable(builtinParts())
	})
	return builtinTable.clone()
}

// A builtinPart is one generated table file: its entries in file order and
// its parameter strings.
type builtinPart struct {
	entries []builtinEntry
	// params maps a lower-case provider name to its %%N strings;
	// paramNames are the provider names as the parameters: items spell
	// them (what Table.spelled learns from them).
	params        map[string]map[uint32]string
	paramNames    []string
	defaultParams map[uint32]string
}

// A builtinEntry is one entry, or a run of entries that differ only in
// their consecutive event ids (an event_id range such as MsiInstaller's
// "11000-11999"): EventID is the first id of the run, through the last one,
// and through is 0 or EventID for a single entry.
type builtinEntry struct {
	Entry
	through uint16
}

// entryCount is how many entries p's runs expand to.
func (p *builtinPart) entryCount() int {
	n := 0
	for _, e := range p.entries {
		n += int(max(e.EventID, e.through)-e.EventID) + 1
	}
	return n
}

// Pointer helpers for the generated literals.
func u8(v uint8) *uint8    { return &v }
func u16(v uint16) *uint16 { return &v }

// buildTable does what reading the table files does: per file a table of
// its entries, added in file order, and its parameter strings, merged into
// the result in file order. A run's entries share one compiled template
// (templates never change once compiled). The entry maps are sized up
// front: growing them was a third of the time.
func buildTable(parts []builtinPart) *Table {
	t := newTable()
	total := 0
	for _, p := range parts {
		total += p.entryCount()
	}
	t.entries = make(map[entryKey][]*compiledEntry, total)
	for _, p := range parts {
		part := newTable()
		part.entries = make(map[entryKey][]*compiledEntry, p.entryCount())
		for _, e := range p.entries {
			tmpl := compileTemplate(e.Template)
			last := max(e.EventID, e.through)
			for id := e.EventID; ; id++ {
				c := &compiledEntry{Entry: e.Entry, tmpl: tmpl}
				c.EventID = id
				part.add(c)
				// Tested here, not as the loop condition: id <= last
				// always holds when a run ends at 65535.
				if id == last {
					break
				}
			}
		}
		for _, name := range p.paramNames {
			part.spelled[name] = strings.ToLower(name)
		}
		part.params = p.params
		part.defaultParams = p.defaultParams
		t.Merge(part)
	}
	return t
}

// clone copies the maps (not the compiled templates, which never change).
func (t *Table) clone() *Table {
	c := newTable()
	for k, l := range t.entries {
		c.entries[k] = slices.Clone(l)
	}
	for p, m := range t.params {
		c.params[p] = cloneParams(m)
	}
	c.defaultParams = cloneParams(t.defaultParams)
	for k, v := range t.spelled {
		c.spelled[k] = v
	}
	return c
}

func cloneParams(m map[uint32]string) map[uint32]string {
	if m == nil {
		return nil
	}
	c := make(map[uint32]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// Merge adds other's templates and parameter strings to t. Where both have
// entries for the same provider, event id and narrowing, or a parameter
// string with the same number, other's replace t's: merge a user table into
// the built-in one to override it.
func (t *Table) Merge(other *Table) {
	if other == nil {
		return
	}
	if t.entries == nil { // a zero Table
		*t = *newTable()
	}
	for k, incoming := range other.entries {
		kept := t.entries[k][:0:0]
		for _, old := range t.entries[k] {
			replaced := false
			for _, c := range incoming {
				if sameNarrowing(old, c) {
					replaced = true
					break
				}
			}
			if !replaced {
				kept = append(kept, old)
			}
		}
		t.entries[k] = append(kept, incoming...)
	}
	for k, v := range other.spelled {
		t.spelled[k] = v
	}
	for p, m := range other.params {
		if t.params[p] == nil {
			t.params[p] = make(map[uint32]string, len(m))
		}
		for n, s := range m {
			t.params[p][n] = s
		}
	}
	if other.defaultParams != nil && t.defaultParams == nil {
		t.defaultParams = make(map[uint32]string, len(other.defaultParams))
	}
	for n, s := range other.defaultParams {
		t.defaultParams[n] = s
	}
}

// lookup finds the best entry for ev: the most specific one that fits,
// among the entries of its provider name, else of its event source name.
func (t *Table) lookup(ev *parser.Event) *compiledEntry {
	if t == nil {
		return nil
	}
	id := ev.System.EventID
	if c := best(t.entries[entryKey{t.providerKey(ev.System.Provider), id}], ev); c != nil {
		return c
	}
	if src := ev.System.EventSourceName; src != "" && !strings.EqualFold(src, ev.System.Provider) {
		return best(t.entries[entryKey{t.providerKey(src), id}], ev)
	}
	return nil
}

// best picks, among the entries that fit ev, the most specific one; among
// equally specific ones the text with the most inserts the event can fill
// (else the one needing the fewest), as Velociraptor's resolver does.
func best(list []*compiledEntry, ev *parser.Event) *compiledEntry {
	if len(list) == 1 {
		if list[0].fits(ev) {
			return list[0]
		}
		return nil
	}
	have := eventValues{ev}.count()
	var found *compiledEntry
	for _, c := range list {
		if !c.fits(ev) {
			continue
		}
		if found == nil || c.specificity() > found.specificity() ||
			c.specificity() == found.specificity() && betterFit(c.tmpl.maxInsert, found.tmpl.maxInsert, have) {
			found = c
		}
	}
	return found
}

// betterFit reports whether a text using inserts up to a suits an event
// with have values better than one using up to b.
func betterFit(a, b, have int) bool {
	switch aFits, bFits := a <= have, b <= have; {
	case aFits && bFits:
		return a > b
	case aFits != bFits:
		return aFits
	default:
		return a < b
	}
}

// paramsFor returns the %%N strings an event's provider resolves against.
func (t *Table) paramsFor(ev *parser.Event) map[uint32]string {
	if m, ok := t.params[t.providerKey(ev.System.Provider)]; ok {
		return m
	}
	if src := ev.System.EventSourceName; src != "" {
		if m, ok := t.params[t.providerKey(src)]; ok {
			return m
		}
	}
	return t.defaultParams
}

// Render returns the message text of ev and true, or Fallback(ev) and false
// when the table has no template for it.
//
// When the event carries the text Windows itself rendered (RenderingInfo of
// a forwarded event, or live mode), that text is returned, with line breaks
// normalized to "\n": Windows' own text beats any table.
func (t *Table) Render(ev *parser.Event) (string, bool) {
	if ev.RenderedMessage != "" {
		s := strings.ReplaceAll(ev.RenderedMessage, "\r\n", "\n")
		return truncate(strings.TrimRight(s, "\r\n"), MaxMessageBytes), true
	}
	c := t.lookup(ev)
	if c == nil {
		return Fallback(ev), false
	}
	return c.tmpl.render(eventValues{ev}, t.paramsFor(ev)), true
}

// Known is Render without the fallback: the message when the event carries
// Windows' own text or the table has its template, else "" and false. It is
// what a scan calls for every event, so an unknown event costs a lookup and
// nothing more.
func (t *Table) Known(ev *parser.Event) (string, bool) {
	if ev.RenderedMessage == "" && t.lookup(ev) == nil {
		return "", false
	}
	return t.Render(ev)
}

// Template returns the entry Render would use for ev.
func (t *Table) Template(ev *parser.Event) (Entry, bool) {
	if c := t.lookup(ev); c != nil {
		return c.Entry, true
	}
	return Entry{}, false
}

// eventValues serves an event's insertion values without copying them:
// InsertionStrings when set, else EventData in document order, else the
// UserData leaves in document order.
type eventValues struct{ ev *parser.Event }

func (e eventValues) value(n int) (string, bool) {
	ev := e.ev
	if k := insertionCount(ev); k > 0 {
		if n <= k {
			return ev.InsertionStrings[n-1], true
		}
		return "", false
	}
	if len(ev.EventData) > 0 {
		return ev.Positional(n)
	}
	if ev.UserData != nil {
		return nthLeaf(ev.UserData, n)
	}
	return "", false
}

// insertionCount is how many of ev.InsertionStrings are message inserts.
// A classic event's substitution values end with its Binary (a length and
// the bytes) after the strings; FormatMessage only sees the strings, which
// are the <Data> elements, so the count stops there. (Seen on the
// DeepBlueCLI Application log: 13 strings of Application Error 1000, then
// "0" and "".)
func insertionCount(ev *parser.Event) int {
	n := len(ev.InsertionStrings)
	if ev.System.HasQualifiers && len(ev.EventData) > 0 && n > len(ev.EventData) {
		n = len(ev.EventData)
	}
	return n
}

// count returns how many values value(n) serves.
func (e eventValues) count() int {
	ev := e.ev
	switch {
	case len(ev.InsertionStrings) > 0:
		return insertionCount(ev)
	case len(ev.EventData) > 0:
		return len(ev.EventData)
	case ev.UserData != nil:
		n := 0
		walkLeaves(ev.UserData, 0, func(*parser.Node) bool { n++; return false })
		return n
	}
	return 0
}

// named returns the EventData field or UserData leaf called name.
func (e eventValues) named(name string) (string, bool) {
	if v, ok := e.ev.Data(name); ok {
		return v, true
	}
	if e.ev.UserData == nil {
		return "", false
	}
	var v string
	found := walkLeaves(e.ev.UserData, 0, func(nd *parser.Node) bool {
		if nd.Name == name {
			v = nd.Text
			return true
		}
		return false
	})
	return v, found
}

// walkLeaves calls f for each element without children under nd, in
// document order, until f returns true; it reports whether f did.
func walkLeaves(nd *parser.Node, depth int, f func(*parser.Node) bool) bool {
	if len(nd.Children) == 0 {
		return f(nd)
	}
	if depth > 32 { // trees come from untrusted files; the parser caps depth too
		return false
	}
	for _, c := range nd.Children {
		if walkLeaves(c, depth+1, f) {
			return true
		}
	}
	return false
}

// nthLeaf returns the text of the n-th (1-based) element without children
// under root, in document order. root is the payload's wrapper element
// (e.g. RmSessionEvent); it is a value itself only when it has no children.
func nthLeaf(root *parser.Node, n int) (string, bool) {
	var v string
	i := 0
	found := walkLeaves(root, 0, func(nd *parser.Node) bool {
		i++
		if i == n {
			v = nd.Text
			return true
		}
		return false
	})
	return v, found
}

// Fill sets ev.Message to the event's text (what Render returns: the
// template filled in, or Fallback(ev)) and reports whether a template or
// Windows' own text was used. Call it before rules see the event: Sigma
// rules match the Message field.
func (t *Table) Fill(ev *parser.Event) bool {
	msg, ok := t.Render(ev)
	ev.Message = msg
	return ok
}
