package uninstall

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/evtxscan/evtxscan/parser"
	"github.com/evtxscan/evtxscan/rules"
)

// MaxContextRecords caps the context records a Tracker holds at once (SCM
// state and error events, Restart Manager and User32 1074 events, msiexec
// process creations); further ones are counted in Dropped and ignored.
const MaxContextRecords = 1 << 20

// A Tracker collects the events uninstall sessions are made of and builds
// the sessions. By default Add may be called with any event in any order
// across files and the sessions are built at the end; with [Ordered] they
// are built as time-ordered events arrive. It is not safe for concurrent
// use.
type Tracker struct {
	resolve  fieldResolver
	records  []record            // buffering mode: everything, sorted at the end
	ordered  bool                // events come in time order: follow them as they come
	machines map[string]*machine // ordered mode: one per computer (lower case)
	strs     map[string]string   // interned names
	context  int                 // context records held
	seq      uint64
	// lastSeen is each computer's latest event time (of any event), for
	// "log ends" reasons; lastComputer/lastTime cache the current one.
	lastSeen     map[string]time.Time
	lastComputer string
	lastTime     time.Time
	// Dropped counts context records refused past MaxContextRecords.
	Dropped int
	// Late counts events that came earlier in time than one already seen
	// for their computer, in ordered mode (they are still used, in arrival
	// order).
	Late int
}

// An Option configures a Tracker.
type Option func(*Tracker)

// Ordered tells the Tracker that events come in time order (as
// analysis.Run feeds them, after its sorter): sessions are then followed as
// events arrive and context no session can use any more is dropped, so
// memory stays bounded by the sessions open at a time instead of growing
// with the log. Without it the Tracker accepts any order and sorts at the
// end.
func Ordered() Option {
	return func(t *Tracker) { t.ordered = true }
}

// WithRuleset resolves fields through rs (its field maps, including user
// ones) instead of the built-in pack's.
func WithRuleset(rs *rules.Ruleset) Option {
	return func(t *Tracker) { t.resolve = rs }
}

var (
	builtinOnce    sync.Once
	builtinRuleset *rules.Ruleset
)

// builtinResolver returns a ruleset holding the built-in field maps. Its
// load error is ignored on purpose: it can only be about a refused rule
// (the rules package's own tests catch those), and only the field maps are
// used here; TestStatusMeaningFromRulePack fails if they stop resolving.
func builtinResolver() fieldResolver {
	builtinOnce.Do(func() {
		builtinRuleset = rules.NewRuleset()
		_ = builtinRuleset.AddBuiltin()
	})
	return builtinRuleset
}

// NewTracker returns an empty Tracker.
func NewTracker(opts ...Option) *Tracker {
	t := &Tracker{}
	for _, o := range opts {
		o(t)
	}
	if t.resolve == nil {
		t.resolve = builtinResolver()
	}
	return t
}

// Add looks at any event and keeps what uninstall sessions need.
func (t *Tracker) Add(ev *parser.Event) {
	if ev == nil {
		return
	}
	// Each computer's own last event tells whether its log ends right
	// after an operation that never finished.
	if c := ev.System.Computer; c == t.lastComputer && t.lastSeen != nil {
		if tm := ev.Time(); tm.After(t.lastTime) {
			t.lastTime = tm
			t.lastSeen[c] = tm
		}
	} else {
		t.seen(c, ev.Time())
	}
	if !relevant(ev) {
		return
	}
	rec, ok := classify(t.resolve, ev)
	if !ok {
		return
	}
	switch rec.kind {
	case kindScmState, kindScmError, kindScmInstall, kindContext, kindRestart, kindProcess, kindAppCrash:
		if t.context >= MaxContextRecords {
			t.Dropped++
			return
		}
		t.context++
	}
	t.seq++
	rec.seq = t.seq
	rec.computer = t.intern(rec.computer)
	rec.service = t.intern(rec.service)
	rec.ref.File = t.intern(rec.ref.File)
	rec.ref.Provider = t.intern(rec.ref.Provider)
	rec.ref.Channel = t.intern(rec.ref.Channel)
	if !t.ordered {
		t.records = append(t.records, rec)
		return
	}
	key := strings.ToLower(rec.computer)
	m := t.machines[key]
	if m == nil {
		if t.machines == nil {
			t.machines = make(map[string]*machine)
		}
		m = &machine{prune: true, computer: rec.computer}
		t.machines[key] = m
	}
	if rec.time.Before(m.now) {
		t.Late++
	}
	r := new(record)
	*r = rec
	t.context -= m.step(r)
}

// seen records the time of an event of computer c.
func (t *Tracker) seen(c string, tm time.Time) {
	if t.lastSeen == nil {
		t.lastSeen = make(map[string]time.Time)
	}
	last, ok := t.lastSeen[c]
	if !ok {
		if len(t.lastSeen) >= maxInterned {
			return
		}
		c = strings.Clone(c)
	}
	if tm.After(last) {
		last = tm
	}
	t.lastSeen[c] = last
	t.lastComputer, t.lastTime = c, last
}

// maxInterned bounds the intern table (names come from untrusted logs).
const maxInterned = 1 << 16

