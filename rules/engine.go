package rules

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/evtxscan/evtxscan/parser"
	"github.com/evtxscan/evtxscan/rules/builtin"
)

// AddBuiltin loads the embedded uninstall rule pack and its field maps
// (package rules/builtin). Their sources read "builtin:<file>".
func (rs *Ruleset) AddBuiltin() error {
	return rs.addFS(builtin.FS, "builtin:")
}

// ---- linking: references between rules ----

func (rs *Ruleset) refuseAt(refused map[*rule]bool, r *rule, line, col int, format string, args ...any) {
	if refused[r] {
		return
	}
	refused[r] = true
	id := r.info.ID
	if line == 0 {
		line, col = r.line, r.col
	}
	rs.linkErrs = append(rs.linkErrs, &LoadError{File: r.file, Line: r.line, Col: r.col, Rule: id,
		Problems: []Problem{{File: r.file, Line: line, Col: col, Rule: id, Msg: fmt.Sprintf(format, args...)}}})
}

// link resolves rule references (correlations, suppressed_by), refuses
// duplicates, dangling references and cycles, and fixes the live lists.
func (rs *Ruleset) link() {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.linked {
		return
	}
	rs.linked = true
	rs.linkErrs = nil
	refused := map[*rule]bool{}
	byRef := map[string]*rule{}
	for _, r := range rs.rules {
		if prev, dup := byRef[r.info.ID]; dup {
			rs.refuseAt(refused, r, 0, 0, "duplicate rule id %q (first defined at %s:%d); give this rule another id", r.info.ID, prev.file, prev.line)
			continue
		}
		byRef[r.info.ID] = r
	}
	for _, r := range rs.rules {
		if refused[r] || r.name == "" || r.name == r.info.ID {
			continue
		}
		if prev, dup := byRef[r.name]; dup && prev != r {
			rs.refuseAt(refused, r, 0, 0, "name %q is already used by rule %s (%s:%d)", r.name, prev.info.ID, prev.file, prev.line)
			continue
		}
		byRef[r.name] = r
	}
	for changed := true; changed; {
		changed = false
		for _, r := range rs.rules {
			if refused[r] {
				continue
			}
			if r.corr != nil {
				line, col := r.line, r.col
				if r.corr.refNode != nil {
					line, col = r.corr.refNode.Line, r.corr.refNode.Column
				}
				for _, ref := range r.corr.refs {
					t := byRef[ref]
					switch {
					case t == nil:
						rs.refuseAt(refused, r, line, col, "correlation references unknown rule %q (load the file that defines it, or fix the id)", ref)
					case refused[t]:
						rs.refuseAt(refused, r, line, col, "correlation references rule %q, which was refused", ref)
					}
				}
			}
			if r.corr != nil && !refused[r] {
				for alias, per := range r.corr.aliases {
					for name := range per {
						t := byRef[name]
						listed := false
						for _, ref := range r.corr.refs {
							if t != nil && byRef[ref] == t {
								listed = true
							}
						}
						if !listed {
							rs.refuseAt(refused, r, 0, 0, "alias %q names rule %q, which is not among the correlation's rules", alias, name)
						}
					}
				}
			}
			if s := r.suppress; s != nil && !refused[r] {
				t := byRef[s.ruleRef]
				switch {
				case r.kind != kindDetection:
					rs.refuseAt(refused, r, s.line, s.col, "suppressed_by works on detection rules only; suppress the base rules instead")
				case t == nil:
					rs.refuseAt(refused, r, s.line, s.col, "suppressed_by names unknown rule %q (load the file that defines it, or fix the id)", s.ruleRef)
				case refused[t]:
					rs.refuseAt(refused, r, s.line, s.col, "suppressed_by names rule %q, which was refused", s.ruleRef)
				case t.kind != kindDetection:
					rs.refuseAt(refused, r, s.line, s.col, "suppressed_by must name a detection rule, %q is a correlation", s.ruleRef)
				}
			}
			if refused[r] {
				changed = true
			}
		}
	}
	// cycles among correlations
	state := map[*rule]int{} // 1 visiting, 2 done
	var visit func(r *rule) bool
	visit = func(r *rule) bool {
		switch state[r] {
		case 1:
			return true
		case 2:
			return false
		}
		state[r] = 1
		cyc := false
		if r.corr != nil {
			for _, ref := range r.corr.refs {
				if t := byRef[ref]; t != nil && visit(t) {
					cyc = true
				}
			}
		}
		state[r] = 2
		if cyc {
			rs.refuseAt(refused, r, 0, 0, "correlation references itself through a chain of correlations")
		}
		return cyc
	}
	for _, r := range rs.rules {
		if !refused[r] {
			visit(r)
		}
	}
	rs.live = rs.live[:0]
	for _, r := range rs.rules {
		if !refused[r] {
			rs.live = append(rs.live, r)
		}
	}
	for k, r := range byRef {
		if refused[r] {
			delete(byRef, k)
		}
	}
	rs.byRef = byRef

	seen := map[string]*fieldMap{}
	var maps []*fieldMap
	for _, m := range rs.fieldMaps {
		if prev, dup := seen[m.name]; dup {
			rs.linkErrs = append(rs.linkErrs, &LoadError{File: m.file, Line: m.line, Col: 1, Rule: "fieldmap " + m.name,
				Problems: []Problem{{File: m.file, Line: m.line, Col: 1, Rule: "fieldmap " + m.name,
					Msg: fmt.Sprintf("duplicate field map name (first defined at %s:%d)", prev.file, prev.line)}}})
			continue
		}
		seen[m.name] = m
		maps = append(maps, m)
	}
	rs.mi = buildMapIndex(maps)
}

