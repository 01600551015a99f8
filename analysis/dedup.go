package analysis

import (
	"slices"
	"time"

	"github.com/evtxscan/evtxscan/parser"
	"github.com/evtxscan/evtxscan/rules"
)

// A deduper recognises the same record read from several files (Volume
// Shadow Copy or backup copies of a log). It relies on time order: copies
// of a record have the same TimeCreated, so it only remembers the records
// of the current instant, and its memory is bounded by the largest number
// of events sharing one timestamp.
type deduper struct {
	at   time.Time
	keys map[recordKey]struct{}
}

// recordKey identifies a record across copies of a log: the same machine,
// channel, record id, provider, event id and time.
type recordKey struct {
	computer, channel, provider string
	recordID                    uint64
	eventID                     uint16
}

func newDeduper() *deduper { return &deduper{keys: map[recordKey]struct{}{}} }

// seen reports whether an identical record was already seen, and remembers
// this one. Events must arrive in time order.
func (d *deduper) seen(ev *parser.Event) bool {
	t := ev.Time()
	if !t.Equal(d.at) {
		d.at = t
		clear(d.keys)
	}
	k := recordKey{ev.System.Computer, ev.System.Channel, ev.System.Provider, ev.System.EventRecordID, ev.System.EventID}
	if k.recordID == 0 {
		k.recordID = ev.Source.RecordID
	}
	if _, ok := d.keys[k]; ok {
		return true
	}
	d.keys[k] = struct{}{}
	return false
}

// sortFindings orders findings by time, then level (highest first), then rule.
func sortFindings(fs []rules.Finding) {
	slices.SortStableFunc(fs, func(a, b rules.Finding) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		if a.Level != b.Level {
			return int(b.Level) - int(a.Level)
		}
		switch {
		case a.RuleID < b.RuleID:
			return -1
		case a.RuleID > b.RuleID:
			return 1
		}
		return 0
	})
}
