package rules

import (
	"math/bits"
	"strings"
)

// Rule pre-filter. Many rules can only match when one field equals one of
// a few values: SigmaHQ's process_creation rules mostly start with "Image
// ends with \x.exe or OriginalFileName is x.exe". For such rules we derive
// the literals one of which the event must have (their "needs"), index the
// rules of a channel/event-id list by them, and per event evaluate only the
// rules whose literal the event carries, plus the rules without needs. The
// needs are a necessary condition, so the findings are exactly those of
// evaluating every rule (TestPrefilterDifferential checks it).

// minIndexed is the list length from which an index pays for itself.
const minIndexed = 24

// A needKey is one literal a rule may need: the field's value (lower-cased)
// equals lit, or, with base set, its file name (after the last \) does.
type needKey struct {
	field fieldRef
	base  bool
	lit   string
}

// ruleNeeds returns literals one of which holds for every event the
// condition matches, or ok=false when no such set is known.
func ruleNeeds(c condNode) (keys []needKey, ok bool) {
	switch n := c.(type) {
	case *condSel:
		return selectionNeeds(n.sel)
	case *condAnd:
		var best []needKey
		found := false
		for _, k := range n.kids {
			if ks, ok := ruleNeeds(k); ok && (!found || len(ks) < len(best)) {
				best, found = ks, true
			}
		}
		return best, found
	case *condOr:
		for _, k := range n.kids {
			ks, ok := ruleNeeds(k)
			if !ok {
				return nil, false
			}
			keys = append(keys, ks...)
		}
		return keys, len(n.kids) > 0
	case *condOf:
		kids := make([]condNode, len(n.sels))
		for i, s := range n.sels {
			kids[i] = &condSel{sel: s}
		}
		if n.n == 0 {
			return ruleNeeds(&condAnd{kids: kids})
		}
		return ruleNeeds(&condOr{kids: kids})
	}
	return nil, false
}

func selectionNeeds(s *selection) (keys []needKey, ok bool) {
	for _, alt := range s.alts {
		var best []needKey
		found := false
		for _, t := range alt {
			if ks, ok := testNeeds(t); ok && (!found || len(ks) < len(best)) {
				best, found = ks, true
			}
		}
		if !found {
			return nil, false
		}
		keys = append(keys, best...)
	}
	return keys, len(s.alts) > 0
}

// testNeeds returns the literals of a field test that holds only when the
// field equals one of them, or ends with \name for one of them.
func testNeeds(t *fieldTest) (keys []needKey, ok bool) {
	if t.ids != nil || t.neg || t.exists != 0 || len(t.groups) == 0 {
		return nil, false
	}
	switch t.field.kind {
	case fkDataAny, fkKeyword:
		return nil, false
	}
	groups := t.groups
	if t.all {
		groups = groups[:1] // every group must match: the first one is needed
	}
	for _, g := range groups {
		if len(g) == 0 {
			return nil, false
		}
		for i := range g {
			m := &g[i]
			if !m.ascii || m.cased {
				return nil, false
			}
			switch {
			case m.op == opEq:
				keys = append(keys, needKey{field: t.field, lit: m.s})
			case m.op == opSuffix && len(m.s) > 1 && m.s[0] == '\\' && !strings.Contains(m.s[1:], `\`):
				keys = append(keys, needKey{field: t.field, base: true, lit: m.s[1:]})
			default:
				return nil, false
			}
		}
	}
	return keys, true
}

// A ruleIndex finds the rules of one list an event may match.
type ruleIndex struct {
	always []uint64 // bit set of the rules without needs
	fields []*indexField
	set    []uint64 // scratch
}

type indexField struct {
	field fieldRef
	base  bool
	table map[string][]int32 // literal → rule positions
}

func buildIndex(list []*engineRule) *ruleIndex {
	words := (len(list) + 63) / 64
	ix := &ruleIndex{always: make([]uint64, words), set: make([]uint64, words)}
	for pos, er := range list {
		if !er.indexed {
			ix.always[pos/64] |= 1 << (pos % 64)
			continue
		}
		for _, k := range er.needs {
			f := ix.fieldFor(k)
			f.table[k.lit] = append(f.table[k.lit], int32(pos))
		}
	}
	return ix
}

func (ix *ruleIndex) fieldFor(k needKey) *indexField {
	for _, f := range ix.fields {
		if f.base == k.base && f.field.name == k.field.name && (f.field.alt == nil) == (k.field.alt == nil) {
			return f
		}
	}
	f := &indexField{field: k.field, base: k.base, table: map[string][]int32{}}
	ix.fields = append(ix.fields, f)
	return f
}

// each calls fn with the position of every rule of the list the event may
// match, in list order.
func (ix *ruleIndex) each(ctx *evalCtx, fn func(pos int)) {
	copy(ix.set, ix.always)
	for _, f := range ix.fields {
		v, ok := ctx.get(&f.field)
		if !ok {
			continue
		}
		lv := ctx.lowered(v)
		if f.base {
			if i := strings.LastIndexByte(lv, '\\'); i >= 0 {
				lv = lv[i+1:]
			}
		}
		for _, pos := range f.table[lv] {
			ix.set[pos/64] |= 1 << (pos % 64)
		}
	}
	for w, word := range ix.set {
		for word != 0 {
			b := bits.TrailingZeros64(word)
			word &^= 1 << b
			fn(w*64 + b)
		}
	}
}

// withoutPrefilter makes an engine evaluate every rule of a list; tests use
// it as the reference the pre-filter must agree with.
func withoutPrefilter() Option { return func(e *Engine) { e.noIndex = true } }
