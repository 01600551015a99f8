package rules

// Correlation design note.
//
// Guarantees:
//   - Results do not depend on arrival order. Events may come from several
//     files in any order; each correlation keeps the hits of its base rules
//     (only those, never other events) per group, sorted by (time, rule
//     position, file, record id), and decides windows in that order. The
//     same input therefore always gives the same findings.
//   - Upper bounds (lt, lte, eq) judge the whole burst a window holds: a
//     window with too many hits is consumed without a finding.
//   - Windows are not aligned to clock boundaries: a window opens at a hit
//     and spans timespan (inclusive) after it.
//   - A finding lists every event of its window that made it, in time order;
//     a chained correlation lists the events of the correlations below it.
//   - Memory holds only base-rule hits. By default they wait for Flush,
//     which is exact for any arrival order. With WithReorderWindow(d) the
//     engine promises itself that no event arrives more than d older than
//     the latest one seen; it then decides every window that closed before
//     latest-d (minus the timespans of chained correlations), emits, and
//     drops the hits no later window needs, so memory is bounded by the
//     open windows, not by the input.
//
// Types: event_count and value_count count hits (distinct values) in the
// window opened by the first unused hit; temporal needs every referenced
// rule (or the condition's count of distinct rules) in one window;
// temporal_ordered additionally in the listed order; absence (our
// extension) reports each start hit with no end hit of its group within
// timespan after it.

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

type corrType uint8

const (
	ctEventCount corrType = iota
	ctValueCount
	ctTemporal
	ctTemporalOrdered
	ctAbsence
)

var corrTypes = map[string]corrType{
	"event_count":      ctEventCount,
	"value_count":      ctValueCount,
	"temporal":         ctTemporal,
	"temporal_ordered": ctTemporalOrdered,
	"absence":          ctAbsence,
}

type correlation struct {
	typ      corrType
	refs     []string
	refNode  *yaml.Node
	groupBy  []string
	timespan time.Duration
	conds    []cmpCond
	field    string                       // value_count
	aliases  map[string]map[string]string // alias → rule id/name → field
	generate bool
}

type cmpCond struct {
	op string
	n  int
}

func (c *correlation) satisfied(count int) bool {
	for _, k := range c.conds {
		ok := false
		switch k.op {
		case "gt":
			ok = count > k.n
		case "gte":
			ok = count >= k.n
		case "lt":
			ok = count < k.n
		case "lte":
			ok = count <= k.n
		case "eq":
			ok = count == k.n
		case "neq":
			ok = count != k.n
		}
		if !ok {
			return false
		}
	}
	return true
}

// tooMany reports whether count breaks an upper bound (lt, lte, eq).
func (c *correlation) tooMany(count int) bool {
	for _, k := range c.conds {
		switch {
		case k.op == "lt" && count >= k.n, k.op == "lte" && count > k.n, k.op == "eq" && count > k.n:
			return true
		}
	}
	return false
}

