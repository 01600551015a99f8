package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/evtxscan/evtxscan/internal/testenv"
	"github.com/evtxscan/evtxscan/parser"
)

// fuzzSeedFiles are the real files FuzzCommand mutates: the fixtures and a
// few small corpus files (a saved log with renumbered headers, a file with
// CRCs off, a dirty one).
var fuzzSeedFiles = []string{
	"../../testdata/evtx/s1_custom_action_rollback/Application.evtx",
	"../../testdata/evtx/damaged/slack_records.evtx",
	"../../testdata/evtx/noise_quiet/Application.evtx",
	"../../testdata/evtx/hostile/Application.evtx",
	"omerbenamram+evtx/samples/Application_no_crc32.evtx",
	"omerbenamram+evtx/samples/Microsoft-Windows-LanguagePackSetup%4Operational.evtx",
	"Yamato-Security+hayabusa-sample-evtx/YamatoSecurity/IntialAccess/ValidAccounts/ID302 RDS Gateway Logon Logoff.evtx",
}

type fuzzSeed struct {
	name    string
	data    []byte
	records int // what dump reads from the unmodified file
}

var (
	fuzzSeedsOnce sync.Once
	fuzzSeeds     []fuzzSeed
)

// loadFuzzSeeds reads the seed files and counts their records once.
func loadFuzzSeeds(f *testing.F) []fuzzSeed {
	fuzzSeedsOnce.Do(func() {
		// The corpus seeds are a bonus: without the corpus the fixtures do.
		corpus, _ := testenv.CorpusDir()
		for _, p := range fuzzSeedFiles {
			if !strings.HasPrefix(p, "../") {
				p = filepath.Join(corpus, p)
				if _, err := os.Stat(p); err != nil {
					continue
				}
			}
			data, err := os.ReadFile(p)
			if err != nil {
				f.Fatalf("seed %s: %v", p, err)
			}
			pf, err := parser.NewFile(bytes.NewReader(data), int64(len(data)), p, parser.Options{Workers: 1})
			if err != nil {
				f.Fatalf("seed %s: %v", p, err)
			}
			n := 0
			for ev, err := range pf.Events(context.Background()) {
				if err == nil && ev != nil {
					n++
				}
			}
			fuzzSeeds = append(fuzzSeeds, fuzzSeed{name: filepath.Base(p), data: data, records: n})
		}
	})
	return fuzzSeeds
}

// mutate applies edits to a copy of data: each 5 bytes are a 3-byte offset
// (modulo the size), a value to write there and a run length (0–7 more
// bytes of the same value, so a field can be zeroed). cut, when non-zero,
// truncates the copy to cut×512 bytes (modulo the size).
func mutate(data, edits []byte, cut uint16) []byte {
	b := append([]byte(nil), data...)
	for i := 0; i+5 <= len(edits) && i < 5*64; i += 5 {
		off := (int(edits[i])<<16 | int(edits[i+1])<<8 | int(edits[i+2])) % len(b)
		for k := 0; k <= int(edits[i+4]&7) && off+k < len(b); k++ {
			b[off+k] = edits[i+3]
		}
	}
	if cut != 0 {
		b = b[:(int(cut)*512)%len(b)]
	}
	return b
}

var eventsReadRe = regexp.MustCompile(`(\d+) events read`)

// FuzzCommand runs `evtxscan dump` and `evtxscan scan` on mutated real
// files and fails when fewer records come out than the unmodified file
// holds without the run saying so: the exit code must be 3 (incomplete),
// stderr must name the file as INCOMPLETE, and the parser's accounting
// must cover the drop (records lost, missing or truncated, or chunks
// skipped or missing, whose records may be uncountable).
//
// Run it with: go test -run XXX -fuzz FuzzCommand -parallel 1 ./cmd/evtxscan
func FuzzCommand(f *testing.F) {
	seeds := loadFuzzSeeds(f)
	if len(seeds) == 0 {
		f.Skip("no seed files")
	}
	for i := range seeds {
		f.Add(uint8(i), []byte(nil), uint16(0))
		// Lower chunk 0's free-space offset to 0x400 and turn its CRC flag
		// on (the edit the issue made): records must not vanish.
		f.Add(uint8(i), []byte{0, 0x10, 0x30, 0x00, 0, 0, 0x10, 0x31, 0x04, 0, 0, 0x10, 0x78, 0x04, 0}, uint16(0))
		// Zero chunk 1's signature, and cut the file.
		f.Add(uint8(i), []byte{0x01, 0x10, 0x00, 0, 7}, uint16(0))
		f.Add(uint8(i), []byte(nil), uint16(4))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, seed uint8, edits []byte, cut uint16) {
		s := seeds[int(seed)%len(seeds)]
		data := mutate(s.data, edits, cut)
		path := filepath.Join(dir, "fuzz.evtx")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		// dump: one JSON line per record.
		var out, errb bytes.Buffer
		code := run([]string{"dump", "--workers", "1", path}, &out, &errb)
		got := bytes.Count(out.Bytes(), []byte("\n"))
		check(t, "dump", s, data, got, code, errb.String())
		// scan: the events it read, from its summary.
		out.Reset()
		errb.Reset()
		code = run([]string{"scan", "--format=", "--workers", "1", path}, &out, &errb)
		m := eventsReadRe.FindStringSubmatch(errb.String())
		if m == nil {
			if code == exitUnreadable && got == 0 {
				return // not an event log any more: said so
			}
			t.Fatalf("scan (exit %d) printed no summary:\n%s", code, errb.String())
		}
		n, _ := strconv.Atoi(m[1])
		check(t, "scan", s, data, n, code, errb.String())
	})
}

// check fails when records were dropped without the run saying so.
func check(t *testing.T, cmd string, s fuzzSeed, data []byte, got, code int, stderr string) {
	t.Helper()
	dropped := s.records - got
	if dropped <= 0 {
		return
	}
	if code != exitUnreadable || !(strings.Contains(stderr, "INCOMPLETE") || strings.Contains(stderr, "not an EVTX") || strings.Contains(stderr, "could not be read")) {
		t.Fatalf("%s of %s (mutated): %d of %d records dropped, exit %d without a word:\n%s", cmd, s.name, dropped, s.records, code, stderr)
	}
	pf, err := parser.NewFile(bytes.NewReader(data), int64(len(data)), "x", parser.Options{Workers: 1})
	if err != nil {
		return // not an event log any more: the run said so (exit 3)
	}
	for range pf.Events(context.Background()) {
	}
	st := pf.Stats()
	if st.Lost+st.Missing+st.Truncated < dropped && st.ChunksSkipped+st.ChunksMissing+st.ChunksPartial == 0 {
		t.Fatalf("%s of %s (mutated): %d of %d records dropped, but the accounting covers only %d (lost %d, missing %d, truncated %d); problems: %+v",
			cmd, s.name, dropped, s.records, st.Lost+st.Missing+st.Truncated, st.Lost, st.Missing, st.Truncated, st.Problems)
	}
}
