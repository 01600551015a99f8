package rules

import (
	"path"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Sigma conditions: and, or, not, parentheses, "1 of x*", "all of x*",
// "N of them". Precedence, lowest first: or, and, not, x of, ().

type condNode interface {
	eval(ctx *evalCtx) bool
	// cost estimates the work of eval in the worst case (see optimize).
	cost() int
	// pinned returns the event ids the node can only be true for, or
	// ok=false when it can be true for any id.
	pinned() (ids []uint16, ok bool)
}

type condSel struct{ sel *selection }
type condAnd struct{ kids []condNode }
type condOr struct{ kids []condNode }
type condNot struct{ kid condNode }
type condOf struct {
	n    int // 0 means all
	sels []*selection
}

func (c *condSel) eval(ctx *evalCtx) bool { return c.sel.eval(ctx) }
func (c *condNot) eval(ctx *evalCtx) bool { return !c.kid.eval(ctx) }
func (c *condAnd) eval(ctx *evalCtx) bool {
	for _, k := range c.kids {
		if !k.eval(ctx) {
			return false
		}
	}
	return true
}
func (c *condOr) eval(ctx *evalCtx) bool {
	for _, k := range c.kids {
		if k.eval(ctx) {
			return true
		}
	}
	return false
}
func (c *condOf) eval(ctx *evalCtx) bool {
	need := c.n
	if need == 0 {
		need = len(c.sels)
	}
	got := 0
	for i, s := range c.sels {
		if s.eval(ctx) {
			got++
			if got >= need {
				return true
			}
		} else if c.n == 0 || got+len(c.sels)-i-1 < need {
			return false
		}
	}
	return got >= need
}

func (c *condSel) cost() int { return c.sel.cost() }
func (c *condNot) cost() int { return c.kid.cost() }
func (c *condAnd) cost() int { return sumCost(c.kids) }
func (c *condOr) cost() int  { return sumCost(c.kids) }
func (c *condOf) cost() int {
	n := 0
	for _, s := range c.sels {
		n += s.cost()
	}
	return n
}

func sumCost(kids []condNode) int {
	n := 0
	for _, k := range kids {
		n += k.cost()
	}
	return n
}

// optimize orders the operands of and, or and "x of" by cost, cheapest
// first, so short-circuiting skips the expensive ones (a file-name suffix
// before a scan of the command line). The result is the same boolean.
func optimize(c condNode) {
	byCost := func(kids []condNode) {
		sort.SliceStable(kids, func(i, j int) bool { return kids[i].cost() < kids[j].cost() })
	}
	switch n := c.(type) {
	case *condAnd:
		for _, k := range n.kids {
			optimize(k)
		}
		byCost(n.kids)
	case *condOr:
		for _, k := range n.kids {
			optimize(k)
		}
		byCost(n.kids)
	case *condNot:
		optimize(n.kid)
	case *condOf:
		sort.SliceStable(n.sels, func(i, j int) bool { return n.sels[i].cost() < n.sels[j].cost() })
	}
}

func (c *condSel) pinned() ([]uint16, bool) {
	var out []uint16
	for _, alt := range c.sel.alts {
		found := false
		for _, t := range alt {
			if t.ids != nil {
				out = append(out, t.ids...)
				found = true
				break
			}
		}
		if !found {
			return nil, false
		}
	}
	return out, len(c.sel.alts) > 0
}
func (c *condNot) pinned() ([]uint16, bool) { return nil, false }
func (c *condAnd) pinned() ([]uint16, bool) {
	var best []uint16
	ok := false
	for _, k := range c.kids {
		if ids, kok := k.pinned(); kok && (!ok || len(ids) < len(best)) {
			best, ok = ids, true
		}
	}
	return best, ok
}
func (c *condOr) pinned() ([]uint16, bool) {
	var out []uint16
	for _, k := range c.kids {
		ids, ok := k.pinned()
		if !ok {
			return nil, false
		}
		out = append(out, ids...)
	}
	return out, len(c.kids) > 0
}
func (c *condOf) pinned() ([]uint16, bool) {
	kids := make([]condNode, len(c.sels))
	for i, s := range c.sels {
		kids[i] = &condSel{sel: s}
	}
	if c.n == 0 {
		return (&condAnd{kids: kids}).pinned()
	}
	return (&condOr{kids: kids}).pinned()
}

// ---- parser ----

type condToken struct {
	text string
	col  int // 0-based offset in the condition text
}

func tokenizeCondition(s string) []condToken {
	var toks []condToken
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')' || c == '|':
			toks = append(toks, condToken{string(c), i})
			i++
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r()|", rune(s[j])) {
				j++
			}
			toks = append(toks, condToken{s[i:j], i})
			i = j
		}
	}
	return toks
}

type condParser struct {
	de    *docErrors
	node  *yaml.Node
	toks  []condToken
	pos   int
	det   *detection
	bad   bool
	depth int
}

// maxCondDepth bounds nesting (parentheses, not) so a hostile rule file
// cannot exhaust the stack.
const maxCondDepth = 200

func (p *condParser) errAt(tok *condToken, format string, args ...any) {
	if p.bad {
		return
	}
	p.bad = true
	n := *p.node
	if tok != nil && n.Style == 0 && n.Line > 0 {
		n.Column += tok.col
	}
	p.de.at(&n, "condition: "+format, args...)
}

