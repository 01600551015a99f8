package live

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evtxscan/evtxscan/filter"
	"github.com/evtxscan/evtxscan/parser"
)

// Each test here is one defect of issue #18, against the Windows model
// (fakewindows_test.go). Each failed (or, #1, panicked; #6 and #10 hung)
// on the code before its fix.

// followEvents runs a Follow source and returns a function that waits for
// the next n events.
func followEvents(t *testing.T, s *Source) func(n int) []*parser.Event {
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan *parser.Event, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev, err := range s.Events(ctx) {
			if err == nil {
				events <- ev
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return func(n int) []*parser.Event {
		t.Helper()
		var got []*parser.Event
		timeout := time.After(5 * time.Second)
		for len(got) < n {
			select {
			case ev := <-events:
				got = append(got, ev)
			case <-timeout:
				t.Fatalf("got %d events, waiting for %d", len(got), n)
			}
		}
		return got
	}
}

func recordIDs(evs []*parser.Event) string {
	var b []string
	for _, ev := range evs {
		b = append(b, fmt.Sprintf("%d/%d", ev.Source.RecordID, ev.System.EventID))
	}
	return strings.Join(b, " ")
}

// #1: after 1734 the re-open fails: the run reports the channel, no panic.
func TestRefusedBatchThenReopenFails(t *testing.T) {
	log := newFakeLog()
	log.add("Application", 1, 50)
	log.add("System", 1, 2)
	log.set("Application", func(c *fakeChannel) { c.refuseOver = 10; c.openLimit = 1 })
	s := openFake(t, log, Config{BatchSize: 64})
	got, errs := collect(t, s)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "live:Application") {
		t.Errorf("errors %v, want the Application re-open failure", errs)
	}
	if len(got["System"]) != 2 {
		t.Errorf("System not read after the Application failure: %v", got)
	}
}

// #2: a log cleared while following: ids restart at 1 with no notice;
// every new record is delivered, 1102 included.
func TestFollowSeesRecordsAfterClear(t *testing.T) {
	log := newFakeLog()
	log.add("Security", 4624, 3)
	s := openFake(t, log, Config{Follow: true, Channels: []string{"Security"}, StatePath: filepath.Join(t.TempDir(), "s.json"), PollInterval: 10 * time.Millisecond})
	next := followEvents(t, s)
	if got := recordIDs(next(3)); got != "1/4624 2/4624 3/4624" {
		t.Fatalf("history %s", got)
	}
	log.clearLog("Security")
	log.add("Security", 4720, 2)
	if got := recordIDs(next(3)); got != "1/1102 2/4720 3/4720" {
		t.Errorf("after the clear %s, want 1102 and the two new records", got)
	}
	if n := strings.Join(s.Notices(), "\n"); !strings.Contains(n, "cleared") {
		t.Errorf("notices %q, want the clear reported", n)
	}
}

// #2 (once): cleared and refilled beyond the bookmark between two runs:
// the creation time tells.
func TestOnceSeesClearedAndRefilledLog(t *testing.T) {
	statePath := filepath.Join(t.TempDir(), "s.json")
	log := newFakeLog()
	log.add("Application", 1, 5)
	s := openFake(t, log, Config{StatePath: statePath, Channels: []string{"Application"}})
	collect(t, s)
	s.Commit()
	log.clearLog("Application")
	log.add("Application", 1, 8)
	s2 := openFake(t, log, Config{StatePath: statePath, Channels: []string{"Application"}})
	got, _ := collect(t, s2)
	if fmt.Sprint(got["Application"]) != fmt.Sprint(ids(1, 8)) {
		t.Errorf("read %v, want 1-8 (the log was cleared and refilled)", got["Application"])
	}
	if n := strings.Join(s2.Notices(), "\n"); !strings.Contains(n, "cleared") {
		t.Errorf("notices %q", n)
	}
}

// #5: a query on a busy service needs EvtNext with INFINITE.
func TestQueryWaitsForTheService(t *testing.T) {
	log := newFakeLog()
	log.add("Application", 1, 3)
	log.set("Application", func(c *fakeChannel) { c.slow = true; c.partial = 2 })
	s := openFake(t, log, Config{Channels: []string{"Application"}})
	got, errs := collect(t, s)
	if len(errs) > 0 || len(got["Application"]) != 3 {
		t.Errorf("read %v, errors %v", got, errs)
	}
}

// #6: a result set that grows while it is read: the run stops at the
// newest record seen at its start; the next run goes on from there.
func TestRunStopsAtNewestSeenAtStart(t *testing.T) {
	statePath := filepath.Join(t.TempDir(), "s.json")
	log := newFakeLog()
	log.add("Application", 1, 3)
	s := openFake(t, log, Config{StatePath: statePath, Channels: []string{"Application"}, BatchSize: 1})
	var got []uint64
	for ev, err := range s.Events(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev.Source.RecordID)
		log.add("Application", 1, 2) // busy log
	}
	if fmt.Sprint(got) != "[1 2 3]" {
		t.Errorf("read %v, want [1 2 3]", got)
	}
	s.Commit()
	s2 := openFake(t, log, Config{StatePath: statePath, Channels: []string{"Application"}})
	if got, _ := collect(t, s2); fmt.Sprint(got["Application"]) != fmt.Sprint(ids(4, 9)) {
		t.Errorf("next run read %v", got)
	}
}

