package rules

import (
	"encoding/base64"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"

	"gopkg.in/yaml.v3"
)

// A detection is a compiled Sigma `detection` block.
type detection struct {
	sels     map[string]*selection
	names    []string // in document order
	cond     condNode
	condNode *yaml.Node // the (first) condition, for positions
}

// A selection is a named search identifier: an OR of AND-maps, or a keyword
// search.
type selection struct {
	name   string
	alts   [][]*fieldTest // OR of (AND of field tests)
	costv  int
	costed bool
}

// A fieldTest is one `Field|modifiers: values` entry of a map.
type fieldTest struct {
	field  fieldRef
	groups [][]matcher // one group per value: its variants (windash, base64offset) OR-ed
	all    bool        // |all: every group must match (else any)
	neg    bool        // |neq: no group may match
	exists int8        // |exists: 1 must exist, -1 must not
	ids    []uint16    // fast path: EventID equal to one of these
	line   int         // position of the key (for lint)
	col    int
}

// cost estimates the worst-case work of evaluating the selection; see
// optimize. It also orders each map's tests cheapest first.
func (s *selection) cost() int {
	if s.costed {
		return s.costv
	}
	n := 0
	for _, alt := range s.alts {
		sort.SliceStable(alt, func(i, j int) bool { return alt[i].cost() < alt[j].cost() })
		for _, t := range alt {
			n += t.cost()
		}
	}
	s.costv, s.costed = n, true
	return n
}

func (t *fieldTest) cost() int {
	if t.ids != nil {
		return 1
	}
	n := 1
	for _, g := range t.groups {
		for i := range g {
			switch g[i].op {
			case opEq, opPrefix, opSuffix, opAny, opNull:
				n += 2
			case opContains, opLt, opLte, opGt, opGte:
				n += 5
			case opGlob, opCIDR, opFieldRef:
				n += 8
			case opMulti:
				n += 12
			case opRegex:
				if g[i].pre != nil {
					n += 15
				} else {
					n += 40
				}
			}
		}
	}
	switch t.field.kind {
	case fkDataAny, fkKeyword:
		n *= 6
	case fkNamed:
		n += 3
	}
	return n
}

