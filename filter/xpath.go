package filter

import (
	"sort"
	"strconv"
	"strings"
	"time"
)

// maxXPathExpressions is how many comparisons the XPath may hold. The
// Windows event log rejects or mis-evaluates simple XPath queries with more
// than about 20 expressions (Winlogbeat documents 22 as the limit); past
// that a structured QueryList would be needed. We drop whole clauses instead,
// since XPath is only a pre-filter.
const maxXPathExpressions = 20

// xpathTimeLayout is the SystemTime form the event log's XPath compares.
const xpathTimeLayout = "2006-01-02T15:04:05.000Z"

// XPath returns the filter as an event log XPath query for EvtQuery and
// EvtSubscribe, e.g.
//
//	*[System[Provider[@Name='MsiInstaller'] and (EventID=1033 or (EventID>=11000 and EventID<=11999)) and TimeCreated[@SystemTime>='2024-05-01T00:00:00.000Z']]]
//
// or "*" when nothing can be expressed. The query is a pre-filter that
// keeps the Windows service from sending events we would drop: it never
// excludes an event Match accepts, and live mode still applies Match to
// every event. So:
//   - Channels are not part of the query (they pick what is queried).
//   - Computers and Keywords are left to Match (Keywords look at every value).
//   - Level 0 (LogAlways) and 4 (Information) select each other, as in Match.
//   - Since is rounded down and Until up to the millisecond the query
//     compares.
//   - A provider name holding both quote characters cannot be written as an
//     XPath 1.0 literal; then the provider clause is left out.
//   - When the clauses together hold more than 20 comparisons, the event id
//     clause is left out first, then providers, then levels.
func (f *Filter) XPath() string {
	type clause struct {
		text  string
		exprs int
	}
	var ids, levels, providers, times clause
	ids.text, ids.exprs = xpathIDs(f.IDs)
	levels.text, levels.exprs = xpathLevels(f.Levels)
	providers.text, providers.exprs = xpathProviders(f.Providers)
	times.text, times.exprs = xpathTimes(f.Since, f.Until)

	// Drop clauses, least selective-per-expression first, until the query fits.
	for _, c := range []*clause{&ids, &providers, &levels} {
		if providers.exprs+ids.exprs+levels.exprs+times.exprs <= maxXPathExpressions {
			break
		}
		*c = clause{}
	}
	var parts []string
	for _, c := range []clause{providers, ids, levels, times} {
		if c.text != "" {
			parts = append(parts, c.text)
		}
	}
	if len(parts) == 0 {
		return "*"
	}
	return "*[System[" + strings.Join(parts, " and ") + "]]"
}

// xpathIDs writes the event id ranges, merged and sorted, as one clause.
func xpathIDs(ranges []IDRange) (string, int) {
	if len(ranges) == 0 {
		return "", 0
	}
	rs := append([]IDRange(nil), ranges...)
	sort.Slice(rs, func(i, j int) bool { return rs[i].Lo < rs[j].Lo })
	merged := rs[:1]
	for _, r := range rs[1:] {
		last := &merged[len(merged)-1]
		if uint32(r.Lo) <= uint32(last.Hi)+1 {
			last.Hi = max(last.Hi, r.Hi)
			continue
		}
		merged = append(merged, r)
	}
	if len(merged) == 1 && merged[0].Lo == 0 && merged[0].Hi == 65535 {
		return "", 0 // every id
	}
	var terms []string
	exprs := 0
	for _, r := range merged {
		switch {
		case r.Lo == r.Hi:
			terms = append(terms, "EventID="+strconv.Itoa(int(r.Lo)))
			exprs++
		case r.Lo == 0:
			terms = append(terms, "EventID<="+strconv.Itoa(int(r.Hi)))
			exprs++
		case r.Hi == 65535:
			terms = append(terms, "EventID>="+strconv.Itoa(int(r.Lo)))
			exprs++
		default:
			terms = append(terms, "(EventID>="+strconv.Itoa(int(r.Lo))+" and EventID<="+strconv.Itoa(int(r.Hi))+")")
			exprs += 2
		}
	}
	return group(terms), exprs
}

// xpathLevels writes the levels; 0 and 4 both stand for information.
func xpathLevels(levels []uint8) (string, int) {
	if len(levels) == 0 {
		return "", 0
	}
	seen := map[uint8]bool{}
	var list []int
	add := func(l uint8) {
		if !seen[l] {
			seen[l] = true
			list = append(list, int(l))
		}
	}
	for _, l := range levels {
		add(l)
		if l == 0 || l == 4 {
			add(0)
			add(4)
		}
	}
	sort.Ints(list)
	terms := make([]string, len(list))
	for i, l := range list {
		terms[i] = "Level=" + strconv.Itoa(l)
	}
	return group(terms), len(terms)
}

// xpathProviders writes Provider[@Name='A' or @Name='B'].
func xpathProviders(providers []string) (string, int) {
	if len(providers) == 0 {
		return "", 0
	}
	terms := make([]string, 0, len(providers))
	for _, p := range providers {
		lit, ok := xpathLiteral(p)
		if !ok {
			return "", 0
		}
		terms = append(terms, "@Name="+lit)
	}
	return "Provider[" + strings.Join(terms, " or ") + "]", len(terms)
}

// xpathTimes writes the TimeCreated bounds.
func xpathTimes(since, until time.Time) (string, int) {
	var terms []string
	if !since.IsZero() {
		t := since.UTC().Truncate(time.Millisecond)
		terms = append(terms, "@SystemTime>='"+t.Format(xpathTimeLayout)+"'")
	}
	if !until.IsZero() {
		u := until.UTC()
		t := u.Truncate(time.Millisecond)
		if t.Before(u) {
			t = t.Add(time.Millisecond)
		}
		terms = append(terms, "@SystemTime<'"+t.Format(xpathTimeLayout)+"'")
	}
	if len(terms) == 0 {
		return "", 0
	}
	return "TimeCreated[" + strings.Join(terms, " and ") + "]", len(terms)
}

// xpathLiteral quotes s as an XPath 1.0 string literal, which has no
// escapes: single quotes unless s holds one, then double quotes. The
// result goes into XML attribute text only through the API, never into
// markup, so no XML escaping is needed.
func xpathLiteral(s string) (string, bool) {
	switch {
	case !strings.Contains(s, "'"):
		return "'" + s + "'", true
	case !strings.Contains(s, `"`):
		return `"` + s + `"`, true
	}
	return "", false
}

// group joins alternatives with "or", in parentheses when there are several.
func group(terms []string) string {
	if len(terms) == 1 {
		return terms[0]
	}
	return "(" + strings.Join(terms, " or ") + ")"
}