func parseCorrelation(de *docErrors, n *yaml.Node) *correlation {
	c := &correlation{}
	if n.Kind != yaml.MappingNode {
		de.at(n, "correlation must be a mapping {type, rules, group-by, timespan, condition}")
		return c
	}
	kv := mapKeys(n)
	t := scalarOr(kv["type"], "")
	typ, ok := corrTypes[t]
	switch {
	case t == "":
		de.at(n, "correlation needs `type:` (event_count, value_count, temporal, temporal_ordered or absence)")
	case t == "value_sum" || t == "value_avg" || t == "value_percentile":
		de.unsupported(kv["type"], "unsupported-correlation", "correlation type %s is not supported (use event_count, value_count, temporal, temporal_ordered or absence)", t)
	case !ok:
		de.at(kv["type"], "unknown correlation type %q (use event_count, value_count, temporal, temporal_ordered or absence)", t)
	}
	c.typ = typ
	c.refNode = kv["rules"]
	c.refs = stringList(de, kv["rules"], "correlation.rules")
	if len(c.refs) == 0 {
		de.at(n, "correlation needs `rules:` (ids or names of the rules it joins)")
	}
	if typ == ctAbsence && len(c.refs) != 2 {
		de.at(kv["rules"], "absence takes exactly two rules: [start, end]")
	}
	c.groupBy = stringList(de, kv["group-by"], "group-by")
	if ts := kv["timespan"]; ts == nil {
		de.at(n, "correlation needs `timespan:` (e.g. 10m)")
	} else {
		d, err := parseSpan(ts.Value)
		if err != nil {
			de.at(ts, "%v", err)
		}
		c.timespan = d
	}
	if g := kv["generate"]; g != nil {
		c.generate = g.Value == "true"
	}
	if cn := kv["condition"]; cn != nil {
		if cn.Kind != yaml.MappingNode {
			de.at(cn, "correlation condition must be a mapping like {gte: 3}")
		} else {
			for i := 0; i+1 < len(cn.Content); i += 2 {
				k, v := cn.Content[i].Value, cn.Content[i+1]
				switch k {
				case "gt", "gte", "lt", "lte", "eq", "neq":
					num, err := strconv.Atoi(strings.TrimSpace(v.Value))
					if err != nil {
						de.at(v, "condition %s needs a whole number, not %q", k, v.Value)
					}
					c.conds = append(c.conds, cmpCond{op: k, n: num})
				case "field":
					c.field = v.Value
				default:
					de.at(cn.Content[i], "unknown condition key %q (use gt, gte, lt, lte, eq, neq, field)", k)
				}
			}
		}
	}
	switch typ {
	case ctEventCount, ctValueCount:
		if len(c.conds) == 0 {
			de.at(n, "%s needs a condition such as {gte: 3}", t)
		}
	}
	if typ == ctValueCount && c.field == "" {
		de.at(n, "value_count needs condition.field (the field whose distinct values are counted)")
	}
	if a := kv["aliases"]; a != nil {
		c.aliases = de.mapOfMaps(a, "aliases must map alias → {rule: field}", "alias %q must map rule name → field")
	}
	return c
}

// ---- runtime ----

// A hit is one base-rule match (an event, or a finding of a chained
// correlation) kept by a correlation until Flush.
type hit struct {
	t        time.Time
	which    int      // position of the matched rule in correlation.rules
	group    string   // joined group-by values
	gvals    []string // group-by values
	value    string   // value_count field value
	vals     []string // values of the correlation's wanted fields
	computer string
	events   []EventRef
}

// A corrRun is one correlation's state in an Engine.
type corrRun struct {
	r      *rule
	c      *correlation
	emit   bool
	wanted []string // display fields (and level_by field) to carry
	groups map[string]*hitGroup
	// buffered counts the hits held; lag is how far behind the input this
	// correlation decides (the timespans of the correlations it chains)
	buffered int
	lag      time.Duration
	parents  []*corrFeed
	order    int // topological position: children before parents
}

// A corrFeed connects a rule (detection or correlation) to a correlation
// that references it, with the field references resolved for that rule
// (aliases applied).
type corrFeed struct {
	run    *corrRun
	which  int
	group  []fieldRef
	value  *fieldRef
	wanted []fieldRef
	// for chained correlations: names to read from the child's finding
	groupNames  []string
	valueName   string
	wantedNames []string
}

// A hitGroup holds the hits of one group-by value; they are sorted (by
// hitLess) before each evaluation, only when some arrived out of order.
type hitGroup struct {
	hits     []hit
	unsorted bool
}

func (run *corrRun) add(h hit) {
	if run.groups == nil {
		run.groups = map[string]*hitGroup{}
	}
	g := run.groups[h.group]
	if g == nil {
		g = &hitGroup{}
		run.groups[h.group] = g
	}
	if n := len(g.hits); n > 0 && hitLess(&h, &g.hits[n-1]) {
		g.unsorted = true
	}
	g.hits = append(g.hits, h)
	run.buffered++
}

// hitLess orders hits by time, then rule position, file and record id, so
// the evaluation does not depend on arrival order.
func hitLess(a, b *hit) bool {
	if !a.t.Equal(b.t) {
		return a.t.Before(b.t)
	}
	if a.which != b.which {
		return a.which < b.which
	}
	ea, eb := firstRef(a), firstRef(b)
	if ea.File != eb.File {
		return ea.File < eb.File
	}
	return ea.RecordID < eb.RecordID
}

