package evtxwriter

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evtxscan/evtxscan/parser"
)

// TestParserReadsFixtures reads every generated file back with our own
// parser and compares it with the scenario field by field: the record ids,
// every System value, EventData names and values in order, Binary and the
// UserData tree. Damaged files must yield what their scenario says.
func TestParserReadsFixtures(t *testing.T) {
	for _, f := range generateAll(t) {
		t.Run(f.Path, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), filepath.Base(f.Path))
			if err := os.WriteFile(path, f.Bytes, 0o644); err != nil {
				t.Fatal(err)
			}
			for _, recover := range []bool{false, true} {
				got, errs, stats := readAll(t, path, parser.Options{Workers: 1, Recover: recover})
				var live, carved []*parser.Event
				for _, ev := range got {
					if ev.Source.Recovered {
						carved = append(carved, ev)
					} else {
						live = append(live, ev)
					}
				}
				want := f.Events
				if f.corrupt != 0 {
					var kept []Event
					for _, ev := range want {
						if ev.System.EventRecordID != f.corrupt {
							kept = append(kept, ev)
						}
					}
					want = kept
					if len(errs) == 0 || !strings.Contains(fmt.Sprint(errs), fmt.Sprint(f.corrupt)) && !mentionsRecord(stats, f.corrupt) {
						t.Errorf("recover=%v: no error names the broken record %d (errors %v, problems %v)", recover, f.corrupt, errs, stats.Problems)
					}
					if stats.Lost != 1 {
						t.Errorf("recover=%v: Stats.Lost = %d, want 1", recover, stats.Lost)
					}
				} else if len(errs) > 0 {
					t.Errorf("recover=%v: unexpected errors: %v", recover, errs)
				}
				if len(live) != len(want) {
					t.Fatalf("recover=%v: parser yielded %d records, the scenario has %d", recover, len(live), len(want))
				}
				for i := range want {
					if err := compareEvent(live[i], &want[i]); err != nil {
						t.Errorf("recover=%v: record %d (event %d): %v", recover, want[i].System.EventRecordID, want[i].System.EventID, err)
					}
				}
				wantCarved := 0
				if recover {
					wantCarved = len(f.slack)
				}
				if len(carved) != wantCarved && f.corrupt == 0 {
					t.Errorf("recover=%v: %d records recovered, want %d", recover, len(carved), wantCarved)
				}
				if recover && len(carved) == len(f.slack) {
					for i := range f.slack {
						if err := compareEvent(carved[i], &f.slack[i]); err != nil {
							t.Errorf("slack record %d: %v", f.slack[i].System.EventRecordID, err)
						}
					}
				}
			}
		})
	}
}

func mentionsRecord(st parser.Stats, id uint64) bool {
	for _, p := range st.Problems {
		if p.RecordID == id {
			return true
		}
	}
	return false
}

func readAll(t *testing.T, path string, opts parser.Options) ([]*parser.Event, []error, parser.Stats) {
	t.Helper()
	f, err := parser.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []*parser.Event
	var errs []error
	for ev, err := range f.Events(context.Background()) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		evs = append(evs, ev)
	}
	return evs, errs, f.Stats()
}

// compareEvent checks a parsed event against the event the writer wrote.
func compareEvent(got *parser.Event, want *Event) error {
	var errs []string
	bad := func(field string, g, w any) {
		errs = append(errs, fmt.Sprintf("%s = %#v, want %#v", field, g, w))
	}
	g, w := &got.System, &want.System
	if got.Source.RecordID != w.EventRecordID {
		bad("Source.RecordID", got.Source.RecordID, w.EventRecordID)
	}
	if !got.Source.Written.Equal(w.TimeCreated.Truncate(100)) {
		bad("Source.Written", got.Source.Written, w.TimeCreated)
	}
	for _, c := range []struct {
		name     string
		got, exp any
	}{
		{"Provider", g.Provider, w.Provider},
		{"ProviderGUID", g.ProviderGUID, w.ProviderGUID},
		{"EventSourceName", g.EventSourceName, w.EventSourceName},
		{"EventID", g.EventID, w.EventID},
		{"Qualifiers", g.Qualifiers, w.Qualifiers},
		{"HasQualifiers", g.HasQualifiers, w.HasQualifiers},
		{"Version", g.Version, w.Version},
		{"Level", g.Level, w.Level},
		{"Task", g.Task, w.Task},
		{"Opcode", g.Opcode, w.Opcode},
		{"Keywords", g.Keywords, w.Keywords},
		{"EventRecordID", g.EventRecordID, w.EventRecordID},
		{"ActivityID", g.ActivityID, w.ActivityID},
		{"RelatedActivityID", g.RelatedActivityID, w.RelatedActivityID},
		{"ProcessID", g.ProcessID, w.ProcessID},
		{"ThreadID", g.ThreadID, w.ThreadID},
		{"Channel", g.Channel, w.Channel},
		{"Computer", g.Computer, w.Computer},
		{"UserID", g.UserID, w.UserID},
	} {
		if c.got != c.exp {
			bad(c.name, c.got, c.exp)
		}
	}
	if !g.TimeCreated.Equal(w.TimeCreated.Truncate(100)) {
		bad("TimeCreated", g.TimeCreated, w.TimeCreated)
	}
	if want.UserData != nil {
		if got.UserData == nil {
			errs = append(errs, "no UserData")
		} else if err := compareNode(got.UserData, want.UserData); err != nil {
			errs = append(errs, "UserData: "+err.Error())
		}
	} else {
		if len(got.EventData) != len(want.Data) {
			bad("len(EventData)", len(got.EventData), len(want.Data))
		}
		for i := range min(len(got.EventData), len(want.Data)) {
			gd, wd := got.EventData[i], want.Data[i]
			if gd.Name != wd.Name || gd.Value != wd.Render() {
				bad(fmt.Sprintf("EventData[%d]", i), fmt.Sprintf("%s=%.60q", gd.Name, gd.Value), fmt.Sprintf("%s=%.60q", wd.Name, wd.Render()))
			}
		}
		if !bytes.Equal(got.Binary, want.Binary) || (got.Binary == nil) != (want.Binary == nil) {
			bad("Binary", fmt.Sprintf("%X (nil %v)", got.Binary, got.Binary == nil), fmt.Sprintf("%X (nil %v)", want.Binary, want.Binary == nil))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

func compareNode(got *parser.Node, want *Element) error {
	if got.Name != want.Name {
		return fmt.Errorf("element %q, want %q", got.Name, want.Name)
	}
	if len(got.Attrs) != len(want.Attrs) {
		return fmt.Errorf("%s has attributes %v, want %v", want.Name, got.Attrs, want.Attrs)
	}
	for i, a := range want.Attrs {
		if got.Attrs[i].Name != a.Name || got.Attrs[i].Value != a.Text {
			return fmt.Errorf("%s/@%s = %q (%s), want %q", want.Name, a.Name, got.Attrs[i].Value, got.Attrs[i].Name, a.Text)
		}
	}
	wantText := ""
	if want.Value != nil {
		wantText = want.Value.Render()
	}
	if got.Text != wantText {
		return fmt.Errorf("%s = %q, want %q", want.Name, got.Text, wantText)
	}
	if len(got.Children) != len(want.Children) {
		return fmt.Errorf("%s has %d children, want %d", want.Name, len(got.Children), len(want.Children))
	}
	for i := range want.Children {
		if err := compareNode(got.Children[i], want.Children[i]); err != nil {
			return err
		}
	}
	return nil
}