// #7: a default channel absent on this edition is a notice, not a
// failure; a denied channel is an error that says what to do.
func TestUnopenableChannelsOnce(t *testing.T) {
	log := newFakeLog()
	for _, ch := range DefaultChannels {
		log.add(ch, 1, 1)
	}
	log.set("Microsoft-Windows-AppXDeploymentServer/Operational", func(c *fakeChannel) { c.missing = true })
	log.set("Security", func(c *fakeChannel) { c.denied = true })
	s := openFake(t, log, Config{Channels: []string{}})
	got, errs := collect(t, s)
	if len(got) != 3 {
		t.Errorf("read %v", got)
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "live:Security") || !strings.Contains(errs[0].Error(), "Event Log Readers") {
		t.Errorf("errors %v, want only the Security denial with what to do", errs)
	}
	for _, st := range s.Stats() {
		if strings.Contains(st.File, "AppX") && st.Err != nil {
			t.Errorf("absent default channel is an error: %v", st.Err)
		}
	}
	if n := strings.Join(s.Notices(), "\n"); !strings.Contains(n, "does not exist on this machine") {
		t.Errorf("notices %q", n)
	}
}

// #7 (follow): reported once, not retried every poll, no error batches.
func TestUnopenableChannelsFollow(t *testing.T) {
	log := newFakeLog()
	log.add("Application", 1, 1)
	log.set("Nope", func(c *fakeChannel) { c.missing = true })
	s := openFake(t, log, Config{Follow: true, Channels: []string{"Application", "Nope"}, PollInterval: 5 * time.Millisecond})
	var errs int
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	for _, err := range s.Events(ctx) {
		if err != nil && ctx.Err() == nil {
			errs++
		}
	}
	opens := 0
	log.mu.Lock()
	for _, q := range log.queries {
		if strings.HasPrefix(q, "Subscribe Nope") {
			opens++
		}
	}
	log.mu.Unlock()
	if opens != 1 || errs > 1 {
		t.Errorf("missing channel opened %d times, %d errors yielded; want once", opens, errs)
	}
	if n := strings.Count(strings.Join(s.Notices(), "\n"), "Nope"); n != 1 {
		t.Errorf("reported %d times: %q", n, s.Notices())
	}
}

