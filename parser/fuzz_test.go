package parser

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/evtxscan/evtxscan/internal/testenv"
)

// Bounds every fuzz input must respect. They are generous: a real parser
// bug (a hang, an allocation driven by a length field) overshoots them by
// orders of magnitude.
const (
	fuzzDeadline      = 20 * time.Second // per input and option set (a loaded machine is slow)
	fuzzMaxEventBytes = 8 << 20          // JSON or XML of one event
	fuzzMaxAllocBase  = 512 << 20        // bytes allocated per input, plus…
	fuzzMaxAllocRatio = 4096             // …this many per input byte (templates amplify)
)

// fuzzSeedLimit is how much of a corpus file becomes a seed: the file
// header and the first chunk.
const fuzzSeedLimit = 4096 + 65536

// FuzzFile feeds arbitrary bytes to NewFile and Events, with and without
// Recover, one worker and two, and renders every event to JSON (AppendJSON)
// and XML (Options.XML). It asserts: no panic, no hang (fuzzDeadline), no
// runaway allocation, every yielded error names an offset inside the input,
// the accounting adds up, JSON is valid, XML is well-formed.
//
// Seeds: the file header and first chunk of every small corpus file and of
// every damaged sample, plus hand-made corner cases; crashers found by long
// runs are kept as regression seeds in testdata/fuzz/FuzzFile:
//   - c0bf7ab87a25104b: a mutated Sysmon template closed <Event> before
//     <EventData>; the record's XML had two root elements (fixed in 8de053c:
//     the first root wins).
//   - 5e4faa171cf612ce: a mutated MSSQL record whose element name decoded
//     to U+FFFD; the XML held an invalid name (fixed by 8de26d1: names are
//     sanitized).
//   - xml-name-with-colons: a mutated Firewall record (truncated to 10 KiB,
//     unneeded bytes zeroed) whose Data attribute name became
//     "_3T19:39:52.89308610": a valid XML 1.0 name but not a namespace
//     QName, which namespace-aware readers (encoding/xml, every SIEM)
//     reject; and emptied names all sanitized to "_" give repeated
//     attributes (finding F4; fixed in 4e05758).
//   - xml-name-non-ascii: a mutated Security 4673 record (truncated to
//     6.7 KB) whose element name ProcessID became "ProcessŉD" (U+0149): a
//     NameChar in XML 1.0 5th edition but not in the Appendix-B classes
//     encoding/xml and our own ParseEventXML use (finding F5; fixed in
//     28cc31b).
//
// Long run (one core; the machine is shared; inputs are 64 KiB chunks, so
// keep minimizing short):
//
//	go test ./parser -run '^$' -fuzz FuzzFile -fuzztime 15m -fuzzminimizetime 20x -parallel 1 -timeout 40m
func FuzzFile(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, opts := range []Options{
			{Workers: 1, XML: true},
			{Workers: 2, Recover: true, XML: true},
		} {
			checkFuzzInput(t, data, opts)
		}
		// The compiled-template fast path (taken without XML) must agree
		// with the general path on any input.
		if _, diffs := compareFastGeneral(data, Options{Workers: 1, Recover: true}); len(diffs) > 0 {
			t.Errorf("fast and general paths differ: %s", diffs[0])
		}
		// File.Encoded (events encoded in the workers, strings in a reused
		// arena) must write what Events + AppendJSON write.
		opts := Options{Workers: 2, Recover: true}
		want, wantErrs := eventsThenJSON(data, opts)
		got, gotErrs, _ := encoded(data, opts)
		if !bytes.Equal(got, want) || len(gotErrs) != len(wantErrs) {
			t.Errorf("Encoded differs from Events+AppendJSON: %d vs %d bytes, %d vs %d errors", len(got), len(want), len(gotErrs), len(wantErrs))
		}
		// Pooled workers know templates from earlier inputs: reusing them
		// must not change anything against fresh workers.
		if fresh, freshErrs := freshEventsThenJSON(data, opts); !bytes.Equal(fresh, want) || len(freshErrs) != len(wantErrs) {
			t.Errorf("fresh workers differ from pooled ones: %d vs %d bytes, %d vs %d errors", len(fresh), len(want), len(freshErrs), len(wantErrs))
		}
	})
}

// checkFuzzInput parses data once with opts and checks the invariants.
func checkFuzzInput(t *testing.T, data []byte, opts Options) {
	t.Helper()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan []string, 1)
	go func() { done <- parseFuzzInput(ctx, data, opts) }()
	var failures []string
	select {
	case failures = <-done:
	case <-time.After(fuzzDeadline):
		cancel()
		t.Fatalf("opts %+v: no result after %v on %d input bytes (hang?)", opts, fuzzDeadline, len(data))
	}
	for _, msg := range failures {
		t.Errorf("opts %+v: %s", opts, msg)
	}

	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > fuzzMaxAllocBase+fuzzMaxAllocRatio*uint64(len(data)) {
		t.Errorf("opts %+v: %d bytes allocated for %d input bytes", opts, alloc, len(data))
	}
}

