package rules

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Lint loads a file or directory of rules and returns every problem found,
// sorted by file and position:
//
//   - errors, the rules a scan refuses to start with (YAML errors, unknown
//     modifiers or log sources, bad conditions, unknown decoders, dangling
//     references);
//   - unsupported, valid Sigma evtxscan skips (another product, the expand
//     modifier, …);
//   - warnings: a field name that no field map (the built-in pack's and
//     those in path), no Sigma taxonomy of the rule's logsource and no event
//     seen on its channels defines, with a "did you mean"; and a rule or
//     test that can never match (see lintNeverMatches).
//
// An empty result means every rule loads and looks right.
func Lint(path string) []Problem {
	rs := NewRuleset()
	if err := rs.AddPath(path); err != nil {
		return []Problem{{File: path, Msg: err.Error()}}
	}
	var out []Problem
	for _, le := range rs.Skipped() {
		out = append(out, le.Problems...)
	}
	out = append(out, rs.lintWarnings()...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	return out
}

// builtinMaps are the built-in pack's field maps: context for linting user
// rules, which a scan runs next to them.
var builtinMaps = sync.OnceValue(func() []*fieldMap {
	rs := NewRuleset()
	if err := rs.AddBuiltin(); err != nil {
		return nil
	}
	return rs.fieldMaps
})

// Warnings returns the lint warnings of the loaded rules (see Lint): field
// names nothing defines, rules that can never match. Rules of the built-in
// pack are left out.
func (rs *Ruleset) Warnings() []Problem {
	var out []Problem
	for _, p := range rs.lintWarnings() {
		if !strings.HasPrefix(p.File, "builtin:") {
			out = append(out, p)
		}
	}
	return out
}

// lintWarnings checks the loaded detection rules for likely mistakes.
func (rs *Ruleset) lintWarnings() []Problem {
	rs.link()
	maps := append(append([]*fieldMap(nil), rs.fieldMaps...), builtinMaps()...)
	var out []Problem
	for _, r := range rs.live {
		if r.kind != kindDetection || r.det == nil {
			continue
		}
		out = append(out, lintRule(r, maps)...)
	}
	return out
}

func lintRule(r *rule, maps []*fieldMap) []Problem {
	var out []Problem
	warn := func(line, col int, kind, format string, args ...any) {
		out = append(out, Problem{File: r.file, Line: line, Col: col, Severity: SeverityWarning, Kind: kind, Rule: r.info.ID, Msg: fmt.Sprintf(format, args...)})
	}
	known, specific := knownFieldSet(r.sources, maps)
	candidates := make([]string, 0, len(known))
	for n := range known {
		candidates = append(candidates, n)
	}
	ruleIDs, idsKnown := r.possibleIDs()

	// the condition: event ids it needs against each other and the logsource
	if cn := r.det.condNode; cn != nil && r.det.cond != nil {
		condIDs, pinned := possibleIDs(r.det.cond)
		srcIDs, srcPinned := sourceIDs(r.sources)
		switch {
		case pinned && len(condIDs) == 0:
			warn(cn.Line, cn.Column, "never-matches", "the condition needs EventID to have two different values at once (selections joined by `and` pin different ids): the rule can never match")
		case pinned && srcPinned && len(intersectSet(condIDs, srcIDs)) == 0:
			warn(cn.Line, cn.Column, "never-matches", "the condition needs EventID %s, but the logsource reads only EventID %s: the rule can never match (fix the ids or the logsource)", idList(condIDs), idList(srcIDs))
		}
		if chans, pinned := pinnedValues(r.det.cond, channelPin); pinned {
			srcChans := map[string]bool{}
			anyChan := len(r.sources) == 0
			for _, src := range r.sources {
				if src.channel == "" {
					anyChan = true
				}
				srcChans[strings.ToLower(src.channel)] = true
			}
			switch {
			case len(chans) == 0:
				warn(cn.Line, cn.Column, "never-matches", "the condition needs Channel to have two different values at once: the rule can never match")
			case !anyChan && len(intersectStrings(chans, srcChans)) == 0:
				warn(cn.Line, cn.Column, "never-matches", "the condition needs Channel %s, but the logsource reads only %s: the rule can never match (fix the Channel or the logsource)", strings.Join(sortedKeys(chans), ", "), describeSources(r.sources))
			}
		}
	}

	seen := map[*fieldTest]bool{}
	for _, name := range r.det.names {
		s := r.det.sels[name]
		for _, alt := range s.alts {
			for _, t := range alt {
				if seen[t] {
					continue // a YAML alias shares the test
				}
				seen[t] = true
				names := []string{}
				if t.field.kind == fkNamed {
					names = append(names, t.field.name)
				}
				for _, g := range t.groups {
					for _, m := range g {
						if m.ref != nil && m.ref.kind == fkNamed {
							names = append(names, m.ref.name)
						}
					}
				}
				for _, n := range names {
					checkField(n, t, known, specific, candidates, maps, ruleIDs, idsKnown, r, warn)
				}
			}
		}
	}
	return out
}

func checkField(name string, t *fieldTest, known map[string]bool, specific bool, candidates []string, maps []*fieldMap,
	ruleIDs map[uint16]bool, idsKnown bool, r *rule, warn func(line, col int, kind, format string, args ...any)) {
	leaf := name
	if i := strings.LastIndexByte(name, '.'); i >= 0 { // a UserData path
		leaf = name[i+1:]
	}
	var defining []*fieldMap
	for _, m := range maps {
		if _, ok := m.index[name]; ok {
			defining = append(defining, m)
		}
	}
	if !known[leaf] && len(defining) == 0 {
		where := "any event log channel"
		if specific {
			where = "this rule's logsource (" + describeSources(r.sources) + ")"
		}
		warn(t.line, t.col, "unknown-field", "field %q is not defined by any field map, the Sigma taxonomy or the events seen on %s%s: a test on it is never true", name, where, didYouMean(name, candidates))
		return
	}
	if known[leaf] && !fieldOnlyFromMaps(leaf, defining) {
		return
	}
	// The name comes only from field maps: do any apply to the rule's ids?
	if !idsKnown || len(defining) == 0 {
		return
	}
	for _, m := range defining {
		for id := range ruleIDs {
			if m.applies(id) {
				return
			}
		}
	}
	m := defining[0]
	warn(t.line, t.col, "never-matches", "field %q comes only from field map %s (provider %s, %s), but this rule reads only EventID %s: a test on it is never true", name, m.name, m.provider, mapIDs(m), idList(ruleIDs))
}

// fieldOnlyFromMaps reports whether name is known only because maps define
// it (the known set holds map names too).
func fieldOnlyFromMaps(name string, defining []*fieldMap) bool {
	if len(defining) == 0 {
		return false
	}
	if _, sys := systemFields[name]; sys {
		return false
	}
	for _, names := range channelFields() {
		if names[name] {
			return false
		}
	}
	for _, f := range sysmonFields {
		for _, n := range strings.Fields(f) {
			if n == name {
				return false
			}
		}
	}
	return true
}

// possibleIDs returns the event ids the rule can match (condition and
// logsource together), or ok=false when any id may do.
func (r *rule) possibleIDs() (map[uint16]bool, bool) {
	condIDs, pinned := possibleIDs(r.det.cond)
	srcIDs, srcPinned := sourceIDs(r.sources)
	switch {
	case pinned && srcPinned:
		return intersectSet(condIDs, srcIDs), true
	case pinned:
		return condIDs, true
	case srcPinned:
		return srcIDs, true
	}
	return nil, false
}

// possibleIDs returns the event ids for which c can be true, or ok=false
// when it can be true for any id. Unlike pinned (which picks a cheap
// prefilter), and-ed operands intersect.
func possibleIDs(c condNode) (map[uint16]bool, bool) {
	vals, ok := pinnedValues(c, func(t *fieldTest) map[string]bool {
		if t.ids == nil {
			return nil
		}
		s := map[string]bool{}
		for _, id := range t.ids {
			s[strconv.Itoa(int(id))] = true
		}
		return s
	})
	if !ok {
		return nil, false
	}
	out := map[uint16]bool{}
	for v := range vals {
		n, _ := strconv.Atoi(v)
		out[uint16(n)] = true
	}
	return out, true
}

// channelPin returns the channels (lower-cased) a test on Channel accepts,
// when it is a plain equality, or nil.
func channelPin(t *fieldTest) map[string]bool {
	if t.field.kind != fkChannel || t.neg || t.all || t.exists != 0 || len(t.groups) == 0 {
		return nil
	}
	s := map[string]bool{}
	for _, g := range t.groups {
		if len(g) != 1 || g[0].op != opEq {
			return nil
		}
		s[strings.ToLower(g[0].s)] = true
	}
	return s
}

// pinnedValues returns the values of a field for which c can be true, as
// pin reads them off one test (nil: the test does not pin the field), or
// ok=false when c can be true for any value.
func pinnedValues(c condNode, pin func(*fieldTest) map[string]bool) (map[string]bool, bool) {
	switch n := c.(type) {
	case *condSel:
		out := map[string]bool{}
		for _, alt := range n.sel.alts {
			var altVals map[string]bool
			for _, t := range alt {
				s := pin(t)
				if s == nil {
					continue
				}
				if altVals == nil {
					altVals = s
				} else {
					altVals = intersectStrings(altVals, s)
				}
			}
			if altVals == nil {
				return nil, false
			}
			for v := range altVals {
				out[v] = true
			}
		}
		return out, len(n.sel.alts) > 0
	case *condAnd:
		var out map[string]bool
		for _, k := range n.kids {
			s, ok := pinnedValues(k, pin)
			if !ok {
				continue
			}
			if out == nil {
				out = s
			} else {
				out = intersectStrings(out, s)
			}
		}
		return out, out != nil
	case *condOr:
		out := map[string]bool{}
		for _, k := range n.kids {
			s, ok := pinnedValues(k, pin)
			if !ok {
				return nil, false
			}
			for v := range s {
				out[v] = true
			}
		}
		return out, len(n.kids) > 0
	case *condOf:
		kids := make([]condNode, len(n.sels))
		for i, s := range n.sels {
			kids[i] = &condSel{sel: s}
		}
		if n.n == 0 {
			return pinnedValues(&condAnd{kids: kids}, pin)
		}
		return pinnedValues(&condOr{kids: kids}, pin)
	}
	return nil, false // not, and anything else: any value
}

func intersectStrings(a, b map[string]bool) map[string]bool {
	out := map[string]bool{}
	for v := range a {
		if b[v] {
			out[v] = true
		}
	}
	return out
}

// sourceIDs returns the event ids the logsource reads, or ok=false.
func sourceIDs(srcs []source) (map[uint16]bool, bool) {
	out := map[uint16]bool{}
	for _, s := range srcs {
		if s.ids == nil {
			return nil, false
		}
		for _, id := range s.ids {
			out[id] = true
		}
	}
	return out, len(srcs) > 0
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func intersectSet(a, b map[uint16]bool) map[uint16]bool {
	out := map[uint16]bool{}
	for id := range a {
		if b[id] {
			out[id] = true
		}
	}
	return out
}

func idList(s map[uint16]bool) string {
	ids := make([]int, 0, len(s))
	for id := range s {
		ids = append(ids, int(id))
	}
	sort.Ints(ids)
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.Itoa(id)
	}
	return strings.Join(parts, ", ")
}

func mapIDs(m *fieldMap) string {
	if len(m.ids) == 0 {
		return "every event id"
	}
	var parts []string
	for _, r := range m.ids {
		if r.lo == r.hi {
			parts = append(parts, strconv.Itoa(int(r.lo)))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", r.lo, r.hi))
		}
	}
	return "event ids " + strings.Join(parts, ", ")
}

func describeSources(srcs []source) string {
	var parts []string
	for _, s := range srcs {
		d := s.channel
		if s.ids != nil {
			set := map[uint16]bool{}
			for _, id := range s.ids {
				set[id] = true
			}
			d += " " + idList(set)
		}
		parts = append(parts, d)
	}
	return strings.Join(parts, "; ")
}