// Resolve looks a field up in an event the way rules do: System fields,
// Data[n], Data, Binary, Message, field maps, named EventData, UserData.
// It is safe for concurrent use (once no rules are being added); for many
// lookups on the same events a Resolver is cheaper.
func (rs *Ruleset) Resolve(ev *parser.Event, field string) (string, bool) {
	rs.link()
	r, _ := rs.resolvers.Get().(*Resolver)
	if r == nil || r.mi != rs.mi {
		r = rs.NewResolver()
	}
	v, ok := r.Resolve(ev, field)
	r.ctx.ev = nil // do not keep the event alive in the pool
	rs.resolvers.Put(r)
	return v, ok
}

// A Resolver looks fields up like Ruleset.Resolve, reusing its buffers
// and caching field-map values while it is asked about the same event. It
// is not safe for concurrent use.
type Resolver struct {
	mi  *mapIndex
	ctx *evalCtx
	// identity of the cached event, beyond its address (callers may reuse
	// an Event value for another record)
	rec  uint64
	when time.Time
	off  int64
}

// NewResolver returns a Resolver over the ruleset's field maps.
func (rs *Ruleset) NewResolver() *Resolver {
	rs.link()
	return &Resolver{mi: rs.mi, ctx: newEvalCtx(rs.mi)}
}

// Resolve returns the value of field in ev (see Ruleset.Resolve).
func (r *Resolver) Resolve(ev *parser.Event, field string) (string, bool) {
	c := r.ctx
	if c.ev != ev || r.rec != ev.System.EventRecordID || !r.when.Equal(ev.System.TimeCreated) || r.off != ev.Source.Offset {
		c.reset(ev)
		r.rec, r.when, r.off = ev.System.EventRecordID, ev.System.TimeCreated, ev.Source.Offset
	}
	ref := newFieldRef(field)
	return c.get(&ref)
}

// ---- the engine ----

// An Option configures an Engine.
type Option func(*Engine)

// WithMinLevel drops findings below l (after level_by).
func WithMinLevel(l Level) Option { return func(e *Engine) { e.minLevel = l } }

// WithMatchDetail adds to each detection finding a display field
// "Matched" naming the search identifiers that were true for the event
// (in rule order), so an analyst sees why the rule fired.
func WithMatchDetail() Option { return func(e *Engine) { e.matchDetail = true } }

