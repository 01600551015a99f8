package rules

import (
	"net/netip"
	"regexp"
	"strconv"
	"strings"
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
	opGlob // segments separated by *
	opAny  // a lone *: any present value
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
	ascii bool // pattern is ASCII: compare byte-wise with ASCII folding
	re    *regexp.Regexp
	num   float64
	pfx   netip.Prefix
	ref   *fieldRef // opFieldRef
	refOp matchOp   // opFieldRef: opEq, opPrefix, opSuffix or opContains
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
		return indexFold(v, m.s, m.cased, m.ascii) >= 0
	case opGlob:
		return globMatch(v, m)
	case opAny:
		return true
	case opRegex:
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

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
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
// or -1. For an ASCII pattern the search folds ASCII letters byte-wise,
// which is exact for ASCII p whatever s holds (UTF-8 continuation bytes are
// never ASCII). A non-ASCII pattern lower-cases s, and the index then refers
// to the lowered text.
func indexFold(s, p string, cased, ascii bool) int {
	if cased {
		return strings.Index(s, p)
	}
	if !ascii {
		return strings.Index(strings.ToLower(s), p)
	}
	n := len(p)
	if n == 0 {
		return 0
	}
	if n > len(s) {
		return -1
	}
	first := p[0]
	upper := first
	if 'a' <= first && first <= 'z' {
		upper = first - 'a' + 'A'
	}
	for i := 0; i+n <= len(s); i++ {
		c := s[i]
		if c != first && c != upper {
			// skip quickly to the next candidate
			j := indexEither(s[i+1:len(s)-n+1], first, upper)
			if j < 0 {
				return -1
			}
			i += j // loop's i++ lands on the candidate
			continue
		}
		if equalFoldASCII(s[i:i+n], p) {
			return i
		}
	}
	return -1
}

// indexEither returns the index of the first a or b in s, or -1.
func indexEither(s string, a, b byte) int {
	if a == b {
		return strings.IndexByte(s, a)
	}
	i := strings.IndexByte(s, a)
	j := strings.IndexByte(s, b)
	switch {
	case i < 0:
		return j
	case j < 0:
		return i
	case i < j:
		return i
	}
	return j
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
		if !isASCII(s) {
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
		m.op, m.s = opContains, segs[0]
	case len(segs) == 1 && lead:
		m.op, m.s = opSuffix, segs[0]
	case len(segs) == 1 && trail:
		m.op, m.s = opPrefix, segs[0]
	default:
		m.op, m.segs, m.lead, m.trail = opGlob, segs, lead, trail
	}
	return m, nil
}
