package rules

import (
	"net/netip"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Compiled value matchers. Every Sigma value is compiled once at load into
// one of a few shapes (equal, prefix, suffix, contains, segments glob, …)
// holding lower-cased text, so matching an event is a case-folding compare
// with no allocation for ASCII patterns; only `?` wildcards and non-ASCII
// patterns fall back to slower paths.

type matchOp uint8

const (
	opEq matchOp = iota
	opPrefix
	opSuffix
	opContains
	opGlob  // segments separated by *
	opMulti // any of many contains patterns (multiContains)
	opAny   // a lone *: any present value
	opRegex
	opNull // null: field absent or empty
	opLt
	opLte
	opGt
	opGte
	opCIDR
	opFieldRef // compare with another field of the same event
)

type matcher struct {
	op    matchOp
	s     string   // pattern text; lower-cased unless cased
	segs  []string // opGlob: literal segments
	lead  bool     // opGlob: leading *
	trail bool     // opGlob: trailing *
	cased bool
	ascii bool // pattern is byte-foldable: compare byte-wise with ASCII folding
	anch  int  // opContains: the byte to search first (anchorOf)
	re    *regexp.Regexp
	pre   []matcher // opRegex: one of these literals must occur (case-insensitively) for a match
	num   float64
	pfx   netip.Prefix
	ref   *fieldRef // opFieldRef
	refOp matchOp   // opFieldRef: opEq, opPrefix, opSuffix or opContains
	multi *multiContains
}

// match tests one value (ok=false: the field is absent).
func (m *matcher) match(ctx *evalCtx, v string, ok bool) bool {
	if m.op == opNull {
		return !ok || v == ""
	}
	if !ok {
		return false
	}
	switch m.op {
	case opEq:
		if m.cased {
			return v == m.s
		}
		return strings.EqualFold(v, m.s)
	case opPrefix:
		return hasPrefixFold(v, m.s, m.cased, m.ascii)
	case opSuffix:
		return hasSuffixFold(v, m.s, m.cased, m.ascii)
	case opContains:
		if m.ascii && !m.cased {
			return indexFoldBytes(v, m.s, m.anch) >= 0
		}
		return indexFold(v, m.s, m.cased, m.ascii) >= 0
	case opGlob:
		return globMatch(v, m)
	case opMulti:
		return m.multi.in(strings.ToLower(v)) // not reached: groupMatch lowers once
	case opAny:
		return true
	case opRegex:
		if m.pre != nil && !m.preMatch(v) {
			return false
		}
		return m.re.MatchString(v)
	case opLt, opLte, opGt, opGte:
		f, ok := parseNumber(v)
		if !ok {
			return false
		}
		switch m.op {
		case opLt:
			return f < m.num
		case opLte:
			return f <= m.num
		case opGt:
			return f > m.num
		}
		return f >= m.num
	case opCIDR:
		a, err := netip.ParseAddr(strings.Trim(v, "[]"))
		if err != nil {
			return false
		}
		return m.pfx.Contains(a.Unmap())
	case opFieldRef:
		other, ok := ctx.get(m.ref)
		if !ok {
			return false
		}
		if !m.cased {
			v, other = strings.ToLower(v), strings.ToLower(other)
		}
		switch m.refOp {
		case opPrefix:
			return strings.HasPrefix(v, other)
		case opSuffix:
			return strings.HasSuffix(v, other)
		case opContains:
			return strings.Contains(v, other)
		}
		return v == other
	}
	return false
}

// onLowered reports whether the matcher can run on the ASCII-lower-cased
// value (evalCtx.lowered), which lets the plain, vectorized strings
// functions do the work: case-insensitive text ops on byte-foldable patterns.
func (m *matcher) onLowered() bool {
	return m.ascii && !m.cased && m.op <= opMulti
}

// matchLowered matches the ASCII-lower-cased value lv (see onLowered).
func (m *matcher) matchLowered(lv string) bool {
	switch m.op {
	case opEq:
		return lv == m.s
	case opPrefix:
		return strings.HasPrefix(lv, m.s)
	case opSuffix:
		return strings.HasSuffix(lv, m.s)
	case opContains:
		return strings.Contains(lv, m.s)
	case opMulti:
		return m.multi.in(lv)
	}
	segs := m.segs
	if !m.lead {
		if !strings.HasPrefix(lv, segs[0]) {
			return false
		}
		lv = lv[len(segs[0]):]
		segs = segs[1:]
	}
	var last string
	if !m.trail && len(segs) > 0 {
		last = segs[len(segs)-1]
		segs = segs[:len(segs)-1]
	}
	for _, s := range segs {
		i := strings.Index(lv, s)
		if i < 0 {
			return false
		}
		lv = lv[i+len(s):]
	}
	if !m.trail {
		return strings.HasSuffix(lv, last)
	}
	return true
}

// parseNumber reads a decimal, float or 0x-hex number.
func parseNumber(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		u, err := strconv.ParseUint(s[2:], 16, 64)
		return float64(u), err == nil
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFoldASCII compares s with the lower-case ASCII pattern p.
func equalFoldASCII(s, p string) bool {
	if len(s) != len(p) {
		return false
	}
	for i := 0; i < len(p); i++ {
		if lowerASCII(s[i]) != p[i] {
			return false
		}
	}
	return true
}

func hasPrefixFold(s, p string, cased, ascii bool) bool {
	if cased {
		return strings.HasPrefix(s, p)
	}
	if ascii {
		return len(s) >= len(p) && equalFoldASCII(s[:len(p)], p)
	}
	return strings.HasPrefix(strings.ToLower(s), p)
}

func hasSuffixFold(s, p string, cased, ascii bool) bool {
	if cased {
		return strings.HasSuffix(s, p)
	}
	if ascii {
		return len(s) >= len(p) && equalFoldASCII(s[len(s)-len(p):], p)
	}
	return strings.HasSuffix(strings.ToLower(s), p)
}

// indexFold returns the byte index of p in s, ignoring case unless cased,
// or -1. For a byte-foldable pattern (see byteFoldable) the search folds
// ASCII letters byte-wise, which is exact whatever s holds (UTF-8
// continuation bytes are never ASCII). Other patterns lower-case s, and the
// index then refers to the lowered text.
func indexFold(s, p string, cased, foldable bool) int {
	if cased {
		return strings.Index(s, p)
	}
	if !foldable {
		return strings.Index(strings.ToLower(s), p)
	}
	return indexFoldBytes(s, p, anchorOf(p))
}

// anchorOf picks the byte of a lower-case pattern to search for first: a
// caseless byte (not a letter), the rarest by a rough frequency in event
// text, so strings.IndexByte (vectorized) does most of the work; -1 when
// every byte is a letter.
func anchorOf(p string) int {
	best, bestRank := -1, 1<<30
	for i := 0; i < len(p); i++ {
		c := p[i]
		if 'a' <= c && c <= 'z' {
			continue
		}
		rank := 1
		switch {
		case c == ' ':
			rank = 10
		case c == '\\':
			rank = 8
		case c == '.':
			rank = 6
		case c == '-' || c == '/':
			rank = 5
		case '0' <= c && c <= '9':
			rank = 4
		case c == '_' || c == ':':
			rank = 3
		}
		if rank < bestRank {
			best, bestRank = i, rank
		}
	}
	return best
}

// indexFoldBytes finds the lower-case byte-foldable pattern p in s.
func indexFoldBytes(s, p string, anchor int) int {
	n := len(p)
	if n == 0 {
		return 0
	}
	if n > len(s) {
		return -1
	}
	if anchor >= 0 {
		c := p[anchor]
		last := len(s) - n // last possible start
		for start := 0; start <= last; {
			i := strings.IndexByte(s[start+anchor:last+anchor+1], c)
			if i < 0 {
				return -1
			}
			start += i
			if equalFoldASCII(s[start:start+n], p) {
				return start
			}
			start++
		}
		return -1
	}
	// every byte is a letter: walk the candidates of both cases
	lo := p[0]
	up := lo - ('a' - 'A')
	a := strings.IndexByte(s, lo)
	b := strings.IndexByte(s, up)
	for {
		i := a
		if i < 0 || (b >= 0 && b < i) {
			i = b
		}
		if i < 0 || i+n > len(s) {
			return -1
		}
		if equalFoldASCII(s[i:i+n], p) {
			return i
		}
		if a == i {
			if j := strings.IndexByte(s[i+1:], lo); j >= 0 {
				a = i + 1 + j
			} else {
				a = -1
			}
		}
		if b == i {
			if j := strings.IndexByte(s[i+1:], up); j >= 0 {
				b = i + 1 + j
			} else {
				b = -1
			}
		}
	}
}

// byteFoldable reports whether a lower-case pattern can be matched by
// folding ASCII letters only: every non-ASCII rune in it is caseless (the
// dashes windash adds, for instance).
func byteFoldable(p string) bool {
	for _, r := range p {
		if r >= utf8.RuneSelf && unicode.SimpleFold(r) != r {
			return false
		}
	}
	return true
}

// globMatch matches segments separated by * (no ?).
func globMatch(v string, m *matcher) bool {
	if !m.cased && !m.ascii {
		v = strings.ToLower(v)
	}
	ascii := m.ascii || !m.cased
	segs := m.segs
	if !m.lead {
		if !hasPrefixFold(v, segs[0], m.cased, ascii) {
			return false
		}
		v = v[len(segs[0]):]
		segs = segs[1:]
	}
	var last string
	if !m.trail && len(segs) > 0 {
		last = segs[len(segs)-1]
		segs = segs[:len(segs)-1]
	}
	for _, s := range segs {
		i := indexFold(v, s, m.cased, ascii)
		if i < 0 {
			return false
		}
		v = v[i+len(s):]
	}
	if !m.trail {
		return hasSuffixFold(v, last, m.cased, ascii)
	}
	return true
}

// ---- wildcard patterns ----

// A pattern is a Sigma string value split into literal text and wildcards.
type pattern []patPart

type patPart struct {
	lit  string
	wild byte // 0 for literal text, '*' or '?'
}

// parseWildcards splits a Sigma value: * and ? are wildcards; \*, \? and
// \\ are the literal characters; any other backslash is literal.
func parseWildcards(s string) pattern {
	var p pattern
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			p = append(p, patPart{lit: b.String()})
			b.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '?' || s[i+1] == '\\'):
			b.WriteByte(s[i+1])
			i++
		case c == '*' || c == '?':
			flush()
			if c == '*' && len(p) > 0 && p[len(p)-1].wild == '*' {
				continue // ** is *
			}
			p = append(p, patPart{wild: c})
		default:
			b.WriteByte(c)
		}
	}
	flush()
	return p
}