// WithReorderWindow tells the engine that no event arrives more than d
// older than the latest event it has seen (for instance because the caller
// merges its files by time, d = 0, or reads live channels). Correlations
// and suppressions are then decided as soon as their windows close, and
// their memory is bounded by the open windows. Without it everything
// waits for Flush, which is exact for any order. An event arriving later
// than promised is still used, but windows already decided are not
// revisited.
func WithReorderWindow(d time.Duration) Option {
	return func(e *Engine) { e.bounded, e.reorder = true, d }
}

// An Engine evaluates a ruleset over events. It is not safe for concurrent
// use: run one per goroutine (they share nothing mutable).
type Engine struct {
	minLevel     Level
	ctx          *evalCtx
	chanRules    map[string]*bucket // lower-case channel → rules for it alone
	wild         *bucket            // rules for every channel
	buckets      map[string]*bucket // exact channel text seen → merged bucket
	runs         []*corrRun         // children before parents
	suppressions []*suppressIndex
	pending      []pendingFinding
	lastSeen     time.Time

	bounded     bool
	reorder     time.Duration
	noIndex     bool // evaluate every rule (tests compare with the pre-filter)
	matchDetail bool
	sinceTick   int
}

// tickEvery is how many events pass between two decisions of closed
// windows in bounded mode.
const tickEvery = 512

type bucket struct {
	byID  map[uint16][]*engineRule
	anyID []*engineRule
	// pre-filter indexes of the long lists, built on first use
	index    map[uint16]*ruleIndex
	anyIndex *ruleIndex
}

// eachCandidate calls fn for every rule of list (the rules of event id id,
// or b.anyID when anyID is set) that the event may match.
func (b *bucket) eachCandidate(list []*engineRule, id uint16, anyID bool, ctx *evalCtx, fn func(er *engineRule)) {
	if len(list) < minIndexed {
		for _, er := range list {
			fn(er)
		}
		return
	}
	var ix *ruleIndex
	if anyID {
		if b.anyIndex == nil {
			b.anyIndex = buildIndex(list)
		}
		ix = b.anyIndex
	} else {
		if b.index == nil {
			b.index = map[uint16]*ruleIndex{}
		}
		if ix = b.index[id]; ix == nil {
			ix = buildIndex(list)
			b.index[id] = ix
		}
	}
	ix.each(ctx, func(pos int) { fn(list[pos]) })
}

type engineRule struct {
	r        *rule
	emit     bool
	display  []fieldRef
	levelBy  *fieldRef
	feeds    []*corrFeed
	targets  []*suppressIndex // suppressions this rule's matches feed
	suppress *suppressIndex   // this rule's own suppressed_by
	supRefs  []fieldRef
	needs    []needKey // literals one of which the rule needs (prefilter.go)
	indexed  bool
}

type suppressIndex struct {
	fields  []string
	within  time.Duration
	entries map[string][]time.Time
}

type pendingFinding struct {
	f   Finding
	idx *suppressIndex
	key string
}

// ruleFieldRef compiles a field name for a rule, with its Security 4688
// alternative when the rule is a process_creation rule.
func ruleFieldRef(r *rule, name string) fieldRef {
	ref := newFieldRef(name)
	if r != nil && r.kind == kindDetection && hasSecurity4688(r.sources) {
		if fc, ok := procCreationOn4688[name]; ok {
			c := fc
			ref.alt = &c
		}
	}
	return ref
}

func hasSecurity4688(srcs []source) bool {
	for _, s := range srcs {
		if s.security4688 {
			return true
		}
	}
	return false
}