// intern returns one shared copy of a string seen many times (computer,
// file, provider, channel and service names).
func (t *Tracker) intern(s string) string {
	if s == "" {
		return s
	}
	if v, ok := t.strs[s]; ok {
		return v
	}
	if len(t.strs) < maxInterned {
		if t.strs == nil {
			t.strs = make(map[string]string)
		}
		s = strings.Clone(s)
		t.strs[s] = s
	}
	return s
}

// relevant is a cheap pre-check on provider and id, so that the vast
// majority of events cost two comparisons.
func relevant(ev *parser.Event) bool {
	id := ev.System.EventID
	switch ev.System.Provider {
	case "MsiInstaller":
		return true
	case "Service Control Manager":
		return id >= 7000 && id <= 7045
	case "Application Error", "Application Hang", "Windows Error Reporting":
		return id == 1000 || id == 1002 || id == 1001
	case "EventLog":
		return id == 6005 || id == 6006 || id == 6008
	case "Microsoft-Windows-Kernel-Power":
		return id == 41
	case "Microsoft-Windows-Security-Auditing":
		return id == 4688
	case "Microsoft-Windows-RestartManager":
		return id >= 10000 && id <= 10010
	case "User32", "USER32":
		return id == 1074
	case "Microsoft-Windows-WindowsUpdateClient":
		return id == 23 || id == 24 || id >= 212 && id <= 215
	case "Microsoft-Windows-Servicing":
		return id >= 1 && id <= 6
	case "Microsoft-Windows-WUSA":
		return id == 7 || id == 8
	case "Microsoft-Windows-Sysmon":
		return id == 1 || id == 4
	}
	// Provider names are case-insensitive; the exact spellings above are
	// what Windows writes, so only odd spellings pay for EqualFold.
	p := ev.System.Provider
	return strings.EqualFold(p, "MsiInstaller") || strings.EqualFold(p, "Service Control Manager") ||
		strings.EqualFold(p, "EventLog") || strings.EqualFold(p, "Application Error") ||
		strings.EqualFold(p, "Application Hang") || strings.EqualFold(p, "Windows Error Reporting") ||
		strings.EqualFold(p, "Microsoft-Windows-Kernel-Power") || strings.EqualFold(p, "Microsoft-Windows-Security-Auditing") ||
		strings.EqualFold(p, "Microsoft-Windows-RestartManager") || strings.EqualFold(p, "User32") ||
		strings.EqualFold(p, "Microsoft-Windows-WindowsUpdateClient") || strings.EqualFold(p, "Microsoft-Windows-Servicing") ||
		strings.EqualFold(p, "Microsoft-Windows-WUSA") || strings.EqualFold(p, "Microsoft-Windows-Sysmon")
}

// Sessions returns the incidents in which a product was (to be) removed:
// removals, upgrades and agent removals. See Incidents.
func (t *Tracker) Sessions() []Incident {
	var out []Incident
	for _, in := range t.Incidents() {
		if isRemoval(in.Kind) {
			out = append(out, in)
		}
	}
	return out
}

// Incidents builds every incident from the events added so far, sorted by
// Start (then computer). A buffering Tracker may be asked more than once;
// an Ordered one finishes its incidents, so ask it once, at the end.
func (t *Tracker) Incidents() []Incident {
	var out []Incident
	lastSeen := func(computer string) time.Time {
		var last time.Time
		for c, tm := range t.lastSeen {
			if strings.EqualFold(c, computer) && tm.After(last) {
				last = tm
			}
		}
		return last
	}
	if t.ordered {
		for _, m := range t.machines {
			out = append(out, m.finish(lastSeen(m.computer))...)
		}
		t.machines = nil
	} else {
		byComputer := map[string][]*record{}
		for i := range t.records {
			r := &t.records[i]
			key := strings.ToLower(r.computer)
			byComputer[key] = append(byComputer[key], r)
		}
		for _, recs := range byComputer {
			slices.SortStableFunc(recs, compareRecords)
			m := &machine{computer: recs[0].computer}
			for _, r := range recs {
				m.step(r)
			}
			out = append(out, m.finish(lastSeen(m.computer))...)
		}
	}
	slices.SortStableFunc(out, func(a, b Incident) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.Computer, b.Computer), cmp.Compare(a.Product, b.Product), cmp.Compare(a.Kind, b.Kind))
	})
	settle(out)
	return out
}

// settle lowers installs, repairs and patches that failed or never ended
// when the same product was installed fine later on the same computer
// (the prerequisite was fixed, the retry worked): they need no action.
// in is sorted by Start.
func settle(in []Incident) {
	for i := range in {
		a := &in[i]
		if a.Kind != KindInstall && a.Kind != KindRepair && a.Kind != KindPatch || !a.Attention {
			continue
		}
		for j := i + 1; j < len(in); j++ {
			b := &in[j]
			if b.Outcome != OutcomeSucceeded || !strings.EqualFold(a.Computer, b.Computer) ||
				b.Kind != KindInstall && b.Kind != KindUpgrade && b.Kind != KindRepair {
				continue
			}
			same := a.ProductCode != "" && strings.EqualFold(a.ProductCode, b.ProductCode) ||
				a.Product != "" && strings.EqualFold(a.Product, b.Product)
			if !same {
				continue
			}
			if a.Outcome == OutcomeUnterminated {
				a.Outcome = OutcomeSuperseded
			}
			a.Level = min(a.Level, rules.LevelLow)
			a.FixedBy = b.Start
			break
		}
	}
}