func literalPattern(s string) pattern {
	if s == "" {
		return nil
	}
	return pattern{{lit: s}}
}

func (p pattern) hasWild() bool {
	for _, x := range p {
		if x.wild != 0 {
			return true
		}
	}
	return false
}

func (p pattern) wrap(lead, trail bool) pattern {
	out := make(pattern, 0, len(p)+2)
	if lead && (len(p) == 0 || p[0].wild != '*') {
		out = append(out, patPart{wild: '*'})
	}
	out = append(out, p...)
	if trail && (len(out) == 0 || out[len(out)-1].wild != '*') {
		out = append(out, patPart{wild: '*'})
	}
	return out
}

// compilePattern picks the cheapest matcher for a pattern.
func compilePattern(p pattern, cased bool) (matcher, error) {
	low := func(s string) string {
		if cased {
			return s
		}
		return strings.ToLower(s)
	}
	hasQ := false
	var segs []string
	for _, x := range p {
		switch x.wild {
		case '?':
			hasQ = true
		case 0:
			segs = append(segs, low(x.lit))
		}
	}
	if hasQ {
		var b strings.Builder
		b.WriteString("(?s")
		if !cased {
			b.WriteString("i")
		}
		b.WriteString(")^")
		for _, x := range p {
			switch x.wild {
			case '*':
				b.WriteString(".*")
			case '?':
				b.WriteString(".")
			default:
				b.WriteString(regexp.QuoteMeta(x.lit))
			}
		}
		b.WriteString("$")
		re, err := regexp.Compile(b.String())
		if err != nil {
			return matcher{}, err
		}
		return matcher{op: opRegex, re: re}, nil
	}
	m := matcher{cased: cased, ascii: true}
	for _, s := range segs {
		if !byteFoldable(s) {
			m.ascii = false
		}
	}
	lead := len(p) > 0 && p[0].wild == '*'
	trail := len(p) > 0 && p[len(p)-1].wild == '*'
	switch {
	case len(p) == 0:
		m.op = opEq
	case len(segs) == 0:
		m.op = opAny
	case len(segs) == 1 && !lead && !trail:
		m.op, m.s = opEq, segs[0]
	case len(segs) == 1 && lead && trail:
		m.op, m.s, m.anch = opContains, segs[0], anchorOf(segs[0])
	case len(segs) == 1 && lead:
		m.op, m.s = opSuffix, segs[0]
	case len(segs) == 1 && trail:
		m.op, m.s = opPrefix, segs[0]
	default:
		m.op, m.segs, m.lead, m.trail = opGlob, segs, lead, trail
	}
	return m, nil
}