// NewEngine compiles the live rules into an Engine. Rules refused at load
// or link time are left out (see Skipped).
func (rs *Ruleset) NewEngine(opts ...Option) (*Engine, error) {
	rs.link()
	e := &Engine{
		minLevel:  LevelInformational,
		chanRules: map[string]*bucket{},
		wild:      &bucket{byID: map[uint16][]*engineRule{}},
		buckets:   map[string]*bucket{},
	}
	for _, o := range opts {
		o(e)
	}
	e.ctx = newEvalCtx(rs.mi)

	ers := map[*rule]*engineRule{}
	runs := map[*rule]*corrRun{}
	referencedBy := map[*rule][]*rule{}
	for _, r := range rs.live {
		if r.corr != nil {
			for _, ref := range r.corr.refs {
				t := rs.byRef[ref]
				referencedBy[t] = append(referencedBy[t], r)
			}
		}
	}
	emits := func(r *rule) bool {
		if r.info.Hidden {
			return false
		}
		refs := referencedBy[r]
		if len(refs) == 0 {
			return true
		}
		for _, p := range refs {
			if p.corr.generate {
				return true
			}
		}
		return false
	}
	for _, r := range rs.live {
		switch r.kind {
		case kindDetection:
			er := &engineRule{r: r, emit: emits(r)}
			if r.det != nil && r.det.cond != nil && !e.noIndex {
				er.needs, er.indexed = ruleNeeds(r.det.cond)
			}
			for _, f := range r.fields {
				er.display = append(er.display, ruleFieldRef(r, f))
			}
			if r.levelBy != nil {
				ref := ruleFieldRef(r, r.levelBy.field)
				er.levelBy = &ref
			}
			ers[r] = er
		case kindCorrelation:
			run := &corrRun{r: r, c: r.corr, emit: emits(r)}
			run.wanted = append(run.wanted, r.fields...)
			if r.levelBy != nil {
				run.wanted = append(run.wanted, r.levelBy.field)
			}
			runs[r] = run
		}
	}
	// feeds from referenced rules into correlations
	for _, r := range rs.live {
		run := runs[r]
		if run == nil {
			continue
		}
		for k, ref := range r.corr.refs {
			t := rs.byRef[ref]
			feed := &corrFeed{run: run, which: k}
			alias := func(name string) string {
				if per, ok := r.corr.aliases[name]; ok {
					if f, ok := per[t.name]; ok && t.name != "" {
						return f
					}
					if f, ok := per[t.info.ID]; ok {
						return f
					}
				}
				return name
			}
			for _, g := range r.corr.groupBy {
				feed.group = append(feed.group, ruleFieldRef(t, alias(g)))
				feed.groupNames = append(feed.groupNames, alias(g))
			}
			if r.corr.field != "" {
				v := ruleFieldRef(t, alias(r.corr.field))
				feed.value = &v
				feed.valueName = alias(r.corr.field)
			}
			for _, w := range run.wanted {
				feed.wanted = append(feed.wanted, ruleFieldRef(t, alias(w)))
				feed.wantedNames = append(feed.wantedNames, alias(w))
			}
			if t.kind == kindDetection {
				ers[t].feeds = append(ers[t].feeds, feed)
			} else {
				runs[t].parents = append(runs[t].parents, feed)
			}
		}
	}
	// suppressions
	for _, r := range rs.live {
		if r.suppress == nil || r.kind != kindDetection {
			continue
		}
		er, target := ers[r], ers[rs.byRef[r.suppress.ruleRef]]
		idx := &suppressIndex{fields: r.suppress.fields, within: r.suppress.within, entries: map[string][]time.Time{}}
		er.suppress = idx
		for _, f := range idx.fields {
			er.supRefs = append(er.supRefs, ruleFieldRef(r, f))
		}
		target.targets = append(target.targets, idx)
		e.suppressions = append(e.suppressions, idx)
	}
	// channel and event id index
	for _, r := range rs.live {
		er := ers[r]
		if er == nil {
			continue
		}
		pinned, isPinned := []uint16(nil), false
		if r.det.cond != nil {
			pinned, isPinned = r.det.cond.pinned()
		}
		perChan := map[string]*idSet{}
		var chans []string
		for _, src := range r.sources {
			key := strings.ToLower(src.channel)
			s := perChan[key]
			if s == nil {
				s = &idSet{ids: map[uint16]bool{}}
				perChan[key] = s
				chans = append(chans, key)
			}
			switch {
			case src.ids == nil && !isPinned:
				s.any = true
			case src.ids == nil:
				for _, id := range pinned {
					s.ids[id] = true
				}
			case !isPinned:
				for _, id := range src.ids {
					s.ids[id] = true
				}
			default:
				for _, id := range intersectIDs(src.ids, pinned) {
					s.ids[id] = true
				}
			}
		}
		for _, ch := range chans {
			b := e.wild
			if ch != "" {
				b = e.chanRules[ch]
				if b == nil {
					b = &bucket{byID: map[uint16][]*engineRule{}}
					e.chanRules[ch] = b
				}
			}
			s := perChan[ch]
			if s.any {
				b.anyID = append(b.anyID, er)
				continue
			}
			ids := make([]int, 0, len(s.ids))
			for id := range s.ids {
				ids = append(ids, int(id))
			}
			sort.Ints(ids)
			for _, id := range ids {
				b.byID[uint16(id)] = append(b.byID[uint16(id)], er)
			}
		}
	}
	// correlations, children first
	depth := map[*rule]int{}
	var depthOf func(r *rule) int
	depthOf = func(r *rule) int {
		if d, ok := depth[r]; ok {
			return d
		}
		d := 0
		if r.corr != nil {
			for _, ref := range r.corr.refs {
				if x := depthOf(rs.byRef[ref]) + 1; x > d {
					d = x
				}
			}
		}
		depth[r] = d
		return d
	}
	for _, r := range rs.live {
		if run := runs[r]; run != nil {
			run.order = depthOf(r)
			e.runs = append(e.runs, run)
		}
	}
	sort.SliceStable(e.runs, func(i, j int) bool { return e.runs[i].order < e.runs[j].order })
	for _, run := range e.runs { // children first, so their lag is known
		for _, ref := range run.c.refs {
			if child := runs[rs.byRef[ref]]; child != nil {
				run.lag = max(run.lag, child.lag+child.c.timespan)
			}
		}
	}
	return e, nil
}

