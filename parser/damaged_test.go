package parser

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evtxscan/evtxscan/internal/testenv"
)

// accounting is the part of Stats a damaged sample pins.
type accounting struct {
	Records, Recovered, ChunksSkipped, Lost, StaleCopies int
}

// damagedSamples are omerbenamram/evtx's edge-case samples
// (../shared/evtx-corpus/omerbenamram+evtx/samples, evtx-format.md §5.4),
// each with the damage or oddity it carries, what libevtx 20181227
// (evtxexport -f xml; -m all for the recover column, distinct record ids)
// reads from it, and our pinned accounting without and with Recover.
//
// The pins are exact on purpose: a parser change that reads more or fewer
// records must update this table, and say why in its commit.
var damagedSamples = []struct {
	file   string
	defect string
	// libevtx and libevtxAll are evtxexport's record counts: allocated
	// records, and distinct record ids with -m all (allocated + recovered).
	libevtx, libevtxAll int
	plain, recovering   accounting // Stats with Recover false / true
}{
	{"2-system-Microsoft-Windows-LiveId%4Operational.evtx", "dirty file, slack records", 399, 399,
		accounting{399, 0, 0, 0, 0}, accounting{399, 0, 0, 0, 9}},
	{"2-vss_0-Microsoft-Windows-RemoteDesktopServices-RdpCoreTS%4Operational.evtx", "bad checksums (VSS copy), broken record framing", 1910, 1951,
		accounting{1910, 0, 0, 2, 0}, accounting{1910, 155, 0, 2, 0}},
	{"2-vss_0-Microsoft-Windows-TerminalServices-RemoteConnectionManager%4Operational.evtx", "bad checksums (VSS copy), broken record framing", 1774, 2040,
		accounting{1774, 0, 0, 1, 0}, accounting{1774, 267, 0, 1, 0}},
	{"2-vss_7-System.evtx", "a chunk after zeroed chunks", 1160, 1160,
		accounting{1160, 0, 0, 0, 0}, accounting{1160, 25, 0, 0, 0}},
	{"Application_no_crc32.evtx", "NO_CRC32 flag, zero checksums", 17, 17,
		accounting{17, 0, 0, 0, 0}, accounting{17, 30, 0, 4, 0}},
	{"E_ShadowCopy6_windows_system32_winevt_logs_Microsoft-Windows-CAPI2%4Operational.evtx", "nested BinXML, entity refs in attributes (libevtx stops)", 89, 89,
		accounting{459, 0, 0, 0, 0}, accounting{459, 0, 0, 14, 0}},
	{"E_Windows_system32_winevt_logs_Microsoft-Windows-CAPI2%4Operational.evtx", "BinXML as substitution values, PI targets, entity refs (libevtx stops)", 24, 24,
		accounting{340, 0, 0, 0, 0}, accounting{340, 0, 0, 0, 0}},
	{"E_Windows_system32_winevt_logs_Microsoft-Windows-Shell-Core%4Operational.evtx", "several XML fragments in one record", 1146, 1146,
		accounting{1146, 0, 0, 0, 0}, accounting{1146, 0, 0, 0, 128}},
	{"MSExchange_Management_wec.evtx", "WEC record without a template (libevtx fails)", 0, 0,
		accounting{1, 0, 0, 0, 0}, accounting{1, 0, 0, 9, 0}},
	{"Microsoft-Windows-HelloForBusiness%4Operational.evtx", "incomplete SID; record 6 zeroed at its end", 5, 5,
		accounting{5, 0, 0, 1, 0}, accounting{5, 0, 0, 1, 0}},
	{"Microsoft-Windows-LanguagePackSetup%4Operational.evtx", "incomplete template; record 17 zeroed at its end", 16, 16,
		accounting{17, 0, 0, 0, 0}, accounting{17, 0, 0, 15, 0}},
	{"Security_short_selected.evtx", "short Security log", 7, 7,
		accounting{7, 0, 0, 0, 0}, accounting{7, 0, 0, 8, 0}},
	{"Security_with_size_t.evtx", "SizeT values", 636, 636,
		accounting{636, 0, 0, 0, 0}, accounting{636, 0, 0, 0, 0}},
	{"issue_201.evtx", "WEC record without a template, empty Data items (libevtx fails)", 0, 0,
		accounting{1, 0, 0, 0, 0}, accounting{1, 0, 0, 9, 0}},
	{"new-user-security.evtx", "single chunk", 4, 4,
		accounting{4, 0, 0, 0, 0}, accounting{4, 0, 0, 5, 0}},
	{"post-Security.evtx", "garbage header flags (DanderSpritz)", 126, 126,
		accounting{126, 0, 0, 0, 0}, accounting{126, 0, 0, 0, 0}},
	{"sample-with-irregular-bool-values.evtx", "bool values other than 0 and 1", 3028, 3028,
		accounting{3028, 0, 0, 0, 0}, accounting{3028, 0, 0, 0, 104}},
	{"sample-with-zero-data-size-event.evtx", "record size 0", 335, 449,
		accounting{335, 0, 0, 1, 0}, accounting{335, 114, 0, 1, 33}},
	{"sample_with_a_bad_chunk_magic.evtx", "chunks with a bad signature", 267, 348,
		accounting{269, 0, 2, 1, 0}, accounting{269, 163, 2, 1, 0}},
	{"security.evtx", "baseline Security log, slack records", 2261, 2261,
		accounting{2261, 0, 0, 0, 0}, accounting{2261, 0, 0, 0, 30}},
	{"security_bad_string_cache.evtx", "missing string-table entry, bad chunk header checksum", 2261, 2261,
		accounting{2261, 0, 0, 0, 0}, accounting{2261, 0, 0, 0, 30}},
	{"sysmon.evtx", "header says 1 chunk, 9 valid; zeroed and garbage chunks", 358, 358,
		accounting{358, 0, 8, 0, 0}, accounting{358, 0, 8, 0, 0}},
	{"system.evtx", "header says 3 chunks, 15 valid", 1881, 1881,
		accounting{1881, 0, 0, 0, 0}, accounting{1881, 0, 0, 0, 79}},
}