// evaluate decides the windows of every group. With final set (end of
// input) it decides them all; otherwise only windows that close before
// limit (no hit can arrive in them any more), and it drops the hits no
// later window can use. lastSeen is the time of the input's latest event
// (for the absence note).
func (run *corrRun) evaluate(final bool, limit, lastSeen time.Time, out func(matchSet)) {
	keys := make([]string, 0, len(run.groups))
	for k := range run.groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		g := run.groups[k]
		if g.unsorted {
			sort.SliceStable(g.hits, func(i, j int) bool { return hitLess(&g.hits[i], &g.hits[j]) })
			g.unsorted = false
		}
		if !final && !g.hits[0].t.Add(run.c.timespan).Before(limit) {
			continue // no window of this group has closed yet
		}
		hs := g.hits
		used := run.sweep(hs, final, limit, lastSeen, out)
		run.buffered -= used
		if used == len(hs) {
			delete(run.groups, k)
			continue
		}
		if used > 0 {
			g.hits = append(hs[:0:0], hs[used:]...)
		}
	}
	if final {
		run.groups = nil
		run.buffered = 0
	}
}

func firstRef(h *hit) EventRef {
	if len(h.events) == 0 {
		return EventRef{}
	}
	return h.events[0]
}

// A matchSet is the hits that make one correlation finding.
type matchSet struct {
	hits []hit
	note string
}

// sweep walks the sorted hits of one group, emitting matches, and returns
// how many leading hits are decided (no later window needs them).
func (run *corrRun) sweep(hs []hit, final bool, limit, lastSeen time.Time, out func(matchSet)) int {
	c := run.c
	ts := c.timespan
	decidable := func(i int) bool { return final || hs[i].t.Add(ts).Before(limit) }
	i := 0
	switch c.typ {
	case ctEventCount, ctValueCount, ctTemporal:
		// The window [i, j) holds the hits within timespan of hs[i]; i and
		// j only move forward, and the distinct counts follow them, so a
		// sweep is linear in the hits.
		j := 0
		perRule := make([]int, len(c.refs))
		perValue := map[string]int{}
		distinct := 0
		push := func(h *hit) {
			switch c.typ {
			case ctValueCount:
				if h.value != "" {
					if perValue[h.value]++; perValue[h.value] == 1 {
						distinct++
					}
				}
			case ctTemporal:
				if perRule[h.which]++; perRule[h.which] == 1 {
					distinct++
				}
			}
		}
		pop := func(h *hit) {
			switch c.typ {
			case ctValueCount:
				if h.value != "" {
					if perValue[h.value]--; perValue[h.value] == 0 {
						delete(perValue, h.value)
						distinct--
					}
				}
			case ctTemporal:
				if perRule[h.which]--; perRule[h.which] == 0 {
					distinct--
				}
			}
		}
		for i < len(hs) && decidable(i) {
			for j < len(hs) && hs[j].t.Sub(hs[i].t) <= ts {
				push(&hs[j])
				j++
			}
			count := j - i
			if c.typ != ctEventCount {
				count = distinct
			}
			ok := false
			if c.typ == ctTemporal && len(c.conds) == 0 {
				ok = count == len(c.refs)
			} else {
				ok = c.satisfied(count)
			}
			next := i + 1
			switch {
			case ok:
				out(matchSet{hits: hs[i:j]})
				next = j
			case c.tooMany(count):
				// more than an upper bound allows: this burst is not a
				// match, and neither is any part of it
				next = j
			}
			for ; i < next; i++ {
				pop(&hs[i])
			}
		}
	case ctTemporalOrdered:
		for i < len(hs) && decidable(i) {
			if hs[i].which != 0 {
				i++
				continue
			}
			j := i
			for j < len(hs) && hs[j].t.Sub(hs[i].t) <= ts {
				j++
			}
			next, last := 0, -1
			for k := i; k < j && next < len(c.refs); k++ {
				if hs[k].which == next {
					next++
					last = k
				}
			}
			ok := next == len(c.refs)
			if len(c.conds) > 0 {
				ok = c.satisfied(next)
			}
			if ok && last >= i {
				out(matchSet{hits: hs[i : last+1]})
				i = last + 1
			} else {
				i++
			}
		}
	case ctAbsence:
		for i < len(hs) && decidable(i) {
			s := hs[i]
			if s.which != 0 {
				i++
				continue
			}
			closed := false
			for k := i + 1; k < len(hs) && hs[k].t.Sub(s.t) <= ts; k++ {
				if hs[k].which == 1 {
					closed = true
					break
				}
			}
			if !closed {
				ms := matchSet{hits: hs[i : i+1]}
				if lastSeen.Before(s.t.Add(ts)) {
					ms.note = "log ends before the session closed"
				}
				out(ms)
			}
			i++
		}
	}
	return i
}

// joinGroup joins group-by values into a map key.
func joinGroup(vals []string) string {
	return strings.Join(vals, "\x00")
}
