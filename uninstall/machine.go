package uninstall

import (
	"slices"
	"strings"
	"time"

	"github.com/evtxscan/evtxscan/rules"
)

// orphanWindow is how far apart the sentences and the outcome of a session
// whose 1040 is missing may be, and how late its 1042 may follow.
const orphanWindow = 10 * time.Minute

// processWindow is how long before its 1040 the msiexec client may start.
const processWindow = time.Hour

// lingerWindow is how long after its 1042 an operation still takes its own
// late events: the server msiexec logs the outcome (11707, 1033, 1038…)
// after the client logged the 1042, and msiexec's restart (User32 1074)
// comes after both.
const lingerWindow = 2 * time.Minute

// restartWindow is how long after an operation msiexec's restart (1074)
// may come and still belong to it.
const restartWindow = 10 * time.Minute

// logEndWindow: an operation still open when its computer's log ends
// within this time never ended because the log ends; later than that, why
// is unknown.
const logEndWindow = 30 * time.Minute

// duplicateStartWindow: a second 1040 of the same package from another
// process within this time is the same transaction (client and server
// msiexec both log it).
const duplicateStartWindow = time.Minute

// maxRemovedServices bounds the removed products' services remembered per
// computer; maxServiceEvents the failures one service incident lists.
const (
	maxRemovedServices = 1024
	maxServiceEvents   = 64
)

// A building session collects records until it closes.
type building struct {
	start, end   *record
	members      []*record // MSI records, crashes, shutdowns: in time order
	last         time.Time
	orphan       bool
	interruption *record   // crash, hang, shutdown, boot or restart that ended it
	logEnds      bool      // still open where its computer's log ends
	services     []*record // 7045 services installed while it ran
}

func (b *building) add(r *record) {
	b.members = append(b.members, r)
	if r.time.After(b.last) {
		b.last = r.time
	}
}

// first is the time the session's window opens.
func (b *building) first() time.Time {
	if b.start != nil {
		return b.start.time
	}
	if len(b.members) > 0 {
		return b.members[0].time
	}
	return b.last
}

// productCode is the ProductCode its MSI records carry ("" if none).
func (b *building) productCode() string {
	for _, r := range b.members {
		if r.detail != nil && r.productCode != "" {
			return r.productCode
		}
	}
	return ""
}

// A removedService is the service of a product that was removed: kept so
// that its failures later (next boot, days later) are tied to the removal.
type removedService struct {
	product, version, productCode string
	removedAt                     time.Time
	failure                       *Incident
	evidence                      []rules.EventRef // 7045 of its install
	// partial: the removal did not succeed (never ended, rollback
	// failed): later failures are more evidence of that incident, the
	// one at index incident of machine.out.
	partial  bool
	incident int
}

// A machine follows one computer's records, fed in time order, and turns
// each operation into an Incident when it closes. The same machine serves
// the buffering Tracker (records sorted at the end) and the ordered one
// (records as they come, context pruned as time passes).
type machine struct {
	computer string
	open     []*building
	recent   []*building // closed, still taking late events (lingerWindow)
	pending  []*record   // sentences waiting for an orphan outcome
	orphan   *building   // session made from an outcome without 1040, still taking its 1042
	context  []*record   // SCM, Restart Manager, User32 records: window evidence
	procs    []*record   // msiexec process creations
	out      []Incident
	now      time.Time

	// services installed by a product (7045 during its install), by
	// lower-case ProductCode or name; removed ones by lower-case service
	// display name and key.
	productServices map[string][]string
	removed         map[string]*removedService
	// installEvidence is the 7045 that installed a service, by lower-case
	// name: the link between the service and its product.
	installEvidence map[string]rules.EventRef
	// serviceImages is every service install (7045) seen, by lower-case
	// name: its ImagePath ties it to a product's folder at removal.
	serviceImages map[string]*record

	updates      []*updateOp   // Windows update removals being assembled
	uninstallers []uninstaller // non-MSI uninstallers started (4688)
	lastCrash    int           // 1 + index in out of the last uninstaller crash (0: none)
	agentCmds    []*record     // "sysmon -u" commands not yet followed by Sysmon's stop
	agentStop    int           // 1 + index in out of the last agent removal (0: none)

	prune      bool // drop context no session can use any more (ordered input)
	prunedSize int  // len(context)+len(procs) after the last prune
}

