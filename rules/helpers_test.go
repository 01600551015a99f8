package rules

import (
	"strings"
	"testing"
	"time"

	"github.com/evtxscan/evtxscan/parser"
)

var t0 = time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC)

// mkEvent builds an event; data items are "Name=Value" (named) or "=Value"
// (unnamed, positional).
func mkEvent(channel, provider string, id uint16, at time.Time, data ...string) *parser.Event {
	ev := &parser.Event{}
	ev.Source.File = "test.evtx"
	ev.System.Channel = channel
	ev.System.Provider = provider
	ev.System.EventID = id
	ev.System.TimeCreated = at
	ev.System.Computer = "HOST1"
	for _, d := range data {
		k, v, _ := strings.Cut(d, "=")
		ev.EventData = append(ev.EventData, parser.Field{Name: k, Value: v})
	}
	return ev
}

// engineFor loads YAML documents (joined with ---) and builds an engine; it
// fails the test when anything is refused.
func engineFor(t *testing.T, yml string, opts ...Option) (*Ruleset, *Engine) {
	t.Helper()
	rs := NewRuleset()
	if err := rs.AddBytes("test.yml", []byte(yml)); err != nil {
		t.Fatal(err)
	}
	for _, le := range rs.Skipped() {
		for _, p := range le.Problems {
			t.Errorf("refused: %v", p)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	e, err := rs.NewEngine(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return rs, e
}

// run processes events and flushes, returning every finding.
func run(e *Engine, evs ...*parser.Event) []Finding {
	var out []Finding
	emit := func(f Finding) { out = append(out, f) }
	for _, ev := range evs {
		e.Process(ev, emit)
	}
	e.Flush(emit)
	return out
}

// detectionRule wraps a detection block (indented by 4) into a rule for the
// Application channel.
func detectionRule(det string) string {
	return "title: test rule\nid: r1\nlogsource:\n    product: windows\n    service: application\ndetection:\n" + det
}

func ids(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.RuleID)
	}
	return out
}