// compareRecords orders by time; ties keep the log's order.
func compareRecords(a, b *record) int {
	return cmp.Or(a.time.Compare(b.time), cmp.Compare(a.ref.File, b.ref.File),
		cmp.Compare(a.ref.RecordID, b.ref.RecordID), cmp.Compare(a.seq, b.seq))
}

func dropOlder(recs []*record, before time.Time) []*record {
	i := 0
	for i < len(recs) && recs[i].time.Before(before) {
		i++
	}
	recs = recs[i:]
	if len(recs) > 64 {
		recs = recs[len(recs)-64:]
	}
	return recs
}

// removeCommand matches msiexec command lines that remove a product:
// /x, -x, /uninstall (any case), as Windows Installer's own parser accepts.
var removeCommand = regexp.MustCompile(`(?i)(^|\s)[/-](x|uninstall)(\s|\{|"|$)`)

// about reports whether record r concerns the removal focus (nil: the
// whole transaction): other removals do not, nor sentences of another
// ProductCode.
func about(r, focus *record) bool {
	if focus == nil || r.detail == nil {
		return true
	}
	switch r.kind {
	case kindMsiOutcome:
		return r == focus || !r.removal
	case kindMsiSentence:
		return r.productCode == "" || focus.productCode == "" || strings.EqualFold(r.productCode, focus.productCode)
	}
	return true
}

// isCause reports whether a sentence explains a failure: an Error-table
// message other than the outcome ones, or an internal error (10005).
func isCause(r *record) bool {
	if r.eventID == 10005 {
		return true
	}
	return r.errNum != "" && !outcomeNumbers[r.errNum]
}

func isProductCode(pkg string) bool {
	return len(pkg) == 38 && pkg[0] == '{' && pkg[37] == '}'
}

// findProcess finds the msiexec client of a session: the 4688 whose new
// process id is the 1040's client pid, created at most an hour before.
func findProcess(procs []*record, start *record) *record {
	var found *record
	for _, p := range procs {
		if p.pid == start.pid && !p.time.After(start.time) && start.time.Sub(p.time) <= time.Hour {
			found = p // the latest one before the session
		}
	}
	return found
}

// restartedServices lists the services that were stopped and then running
// again between from and to, and collects every SCM record in that window.
func restartedServices(scm []*record, from, to time.Time, inWindow *[]*record) []string {
	i, _ := slices.BinarySearchFunc(scm, from, func(r *record, t time.Time) int { return r.time.Compare(t) })
	stopped := map[string]bool{}
	var restarted []string
	for ; i < len(scm) && !scm[i].time.After(to); i++ {
		r := scm[i]
		*inWindow = append(*inWindow, r)
		if r.kind != kindScmState || r.service == "" {
			continue
		}
		key := strings.ToLower(r.service)
		switch r.state {
		case "stopped":
			stopped[key] = true
		case "running":
			if stopped[key] {
				restarted = append(restarted, r.service)
				delete(stopped, key)
			}
		}
	}
	return restarted
}

// customAction finds the action name in a 1720–1723 message ("Action
// CA_UnregisterDriver, location: …"); the word is localized, so any word
// followed by an identifier and a comma right after the error text will do
// only for English logs — elsewhere the sentence itself is shown.
var customAction = regexp.MustCompile(`\bAction ([A-Za-z_][A-Za-z0-9_.]*),`)

// describeInterruption says what ended an operation before its end.
func describeInterruption(r *record) string {
	if r == nil {
		return ""
	}
	at := r.time.UTC().Format("2006-01-02 15:04:05")
	switch {
	case r.kind == kindCrash && r.eventID == 1002:
		return fmt.Sprintf("msiexec.exe stopped responding and was closed (Application Hang 1002 at %s)", at)
	case r.kind == kindCrash && r.eventID == 1000:
		return fmt.Sprintf("msiexec.exe crashed (Application Error 1000 at %s)", at)
	case r.kind == kindCrash:
		return fmt.Sprintf("msiexec.exe failure reported (Windows Error Reporting 1001 at %s)", at)
	case r.kind == kindShutdown && r.eventID == 41:
		return fmt.Sprintf("the system rebooted without shutting down cleanly (Kernel-Power 41 at %s)", at)
	case r.kind == kindShutdown:
		return fmt.Sprintf("the previous system shutdown was unexpected (EventLog 6008 logged at %s)", at)
	case r.kind == kindContext:
		return fmt.Sprintf("a restart was started (User32 1074 at %s)", at)
	case r.eventID == 6006:
		return fmt.Sprintf("the system shut down (EventLog 6006 at %s)", at)
	default:
		return fmt.Sprintf("the system restarted (EventLog 6005 at %s)", at)
	}
}