// step feeds one record. It returns how many context records it dropped.
func (m *machine) step(r *record) int {
	if r.time.After(m.now) {
		m.now = r.time
	}
	if m.orphan != nil && r.time.Sub(m.orphan.last) > orphanWindow {
		m.emit(m.orphan)
		m.orphan = nil
	}
	m.flushRecent(r.time)
	m.flushUpdates(r.time, false)
	switch r.kind {
	case kindUpdate:
		m.updateStep(r)
	case kindAppCrash:
		m.appCrashed(r)
	case kindAgentCmd, kindAgentState:
		m.agentEvent(r)
	case kindScmState, kindContext:
		m.context = append(m.context, r)
	case kindScmError:
		m.context = append(m.context, r)
		m.serviceFailed(r)
	case kindScmInstall:
		m.context = append(m.context, r)
		if m.serviceImages == nil {
			m.serviceImages = map[string]*record{}
		}
		if len(m.serviceImages) < maxRemovedServices && r.service != "" && r.svcKey != "" {
			m.serviceImages[strings.ToLower(r.service)] = r
		}
		if b := m.current(); b != nil {
			b.services = append(b.services, r)
		}
	case kindRestart:
		m.context = append(m.context, r)
		switch {
		case m.current() != nil:
			b := m.current()
			b.add(r)
			if b.interruption == nil {
				b.interruption = r
			}
		case len(m.recent) > 0:
			m.recent[len(m.recent)-1].add(r)
		}
	case kindProcess:
		if nsisUninstaller(r.sentence) {
			m.uninstallerStarted(r)
			break
		}
		m.procs = append(m.procs, r)
	case kindShutdown, kindBoot:
		m.closeAll(r)
		if m.orphan != nil {
			m.emit(m.orphan)
			m.orphan = nil
		}
	case kindMsiStart:
		dup := false
		for i, b := range m.open {
			if b.start == nil || !strings.EqualFold(b.start.pkg, r.pkg) {
				continue
			}
			if b.start.pid == r.pid { // a restarted 1040: the old one never ended
				m.open = slices.Delete(m.open, i, i+1)
				m.emit(b)
				break
			}
			if r.time.Sub(b.start.time) <= duplicateStartWindow {
				b.add(r) // the other msiexec process's 1040 of the same transaction
				dup = true
				break
			}
		}
		if !dup {
			m.open = append(m.open, &building{start: r, last: r.time})
		}
	case kindMsiEnd:
		if i := m.matchEnd(r); i >= 0 {
			b := m.open[i]
			b.end = r
			b.add(r)
			m.open = slices.Delete(m.open, i, i+1)
			m.recent = append(m.recent, b)
		} else if m.orphan != nil && m.orphan.end == nil {
			m.orphan.end = r
			m.orphan.add(r)
		}
	case kindCrash:
		if b := m.current(); b != nil {
			b.add(r)
			if b.interruption == nil {
				b.interruption = r
			}
		}
	default: // MSI outcome, sentence, reboot
		if b := m.current(); b != nil {
			b.add(r)
			break
		}
		if b := m.lingering(r); b != nil {
			b.add(r)
			break
		}
		switch {
		case r.kind == kindMsiSentence:
			m.pending = dropOlder(append(m.pending, r), r.time.Add(-orphanWindow))
		case r.kind == kindMsiOutcome:
			if m.orphan != nil {
				if code := m.orphan.productCode(); r.productCode != "" && strings.EqualFold(code, r.productCode) && !m.orphan.hasOutcome() {
					m.orphan.add(r)
					break
				}
				m.emit(m.orphan)
			}
			b := &building{orphan: true, last: r.time}
			for _, p := range dropOlder(m.pending, r.time.Add(-orphanWindow)) {
				if p.productCode == "" || r.productCode == "" || strings.EqualFold(p.productCode, r.productCode) {
					b.add(p)
				}
			}
			m.pending = nil
			b.add(r)
			m.orphan = b
		case r.kind == kindMsiReboot && m.orphan != nil:
			m.orphan.add(r)
		}
	}
	if m.prune && len(m.context)+len(m.procs) > 2*m.prunedSize+1024 {
		return m.dropUnneeded()
	}
	return 0
}

// hasOutcome reports whether a 1033–1037 is among its records.
func (b *building) hasOutcome() bool {
	for _, r := range b.members {
		if r.kind == kindMsiOutcome {
			return true
		}
	}
	return false
}

// matchEnd finds the open transaction a 1042 ends: the same package and
// client process, else the same package from the other msiexec process
// (client and server both log), the latest first. -1 if none.
func (m *machine) matchEnd(r *record) int {
	for i := len(m.open) - 1; i >= 0; i-- {
		if b := m.open[i]; b.start != nil && strings.EqualFold(b.start.pkg, r.pkg) && b.start.pid == r.pid {
			return i
		}
	}
	for i := len(m.open) - 1; i >= 0; i-- {
		if b := m.open[i]; b.start != nil && strings.EqualFold(b.start.pkg, r.pkg) {
			return i
		}
	}
	return -1
}