type idSet struct {
	any bool
	ids map[uint16]bool
}

func intersectIDs(a, b []uint16) []uint16 {
	var out []uint16
	for _, x := range a {
		for _, y := range b {
			if x == y {
				out = append(out, x)
				break
			}
		}
	}
	return out
}

const maxChannelBuckets = 4096

// bucketFor returns the rules that may match events of a channel.
func (e *Engine) bucketFor(channel string) *bucket {
	if b, ok := e.buckets[channel]; ok {
		return b
	}
	specific := e.chanRules[strings.ToLower(channel)]
	var b *bucket
	switch {
	case specific == nil:
		b = e.wild
	case len(e.wild.anyID) == 0 && len(e.wild.byID) == 0:
		b = specific
	default:
		b = &bucket{byID: map[uint16][]*engineRule{}}
		b.anyID = append(append(b.anyID, specific.anyID...), e.wild.anyID...)
		for id, rs := range specific.byID {
			b.byID[id] = append(b.byID[id], rs...)
		}
		for id, rs := range e.wild.byID {
			b.byID[id] = append(b.byID[id], rs...)
		}
	}
	if len(e.buckets) < maxChannelBuckets {
		e.buckets[channel] = b
	}
	return b
}

// Process evaluates one event. Detection findings are emitted at once
// (except rules with suppressed_by, held until Flush); correlation hits are
// buffered. Events may arrive in any order across files.
func (e *Engine) Process(ev *parser.Event, emit func(Finding)) {
	b := e.bucketFor(ev.System.Channel)
	list := b.byID[ev.System.EventID]
	if len(list) == 0 && len(b.anyID) == 0 {
		e.seen(ev)
		return
	}
	e.seen(ev)
	e.ctx.reset(ev)
	eval := func(er *engineRule) { e.evalRule(er, ev, emit) }
	id := ev.System.EventID
	b.eachCandidate(list, id, false, e.ctx, eval)
	b.eachCandidate(b.anyID, id, true, e.ctx, eval)
	if e.bounded {
		if e.sinceTick++; e.sinceTick >= tickEvery {
			e.sinceTick = 0
			e.settle(false, emit)
		}
	}
}

