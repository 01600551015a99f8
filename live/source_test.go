package live

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evtxscan/evtxscan/filter"
	"github.com/evtxscan/evtxscan/parser"
)

// collect runs one pass of a source and returns the record ids it yielded
// per channel and the errors.
func collect(t *testing.T, s *Source) (map[string][]uint64, []error) {
	t.Helper()
	got := map[string][]uint64{}
	var errs []error
	for ev, err := range s.Events(context.Background()) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ch := strings.TrimPrefix(ev.Source.File, "live:")
		got[ch] = append(got[ch], ev.System.EventRecordID)
	}
	return got, errs
}

func openFake(t *testing.T, log *fakeWindows, cfg Config) *Source {
	t.Helper()
	cfg.log = newAPILog(log)
	if cfg.Channels == nil {
		cfg.Channels = []string{"Application", "System"}
	}
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func ids(from, to uint64) []uint64 {
	var out []uint64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func TestOnceReadsEveryChannel(t *testing.T) {
	log := newFakeLog()
	log.add("Application", 1033, 3)
	log.add("System", 7036, 2)
	s := openFake(t, log, Config{KeepXML: true})
	var first *parser.Event
	for ev, err := range s.Events(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = ev
		}
	}
	if first.Source.File != "live:Application" || first.System.EventID != 1033 || first.Source.Chunk != -1 {
		t.Errorf("first event %+v", first.Source)
	}
	if want := "Product: Product 1 -- status 1603."; first.RenderedMessage != want {
		t.Errorf("RenderedMessage = %q, want %q (placeholders filled)", first.RenderedMessage, want)
	}
	if !strings.HasPrefix(first.XML, "<Event") {
		t.Errorf("XML not kept: %.40q", first.XML)
	}
	stats := s.Stats()
	if len(stats) != 2 || stats[0].File != "live:Application" || stats[0].Records != 3 || stats[1].Records != 2 {
		t.Errorf("Stats = %+v", stats)
	}
}

func TestIncrementalRunsSeeEachEventOnce(t *testing.T) {
	dir := t.TempDir()
	statePath := filepath.Join(dir, "sub", "state.json")
	log := newFakeLog()
	log.add("Application", 1033, 5)
	log.add("System", 7036, 2)

	run := func(commit bool) map[string][]uint64 {
		s := openFake(t, log, Config{StatePath: statePath})
		got, errs := collect(t, s)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		if commit {
			if err := s.Commit(); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(s.Notices()); n != 0 {
			t.Errorf("notices on a normal run: %q", s.Notices())
		}
		return got
	}
	if got := run(true); fmt.Sprint(got) != fmt.Sprint(map[string][]uint64{"Application": ids(1, 5), "System": ids(1, 2)}) {
		t.Fatalf("run 1: %v", got)
	}
	log.add("Application", 1034, 3)
	if got := run(false); fmt.Sprint(got["Application"]) != fmt.Sprint(ids(6, 8)) || len(got["System"]) != 0 {
		t.Fatalf("run 2: %v, want Application 6-8 only", got)
	}
	// Run 2 did not commit (say it crashed before its reports were
	// written): run 3 sees the same events again — at least once.
	if got := run(true); fmt.Sprint(got["Application"]) != fmt.Sprint(ids(6, 8)) {
		t.Fatalf("run 3: %v, want 6-8 repeated", got)
	}
	if got := run(true); len(got) != 0 {
		t.Fatalf("run 4: %v, want nothing new", got)
	}
	st, err := LoadState(statePath)
	if err != nil {
		t.Fatal(err)
	}
	if st.Channels["Application"].RecordID != 8 || st.Channels["System"].RecordID != 2 {
		t.Errorf("state = %+v", st)
	}
	if want := time.Date(2026, 1, 2, 3, 4, 13, 0, time.UTC); !st.Channels["Application"].Time.Equal(want) {
		t.Errorf("state time = %v, want %v", st.Channels["Application"].Time, want)
	}
}

func TestLogClearedOrRolledOver(t *testing.T) {
	tests := []struct {
		name       string
		change     func(*fakeWindows)
		infoFails  bool
		want       []uint64
		wantNotice string
	}{
		{"rolled over", func(l *fakeWindows) { l.add("Application", 1, 4); l.drop("Application", 7) }, false, ids(8, 9),
			"records 6 to 7 are gone (the last run stopped at 5, the oldest record now is 8)"},
		{"rolled over exactly to the next record is fine", func(l *fakeWindows) { l.add("Application", 1, 2); l.drop("Application", 5) }, false, ids(6, 7), ""},
		{"cleared and refilled", func(l *fakeWindows) { l.clearLog("Application"); l.add("Application", 1, 2) }, false, ids(1, 2),
			"newest record is 2 but the last run stopped at record 5: the log was cleared"},
		{"cleared and empty", func(l *fakeWindows) { l.clearLog("Application") }, false, nil,
			"log is empty but the last run stopped at record 5"},
		// Without the log's range the loss cannot be told from a changed
		// filter: EvtSeek (non-strict) lands on the first record after the
		// bookmark's id, and nothing that is still there is skipped.
		{"rolled over, range unknown", func(l *fakeWindows) { l.add("Application", 1, 4); l.drop("Application", 7) }, true, ids(8, 9), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			statePath := filepath.Join(t.TempDir(), "state.json")
			log := newFakeLog()
			log.add("Application", 1, 5)
			s := openFake(t, log, Config{StatePath: statePath, Channels: []string{"Application"}})
			collect(t, s)
			if err := s.Commit(); err != nil {
				t.Fatal(err)
			}
			tt.change(log)
			var l eventLog = newAPILog(log)
			if tt.infoFails {
				l = infoFailing{l}
			}
			s2, err := Open(context.Background(), Config{StatePath: statePath, Channels: []string{"Application"}, log: l})
			if err != nil {
				t.Fatal(err)
			}
			got, errs := collect(t, s2)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			if fmt.Sprint(got["Application"]) != fmt.Sprint(tt.want) {
				t.Errorf("read %v, want %v", got["Application"], tt.want)
			}
			notices := strings.Join(s2.Notices(), "\n")
			if tt.wantNotice == "" && notices != "" {
				t.Errorf("unexpected notice %q", notices)
			}
			if !strings.Contains(notices, tt.wantNotice) {
				t.Errorf("notices %q, want one containing %q", notices, tt.wantNotice)
			}
			if tt.wantNotice != "" {
				p := s2.Stats()[0].Problems
				if len(p) != 1 || p[0].RecordID != 5 || !strings.Contains(p[0].Reason, tt.wantNotice) {
					t.Errorf("Stats problems = %+v", p)
				}
			}
			// After committing, the next run neither repeats nor reports again.
			if err := s2.Commit(); err != nil {
				t.Fatal(err)
			}
			s3, _ := Open(context.Background(), Config{StatePath: statePath, Channels: []string{"Application"}, log: newAPILog(log)})
			got, _ = collect(t, s3)
			if len(got) != 0 || len(s3.Notices()) != 0 {
				t.Errorf("run after recovery read %v, notices %q", got, s3.Notices())
			}
		})
	}
}

// infoFailing hides the log's record range, so only the query can tell
// that a bookmark is stale.
type infoFailing struct{ eventLog }

func (infoFailing) Info(string) (logInfo, error) { return logInfo{}, errors.New("access denied") }

func TestBatchTooLargeIsReadAgainWithSmallerBatches(t *testing.T) {
	log := newFakeLog()
	log.add("Application", 1, 50)
	log.ch("Application").refuseOver = 10
	s := openFake(t, log, Config{Channels: []string{"Application"}, BatchSize: 64})
	got, errs := collect(t, s)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if fmt.Sprint(got["Application"]) != fmt.Sprint(ids(1, 50)) {
		t.Errorf("read %v, want 1-50 once each", got["Application"])
	}
	// 64 → 32 → 16 → 8: three refusals, three re-opens.
	if q := strings.Join(log.queries, ","); q != "Query Application,Query Application,Query Application,Query Application" {
		t.Errorf("queries %s", q)
	}
}

func TestBrokenRecordIsCountedAndSkipped(t *testing.T) {
	log := newFakeLog()
	log.add("Application", 1, 2)
	log.addBroken("Application")
	log.add("Application", 1, 1)
	statePath := filepath.Join(t.TempDir(), "state.json")
	s := openFake(t, log, Config{Channels: []string{"Application"}, StatePath: statePath})
	got, errs := collect(t, s)
	if fmt.Sprint(got["Application"]) != "[1 2 4]" {
		t.Errorf("read %v", got)
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "live:Application: record 3: EvtRender") {
		t.Errorf("errors %v", errs)
	}
	st := s.Stats()[0]
	if st.Records != 3 || st.Lost != 1 || len(st.Problems) != 1 || st.Problems[0].RecordID != 3 {
		t.Errorf("stats %+v", st)
	}
	s.Commit()
	if st, _ := LoadState(statePath); st.Channels["Application"].RecordID != 4 {
		t.Errorf("bookmark %d, want 4 (past the broken record)", st.Channels["Application"].RecordID)
	}
}

func TestFilterIsAppliedInGo(t *testing.T) {
	log := newFakeLog()
	log.add("ForwardedEvents", 1033, 2) // System/Channel says ForwardedEvents here…
	log.add("ForwardedEvents", 7036, 2)
	f := filter.Filter{Channels: []string{"ForwardedEvents"}, IDs: []filter.IDRange{{Lo: 1033, Hi: 1033}}, Keywords: []string{"product 2"}}
	s := openFake(t, log, Config{Channels: []string{}, Filter: f})
	got, _ := collect(t, s)
	if fmt.Sprint(got) != "map[ForwardedEvents:[2]]" {
		t.Errorf("read %v, want only record 2", got)
	}
	if s.XPath() != "*[System[EventID=1033]]" {
		t.Errorf("XPath %q", s.XPath())
	}
	if fmt.Sprint(s.Channels()) != "[ForwardedEvents]" {
		t.Errorf("channels %v", s.Channels())
	}
}

func TestForwardedChannelNotMatchedAgainstOrigin(t *testing.T) {
	log := newFakeLog()
	log.add("Security", 4624, 1)
	// Serve the Security events from the ForwardedEvents channel.
	log.channels["ForwardedEvents"] = log.channels["Security"]
	s := openFake(t, log, Config{Channels: []string{}, Filter: filter.Filter{Channels: []string{"ForwardedEvents"}}})
	got, _ := collect(t, s)
	if len(got["ForwardedEvents"]) != 1 {
		t.Errorf("read %v, want the forwarded event", got)
	}
}

func TestMissingChannelDoesNotStopOthers(t *testing.T) {
	log := newFakeLog()
	log.ch("Setup").missing = true
	log.add("System", 1, 2)
	s := openFake(t, log, Config{Channels: []string{"Setup", "System"}})
	got, errs := collect(t, s)
	if len(got["System"]) != 2 {
		t.Errorf("read %v", got)
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "live:Setup: The specified channel could not be found") {
		t.Errorf("errors %v", errs)
	}
	if s.Stats()[0].Err == nil {
		t.Error("Setup Stats.Err not set")
	}
}

func TestDamagedStateFileRestartsSafely(t *testing.T) {
	dir := t.TempDir()
	statePath := filepath.Join(dir, "state.json")
	if err := os.WriteFile(statePath, []byte(`{"version":1,"channels":{"Application":{"record_id":`), 0o644); err != nil {
		t.Fatal(err)
	}
	log := newFakeLog()
	log.add("Application", 1, 3)
	var warned []string
	s := openFake(t, log, Config{StatePath: statePath, Channels: []string{"Application"}, Warn: func(m string) { warned = append(warned, m) }})
	if len(warned) != 1 || !strings.Contains(warned[0], statePath) || !strings.Contains(warned[0], "read again from its oldest record") {
		t.Fatalf("warnings %q", warned)
	}
	kept, _ := filepath.Glob(statePath + ".damaged-*")
	if len(kept) != 1 || !strings.Contains(warned[0], kept[0]) {
		t.Errorf("damaged file kept as %v; warning %q", kept, warned[0])
	}
	got, _ := collect(t, s)
	if len(got["Application"]) != 3 {
		t.Errorf("read %v, want everything", got)
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	if st, err := LoadState(statePath); err != nil || st.Channels["Application"].RecordID != 3 {
		t.Errorf("rewritten state %+v, %v", st, err)
	}
}

func TestFollow(t *testing.T) {
	statePath := filepath.Join(t.TempDir(), "state.json")
	log := newFakeLog()
	log.add("Application", 1, 2)
	s := openFake(t, log, Config{Follow: true, StatePath: statePath, PollInterval: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan uint64, 100)
	errs := make(chan error, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev, err := range s.Events(ctx) {
			if err != nil {
				errs <- err
				continue
			}
			events <- ev.System.EventRecordID
		}
	}()
	next := func(n int) []uint64 {
		t.Helper()
		var got []uint64
		timeout := time.After(5 * time.Second)
		for len(got) < n {
			select {
			case id := <-events:
				got = append(got, id)
			case err := <-errs:
				t.Fatalf("error while following: %v", err)
			case <-timeout:
				t.Fatalf("got %v, waiting for %d events", got, n)
			}
		}
		return got
	}
	if got := next(2); fmt.Sprint(got) != "[1 2]" {
		t.Errorf("history %v", got)
	}
	log.add("System", 7, 1)
	log.add("Application", 1, 1)
	got := next(2)
	if len(got) != 2 {
		t.Errorf("new events %v", got)
	}
	// The state follows without an explicit Commit.
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, _ := LoadState(statePath)
		if st.Channels["Application"].RecordID == 3 && st.Channels["System"].RecordID == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("state not committed while following: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Events did not end after cancel")
	}
}

func TestOpenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Open(ctx, Config{log: newAPILog(newFakeLog())}); !errors.Is(err, context.Canceled) {
		t.Errorf("err %v", err)
	}
}

func TestPickChannels(t *testing.T) {
	tests := []struct {
		explicit, filtered []string
		want               string
	}{
		{nil, nil, fmt.Sprint(DefaultChannels)},
		{[]string{"System", "system", " ", "Setup"}, nil, "[System Setup]"},
		{nil, []string{"Security"}, "[Security]"},
		{[]string{"A"}, []string{"B"}, "[A]"},
	}
	for _, tt := range tests {
		if got := fmt.Sprint(pickChannels(tt.explicit, tt.filtered)); got != tt.want {
			t.Errorf("pickChannels(%q, %q) = %s, want %s", tt.explicit, tt.filtered, got, tt.want)
		}
	}
}

// TestBookmarkedRecordIsNotRepeated: EvtSeek one past the bookmark when
// the bookmark is the newest record lands, non-strict, on "the last record
// within the boundary" — the bookmarked record itself — which must not be
// handed out again.
func TestBookmarkedRecordIsNotRepeated(t *testing.T) {
	statePath := filepath.Join(t.TempDir(), "state.json")
	log := newFakeLog()
	log.add("Application", 1, 3)
	s := openFake(t, log, Config{StatePath: statePath, Channels: []string{"Application"}})
	collect(t, s)
	s.Commit()
	s2 := openFake(t, log, Config{StatePath: statePath, Channels: []string{"Application"}})
	got, _ := collect(t, s2)
	if len(got["Application"]) != 0 || s2.Stats()[0].Records != 0 {
		t.Errorf("read %v (Records %d), want nothing: record 3 was handled last run", got, s2.Stats()[0].Records)
	}
	s2.Commit()
	log.add("Application", 1, 2)
	s3 := openFake(t, log, Config{StatePath: statePath, Channels: []string{"Application"}})
	if got, _ := collect(t, s3); fmt.Sprint(got["Application"]) != "[4 5]" {
		t.Errorf("read %v, want [4 5]", got)
	}
}

func TestProviderAndID(t *testing.T) {
	tests := []struct {
		xml      string
		provider string
		id       uint16
		ok       bool
	}{
		{`<Event xmlns='x'><System><Provider Name='Service Control Manager' Guid='{555908d1-a6d7-4695-8e1e-26931d2012f4}' EventSourceName='Service Control Manager'/><EventID Qualifiers='16384'>7036</EventID>`, "Service Control Manager", 7036, true},
		{`<Event><System><Provider Name="MsiInstaller" /><EventID Qualifiers="0">1033</EventID>`, "MsiInstaller", 1033, true},
		{`<Event><System><Provider Name='A&amp;B'/><EventID>1</EventID>`, "A&B", 1, true},
		{`<Event><System><Provider Guid='{x}'/><EventID>1</EventID>`, "", 0, false},
		{`<Event><System><Provider Name='A'/><EventID>x</EventID>`, "", 0, false},
		{`<Event><System><Provider Name='A'/>`, "", 0, false},
		{`<Provider Name='A`, "", 0, false},
		{`<Provider Name=A/><EventID>1</EventID>`, "", 0, false},
	}
	for _, tt := range tests {
		p, id, ok := providerAndID([]byte(tt.xml))
		if p != tt.provider || id != tt.id || ok != tt.ok {
			t.Errorf("providerAndID(%.60q) = %q, %d, %v; want %q, %d, %v", tt.xml, p, id, ok, tt.provider, tt.id, tt.ok)
		}
	}
}

func FuzzProviderAndID(f *testing.F) {
	f.Add([]byte(`<Provider Name='A'/><EventID>1</EventID>`))
	f.Fuzz(func(t *testing.T, b []byte) { providerAndID(b) })
}

func TestCycles(t *testing.T) {
	log := newFakeLog()
	log.add("Application", 1, 3)
	s := openFake(t, log, Config{Follow: true, PollInterval: 10 * time.Millisecond, Channels: []string{"Application"}})
	run := func() []uint64 {
		var got []uint64
		for ev, err := range s.Cycle(100*time.Millisecond, 5*time.Second).Events(context.Background()) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ev.System.EventRecordID)
		}
		return got
	}
	if got := run(); fmt.Sprint(got) != "[1 2 3]" {
		t.Errorf("cycle 1: %v", got)
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		log.add("Application", 1, 2)
	}()
	if got := run(); fmt.Sprint(got) != "[4 5]" {
		t.Errorf("cycle 2: %v", got)
	}
	// A cycle ends with its context even when nothing comes.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	n := 0
	for range s.Cycle(time.Second, time.Second).Events(ctx) {
		n++
	}
	if n != 0 {
		t.Errorf("%d events from an idle cycle", n)
	}
	if st := s.Stats()[0]; st.Records != 5 {
		t.Errorf("Records %d", st.Records)
	}
}

