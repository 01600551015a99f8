package parser

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/evtxscan/evtxscan/internal/testenv"
)

// compareFastGeneral parses data twice, with the compiled-template fast path
// and with the general path only, and returns how many records took the
// fast path and the differences (events, errors and Stats must be equal).
func compareFastGeneral(data []byte, opts Options) (fast int, diffs []string) {
	read := func(general bool) (evs []*Event, errs []string, st Stats) {
		f, err := NewFile(bytes.NewReader(data), int64(len(data)), "x.evtx", opts)
		if err != nil {
			return nil, []string{err.Error()}, st
		}
		f.generalOnly = general
		for ev, err := range f.Events(context.Background()) {
			if err != nil {
				errs = append(errs, err.Error())
				continue
			}
			evs = append(evs, ev)
		}
		return evs, errs, f.Stats()
	}
	fe, ferr, fst := read(false)
	ge, gerr, gst := read(true)
	add := func(format string, args ...any) {
		if len(diffs) < 10 {
			diffs = append(diffs, fmt.Sprintf(format, args...))
		}
	}
	if !reflect.DeepEqual(ferr, gerr) {
		add("errors differ:\nfast    %q\ngeneral %q", ferr, gerr)
	}
	if !reflect.DeepEqual(fst, gst) {
		add("stats differ:\nfast    %+v\ngeneral %+v", fst, gst)
	}
	if len(fe) != len(ge) {
		add("%d events on the fast path, %d on the general path", len(fe), len(ge))
		return 0, diffs
	}
	for i := range fe {
		if !reflect.DeepEqual(fe[i], ge[i]) {
			add("record at offset %d differs:\nfast    %+v\ngeneral %+v", ge[i].Source.Offset, *fe[i], *ge[i])
		}
		if string(AppendJSON(nil, fe[i])) != string(AppendJSON(nil, ge[i])) {
			add("record at offset %d: JSON differs", ge[i].Source.Offset)
		}
	}
	return fastCount(data, opts), diffs
}

// fastCount counts the records the fast path decodes by itself.
func fastCount(data []byte, opts Options) int {
	n := 0
	for off := fileHeaderBlock; off+chunkSize <= len(data); off += chunkSize {
		chunk := data[off : off+chunkSize]
		if string(chunk[:8]) != chunkSignature {
			continue
		}
		d := newDecoder()
		d.reset(chunk)
		var r renderState
		end := int(binary.LittleEndian.Uint32(chunk[48:]))
		if end < chunkHeaderSize || end > len(chunk) {
			end = len(chunk)
		}
		for rec := chunkHeaderSize; rec+recordMinSize <= end && string(chunk[rec:rec+4]) == recordSignature; {
			size, ok := recordSize(chunk, rec)
			if !ok {
				break
			}
			func() {
				defer func() { recover() }()
				c := &cursor{pos: rec + recordHeaderSize, end: rec + size - 4}
				parts, err := d.fragment(c)
				if err == nil {
					r.reset(d)
					if r.decodeFast(parts, &Event{}) {
						n++
					}
				}
				d.recordDone()
			}()
			rec += size
		}
	}
	return n
}

// TestFastPathAgrees requires the compiled-template fast path to produce
// exactly the Events, errors and Stats of the general path on every corpus
// file, every fixture of testdata/evtx and the fuzz seeds, with and without
// Recover, and reports how many records the fast path took.
func TestFastPathAgrees(t *testing.T) {
	var files []string
	root := testenv.Corpus(t)
	for _, rel := range corpusFiles(t, root) {
		files = append(files, filepath.Join(root, filepath.FromSlash(rel)))
	}
	fixtures, _ := filepath.Glob(filepath.Join("..", "testdata", "evtx", "*", "*.evtx"))
	files = append(files, fixtures...)
	if len(fixtures) == 0 {
		t.Fatal("no fixtures under ../testdata/evtx")
	}
	total, fast := 0, 0
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, opts := range []Options{{Workers: 1}, {Workers: 2, Recover: true}} {
			n, diffs := compareFastGeneral(data, opts)
			for _, d := range diffs {
				t.Errorf("%s (%+v): %s", path, opts, d)
			}
			if !opts.Recover {
				fast += n
				f, err := NewFile(bytes.NewReader(data), int64(len(data)), path, opts)
				if err == nil {
					for range f.Events(context.Background()) {
					}
					total += f.Stats().Records
				}
			}
		}
	}
	for i, seed := range fuzzSeeds(t) {
		for _, opts := range []Options{{Workers: 1}, {Workers: 1, Recover: true}} {
			_, diffs := compareFastGeneral(seed, opts)
			for _, d := range diffs {
				t.Errorf("fuzz seed %d (%+v): %s", i, opts, d)
			}
		}
	}
	t.Logf("%d files: %d of %d records (%.1f%%) decoded on the fast path, all equal to the general path",
		len(files), fast, total, 100*float64(fast)/float64(max(total, 1)))
	if fast < total/2 {
		t.Errorf("only %d of %d records took the fast path", fast, total)
	}
}

// TestCarvedTemplateChoiceIsStable pins fuzz finding F6: a carved record
// whose template is found by id, in a chunk defining two templates of that
// GUID with different bodies, got either one depending on map order, so
// two runs over one file could differ. The lowest offset now wins.
func TestCarvedTemplateChoiceIsStable(t *testing.T) {
	data := readFuzzSeed(t, "testdata/fuzz/FuzzFile/template-guid-twice")
	for i := 0; i < 20; i++ {
		if _, diffs := compareFastGeneral(data, Options{Workers: 1, Recover: true}); len(diffs) > 0 {
			t.Fatalf("run %d: %s", i, diffs[0])
		}
	}
}

// readFuzzSeed reads a []byte corpus entry of `go test -fuzz`.
func readFuzzSeed(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	header, body, _ := strings.Cut(string(raw), "\n")
	body = strings.TrimSpace(body)
	if header != "go test fuzz v1" || !strings.HasPrefix(body, "[]byte(") || !strings.HasSuffix(body, ")") {
		t.Fatalf("%s: not a []byte fuzz corpus entry", path)
	}
	s, err := strconv.Unquote(body[len("[]byte(") : len(body)-1])
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return []byte(s)
}