// lingering returns the operation that ended moments ago and that a late
// MSI record belongs to: the same ProductCode, or one that has none yet.
func (m *machine) lingering(r *record) *building {
	for i := len(m.recent) - 1; i >= 0; i-- {
		b := m.recent[i]
		if r.time.Sub(b.last) > lingerWindow {
			continue
		}
		code := b.productCode()
		if r.detail == nil || r.productCode == "" || code == "" || strings.EqualFold(code, r.productCode) {
			return b
		}
	}
	return nil
}

// flushRecent emits the closed operations that take no more late events.
func (m *machine) flushRecent(now time.Time) {
	for len(m.recent) > 0 && now.Sub(m.recent[0].last) > restartWindow {
		b := m.recent[0]
		m.recent = m.recent[1:]
		m.emit(b)
	}
}

func (m *machine) current() *building {
	if len(m.open) == 0 {
		return nil
	}
	return m.open[len(m.open)-1]
}

// closeAll ends every open session; by (a shutdown or boot) is evidence
// for each of them, and the reason when nothing else ended it first.
func (m *machine) closeAll(by *record) {
	open := m.open
	m.open = nil
	for _, b := range open {
		if by != nil {
			b.add(by)
			// A power loss explains more than the msiexec hang before it.
			if b.interruption == nil || by.kind == kindShutdown && b.interruption.kind != kindShutdown {
				b.interruption = by
			}
		}
		m.emit(b)
	}
	for _, b := range m.recent {
		m.emit(b)
	}
	m.recent = nil
}

func (m *machine) emit(b *building) {
	for _, in := range b.incidents(m.context, m.procs) {
		m.out = append(m.out, in)
		m.learnServices(b, len(m.out)-1)
	}
}

// finish closes what is still open and returns the incidents. lastSeen is
// the time of the computer's last event of any kind.
func (m *machine) finish(lastSeen time.Time) []Incident {
	if lastSeen.Before(m.now) {
		lastSeen = m.now
	}
	for _, b := range m.open {
		if lastSeen.Sub(b.last) <= logEndWindow {
			b.logEnds = true
		}
	}
	m.closeAll(nil)
	if m.orphan != nil {
		m.emit(m.orphan)
		m.orphan = nil
	}
	// Removal sentences that never met an outcome (1034 lost) still tell of
	// an uninstall.
	for _, p := range m.pending {
		if p.removal || p.upgradeRemovalFailed {
			b := &building{orphan: true, last: p.time}
			b.add(p)
			m.emit(b)
		}
	}
	m.pending = nil
	m.flushUpdates(m.now, true)
	for _, rs := range m.removed {
		if rs.failure != nil {
			m.out = append(m.out, *rs.failure)
			rs.failure = nil
		}
	}
	return m.out
}

// learnServices remembers the services evidence ties to a product: those
// its install created (7045 while it ran), and, when a removal succeeded,
// marks them removed so their later failures are tied to it.
func (m *machine) learnServices(b *building, idx int) {
	in := &m.out[idx]
	name := in.Product
	if name == "" {
		name = strings.TrimSuffix(basename(in.Package), ".msi")
	}
	key := strings.ToLower(cmp0(in.ProductCode, name))
	if key == "" {
		return
	}
	for _, s := range b.services {
		if m.installEvidence == nil {
			m.installEvidence = map[string]rules.EventRef{}
		}
		if len(m.installEvidence) < maxRemovedServices {
			m.installEvidence[strings.ToLower(s.service)] = s.ref
		}
		if m.productServices == nil {
			m.productServices = map[string][]string{}
		}
		if len(m.productServices) < maxRemovedServices && !slices.Contains(m.productServices[key], s.service) {
			m.productServices[key] = append(m.productServices[key], s.service)
		}
		if name := strings.ToLower(in.Product); name != "" && name != key && len(m.productServices) < maxRemovedServices {
			m.productServices[name] = append(m.productServices[name], s.service)
		}
	}
	partial := in.Outcome == OutcomeUnterminated || in.Outcome == OutcomeRollbackFailed
	if !isRemoval(in.Kind) || in.Kind == KindUpgrade || in.Outcome != OutcomeSucceeded && !partial {
		return
	}
	services := slices.Clone(m.productServices[key])
	if name := strings.ToLower(in.Product); name != "" {
		services = append(services, m.productServices[name]...)
	}
	// Services the removal stopped and that never ran again, named like
	// the product (7036 inside the session window).
	for _, r := range m.context {
		if r.kind != kindScmState || r.state != "stopped" || r.time.Before(in.Start) || (!in.End.IsZero() && r.time.After(in.End)) {
			continue
		}
		if sharesWord(r.service, name) || sharesWord(r.svcKey, name) {
			services = append(services, r.service)
		}
	}
	linked, evidence := m.servicesUnderProduct(in, name)
	services = append(services, linked...)
	in.Services = append(in.Services, services...)
	slices.Sort(in.Services)
	in.Services = slices.Compact(in.Services)
	for _, s := range services {
		if m.removed == nil {
			m.removed = map[string]*removedService{}
		}
		if len(m.removed) >= maxRemovedServices {
			break
		}
		rs := &removedService{product: name, version: in.Version, productCode: in.ProductCode, removedAt: in.Start,
			partial: partial, incident: idx}
		if ev, ok := m.installEvidence[strings.ToLower(s)]; ok {
			rs.evidence = append(rs.evidence, ev)
		}
		for _, ev := range evidence[strings.ToLower(s)] {
			if !slices.Contains(rs.evidence, ev) {
				rs.evidence = append(rs.evidence, ev)
			}
		}
		m.removed[strings.ToLower(s)] = rs
	}
}

