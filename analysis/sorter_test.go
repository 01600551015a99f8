package analysis

import (
	"math/rand"
	"os"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/evtxscan/evtxscan/parser"
)

func richEvent(i int, t time.Time) *parser.Event {
	return &parser.Event{
		Source: parser.Source{File: "a.evtx", Chunk: i % 3, Offset: int64(i) * 100, RecordID: uint64(i), Written: t, Recovered: i%7 == 0, RecoverReason: "slack"},
		System: parser.System{
			Provider: "MsiInstaller", ProviderGUID: "{X}", EventID: uint16(i), Qualifiers: 0, HasQualifiers: true,
			Version: 1, Level: 4, Task: 2, Opcode: 3, Keywords: 0x80000000000000, TimeCreated: t,
			EventRecordID: uint64(i), ProcessID: 4, ThreadID: 5, Channel: "Application", Computer: "WS01",
			UserID: "S-1-5-18", Extra: []parser.Field{{Name: "Execution/@ProcessorID", Value: "1"}},
		},
		EventData:        []parser.Field{{Value: "Contoso Agent"}, {Name: "Status", Value: "1603"}},
		Binary:           []byte("{7BE25830}"),
		UserData:         &parser.Node{Name: "EventXML", Attrs: []parser.Field{{Name: "xmlns", Value: "x"}}, Children: []*parser.Node{{Name: "param1", Text: "v\x00"}}},
		InsertionStrings: []string{"Contoso Agent", "1603"},
		Message:          "Product: Contoso Agent -- Removal failed.",
	}
}

func TestCodecRoundTrip(t *testing.T) {
	for _, e := range []*parser.Event{{}, richEvent(42, time.Date(2024, 3, 1, 10, 0, 4, 301000000, time.UTC))} {
		s := newSorter(t.TempDir(), 1) // spill on every add
		if err := s.add(e); err != nil {
			t.Fatal(err)
		}
		var got []*parser.Event
		for ev, err := range s.sorted() {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ev)
		}
		if len(got) != 1 || !reflect.DeepEqual(got[0], e) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, e)
		}
	}
}

func TestSorterOrderInMemoryAndSpilled(t *testing.T) {
	base := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewSource(1))
	var events []*parser.Event
	for i := 0; i < 2000; i++ {
		// Many ties (second resolution) to check arrival order is kept.
		events = append(events, richEvent(i, base.Add(time.Duration(rng.Intn(300))*time.Second)))
	}
	for _, budget := range []int64{1 << 40, 64 << 10} {
		s := newSorter(t.TempDir(), budget)
		for _, e := range events {
			if err := s.add(e); err != nil {
				t.Fatal(err)
			}
		}
		if budget < 1<<20 && len(s.files) < 2 {
			t.Fatalf("budget %d: expected several spilled runs, got %d", budget, len(s.files))
		}
		var prev *parser.Event
		n := 0
		for ev, err := range s.sorted() {
			if err != nil {
				t.Fatal(err)
			}
			if prev != nil {
				if ev.Time().Before(prev.Time()) {
					t.Fatalf("budget %d: out of order at %d", budget, n)
				}
				if ev.Time().Equal(prev.Time()) && ev.Source.RecordID < prev.Source.RecordID {
					t.Fatalf("budget %d: tie not in arrival order at %d", budget, n)
				}
			}
			prev = ev
			n++
		}
		if n != len(events) {
			t.Errorf("budget %d: got %d events, want %d", budget, n, len(events))
		}
	}
}

func TestSpillReaderRejectsGarbage(t *testing.T) {
	r := &spillReader{buf: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}}
	if v := r.str(); v != "" || r.err == nil {
		t.Errorf("str on garbage = %q, err %v", v, r.err)
	}
}

// TestSpillLeavesNothing: the run files are invisible from the moment they
// exist, so a killed scan cannot leave them behind.
func TestSpillLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	s := newSorter(dir, 1) // spill on every add
	for _, ev := range []*parser.Event{{}, {}, {}} {
		if err := s.add(ev); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.files) == 0 {
		t.Fatal("nothing spilled")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 && runtime.GOOS != "windows" {
		t.Errorf("run files visible while open: %v", entries)
	}
	for range s.sorted() {
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("run files left: %v", entries)
	}
}