func (e *Engine) seen(ev *parser.Event) {
	if t := ev.Time(); t.After(e.lastSeen) {
		e.lastSeen = t
	}
}

func eventRef(ev *parser.Event) EventRef {
	id := ev.System.EventRecordID
	if id == 0 {
		id = ev.Source.RecordID
	}
	return EventRef{File: ev.Source.File, RecordID: id, EventID: ev.System.EventID,
		Provider: ev.System.Provider, Channel: ev.System.Channel, Time: ev.Time()}
}

func (e *Engine) evalRule(er *engineRule, ev *parser.Event, emit func(Finding)) {
	if er.r.det == nil || er.r.det.cond == nil || !er.r.det.cond.eval(e.ctx) {
		return
	}
	ctx := e.ctx
	t := ev.Time()
	for _, feed := range er.feeds {
		h := hit{t: t, which: feed.which, computer: ev.System.Computer, events: []EventRef{eventRef(ev)}}
		h.gvals = make([]string, len(feed.group))
		for i := range feed.group {
			h.gvals[i], _ = ctx.get(&feed.group[i])
		}
		h.group = joinGroup(h.gvals)
		if feed.value != nil {
			h.value, _ = ctx.get(feed.value)
		}
		h.vals = make([]string, len(feed.wanted))
		for i := range feed.wanted {
			h.vals[i], _ = ctx.get(&feed.wanted[i])
		}
		feed.run.add(h)
	}
	for _, idx := range er.targets {
		key := e.suppressKey(ev.System.Computer, idx, nil, er.r)
		idx.entries[key] = append(idx.entries[key], t)
	}
	if !er.emit {
		return
	}
	r := er.r
	f := Finding{RuleID: r.info.ID, Title: r.info.Title, Level: r.info.Level, Description: r.info.Description,
		Time: t, Computer: ev.System.Computer, Events: []EventRef{eventRef(ev)}, Tags: r.info.Tags}
	if len(er.display) > 0 {
		f.Fields = make([]DisplayField, len(er.display))
		for i := range er.display {
			v, _ := ctx.get(&er.display[i])
			f.Fields[i] = DisplayField{Name: er.display[i].name, Value: v}
		}
	}
	if e.matchDetail {
		var names []string
		for _, name := range r.det.names {
			if r.det.sels[name].eval(ctx) {
				names = append(names, name)
			}
		}
		f.Fields = append(f.Fields, DisplayField{Name: "Matched", Value: strings.Join(names, ", ")})
	}
	if er.levelBy != nil {
		if v, ok := ctx.get(er.levelBy); ok {
			if l, ok := r.levelBy.levels[v]; ok {
				f.Level = l
			}
		}
	}
	if er.suppress != nil {
		key := e.suppressKey(ev.System.Computer, er.suppress, er.supRefs, r)
		e.pending = append(e.pending, pendingFinding{f: f, idx: er.suppress, key: key})
		return
	}
	if f.Level >= e.minLevel {
		emit(f)
	}
}

// suppressKey joins the computer and the suppression fields of the current
// event (refs compiled for the rule, or the names compiled for the target).
func (e *Engine) suppressKey(computer string, idx *suppressIndex, refs []fieldRef, r *rule) string {
	parts := []string{strings.ToLower(computer)}
	for i, name := range idx.fields {
		var ref fieldRef
		if refs != nil {
			ref = refs[i]
		} else {
			ref = ruleFieldRef(r, name)
		}
		v, _ := e.ctx.get(&ref)
		parts = append(parts, strings.ToLower(v))
	}
	return joinGroup(parts)
}

// Flush ends the input: it evaluates the correlations over their buffered
// hits, emits absences, and settles findings held for suppressed_by. The
// Engine is empty afterwards and can take new input.
func (e *Engine) Flush(emit func(Finding)) {
	e.settle(true, emit)
	e.lastSeen = time.Time{}
	e.sinceTick = 0
}