func TestForwardedEventsArePositionedByChannelID(t *testing.T) {
	statePath := filepath.Join(t.TempDir(), "state.json")
	log := newFakeLog()
	log.addForwarded("ForwardedEvents", 900000)
	log.addForwarded("ForwardedEvents", 17)
	cfg := Config{StatePath: statePath, Channels: []string{"ForwardedEvents"}}
	s := openFake(t, log, cfg)
	var got []string
	for ev, err := range s.Events(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d/%d/%d", ev.Source.HeaderRecordID, ev.Source.RecordID, ev.System.EventRecordID))
	}
	if fmt.Sprint(got) != "[1/900000/900000 2/17/17]" {
		t.Errorf("Source.HeaderRecordID/RecordID/System.EventRecordID = %v", got)
	}
	s.Commit()
	if st, _ := LoadState(statePath); st.Channels["ForwardedEvents"].RecordID != 2 {
		t.Errorf("bookmark %d, want the channel's record id 2", st.Channels["ForwardedEvents"].RecordID)
	}
	log.addForwarded("ForwardedEvents", 5)
	s2 := openFake(t, log, cfg)
	ids, _ := collect(t, s2)
	if fmt.Sprint(ids["ForwardedEvents"]) != "[5]" {
		t.Errorf("second run read %v, want only the new event", ids)
	}
}