func (s *selection) eval(ctx *evalCtx) bool {
	for _, alt := range s.alts {
		ok := true
		for _, t := range alt {
			if !t.eval(ctx) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func (t *fieldTest) eval(ctx *evalCtx) bool {
	if t.ids != nil {
		id := ctx.ev.System.EventID
		for _, x := range t.ids {
			if x == id {
				return true
			}
		}
		return false
	}
	if t.field.kind == fkDataAny || t.field.kind == fkKeyword {
		return t.evalMulti(ctx)
	}
	v, ok := ctx.get(&t.field)
	if t.exists != 0 {
		return ok == (t.exists > 0)
	}
	return t.evalValue(ctx, v, ok)
}

func (t *fieldTest) evalValue(ctx *evalCtx, v string, ok bool) bool {
	if t.all {
		for _, g := range t.groups {
			if !groupMatch(ctx, g, v, ok) {
				return false
			}
		}
		return true
	}
	any := false
	for _, g := range t.groups {
		if groupMatch(ctx, g, v, ok) {
			any = true
			break
		}
	}
	return any != t.neg
}

// evalMulti tests a field with many values (Data, or a keyword search over
// every value of the event): each value group must match at least one of
// the values (all), or some group must match some value.
func (t *fieldTest) evalMulti(ctx *evalCtx) bool {
	vals := ctx.multiValues(t.field.kind)
	if t.exists != 0 {
		return (len(vals) > 0) == (t.exists > 0)
	}
	if len(vals) == 0 {
		return t.evalValue(ctx, "", false)
	}
	if t.all {
		for _, g := range t.groups {
			found := false
			for _, v := range vals {
				if groupMatch(ctx, g, v, true) {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
		return true
	}
	any := false
	for _, v := range vals {
		for _, g := range t.groups {
			if groupMatch(ctx, g, v, true) {
				any = true
				break
			}
		}
		if any {
			break
		}
	}
	return any != t.neg
}

func groupMatch(ctx *evalCtx, g []matcher, v string, ok bool) bool {
	for i := range g {
		m := &g[i]
		if ok && m.onLowered() {
			if m.matchLowered(ctx.lowered(v)) {
				return true
			}
			continue
		}
		if m.match(ctx, v, ok) {
			return true
		}
	}
	return false
}

// useSecurity4688Names gives every field of a process_creation rule its
// Security 4688 reading (procCreationOn4688).
func (d *detection) useSecurity4688Names() {
	set := func(ref *fieldRef) {
		if fc, ok := procCreationOn4688[ref.name]; ok {
			c := fc
			ref.alt = &c
		}
	}
	for _, s := range d.sels {
		for _, alt := range s.alts {
			for _, t := range alt {
				set(&t.field)
				for _, g := range t.groups {
					for i := range g {
						if g[i].ref != nil {
							set(g[i].ref)
						}
					}
				}
			}
		}
	}
}

// ---- parsing ----

func parseDetection(de *docErrors, n *yaml.Node) *detection {
	if n.Kind != yaml.MappingNode {
		de.at(n, "detection must be a mapping of search identifiers and a condition")
		return nil
	}
	d := &detection{sels: map[string]*selection{}}
	var condNodes []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "condition":
			switch v.Kind {
			case yaml.ScalarNode:
				condNodes = append(condNodes, v)
			case yaml.SequenceNode:
				condNodes = append(condNodes, v.Content...)
			default:
				de.at(v, "condition must be a string or a list of strings")
			}
		case "timeframe":
			de.unsupported(k, "unsupported-aggregation", "timeframe belongs to the obsolete aggregation syntax, not supported: write a correlation rule with timespan")
		default:
			if _, dup := d.sels[k.Value]; dup {
				de.at(k, "search identifier %q defined twice (rename one)", k.Value)
				continue
			}
			s := parseSelection(de, k.Value, v)
			d.sels[k.Value] = s
			d.names = append(d.names, k.Value)
		}
	}
	if len(condNodes) == 0 {
		de.at(n, "detection has no condition (add e.g. `condition: selection`)")
		return d
	}
	d.condNode = condNodes[0]
	var alts []condNode
	for _, cn := range condNodes {
		c := parseCondition(de, cn, d)
		if c != nil {
			alts = append(alts, c)
		}
	}
	if len(alts) == 1 {
		d.cond = alts[0]
	} else if len(alts) > 1 {
		d.cond = &condOr{kids: alts}
	}
	if d.cond != nil && len(de.probs) == 0 {
		optimize(d.cond)
	}
	return d
}

// deref follows YAML aliases (*anchor) to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 8; i++ {
		n = n.Alias
	}
	return n
}

func parseSelection(de *docErrors, name string, n *yaml.Node) *selection {
	s := &selection{name: name}
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		s.alts = append(s.alts, parseAndMap(de, n))
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			de.at(n, "search identifier %q is an empty list", name)
			return s
		}
		if deref(n.Content[0]).Kind == yaml.MappingNode {
			for _, c := range n.Content {
				c = deref(c)
				if c.Kind != yaml.MappingNode {
					de.at(c, "search identifier %q mixes maps and plain values (make every item a map)", name)
					continue
				}
				s.alts = append(s.alts, parseAndMap(de, c))
			}
		} else {
			t := parseFieldTest(de, n, "", n)
			s.alts = append(s.alts, []*fieldTest{t})
		}
	case yaml.ScalarNode:
		t := parseFieldTest(de, n, "", n)
		s.alts = append(s.alts, []*fieldTest{t})
	default:
		de.at(n, "search identifier %q must be a map, a list of maps or a list of keywords", name)
	}
	return s
}

func parseAndMap(de *docErrors, n *yaml.Node) []*fieldTest {
	var out []*fieldTest
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, parseFieldTest(de, n.Content[i], n.Content[i].Value, deref(n.Content[i+1])))
	}
	if len(out) == 0 {
		de.at(n, "empty map in a search identifier (add Field: value pairs)")
	}
	return out
}

// knownModifiers are the modifier names, for "did you mean".
var knownModifiers = []string{"contains", "startswith", "endswith", "all", "cased", "neq", "exists", "re", "i", "m", "s",
	"cidr", "fieldref", "gt", "gte", "lt", "lte", "windash", "base64", "base64offset", "utf16le", "utf16be", "utf16", "wide", "expand"}

var timeModifiers = map[string]bool{"minute": true, "hour": true, "day": true, "week": true, "month": true, "year": true}