// settle decides what can be decided: everything at the end of input
// (final), else the windows that closed before the reorder watermark.
func (e *Engine) settle(final bool, emit func(Finding)) {
	watermark := e.lastSeen.Add(-e.reorder)
	for _, run := range e.runs {
		if run.buffered == 0 && !final {
			continue
		}
		run.evaluate(final, watermark.Add(-run.lag), e.lastSeen, func(ms matchSet) { e.correlationMatch(run, ms, emit) })
	}
	if len(e.pending) == 0 {
		if final {
			e.clearSuppressions()
		}
		return
	}
	sort.SliceStable(e.pending, func(i, j int) bool { return e.pending[i].f.Time.Before(e.pending[j].f.Time) })
	kept := e.pending[:0]
	for _, p := range e.pending {
		if !final && !p.f.Time.Add(p.idx.within).Before(watermark) {
			kept = append(kept, p) // a suppressing finding may still come
			continue
		}
		suppressed := false
		for _, t := range p.idx.entries[p.key] {
			d := t.Sub(p.f.Time)
			if d < 0 {
				d = -d
			}
			if d <= p.idx.within {
				suppressed = true
				break
			}
		}
		if !suppressed && p.f.Level >= e.minLevel {
			emit(p.f)
		}
	}
	e.pending = kept
	if final {
		e.pending = nil
		e.clearSuppressions()
		return
	}
	// forget suppressing hits no held or future finding can reach
	oldest := watermark
	for _, p := range e.pending {
		if p.f.Time.Before(oldest) {
			oldest = p.f.Time
		}
	}
	for _, idx := range e.suppressions {
		horizon := oldest.Add(-idx.within)
		for k, ts := range idx.entries {
			keep := ts[:0]
			for _, t := range ts {
				if !t.Before(horizon) {
					keep = append(keep, t)
				}
			}
			if len(keep) == 0 {
				delete(idx.entries, k)
			} else {
				idx.entries[k] = keep
			}
		}
	}
}

func (e *Engine) clearSuppressions() {
	for _, idx := range e.suppressions {
		clear(idx.entries)
	}
}

func (e *Engine) correlationMatch(run *corrRun, ms matchSet, emit func(Finding)) {
	r := run.r
	first := ms.hits[0]
	var events []EventRef
	for _, h := range ms.hits {
		events = append(events, h.events...)
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].Time.Before(events[j].Time) })
	value := func(i int) string {
		for _, h := range ms.hits {
			if i < len(h.vals) && h.vals[i] != "" {
				return h.vals[i]
			}
		}
		return ""
	}
	f := Finding{RuleID: r.info.ID, Title: r.info.Title, Level: r.info.Level, Description: r.info.Description,
		Time: first.t, Computer: first.computer, Events: events, Tags: r.info.Tags}
	if len(r.fields) > 0 {
		for i, name := range r.fields {
			f.Fields = append(f.Fields, DisplayField{Name: name, Value: value(i)})
		}
	} else {
		for i, name := range r.corr.groupBy {
			f.Fields = append(f.Fields, DisplayField{Name: name, Value: first.gvals[i]})
		}
	}
	if ms.note != "" {
		f.Fields = append(f.Fields, DisplayField{Name: "Note", Value: ms.note})
	}
	if r.levelBy != nil {
		if l, ok := r.levelBy.levels[value(len(r.fields))]; ok {
			f.Level = l
		}
	}
	if run.emit && f.Level >= e.minLevel {
		emit(f)
	}
	// feed correlations above this one
	lookup := func(name string) string {
		for i, g := range r.corr.groupBy {
			if g == name {
				return first.gvals[i]
			}
		}
		for i, w := range run.wanted {
			if w == name {
				return value(i)
			}
		}
		return ""
	}
	for _, feed := range run.parents {
		h := hit{t: first.t, which: feed.which, computer: first.computer, events: events}
		for _, n := range feed.groupNames {
			h.gvals = append(h.gvals, lookup(n))
		}
		h.group = joinGroup(h.gvals)
		if feed.valueName != "" {
			h.value = lookup(feed.valueName)
		}
		for _, n := range feed.wantedNames {
			h.vals = append(h.vals, lookup(n))
		}
		feed.run.add(h)
	}
}