// unsupportedAt is errAt for valid Sigma evtxscan cannot run.
func (p *condParser) unsupportedAt(tok *condToken, kind, format string, args ...any) {
	if p.bad {
		return
	}
	p.bad = true
	n := *p.node
	if tok != nil && n.Style == 0 && n.Line > 0 {
		n.Column += tok.col
	}
	p.de.unsupported(&n, kind, "condition: "+format, args...)
}

func (p *condParser) peek() *condToken {
	if p.pos < len(p.toks) {
		return &p.toks[p.pos]
	}
	return nil
}

func (p *condParser) keyword(want string) bool {
	t := p.peek()
	if t != nil && strings.EqualFold(t.text, want) {
		p.pos++
		return true
	}
	return false
}

func parseCondition(de *docErrors, n *yaml.Node, det *detection) condNode {
	if n.Kind != yaml.ScalarNode {
		de.at(n, "condition must be a string")
		return nil
	}
	p := &condParser{de: de, node: n, toks: tokenizeCondition(n.Value), det: det}
	if len(p.toks) == 0 {
		p.errAt(nil, "empty (write e.g. `selection and not filter`)")
		return nil
	}
	c := p.parseOr()
	if t := p.peek(); t != nil && !p.bad {
		if t.text == "|" {
			p.unsupportedAt(t, "unsupported-aggregation", "aggregations (| count() …, near) are the obsolete Sigma syntax, not supported: write a correlation rule")
		} else {
			p.errAt(t, "unexpected %q (check the and/or/not operators and the parentheses)", t.text)
		}
	}
	if p.bad {
		return nil
	}
	return c
}

func (p *condParser) parseOr() condNode {
	kids := []condNode{p.parseAnd()}
	for p.keyword("or") {
		kids = append(kids, p.parseAnd())
	}
	if len(kids) == 1 {
		return kids[0]
	}
	return &condOr{kids: kids}
}

func (p *condParser) parseAnd() condNode {
	kids := []condNode{p.parseNot()}
	for p.keyword("and") {
		kids = append(kids, p.parseNot())
	}
	if len(kids) == 1 {
		return kids[0]
	}
	return &condAnd{kids: kids}
}

func (p *condParser) parseNot() condNode {
	if p.depth++; p.depth > maxCondDepth {
		p.errAt(p.peek(), "nested more than %d levels deep (simplify it)", maxCondDepth)
		p.pos = len(p.toks)
		return &condOr{}
	}
	defer func() { p.depth-- }()
	if p.keyword("not") {
		return &condNot{kid: p.parseNot()}
	}
	return p.parsePrimary()
}

func (p *condParser) parsePrimary() condNode {
	t := p.peek()
	if t == nil {
		p.errAt(nil, "ends too early (an operand is missing)")
		return &condOr{}
	}
	switch {
	case t.text == "(":
		p.pos++
		c := p.parseOr()
		if !p.keyword(")") {
			p.errAt(p.peek(), "missing )")
		}
		return c
	case t.text == ")" || t.text == "|" || isCondKeyword(t.text):
		p.errAt(t, "unexpected %q (check the and/or/not operators and the parentheses)", t.text)
		p.pos++
		return &condOr{}
	}
	// x of …
	if p.pos+1 < len(p.toks) && strings.EqualFold(p.toks[p.pos+1].text, "of") {
		countTok := t
		p.pos += 2
		n := 0
		if !strings.EqualFold(countTok.text, "all") {
			v, err := strconv.Atoi(countTok.text)
			if err != nil || v < 1 {
				p.errAt(countTok, "%q of: the count must be all or a number ≥ 1", countTok.text)
				return &condOr{}
			}
			n = v
		}
		target := p.peek()
		if target == nil {
			p.errAt(nil, "`of` needs a pattern or `them`")
			return &condOr{}
		}
		p.pos++
		var sels []*selection
		if strings.EqualFold(target.text, "them") {
			for _, name := range p.det.names {
				if !strings.HasPrefix(name, "_") {
					sels = append(sels, p.det.sels[name])
				}
			}
			if len(sels) == 0 {
				p.errAt(target, "`them` names no search identifier (those starting with _ are left out): `all of` an empty set is always true, `1 of` it never")
				return &condOr{}
			}
		} else {
			for _, name := range p.det.names {
				if strings.HasPrefix(name, "_") && !strings.HasPrefix(target.text, "_") {
					continue
				}
				if ok, _ := path.Match(target.text, name); ok {
					sels = append(sels, p.det.sels[name])
				}
			}
			if len(sels) == 0 {
				p.errAt(target, "pattern %q matches no search identifier (check the name before the *)", target.text)
				return &condOr{}
			}
		}
		if n > len(sels) {
			p.errAt(countTok, "%d of %s: only %d search identifiers match", n, target.text, len(sels))
		}
		return &condOf{n: n, sels: sels}
	}
	p.pos++
	s, ok := p.det.sels[t.text]
	if !ok {
		p.errAt(t, "unknown search identifier %q (define it under detection)", t.text)
		return &condOr{}
	}
	return &condSel{sel: s}
}

func isCondKeyword(s string) bool {
	switch strings.ToLower(s) {
	case "and", "or", "of":
		return true
	}
	return false
}