// parseFuzzInput runs the parser and returns what went wrong, as text (it
// runs on its own goroutine, so it must not call t.Fatal).
func parseFuzzInput(ctx context.Context, data []byte, opts Options) (failures []string) {
	fail := func(format string, args ...any) {
		if len(failures) < 20 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}
	size := int64(len(data))
	file, err := NewFile(bytes.NewReader(data), size, "fuzz.evtx", opts)
	if err != nil {
		return nil // not an EVTX file at all: fine
	}
	defer file.Close()

	var events, recovered int
	var buf []byte
	offsets := map[int64]bool{}
	for ev, err := range file.Events(ctx) {
		if err != nil {
			checkYieldedError(err, size, fail)
			continue
		}
		if ev == nil {
			fail("nil event with nil error")
			continue
		}
		events++
		if ev.Source.Recovered {
			recovered++
		}
		if ev.Source.Offset < 0 || ev.Source.Offset >= size {
			fail("event offset %d outside the %d-byte input", ev.Source.Offset, size)
		}
		if offsets[ev.Source.Offset] {
			fail("record at offset %d yielded twice", ev.Source.Offset)
		}
		offsets[ev.Source.Offset] = true

		buf = AppendJSON(buf[:0], ev)
		if len(buf) > fuzzMaxEventBytes {
			fail("record at offset %d: %d bytes of JSON", ev.Source.Offset, len(buf))
		}
		if !json.Valid(buf) {
			fail("record at offset %d: invalid JSON: %.300q", ev.Source.Offset, buf)
		}
		if len(ev.XML) > fuzzMaxEventBytes {
			fail("record at offset %d: %d bytes of XML", ev.Source.Offset, len(ev.XML))
		}
		if err := checkWellFormedXML(ev.XML); err != nil {
			fail("record at offset %d: XML not well-formed: %.200s: %.300q", ev.Source.Offset, err.Error(), ev.XML)
		}
	}
	if events > len(data)/24+1 {
		fail("%d events from %d bytes (a record takes at least 28)", events, len(data))
	}
	st := file.Stats()
	if st.Records+st.Recovered != events {
		fail("Stats says %d records + %d recovered, Events yielded %d", st.Records, st.Recovered, events)
	}
	if st.Recovered != recovered {
		fail("Stats says %d recovered, %d events were marked Recovered", st.Recovered, recovered)
	}
	if !opts.Recover && recovered > 0 {
		fail("%d recovered events without Options.Recover", recovered)
	}
	for _, p := range st.Problems {
		if p.Offset < 0 || p.Offset > size {
			fail("problem offset %d outside the %d-byte input: %s", p.Offset, size, p.Reason)
		}
		if p.Reason == "" {
			fail("problem at offset %d without a reason", p.Offset)
		}
	}
	return failures
}

// checkYieldedError checks that a non-fatal error is one of the parser's
// positional errors with an offset inside the input.
func checkYieldedError(err error, size int64, fail func(string, ...any)) {
	var ce *ChunkError
	var re *RecordError
	switch {
	case errors.As(err, &ce):
		if ce.Offset < 0 || ce.Offset > size {
			fail("ChunkError offset %d outside the %d-byte input: %v", ce.Offset, size, err)
		}
	case errors.As(err, &re):
		if re.Offset < 0 || re.Offset > size {
			fail("RecordError offset %d outside the %d-byte input: %v", re.Offset, size, err)
		}
	case errors.Is(err, context.Canceled):
	default:
		fail("yielded error is neither a ChunkError nor a RecordError: %T %v", err, err)
	}
	if strings.Contains(err.Error(), "%!") {
		fail("badly formatted error: %v", err)
	}
}

// checkWellFormedXML decodes s with encoding/xml (empty is fine). The record
// XML must be well-formed whatever the input: values are attacker-controlled.
func checkWellFormedXML(s string) error {
	if s == "" {
		return nil
	}
	if !utf8.ValidString(s) {
		return errors.New("invalid UTF-8")
	}
	d := xml.NewDecoder(strings.NewReader(s))
	depth, roots := 0, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			if depth != 0 {
				return errors.New("unclosed element")
			}
			return nil
		}
		if err != nil {
			return err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			// encoding/xml does not enforce unique attribute names, a
			// well-formedness constraint of XML 1.0 (Unique Att Spec).
			for i, a := range tok.Attr {
				for _, b := range tok.Attr[:i] {
					if a.Name == b.Name {
						return fmt.Errorf("attribute %s repeated in <%s>", a.Name.Local, tok.Name.Local)
					}
				}
			}
			if depth == 0 {
				roots++
				if roots > 1 {
					return errors.New("more than one root element")
				}
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
}

// fuzzSeeds returns the seed inputs: hand-made corner cases, then the
// header and first chunk of every corpus file up to 1 MiB (every damaged
// sample is one of them).
func fuzzSeeds(tb testing.TB) [][]byte {
	seeds := [][]byte{
		{},
		[]byte("ElfFile\x00"),
		fuzzHeader(0),
		append(fuzzHeader(1), []byte("ElfChnk\x00")...),
		append(fuzzHeader(1), make([]byte, 65536)...),
	}
	root := testenv.Corpus(tb)
	for _, rel := range corpusFiles(tb, root) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		st, err := os.Stat(p)
		if err != nil || st.Size() > 1<<20 {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatalf("reading seed %s: %v", p, err)
		}
		if len(b) > fuzzSeedLimit {
			b = b[:fuzzSeedLimit]
		}
		seeds = append(seeds, b)
	}
	return seeds
}

// fuzzHeader returns a valid 4096-byte file header claiming chunks chunks.
func fuzzHeader(chunks uint16) []byte {
	h := make([]byte, 4096)
	copy(h, "ElfFile\x00")
	binary.LittleEndian.PutUint64(h[16:], uint64(max(int(chunks)-1, 0))) // last chunk number
	binary.LittleEndian.PutUint64(h[24:], 1)                             // next record id
	binary.LittleEndian.PutUint32(h[32:], 128)                           // header size
	binary.LittleEndian.PutUint16(h[36:], 1)                             // minor version
	binary.LittleEndian.PutUint16(h[38:], 3)                             // major version
	binary.LittleEndian.PutUint16(h[40:], 4096)                          // header block size
	binary.LittleEndian.PutUint16(h[42:], chunks)                        // chunk count
	binary.LittleEndian.PutUint32(h[124:], crc32.ChecksumIEEE(h[:120]))
	return h
}
