package parser

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/evtxscan/evtxscan/internal/testenv"
)

func jsonLine(dst []byte, ev *Event) []byte { return append(AppendJSON(dst, ev), '\n') }

// eventsThenJSON is the reference for Encoded: Events, then AppendJSON of
// each event on the caller's goroutine; errors as text, in order.
func eventsThenJSON(data []byte, opts Options) (out []byte, errs []string) {
	return readJSON(data, opts, false)
}

// freshEventsThenJSON is eventsThenJSON with fresh workers that reuse no
// template parsed before.
func freshEventsThenJSON(data []byte, opts Options) (out []byte, errs []string) {
	return readJSON(data, opts, true)
}

func readJSON(data []byte, opts Options, fresh bool) (out []byte, errs []string) {
	f, err := NewFile(bytes.NewReader(data), int64(len(data)), "x.evtx", opts)
	if err != nil {
		return nil, []string{err.Error()}
	}
	f.noReuse = fresh
	for ev, err := range f.Events(context.Background()) {
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		out = jsonLine(out, ev)
	}
	return out, errs
}

func encoded(data []byte, opts Options) (out []byte, errs []string, st Stats) {
	f, err := NewFile(bytes.NewReader(data), int64(len(data)), "x.evtx", opts)
	if err != nil {
		return nil, []string{err.Error()}, st
	}
	for b, err := range f.Encoded(context.Background(), jsonLine) {
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		out = append(out, b...)
	}
	return out, errs, f.Stats()
}

// TestEncodedAgreesWithEvents requires File.Encoded (events encoded in the
// workers, their memory reused) to give byte for byte the output of Events
// plus AppendJSON, with the same errors in the same places, on every corpus
// file and fixture, with 1 and 2 workers, with and without Recover; and
// pooled workers (knowing the templates of the files before) to write what
// fresh ones write.
func TestEncodedAgreesWithEvents(t *testing.T) {
	root := testenv.Corpus(t)
	var files []string
	for _, rel := range corpusFiles(t, root) {
		files = append(files, filepath.Join(root, filepath.FromSlash(rel)))
	}
	fixtures, _ := filepath.Glob(filepath.Join("..", "testdata", "evtx", "*", "*.evtx"))
	files = append(files, fixtures...)
	var total int
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, opts := range []Options{{Workers: 1}, {Workers: 2, Recover: true}} {
			want, wantErrs := eventsThenJSON(data, opts)
			got, gotErrs, _ := encoded(data, opts)
			if !bytes.Equal(got, want) {
				t.Errorf("%s (%+v): Encoded output differs from Events+AppendJSON (%d vs %d bytes)", path, opts, len(got), len(want))
			}
			if len(gotErrs) != len(wantErrs) {
				t.Errorf("%s (%+v): %d errors from Encoded, %d from Events", path, opts, len(gotErrs), len(wantErrs))
			}
			// Workers are pooled with the templates of the files before:
			// fresh workers must write the same.
			if fresh, _ := freshEventsThenJSON(data, opts); !bytes.Equal(fresh, want) {
				t.Errorf("%s (%+v): fresh workers write %d bytes, pooled ones %d", path, opts, len(fresh), len(want))
			}
			total += len(got)
		}
	}
	t.Logf("%d files, %d bytes of JSON compared", len(files), total)
}

// TestEncodedErrorsInPlace checks that errors come between the right
// events: a damaged record's error is yielded after the bytes of the
// records before it.
func TestEncodedErrorsInPlace(t *testing.T) {
	path := filepath.Join(testenv.Corpus(t), "omerbenamram+evtx/samples/Microsoft-Windows-HelloForBusiness%4Operational.evtx")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("sample not in the corpus: %v", err)
	}
	type step struct {
		lines int
		err   string
	}
	var want, got []step
	f, _ := NewFile(bytes.NewReader(data), int64(len(data)), "x.evtx", Options{Workers: 2})
	for _, err := range f.Events(context.Background()) {
		if err != nil {
			want = append(want, step{err: err.Error()})
		} else {
			want = append(want, step{lines: 1})
		}
	}
	f, _ = NewFile(bytes.NewReader(data), int64(len(data)), "x.evtx", Options{Workers: 2})
	for b, err := range f.Encoded(context.Background(), jsonLine) {
		if err != nil {
			got = append(got, step{err: err.Error()})
			continue
		}
		for range bytes.Count(b, []byte("\n")) {
			got = append(got, step{lines: 1})
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d steps from Encoded, %d from Events", len(got), len(want))
	}
	errs := 0
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("step %d: Encoded %+v, Events %+v", i, got[i], want[i])
		}
		if want[i].err != "" {
			errs++
		}
	}
	if errs == 0 {
		t.Errorf("the sample yielded no error: pick a damaged one")
	}
}

// TestEncodedStop: breaking out of the loop stops decoding cleanly.
func TestEncodedStop(t *testing.T) {
	data := manyChunks(t, 8)
	f, _ := NewFile(bytes.NewReader(data), int64(len(data)), "x.evtx", Options{Workers: 2})
	n := 0
	for b, err := range f.Encoded(context.Background(), jsonLine) {
		if err != nil {
			t.Fatal(err)
		}
		n += bytes.Count(b, []byte("\n"))
		break
	}
	if n == 0 {
		t.Errorf("no output before the break")
	}
}

// TestEventsStayIntact: Events hands out events carved from shared slabs
// (events, fields, strings, value bytes); an event must not change after
// it was yielded, whatever the parser does next. Every event's JSON is
// taken when yielded and again after the whole corpus has been read.
func TestEventsStayIntact(t *testing.T) {
	root := testenv.Corpus(t)
	type kept struct {
		ev   *Event
		json string
	}
	var all []kept
	for _, rel := range corpusFiles(t, root) {
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		f, err := NewFile(bytes.NewReader(data), int64(len(data)), rel, Options{Workers: 2, Recover: true})
		if err != nil {
			continue
		}
		for ev, err := range f.Events(context.Background()) {
			if err == nil {
				all = append(all, kept{ev, string(AppendJSON(nil, ev))})
			}
		}
	}
	changed := 0
	for _, k := range all {
		if got := string(AppendJSON(nil, k.ev)); got != k.json {
			if changed++; changed <= 3 {
				t.Errorf("%s record %d changed after it was yielded:\nthen %.300s\nnow  %.300s", k.ev.Source.File, k.ev.Source.RecordID, k.json, got)
			}
		}
	}
	t.Logf("%d events kept and checked", len(all))
}