// ---- regular expressions ----

// compileRegex compiles a Sigma |re value and derives a literal pre-filter:
// a few texts one of which every match must contain, checked with the fast
// case-folding search before the regexp engine runs.
func compileRegex(expr string) (matcher, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return matcher{}, err
	}
	m := matcher{op: opRegex, re: re}
	if tree, err := syntax.Parse(expr, syntax.Perl); err == nil {
		if lits, ok := requiredLiterals(tree.Simplify()); ok && len(lits) <= 16 {
			for _, l := range lits {
				pm, err := compilePattern(pattern{{wild: '*'}, {lit: l}, {wild: '*'}}, false)
				if err != nil {
					return m, nil
				}
				m.pre = append(m.pre, pm)
			}
		}
	}
	return m, nil
}

func (m *matcher) preMatch(v string) bool {
	for i := range m.pre {
		if m.pre[i].match(nil, v, true) {
			return true
		}
	}
	return false
}

// requiredLiterals returns texts one of which occurs in every match of r,
// or ok=false. Literals shorter than 2 bytes are not worth a pre-filter.
func requiredLiterals(r *syntax.Regexp) (lits []string, ok bool) {
	switch r.Op {
	case syntax.OpLiteral:
		s := string(r.Rune)
		return []string{s}, len(s) >= 2
	case syntax.OpCapture, syntax.OpPlus:
		return requiredLiterals(r.Sub[0])
	case syntax.OpRepeat:
		if r.Min >= 1 {
			return requiredLiterals(r.Sub[0])
		}
	case syntax.OpConcat:
		best, bestLen := []string(nil), 0
		for _, sub := range r.Sub {
			l, ok := requiredLiterals(sub)
			if !ok {
				continue
			}
			shortest := len(l[0])
			for _, x := range l {
				shortest = min(shortest, len(x))
			}
			if shortest > bestLen {
				best, bestLen = l, shortest
			}
		}
		return best, best != nil
	case syntax.OpAlternate:
		for _, sub := range r.Sub {
			l, ok := requiredLiterals(sub)
			if !ok {
				return nil, false
			}
			lits = append(lits, l...)
		}
		return lits, len(lits) > 0
	}
	return nil, false
}

