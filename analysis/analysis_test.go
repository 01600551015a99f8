package analysis

import (
	"context"
	"errors"
	"iter"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/evtxscan/evtxscan/filter"
	"github.com/evtxscan/evtxscan/parser"
	"github.com/evtxscan/evtxscan/report"
	"github.com/evtxscan/evtxscan/rules"
)

// sliceSource yields fixed events (and warnings) as a Source.
type sliceSource struct {
	events []*parser.Event
	warn   []error
	stats  []parser.Stats
}

func (s *sliceSource) Events(ctx context.Context) iter.Seq2[*parser.Event, error] {
	return func(yield func(*parser.Event, error) bool) {
		for _, w := range s.warn {
			if !yield(nil, w) {
				return
			}
		}
		for _, e := range s.events {
			if !yield(e, nil) {
				return
			}
		}
	}
}
func (s *sliceSource) Stats() []parser.Stats { return s.stats }

func msiEvent(file string, rec uint64, t time.Time, id uint16, data ...string) *parser.Event {
	e := &parser.Event{
		Source: parser.Source{File: file, RecordID: rec},
		System: parser.System{Provider: "MsiInstaller", Channel: "Application", Computer: "WS01", EventID: id, Level: 4, TimeCreated: t, EventRecordID: rec},
	}
	for _, d := range data {
		e.EventData = append(e.EventData, parser.Field{Value: d})
	}
	return e
}

func TestRunOrdersDedupsAndDetects(t *testing.T) {
	t0 := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	live := []*parser.Event{
		msiEvent("live/Application.evtx", 1, t0, 1040, "C:\\x.msi", "6700"),
		msiEvent("live/Application.evtx", 2, t0.Add(4*time.Second), 1034, "Contoso Agent", "4.2", "1033", "1603", "Contoso"),
		msiEvent("live/Application.evtx", 3, t0.Add(5*time.Second), 1042, "C:\\x.msi", "6700"),
	}
	// A VSS copy holding the same records, read after the live file, and an
	// older record only the copy has.
	vss := []*parser.Event{
		msiEvent("vss/Application.evtx", 1, t0, 1040, "C:\\x.msi", "6700"),
		msiEvent("vss/Application.evtx", 2, t0.Add(4*time.Second), 1034, "Contoso Agent", "4.2", "1033", "1603", "Contoso"),
		msiEvent("vss/Application.evtx", 0, t0.Add(-time.Hour), 1035, "Other", "1", "1033", "0", "X"),
	}
	src := &sliceSource{events: append(append([]*parser.Event{}, live...), vss...), warn: []error{errors.New("damaged chunk")}}
	rs := rules.NewRuleset()
	if err := rs.AddBuiltin(); err != nil {
		t.Fatal(err)
	}
	var warnings []error
	res, err := Run(context.Background(), src, Config{Dedup: true, Rules: rs, Warn: func(e error) { warnings = append(warnings, e) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Read != 6 || res.Events != 4 || res.Duplicates != 2 {
		t.Errorf("read %d, timeline %d, duplicates %d; want 6, 4, 2", res.Read, res.Events, res.Duplicates)
	}
	if len(warnings) != 1 {
		t.Errorf("warnings = %v, want the one from the source", warnings)
	}
	n := 0
	for _, f := range res.Findings {
		if f.RuleID == "msi_uninstall_failed_status" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("msi_uninstall_failed_status fired %d times, want once after dedup; findings %+v", n, res.Findings)
	}
	if len(res.Incidents) != 1 {
		t.Errorf("incidents = %d, want 1: %+v", len(res.Incidents), res.Incidents)
	}
}

func TestRunFilter(t *testing.T) {
	t0 := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	src := &sliceSource{events: []*parser.Event{
		msiEvent("a.evtx", 1, t0, 1040), msiEvent("a.evtx", 2, t0, 1034), msiEvent("a.evtx", 3, t0, 1042),
	}}
	res, err := Run(context.Background(), src, Config{Filter: filter.Filter{IDs: []filter.IDRange{{Lo: 1034, Hi: 1034}}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Read != 3 || res.Events != 1 {
		t.Errorf("read %d, kept %d; want 3, 1", res.Read, res.Events)
	}
}

func TestDeduperKeepsDifferentRecordsOfOneInstant(t *testing.T) {
	t0 := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	d := newDeduper()
	a := msiEvent("a", 1, t0, 1035)
	b := msiEvent("a", 2, t0, 1035) // same instant, other record
	c := msiEvent("b", 1, t0, 1035) // copy of a
	if d.seen(a) || d.seen(b) || !d.seen(c) {
		t.Error("deduper: want a and b kept, c dropped")
	}
	e := msiEvent("b", 1, t0.Add(time.Second), 1035) // same id, other time: another record (log cleared)
	if d.seen(e) {
		t.Error("a record at another time is not a duplicate")
	}
}

// cancellingSource cancels the run's context after n events.
type cancellingSource struct {
	sliceSource
	n      int
	cancel context.CancelFunc
}

func (s *cancellingSource) Events(ctx context.Context) iter.Seq2[*parser.Event, error] {
	return func(yield func(*parser.Event, error) bool) {
		for i, e := range s.events {
			if i == s.n {
				s.cancel()
			}
			if !yield(e, nil) {
				return
			}
		}
	}
}

// TestRunCancelledLeavesNothing: a run cancelled after its report writers
// started stops their goroutines and leaves no workbook, page or temporary
// file; only the streamed CSV/JSONL timelines stay, as far as they got
// (flatFile.abort keeps them on purpose, for pipelines).
func TestRunCancelledLeavesNothing(t *testing.T) {
	t0 := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	var evs []*parser.Event
	for i := range 5000 {
		evs = append(evs, msiEvent("a.evtx", uint64(i+1), t0.Add(time.Duration(i)*time.Second), 1040, "C:\\x.msi", "6700"))
	}
	before := runtime.NumGoroutine()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := &cancellingSource{sliceSource: sliceSource{events: evs}, n: 2000, cancel: cancel}
	_, err := Run(ctx, src, Config{Report: report.Options{Dir: dir, Formats: []string{"xlsx", "html", "csv", "jsonl"}}, TempDir: t.TempDir()})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v, want context.Canceled", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if n := e.Name(); n != report.TimelineJSONLName && n != report.TimelineCSVName {
			t.Errorf("left behind: %s", n)
		}
	}
	for range 50 {
		if runtime.NumGoroutine() <= before {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after the run, %d before", n, before)
	}
}