// parseFieldTest compiles one `Field|mod|mod: value(s)` entry; key is the
// node of the key (for positions), spec its text ("" for keywords).
func parseFieldTest(de *docErrors, keyNode *yaml.Node, spec string, val *yaml.Node) *fieldTest {
	parts := strings.Split(spec, "|")
	name, mods := parts[0], parts[1:]
	t := &fieldTest{line: keyNode.Line, col: keyNode.Column}
	if name == "" {
		t.field = fieldRef{name: "", kind: fkKeyword}
	} else {
		t.field = newFieldRef(name)
	}

	var (
		contains, startswith, endswith, cased bool
		isRe, isCIDR, isFieldRef              bool
		reFlags                               string
		numOp                                 matchOp
		transforms                            []string
	)
	ok := true
	for _, m := range mods {
		switch m {
		case "contains":
			contains = true
		case "startswith":
			startswith = true
		case "endswith":
			endswith = true
		case "all":
			t.all = true
		case "cased":
			cased = true
		case "neq":
			t.neg = true
		case "exists":
			t.exists = 1
		case "re":
			isRe = true
		case "i", "m", "s":
			if !isRe {
				de.at(keyNode, "modifier %q only follows |re", m)
				ok = false
			}
			reFlags += m
		case "cidr":
			isCIDR = true
		case "fieldref":
			isFieldRef = true
		case "gt":
			numOp = opGt
		case "gte":
			numOp = opGte
		case "lt":
			numOp = opLt
		case "lte":
			numOp = opLte
		case "windash", "base64", "base64offset", "utf16le", "utf16be", "utf16", "wide":
			transforms = append(transforms, m)
		case "expand":
			de.unsupported(keyNode, "unsupported-modifier", "modifier expand is not supported: evtxscan has no source of placeholder values (replace the %%placeholder%% with the values)")
			ok = false
		default:
			if timeModifiers[m] {
				de.unsupported(keyNode, "unsupported-modifier", "time modifier %q is not supported (compare the time with a correlation instead)", m)
			} else {
				de.at(keyNode, "unknown modifier %q%s (see the Sigma modifiers appendix for the names)", m, didYouMean(m, knownModifiers))
			}
			ok = false
		}
	}
	if !ok {
		return t
	}

	var vals []*yaml.Node
	switch val.Kind {
	case yaml.ScalarNode:
		vals = []*yaml.Node{val}
	case yaml.SequenceNode:
		for _, v := range val.Content {
			vals = append(vals, deref(v))
		}
		if len(vals) == 0 {
			de.at(val, "field %q has an empty list of values", name)
			return t
		}
	default:
		de.at(val, "field %q: a value must be a plain value or a list of values", name)
		return t
	}
	if t.exists != 0 {
		if len(vals) != 1 {
			de.at(val, "|exists takes one value, true or false")
			return t
		}
		b, err := strconv.ParseBool(vals[0].Value)
		if err != nil {
			de.at(vals[0], "|exists takes true or false, not %q", vals[0].Value)
		}
		if !b {
			t.exists = -1
		}
		return t
	}
	// EventID equal to plain numbers: compare the integer directly.
	if t.field.kind == fkEventID && len(mods) == 0 {
		ids := make([]uint16, 0, len(vals))
		for _, v := range vals {
			n, err := strconv.ParseUint(strings.TrimSpace(v.Value), 10, 16)
			if err != nil || v.Tag == "!!null" {
				ids = nil
				break
			}
			ids = append(ids, uint16(n))
		}
		if ids != nil {
			t.ids = ids
			return t
		}
	}

	for _, v := range vals {
		if v.Kind != yaml.ScalarNode {
			de.at(v, "field %q: each value must be a plain value", name)
			continue
		}
		if v.Tag == "!!null" {
			t.groups = append(t.groups, []matcher{{op: opNull}})
			continue
		}
		raw := v.Value
		switch {
		case isRe:
			expr := raw
			if reFlags != "" {
				expr = "(?" + reFlags + ")" + expr
			}
			m, err := compileRegex(expr)
			if err != nil {
				de.unsupported(v, "unsupported-regex", "regular expression %q is not supported by Go's RE2 engine (rewrite it without look-around or back-references): %v", raw, err)
				continue
			}
			t.groups = append(t.groups, []matcher{m})
		case isCIDR:
			p, err := netip.ParsePrefix(strings.TrimSpace(raw))
			if err != nil {
				de.at(v, "bad CIDR %q (write a network like 10.0.0.0/8): %v", raw, err)
				continue
			}
			t.groups = append(t.groups, []matcher{{op: opCIDR, pfx: p.Masked()}})
		case numOp != 0:
			f, ok := parseNumber(raw)
			if !ok {
				de.at(v, "|%s needs a number, not %q", opName(numOp), raw)
				continue
			}
			t.groups = append(t.groups, []matcher{{op: numOp, num: f}})
		case isFieldRef:
			ref := newFieldRef(raw)
			m := matcher{op: opFieldRef, ref: &ref, cased: cased, refOp: opEq}
			switch {
			case contains:
				m.refOp = opContains
			case startswith:
				m.refOp = opPrefix
			case endswith:
				m.refOp = opSuffix
			}
			t.groups = append(t.groups, []matcher{m})
		default:
			variants, vcased, err := expandValue(raw, transforms)
			if err != "" {
				de.at(v, "%s", err)
				continue
			}
			var g []matcher
			for _, p := range variants {
				if name == "" {
					p = p.wrap(true, true) // keywords search anywhere
				} else {
					p = p.wrap(contains || endswith, contains || startswith)
				}
				m, err := compilePattern(p, cased || vcased)
				if err != nil {
					de.at(v, "value %q: %v", raw, err)
					continue
				}
				g = append(g, m)
			}
			t.groups = append(t.groups, g)
		}
	}
	if !t.all {
		t.groups = mergeContains(t.groups)
	}
	return t
}

