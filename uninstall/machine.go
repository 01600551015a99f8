package uninstall

import (
	"slices"
	"strings"
	"time"
)

// orphanWindow is how far apart the sentences and the outcome of a session
// whose 1040 is missing may be, and how late its 1042 may follow.
const orphanWindow = 10 * time.Minute

// processWindow is how long before its 1040 the msiexec client may start.
const processWindow = time.Hour

// A building session collects records until it closes.
type building struct {
	start, end   *record
	members      []*record // MSI records, crashes, shutdowns: in time order
	last         time.Time
	orphan       bool
	interruption *record // crash, hang, shutdown or boot that ended it
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

// A machine follows one computer's records, fed in time order, and turns
// each session into a Session when it closes. The same machine serves the
// buffering Tracker (records sorted at the end) and the ordered one (records
// as they come, context pruned as time passes).
type machine struct {
	open    []*building
	pending []*record // sentences waiting for an orphan outcome
	orphan  *building // session made from an outcome without 1040, still taking its 1042
	context []*record // SCM, Restart Manager, User32 records: window evidence
	procs   []*record // msiexec process creations
	out     []Session
	now     time.Time

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
	switch r.kind {
	case kindScmState, kindScmError, kindContext:
		m.context = append(m.context, r)
	case kindProcess:
		m.procs = append(m.procs, r)
	case kindShutdown, kindBoot:
		m.closeAll(r)
		if m.orphan != nil {
			m.emit(m.orphan)
			m.orphan = nil
		}
	case kindMsiStart:
		for i, b := range m.open {
			if sameTransaction(b.start, r) { // a restarted 1040: the old one never ended
				m.open = slices.Delete(m.open, i, i+1)
				m.emit(b)
				break
			}
		}
		m.open = append(m.open, &building{start: r, last: r.time})
	case kindMsiEnd:
		closed := false
		for i := len(m.open) - 1; i >= 0; i-- {
			if b := m.open[i]; sameTransaction(b.start, r) {
				b.end = r
				b.add(r)
				m.open = slices.Delete(m.open, i, i+1)
				m.emit(b)
				closed = true
				break
			}
		}
		if !closed && m.orphan != nil && m.orphan.end == nil {
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
		switch {
		case r.kind == kindMsiSentence:
			m.pending = dropOlder(append(m.pending, r), r.time.Add(-orphanWindow))
		case r.kind == kindMsiOutcome:
			if m.orphan != nil {
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
			if b.interruption == nil {
				b.interruption = by
			}
		}
		m.emit(b)
	}
}

func (m *machine) emit(b *building) {
	m.out = append(m.out, b.sessions(m.context, m.procs)...)
}

// finish closes what is still open and returns the sessions.
func (m *machine) finish() []Session {
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
	return m.out
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
