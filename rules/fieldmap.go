package rules

import (
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// A fieldMap names the fields of one provider's events (mostly positional
// Data[n] of classic providers) and derives values through decoders and
// label tables. Values are computed lazily and cached per event.
type fieldMap struct {
	name     string
	provider string // Provider_Name, compared case-insensitively
	ids      []idRange
	names    []string
	exprs    []*fmExpr
	index    map[string]int
	base     int // first cache slot (assigned when linking)
	file     string
	line     int
}

type idRange struct{ lo, hi uint16 }

func (m *fieldMap) applies(id uint16) bool {
	if len(m.ids) == 0 {
		return true
	}
	for _, r := range m.ids {
		if r.lo <= id && id <= r.hi {
			return true
		}
	}
	return false
}

// An fmExpr is a field map expression: a literal, a field, label(...) or a
// decoder call.
type fmExpr struct {
	lit   string
	isLit bool
	field fieldRef
	fn    string
	dec   Decoder
	table map[string]string // label
	args  []*fmExpr
}

// A mapIndex is the field maps of a ruleset, ready for lookups.
type mapIndex struct {
	maps  []*fieldMap
	slots int
}

func buildMapIndex(maps []*fieldMap) *mapIndex {
	mi := &mapIndex{maps: maps}
	for _, m := range maps {
		m.base = mi.slots
		mi.slots += len(m.names)
	}
	return mi
}

// applicableMaps returns the field maps for the current event, computed
// once per event.
func (c *evalCtx) applicableMaps() []*fieldMap {
	if c.fmGen == c.gen {
		return c.fm
	}
	c.fm = c.fm[:0]
	prov, id := c.ev.System.Provider, c.ev.System.EventID
	for _, m := range c.maps.maps {
		if strings.EqualFold(m.provider, prov) && m.applies(id) {
			c.fm = append(c.fm, m)
		}
	}
	c.fmGen = c.gen
	return c.fm
}

const maxExprDepth = 8

func (c *evalCtx) mapValue(m *fieldMap, i, depth int) (string, bool) {
	slot := &c.cache[m.base+i]
	if slot.gen == c.gen {
		return slot.v, slot.ok
	}
	if depth > maxExprDepth {
		return "", false
	}
	v, ok := c.evalExpr(m, m.exprs[i], depth+1)
	slot = &c.cache[m.base+i] // (the slice does not move, but be explicit)
	slot.gen, slot.v, slot.ok = c.gen, v, ok
	return v, ok
}

func (c *evalCtx) evalExpr(m *fieldMap, e *fmExpr, depth int) (string, bool) {
	switch {
	case e.isLit:
		return e.lit, true
	case e.table != nil:
		v, ok := c.evalExpr(m, e.args[0], depth)
		if !ok {
			return "", false
		}
		l, ok := e.table[v]
		return l, ok
	case e.dec != nil:
		args := make([]string, len(e.args))
		for i, a := range e.args {
			v, ok := c.evalExpr(m, a, depth)
			if !ok {
				return "", false
			}
			args[i] = v
		}
		return e.dec(args)
	}
	// a field: a sibling of the same map first (lazily), then anything
	if e.field.kind == fkNamed {
		if i, ok := m.index[e.field.name]; ok {
			return c.mapValue(m, i, depth)
		}
		return c.named(e.field.name, e.field.id, depth)
	}
	return c.getKind(&e.field, depth)
}

// ---- parsing ----

func parseFieldMap(de *docErrors, root *yaml.Node, keys map[string]*yaml.Node) *fieldMap {
	m := &fieldMap{file: de.file, line: root.Line, index: map[string]int{}}
	m.name = scalarOr(keys["fieldmap"], "")
	de.rule = "fieldmap " + m.name
	if m.name == "" {
		de.at(keys["fieldmap"], "fieldmap needs a name")
	}
	m.provider = scalarOr(keys["provider"], "")
	if m.provider == "" {
		de.at(root, "fieldmap needs `provider:` (the Provider_Name it applies to)")
	}
	if n := keys["event_ids"]; n != nil {
		for _, s := range stringList(de, n, "event_ids") {
			r, ok := parseIDRange(s)
			if !ok {
				de.at(n, "event_ids: %q is not an event id or a range like \"11000-11999\"", s)
				continue
			}
			m.ids = append(m.ids, r)
		}
	}
	labels := map[string]map[string]string{}
	if n := keys["labels"]; n != nil {
		labels = de.mapOfMaps(n, "labels must map table names to {value: text}", "label table %q must be a mapping value → text")
	}
	f := keys["fields"]
	if f == nil || f.Kind != yaml.MappingNode || len(f.Content) == 0 {
		de.at(root, "fieldmap needs `fields:` mapping name → expression")
		return m
	}
	for i := 0; i+1 < len(f.Content); i += 2 {
		k, v := f.Content[i], f.Content[i+1]
		if _, dup := m.index[k.Value]; dup {
			de.at(k, "field %q defined twice (keep one)", k.Value)
			continue
		}
		if _, sys := systemFields[k.Value]; sys {
			de.at(k, "field %q is a System field name; a map cannot redefine it (pick another name)", k.Value)
			continue
		}
		if strings.Count(v.Value, "(") > maxExprDepth {
			de.at(v, "expression nests more than %d calls (simplify it)", maxExprDepth)
			continue
		}
		e := parseExpr(de, v, v.Value, labels)
		m.index[k.Value] = len(m.names)
		m.names = append(m.names, k.Value)
		m.exprs = append(m.exprs, e)
	}
	return m
}

func parseIDRange(s string) (idRange, bool) {
	lo, hi, isRange := strings.Cut(strings.TrimSpace(s), "-")
	a, err := strconv.ParseUint(strings.TrimSpace(lo), 10, 16)
	if err != nil {
		return idRange{}, false
	}
	if !isRange {
		return idRange{uint16(a), uint16(a)}, true
	}
	b, err := strconv.ParseUint(strings.TrimSpace(hi), 10, 16)
	if err != nil || b < a {
		return idRange{}, false
	}
	return idRange{uint16(a), uint16(b)}, true
}

// parseExpr parses `source`, `'literal'`, `label(expr, table)` or
// `decoder(expr, …)`.
func parseExpr(de *docErrors, n *yaml.Node, s string, labels map[string]map[string]string) *fmExpr {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		return &fmExpr{lit: s[1 : len(s)-1], isLit: true}
	}
	open := strings.IndexByte(s, '(')
	if open < 0 || strings.HasPrefix(s, "Data[") {
		if s == "" {
			de.at(n, "empty field expression")
		}
		return &fmExpr{field: newFieldRef(s)}
	}
	if !strings.HasSuffix(s, ")") {
		de.at(n, "expression %q: missing )", s)
		return &fmExpr{isLit: true}
	}
	fn := strings.TrimSpace(s[:open])
	args := splitArgs(s[open+1 : len(s)-1])
	e := &fmExpr{fn: fn}
	if fn == "label" {
		if len(args) != 2 {
			de.at(n, "label takes (field, table), got %d argument(s)", len(args))
			return &fmExpr{isLit: true}
		}
		tab, ok := labels[strings.TrimSpace(args[1])]
		if !ok {
			de.at(n, "label table %q is not defined under labels:", strings.TrimSpace(args[1]))
			tab = map[string]string{}
		}
		e.table = tab
		e.args = []*fmExpr{parseExpr(de, n, args[0], labels)}
		return e
	}
	dec, ok := decoders[fn]
	if !ok {
		known := make([]string, 0, len(decoders))
		for k := range decoders {
			known = append(known, k)
		}
		de.at(n, "unknown decoder %q (known: label, %s)", fn, strings.Join(sortedStrings(known), ", "))
		return &fmExpr{isLit: true}
	}
	e.dec = dec
	for _, a := range args {
		e.args = append(e.args, parseExpr(de, n, a, labels))
	}
	return e
}

// splitArgs splits on commas outside parentheses and quotes.
func splitArgs(s string) []string {
	var out []string
	depth, start := 0, 0
	quoted := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\'':
			quoted = !quoted
		case '(':
			if !quoted {
				depth++
			}
		case ')':
			if !quoted {
				depth--
			}
		case ',':
			if depth == 0 && !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	if strings.TrimSpace(s[start:]) != "" || len(out) > 0 {
		out = append(out, s[start:])
	}
	return out
}

func sortedStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}