// TestDamagedSamples reads every damaged sample with and without Recover,
// with one worker and two, and checks: no panic, at least as many records
// as libevtx, the pinned accounting (the same whatever the worker count),
// that the events yielded add up to it, that nothing is yielded twice, and
// that every problem names an offset inside the file.
func TestDamagedSamples(t *testing.T) {
	dir := filepath.Join(testenv.Corpus(t), "omerbenamram+evtx", "samples")
	if got, want := len(corpusFiles(t, dir)), len(damagedSamples); got != want {
		t.Errorf("%s holds %d samples, the table %d: add the new ones", dir, got, want)
	}
	for _, s := range damagedSamples {
		t.Run(strings.TrimSuffix(s.file, ".evtx"), func(t *testing.T) {
			path := filepath.Join(dir, s.file)
			for _, recover := range []bool{false, true} {
				want, libevtx := s.plain, s.libevtx
				if recover {
					want, libevtx = s.recovering, s.libevtxAll
				}
				for _, workers := range []int{1, 2} {
					opts := Options{Workers: workers, Recover: recover}
					got := readDamaged(t, path, opts)
					if got != want {
						t.Errorf("%+v: accounting %+v, want %+v", opts, got, want)
					}
					if n := got.Records + got.Recovered; n < libevtx {
						t.Errorf("%+v: %d records, fewer than libevtx's %d", opts, n, libevtx)
					}
				}
			}
		})
	}
}

// readDamaged reads one file and checks what must hold for any input; it
// returns the accounting.
func readDamaged(t *testing.T, path string, opts Options) accounting {
	t.Helper()
	f, err := Open(path, opts)
	if err != nil {
		t.Fatalf("%+v: Open: %v", opts, err)
	}
	defer f.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	size := fi.Size()
	var events, recovered, errs int
	offsets := map[int64]bool{}
	for ev, err := range f.Events(context.Background()) {
		if err != nil {
			errs++
			checkDamageError(t, opts, err, size)
			continue
		}
		events++
		if offsets[ev.Source.Offset] {
			t.Errorf("%+v: record at offset %#x yielded twice", opts, ev.Source.Offset)
		}
		offsets[ev.Source.Offset] = true
		if ev.Source.Recovered {
			recovered++
			if ev.Source.RecoverReason == "" {
				t.Errorf("%+v: recovered record at offset %#x has no RecoverReason", opts, ev.Source.Offset)
			}
		}
	}
	st := f.Stats()
	if st.Size != size {
		t.Errorf("%+v: Stats.Size = %d, the file has %d bytes", opts, st.Size, size)
	}
	if st.Err != nil {
		t.Errorf("%+v: Stats.Err = %v", opts, st.Err)
	}
	if st.Records+st.Recovered != events || st.Recovered != recovered {
		t.Errorf("%+v: Stats says %d records + %d recovered, Events yielded %d (%d marked recovered)",
			opts, st.Records, st.Recovered, events, recovered)
	}
	if !opts.Recover && recovered > 0 {
		t.Errorf("%+v: %d recovered records without Recover", opts, recovered)
	}
	if len(st.Problems) < errs {
		t.Errorf("%+v: %d errors yielded but only %d problems in Stats", opts, errs, len(st.Problems))
	}
	for _, p := range st.Problems {
		if p.Offset < 0 || p.Offset >= size || p.Reason == "" {
			t.Errorf("%+v: problem %+v: want an offset inside the %d-byte file and a reason", opts, p, size)
		}
	}
	if st.Lost > 0 && len(st.Problems) == 0 {
		t.Errorf("%+v: %d records lost and no problem says why", opts, st.Lost)
	}
	if !opts.Recover && st.StaleCopies > 0 {
		t.Errorf("%+v: %d stale copies counted without Recover", opts, st.StaleCopies)
	}
	return accounting{st.Records, st.Recovered, st.ChunksSkipped, st.Lost, st.StaleCopies}
}

// checkDamageError checks a yielded error: a positional error whose text
// names the file and an offset inside it.
func checkDamageError(t *testing.T, opts Options, err error, size int64) {
	t.Helper()
	var offset int64
	var ce *ChunkError
	var re *RecordError
	switch {
	case errors.As(err, &ce):
		offset = ce.Offset
	case errors.As(err, &re):
		offset = re.Offset
	default:
		t.Errorf("%+v: yielded %T, want *ChunkError or *RecordError: %v", opts, err, err)
		return
	}
	if offset < 0 || offset >= size {
		t.Errorf("%+v: error offset %#x outside the %d-byte file: %v", opts, offset, size, err)
	}
	if msg := err.Error(); !strings.Contains(msg, "offset 0x") || !strings.Contains(msg, ".evtx") {
		t.Errorf("%+v: error %q does not name the file and a hex offset", opts, msg)
	}
}