// serviceFailed ties an SCM failure to the removed product whose service
// it names, any time after the removal.
func (m *machine) serviceFailed(r *record) {
	if len(m.removed) == 0 {
		return
	}
	rs := m.removed[strings.ToLower(r.service)]
	if rs == nil && r.svcKey != "" {
		rs = m.removed[strings.ToLower(r.svcKey)]
	}
	if rs == nil || r.time.Before(rs.removedAt) {
		return
	}
	if rs.partial {
		in := &m.out[rs.incident]
		if len(in.Events) < maxIncidentEvents {
			in.Events = append(in.Events, r.ref)
		}
		if !slices.Contains(in.Signals, ruleServiceFailure) {
			in.Signals = append(in.Signals, ruleServiceFailure)
		}
		if !slices.Contains(in.Services, r.service) {
			in.Services = append(in.Services, r.service)
		}
		return
	}
	if rs.failure == nil {
		rs.failure = &Incident{Kind: KindServiceFailure, Product: rs.product, Version: rs.version, ProductCode: rs.productCode,
			Computer: r.computer, Start: r.time, End: r.time, Outcome: OutcomeFailed, Services: []string{r.service},
			Signals: []string{ruleServiceFailure}, Events: slices.Clone(rs.evidence),
			Cause: Cause{Code: r.state, Name: "service of a removed product", Detail: r.service + " is still configured and failed to start or run"}}
		if r.state == "2" || r.state == "3" {
			rs.failure.Cause.Meaning = "its program file is gone"
		}
		rs.failure.judge()
	}
	if len(rs.failure.Events) < maxServiceEvents {
		rs.failure.Events = append(rs.failure.Events, r.ref)
		rs.failure.End = r.time
	}
}

// ruleServiceFailure is the rule id a removed product's failing service
// is reported under.
const ruleServiceFailure = "uninstall_service_teardown_failure"

// maxIncidentEvents bounds the events later evidence adds to an incident.
const maxIncidentEvents = 4096

// sharesWord reports whether a and b share a word of 4 letters or more,
// one's word inside the other's text (a service "Contoso Agent Service" and
// a product "Contoso Agent", a package "FabrikamVPN").
func sharesWord(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	return wordIn(a, b) || wordIn(b, a)
}

func wordIn(text, words string) bool {
	lt := strings.ToLower(text)
	for _, w := range strings.FieldsFunc(strings.ToLower(words), func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') }) {
		if len(w) >= 4 && !commonWord[w] && strings.Contains(lt, w) {
			return true
		}
	}
	return false
}

// commonWord are words too common in product and service names to tie
// one to the other.
var commonWord = map[string]bool{"service": true, "services": true, "microsoft": true, "windows": true, "agent": true,
	"update": true, "client": true, "server": true, "runtime": true, "system": true, "tools": true, "helper": true, "driver": true}

func cmp0(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// dropUnneeded forgets context no session can still use: records before
// the earliest open session (or the orphan window, or the process window)
// that lie in no session's window. Only valid when records come in time
// order. It returns how many records it dropped.
func (m *machine) dropUnneeded() int {
	keep := m.now.Add(-orphanWindow)
	for _, b := range m.open {
		if t := b.first(); t.Before(keep) {
			keep = t
		}
	}
	for _, b := range m.recent {
		if t := b.first(); t.Before(keep) {
			keep = t
		}
	}
	if m.orphan != nil && m.orphan.first().Before(keep) {
		keep = m.orphan.first()
	}
	before := len(m.context) + len(m.procs)
	i, _ := slices.BinarySearchFunc(m.context, keep, func(r *record, t time.Time) int { return r.time.Compare(t) })
	m.context = slices.Delete(m.context, 0, i)
	j, _ := slices.BinarySearchFunc(m.procs, keep.Add(-processWindow), func(r *record, t time.Time) int { return r.time.Compare(t) })
	m.procs = slices.Delete(m.procs, 0, j)
	m.prunedSize = len(m.context) + len(m.procs)
	return before - m.prunedSize
}