// #8: the bookmarked record is not in the result set (the filter changed):
// Strict fails, and reading from the oldest with the bookmark as the skip
// point loses nothing (non-strict started after "the closest" record).
func TestSubscribeAfterAbsentBookmark(t *testing.T) {
	statePath := filepath.Join(t.TempDir(), "s.json")
	log := newFakeLog()
	log.add("Application", 1033, 3)
	log.add("Application", 1034, 1) // 4
	log.add("Application", 1033, 2) // 5, 6
	one := func(id uint16) filter.Filter { return filter.Filter{IDs: []filter.IDRange{{Lo: id, Hi: id}}} }
	s := openFake(t, log, Config{StatePath: statePath, Channels: []string{"Application"}, Filter: one(1034)})
	collect(t, s)
	s.Commit()
	s2 := openFake(t, log, Config{Follow: true, StatePath: statePath, Channels: []string{"Application"}, Filter: one(1033), PollInterval: 10 * time.Millisecond})
	if got := recordIDs(followEvents(t, s2)(2)); got != "5/1033 6/1033" {
		t.Errorf("followed %s, want 5 and 6", got)
	}
}

// #9: text Windows filled is kept as is; forwarded RenderingInfo wins;
// partial success is used and filled; stale metadata handles are
// refreshed; a transient open failure is not a missing provider.
func TestMessages(t *testing.T) {
	log := newFakeLog()
	log.addEvent("Application", "MsiInstaller", 1033, []string{"a%2Fb", "1603"}, "Product: a%2Fb -- status 1603.", false)
	log.addEvent("Application", "MsiInstaller", 1034, []string{"X", "1603"}, "Product: %1 -- status 1603.", true)
	log.addForwarded("ForwardedEvents", 77)
	s := openFake(t, log, Config{Channels: []string{"Application", "ForwardedEvents"}})
	var msgs []string
	for ev, err := range s.Events(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, ev.RenderedMessage)
	}
	want := []string{"Product: a%2Fb -- status 1603.", "Product: X -- status 1603.", "An account was successfully logged on."}
	if fmt.Sprint(msgs) != fmt.Sprint(want) {
		t.Errorf("messages\n%q\nwant\n%q", msgs, want)
	}
}

func TestPublisherMetadataRefresh(t *testing.T) {
	log := newFakeLog()
	l := newAPILog(log)
	read := func() string {
		t.Helper()
		r, err := l.Query("Application", "*", 0)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		recs, err := r.Next(100)
		if err != nil || len(recs) == 0 {
			t.Fatalf("Next: %d, %v", len(recs), err)
		}
		return recs[len(recs)-1].Message
	}
	log.metaFailOnce["MsiInstaller"] = true
	log.add("Application", 1033, 1)
	read() // the provider fails to open once
	if m := read(); m == "" {
		t.Error("a transient open failure marked the provider missing")
	}
	log.restartService()
	log.add("Application", 1033, 1)
	if m := read(); m != "Product: Product 2 -- status 1603." {
		t.Errorf("after a service restart: %q (stale metadata handle kept)", m)
	}
	l.Close()
	if n := log.openHandles(); n != 0 {
		t.Errorf("%d handles left open", n)
	}
}

// #10: a consumer that stops mid-batch does not stall its channel: the
// rest comes with the next cycle.
func TestConsumerStopsMidBatch(t *testing.T) {
	log := newFakeLog()
	log.add("Application", 1, 3)
	s := openFake(t, log, Config{Follow: true, Channels: []string{"Application"}, PollInterval: 10 * time.Millisecond})
	for ev, err := range s.Cycle(50*time.Millisecond, time.Second).Events(context.Background()) {
		if err != nil || ev.Source.RecordID != 1 {
			t.Fatalf("%v %v", ev, err)
		}
		break
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var got []uint64
	for ev, err := range s.Cycle(100*time.Millisecond, time.Second).Events(ctx) {
		if err == nil {
			got = append(got, ev.Source.RecordID)
		}
	}
	if fmt.Sprint(got) != "[2 3]" {
		t.Errorf("next cycle %v, want [2 3]", got)
	}
}