// ---- many contains patterns at once ----

// minMulti is the number of contains values of one field from which they
// are searched together (one pass over the value) rather than one by one.
const minMulti = 6

// multiContains finds any of many lower-case byte patterns in one pass:
// patterns are bucketed by their first byte, with a filter on the second,
// so most positions of the value cost a table lookup.
type multiContains struct {
	pats   []string
	first  [256][]int32
	second [256][4]uint64 // second-byte sets per first byte
	short  [256]bool      // a one-byte pattern starts with this byte
}

func newMultiContains(pats []string) *multiContains {
	mc := &multiContains{pats: pats}
	for i, p := range pats {
		if p == "" {
			mc.short[0] = true // matches everything: handled in in()
			continue
		}
		b := p[0]
		mc.first[b] = append(mc.first[b], int32(i))
		if len(p) == 1 {
			mc.short[b] = true
		} else {
			mc.second[b][p[1]>>6] |= 1 << (p[1] & 63)
		}
	}
	return mc
}

func (mc *multiContains) in(lv string) bool {
	if mc.short[0] {
		return true
	}
	for i := 0; i < len(lv); i++ {
		b := lv[i]
		cands := mc.first[b]
		if len(cands) == 0 {
			continue
		}
		if mc.short[b] {
			return true
		}
		if i+1 >= len(lv) {
			return false
		}
		c := lv[i+1]
		if mc.second[b][c>>6]&(1<<(c&63)) == 0 {
			continue
		}
		rest := lv[i:]
		for _, k := range cands {
			if strings.HasPrefix(rest, mc.pats[k]) {
				return true
			}
		}
	}
	return false
}

// mergeContains replaces the value groups of a field test that are plain
// case-insensitive contains patterns by one multiContains matcher, when
// there are enough of them (OR semantics only: not for |all).
func mergeContains(groups [][]matcher) [][]matcher {
	var pats []string
	var rest [][]matcher
	for _, g := range groups {
		plain := len(g) > 0
		for i := range g {
			if g[i].op != opContains || !g[i].onLowered() {
				plain = false
			}
		}
		if !plain {
			rest = append(rest, g)
			continue
		}
		for i := range g {
			pats = append(pats, g[i].s)
		}
	}
	if len(pats) < minMulti {
		return groups
	}
	multi := matcher{op: opMulti, ascii: true, multi: newMultiContains(pats)}
	return append(rest, []matcher{multi})
}
