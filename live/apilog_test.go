package live

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/evtxscan/evtxscan/parser"
)

// The buffer protocols of EvtRender (bytes, grow to BufferUsed) and
// EvtFormatMessage (characters, size with a NULL buffer first) hold for
// events and messages larger than the first buffer.
func TestLargeEventAndMessage(t *testing.T) {
	for _, size := range []int{10, 4095, 4096, 5000, 70000} {
		log := newFakeLog()
		value := strings.Repeat("v", size)
		msg := "Product: " + strings.Repeat("m", size) + " -- status 1603."
		log.addEvent("Application", "MsiInstaller", 1033, []string{value, "1603"}, msg, false)
		s := openFake(t, log, Config{Channels: []string{"Application"}})
		var n int
		for ev, err := range s.Events(context.Background()) {
			if err != nil {
				t.Fatalf("size %d: %v", size, err)
			}
			n++
			if len(ev.InsertionStrings) == 0 || ev.InsertionStrings[0] != value {
				t.Errorf("size %d: data truncated to %d", size, len(ev.InsertionStrings[0]))
			}
			if ev.RenderedMessage != msg {
				t.Errorf("size %d: message of %d characters, want %d", size, len(ev.RenderedMessage), len(msg))
			}
		}
		if n != 1 {
			t.Errorf("size %d: %d events", size, n)
		}
	}
}

// EvtNext may return fewer records than asked, in queries and
// subscriptions: nothing is lost or repeated.
func TestPartialBatches(t *testing.T) {
	for _, follow := range []bool{false, true} {
		log := newFakeLog()
		log.add("Application", 1, 7)
		log.set("Application", func(c *fakeChannel) { c.partial = 2 })
		s := openFake(t, log, Config{Follow: follow, Channels: []string{"Application"}, BatchSize: 5, PollInterval: 10 * time.Millisecond})
		var got []string
		if follow {
			got = strings.Fields(recordIDs(followEvents(t, s)(7)))
		} else {
			for ev, err := range s.Events(context.Background()) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, recordIDs([]*parser.Event{ev}))
			}
		}
		if strings.Join(got, " ") != "1/1 2/1 3/1 4/1 5/1 6/1 7/1" {
			t.Errorf("follow=%v: %v", follow, got)
		}
	}
}

// A run whose read budget is spent stops between batches; the next run
// goes on from the bookmark it commits, losing and repeating nothing.
func TestReadBudgetLeavesTheRestForTheNextRun(t *testing.T) {
	statePath := t.TempDir() + "/s.json"
	log := newFakeLog()
	log.add("Application", 1, 5)
	log.add("System", 1, 2)
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := Config{StatePath: statePath, BatchSize: 2, ReadBudget: time.Minute, now: func() time.Time { return clock }}
	s := openFake(t, log, cfg)
	got := map[string][]uint64{}
	for ev, err := range s.Events(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		ch := strings.TrimPrefix(ev.Source.File, "live:")
		got[ch] = append(got[ch], ev.Source.RecordID)
		clock = clock.Add(40 * time.Second) // a slow consumer
	}
	if fmt.Sprint(got) != "map[Application:[1 2]]" {
		t.Fatalf("first run %v", got)
	}
	if n := strings.Join(s.Notices(), "\n"); !strings.Contains(n, "read budget") {
		t.Errorf("notices %q", n)
	}
	s.Commit()
	cfg.ReadBudget = 0
	got, _ = collect(t, openFake(t, log, cfg))
	if fmt.Sprint(got) != "map[Application:[3 4 5] System:[1 2]]" {
		t.Errorf("next run %v", got)
	}
}