func opName(op matchOp) string {
	switch op {
	case opLt:
		return "lt"
	case opLte:
		return "lte"
	case opGt:
		return "gt"
	}
	return "gte"
}

const maxVariants = 1024

// expandValue applies the transforming modifiers in order and returns the
// resulting patterns; cased is true when the result must be compared
// case-sensitively (base64 text).
func expandValue(raw string, transforms []string) (out []pattern, cased bool, problem string) {
	out = []pattern{parseWildcards(raw)}
	for _, tr := range transforms {
		switch tr {
		case "windash":
			var next []pattern
			for _, p := range out {
				next = append(next, windashVariants(p)...)
				if len(next) > maxVariants {
					return nil, false, "|windash makes too many variants (more than 1024); split the value"
				}
			}
			out = next
		case "utf16le", "wide", "utf16be", "utf16":
			for i, p := range out {
				np := make(pattern, 0, len(p)+1)
				if tr == "utf16" {
					np = append(np, patPart{lit: "\xff\xfe"})
				}
				for _, x := range p {
					if x.wild != 0 {
						np = append(np, x)
						continue
					}
					np = append(np, patPart{lit: encodeUTF16(x.lit, tr == "utf16be")})
				}
				out[i] = np
			}
		case "base64", "base64offset":
			var next []pattern
			for _, p := range out {
				if p.hasWild() {
					return nil, false, "wildcards cannot be combined with |" + tr + " (the encoding would change them); drop the * or ?"
				}
				lit := ""
				if len(p) > 0 {
					lit = p[0].lit
					for _, x := range p[1:] {
						lit += x.lit
					}
				}
				if tr == "base64" {
					next = append(next, literalPattern(base64.StdEncoding.EncodeToString([]byte(lit))))
					continue
				}
				for _, v := range base64Offsets(lit) {
					next = append(next, literalPattern(v))
				}
			}
			out, cased = next, true
		}
	}
	return out, cased, ""
}

func encodeUTF16(s string, bigEndian bool) string {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 0, 2*len(u))
	for _, c := range u {
		if bigEndian {
			b = append(b, byte(c>>8), byte(c))
		} else {
			b = append(b, byte(c), byte(c>>8))
		}
	}
	return string(b)
}

// base64Offsets returns the three encodings of s at offsets 0, 1 and 2 of a
// longer base64 text, trimmed to the characters that do not depend on the
// neighbouring bytes.
func base64Offsets(s string) []string {
	start := [3]int{0, 2, 3}
	endTrim := [3]int{0, 3, 2}
	var out []string
	for i := 0; i < 3; i++ {
		enc := base64.StdEncoding.EncodeToString(append(make([]byte, i), s...))
		end := len(enc) - endTrim[(len(s)+i)%3]
		if start[i] >= end {
			continue
		}
		out = append(out, enc[start[i]:end])
	}
	return out
}

var dashes = []string{"-", "/", "\u2013", "\u2014", "\u2015"}

// windashVariants replaces each - or / that starts a command-line switch
// (a non-word character before it, a word character after) by every dash
// Windows accepts, in all combinations.
func windashVariants(p pattern) []pattern {
	out := []pattern{nil}
	for _, x := range p {
		if x.wild != 0 {
			for i := range out {
				out[i] = append(out[i], x)
			}
			continue
		}
		// split the literal at switch dashes
		var pieces []string // literal, dash, literal, dash, …
		last := 0
		s := x.lit
		for i := 0; i < len(s); i++ {
			if s[i] != '-' && s[i] != '/' {
				continue
			}
			// a wildcard before the literal counts as a non-word character
			prevWord := i > 0 && isSwitchWordByte(s[i-1])
			nextWord := i+1 < len(s) && isSwitchWordByte(s[i+1])
			if prevWord || !nextWord {
				continue
			}
			pieces = append(pieces, s[last:i], "")
			last = i + 1
		}
		pieces = append(pieces, s[last:])
		var next []pattern
		for _, base := range out {
			combos := []string{""}
			for k, pc := range pieces {
				var nc []string
				if k%2 == 0 {
					for _, c := range combos {
						nc = append(nc, c+pc)
					}
				} else {
					for _, c := range combos {
						for _, d := range dashes {
							nc = append(nc, c+d)
						}
					}
				}
				combos = nc
				if len(combos) > maxVariants {
					break
				}
			}
			for _, c := range combos {
				np := append(append(pattern(nil), base...), patPart{lit: c})
				next = append(next, np)
			}
		}
		out = next
		if len(out) > maxVariants {
			return out
		}
	}
	return out
}

func isSwitchWordByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c >= 0x80
}
