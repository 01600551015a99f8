package parser

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/evtxscan/evtxscan/internal/testenv"
)

func openCorpus(t *testing.T, rel string, opts Options) *File {
	t.Helper()
	f, err := Open(filepath.Join(testenv.Corpus(t), rel), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestCorpusMsiInstaller checks known MsiInstaller records of a real
// Application log field by field (values as Event Viewer shows them).
func TestCorpusMsiInstaller(t *testing.T) {
	f := openCorpus(t, "4renwald+evtx-python/samples/Application.evtx", Options{XML: true})
	byID := map[uint64]*Event{}
	for ev, err := range f.Events(context.Background()) {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		byID[ev.Source.HeaderRecordID] = ev
	}
	st := f.Stats()
	if st.Records != 481 || st.Lost != 0 || st.ChunksSkipped != 0 {
		t.Errorf("stats: %d records, %d lost, %d chunks skipped; want 481, 0, 0", st.Records, st.Lost, st.ChunksSkipped)
	}
	tests := []struct {
		id                     uint64
		eventID                uint16
		recordID               uint64
		time                   string
		data1, data3, binaryHx string
	}{
		{176, 1040, 68731, "2021-02-13T15:39:33.3947866Z", `c:\program files\microsoft office\root\integration\c2rint.16.msi`, "(NULL)", ""},
		{178, 11728, 68733, "2021-02-13T15:39:56.3232282Z", "Product: Office 16 Click-to-Run Extensibility Component -- Configuration completed successfully.", "(NULL)",
			"7B39303136303030302D303038432D303030302D313030302D3030303030303046463143457D"},
		{179, 1035, 68734, "2021-02-13T15:39:56.3232282Z", "Office 16 Click-to-Run Extensibility Component", "0", ""},
	}
	for _, tc := range tests {
		ev := byID[tc.id]
		if ev == nil {
			t.Errorf("record %d missing", tc.id)
			continue
		}
		// A saved log: headers renumbered from 1, the events keep the
		// EventRecordID Windows shows, and record_id is that one.
		if ev.Source.RecordID != tc.recordID || ev.Source.HeaderRecordID != tc.id {
			t.Errorf("record %d: Source.RecordID %d, HeaderRecordID %d; want %d, %d", tc.id, ev.Source.RecordID, ev.Source.HeaderRecordID, tc.recordID, tc.id)
		}
		s := ev.System
		if s.Provider != "MsiInstaller" || s.EventID != tc.eventID || s.Level != 4 || s.Channel != "Application" ||
			s.Computer != "DESKTOP-SFBTEFS" || s.UserID != "S-1-5-18" || s.EventRecordID != tc.recordID ||
			!s.HasQualifiers || s.Qualifiers != 0 || s.Keywords != 0x80000000000000 {
			t.Errorf("record %d System = %+v", tc.id, s)
		}
		if got := string(appendRFC3339x7(nil, s.TimeCreated)); got != tc.time {
			t.Errorf("record %d time = %s, want %s", tc.id, got, tc.time)
		}
		if v, _ := ev.Positional(1); v != tc.data1 {
			t.Errorf("record %d Data[1] = %q, want %q", tc.id, v, tc.data1)
		}
		if v, _ := ev.Positional(3); v != tc.data3 {
			t.Errorf("record %d Data[3] = %q, want %q", tc.id, v, tc.data3)
		}
		if v, ok := ev.Positional(7); !ok || v != "" {
			t.Errorf("record %d Data[7] = %q, %v; want an empty <Data/> kept", tc.id, v, ok)
		}
		if tc.binaryHx != "" && string(appendHexUpper(nil, ev.Binary)) != tc.binaryHx {
			t.Errorf("record %d Binary = %X", tc.id, ev.Binary)
		}
		// The insertion strings are the payload template's values: the
		// <Data> strings first, then the binary data.
		if len(ev.InsertionStrings) < len(ev.EventData) || ev.InsertionStrings[0] != tc.data1 {
			t.Errorf("record %d: insertion strings %q for data %v", tc.id, ev.InsertionStrings, ev.EventData)
		}
	}
}

// TestWorkersIdentical decodes files with one worker and with several and
// requires byte-identical JSONL, XML and accounting.
func TestWorkersIdentical(t *testing.T) {
	files := []string{
		"4renwald+evtx-python/samples/Application.evtx",
		"omerbenamram+evtx/samples/security.evtx",
		"omerbenamram+evtx/samples/sample_with_a_bad_chunk_magic.evtx",
		"omerbenamram+evtx/samples/E_Windows_system32_winevt_logs_Microsoft-Windows-CAPI2%4Operational.evtx",
		"omerbenamram+evtx/samples/MSExchange_Management_wec.evtx",
	}
	if testing.Short() {
		files = files[:1]
	}
	for _, rel := range files {
		t.Run(filepath.Base(rel), func(t *testing.T) {
			var outs [2][]byte
			var stats [2]Stats
			for i, workers := range []int{1, 4} {
				f := openCorpus(t, rel, Options{Workers: workers, Recover: true, XML: true})
				var b []byte
				for ev, err := range f.Events(context.Background()) {
					if err != nil {
						b = append(b, "error: "+err.Error()+"\n"...)
						continue
					}
					b = AppendJSON(b, ev)
					b = append(b, '\n')
					b = append(b, ev.XML...)
					b = append(b, '\n')
				}
				outs[i], stats[i] = b, f.Stats()
			}
			if !bytes.Equal(outs[0], outs[1]) {
				t.Errorf("output differs between 1 and 4 workers (%d vs %d bytes)", len(outs[0]), len(outs[1]))
			}
			a, b := stats[0], stats[1]
			if a.Records != b.Records || a.Recovered != b.Recovered || a.Lost != b.Lost || a.Chunks != b.Chunks || len(a.Problems) != len(b.Problems) {
				t.Errorf("stats differ: %+v vs %+v", a, b)
			}
			if a.Records == 0 {
				t.Error("no records read")
			}
		})
	}
}

// TestCorpusDamaged pins the accounting of damaged samples.
func TestCorpusDamaged(t *testing.T) {
	tests := []struct {
		rel                      string
		recover                  bool
		minRecords, chunksSkip   int
		wantErr                  error
		minRecovered, wantChunks int
	}{
		// libevtx reads 267 records: three records have a zeroed size copy
		// (two are read anyway, one is zeroed through and lost); two chunks
		// have a zeroed signature.
		{"omerbenamram+evtx/samples/sample_with_a_bad_chunk_magic.evtx", false, 269, 2, ErrBadSignature, 0, 6},
		// with Recover, 163 records come back from slack and the two damaged
		// chunks (libevtx -m all: 81), their templates found by id elsewhere.
		{"omerbenamram+evtx/samples/sample_with_a_bad_chunk_magic.evtx", true, 269, 2, ErrBadSignature, 163, 6},
		// the slack of security.evtx only holds stale copies of live records.
		{"omerbenamram+evtx/samples/security.evtx", true, 2261, 0, nil, 0, 26},
		// a record of size 0 ends its chunk's normal reading (OM#264).
		{"omerbenamram+evtx/samples/sample-with-zero-data-size-event.evtx", false, 335, 0, ErrBadRecord, 0, 0},
		// the header says 3 chunks; 15 are there.
		{"omerbenamram+evtx/samples/system.evtx", false, 1881, 0, nil, 0, 15},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.rel), func(t *testing.T) {
			f := openCorpus(t, tc.rel, Options{Recover: tc.recover})
			var errs []error
			for _, err := range f.Events(context.Background()) {
				if err != nil {
					errs = append(errs, err)
				}
			}
			st := f.Stats()
			if st.Records < tc.minRecords || st.ChunksSkipped != tc.chunksSkip || st.Recovered < tc.minRecovered {
				t.Errorf("records %d (want ≥ %d), chunks skipped %d (want %d), recovered %d (want ≥ %d)",
					st.Records, tc.minRecords, st.ChunksSkipped, tc.chunksSkip, st.Recovered, tc.minRecovered)
			}
			if tc.wantChunks > 0 && st.Chunks != tc.wantChunks {
				t.Errorf("chunks = %d, want %d", st.Chunks, tc.wantChunks)
			}
			if tc.wantErr != nil {
				found := false
				for _, err := range errs {
					var ce *ChunkError
					var re *RecordError
					found = found || errors.Is(err, tc.wantErr) && (errors.As(err, &ce) && ce.Offset > 0 || errors.As(err, &re) && re.Offset > 0)
				}
				if !found {
					t.Errorf("errors %v: want one wrapping %v with an offset", errs, tc.wantErr)
				}
			}
		})
	}
}
