package parser

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/evtxscan/evtxscan/internal/evtxwriter"
)

// accountingChunks and accountingPerChunk shape the file the accounting
// tests damage: 21 chunks of 20 records, numbered 1–420.
const (
	accountingChunks   = 21
	accountingPerChunk = 20
)

// AccountingFile writes the test file: 21 chunks of 20 MsiInstaller
// records. With exported, the headers are numbered from 1 while the events
// keep EventRecordIDs from 62782, as in a log saved by Event Viewer.
func AccountingFile(t testing.TB, exported bool) []byte {
	t.Helper()
	var evs []evtxwriter.Event
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range accountingChunks * accountingPerChunk {
		ev := evtxwriter.Event{
			System: evtxwriter.System{
				Provider: "MsiInstaller", EventID: 1034, Level: 4, Channel: "Application", Computer: "HOST",
				TimeCreated: start.Add(time.Duration(i) * time.Second),
			},
			Classic: true,
			Data:    []evtxwriter.Value{{Type: evtxwriter.String, Text: "Product " + itoa(int64(i))}},
		}
		if exported {
			ev.System.EventRecordID = 62782 + uint64(i)
		}
		evs = append(evs, ev)
	}
	data, err := evtxwriter.Write(evs, evtxwriter.Options{MaxRecordsPerChunk: accountingPerChunk, KeepEventRecordIDs: exported})
	if err != nil {
		t.Fatal(err)
	}
	if n := (len(data) - fileHeaderBlock) / chunkSize; n != accountingChunks {
		t.Fatalf("wrote %d chunks, want %d", n, accountingChunks)
	}
	return data
}

// LowerFreeSpace edits chunk idx the way the issue did: its free-space
// offset now ends after keep records, and its CRC flag is on, so no
// checksum tells (6 bytes edited).
func LowerFreeSpace(data []byte, idx, keep int) {
	c := data[fileHeaderBlock+idx*chunkSize:][:chunkSize]
	off := chunkHeaderSize
	for range keep {
		off += int(binary.LittleEndian.Uint32(c[off+4:]))
	}
	binary.LittleEndian.PutUint32(c[48:], uint32(off))
	binary.LittleEndian.PutUint16(c[120:], FlagNoCRC32)
}

func TestAccountingAgainstTheHeaders(t *testing.T) {
	const all = accountingChunks * accountingPerChunk
	cases := []struct {
		name   string
		damage func([]byte) []byte
		// want
		records, missing, chunksMissing, skipped int
		incomplete                               bool
		reason                                   string // in a Problem
	}{
		{"intact", func(b []byte) []byte { return b }, all, 0, 0, 0, false, ""},
		{"free-space offset lowered, CRC flag off", func(b []byte) []byte { LowerFreeSpace(b, 3, 5); return b },
			all, 0, 0, 0, false, "free-space offset 0x"},
		{"free-space offset at the chunk header", func(b []byte) []byte { LowerFreeSpace(b, 20, 0); return b },
			all, 0, 0, 0, false, "20 more records follow it"},
		{"chunk 5 zeroed", func(b []byte) []byte {
			clear(b[fileHeaderBlock+5*chunkSize:][:chunkSize])
			return b
		}, all - accountingPerChunk, accountingPerChunk, 1, 0, true, "20 records (numbers 101–120) are missing between chunks"},
		{"last chunk zeroed", func(b []byte) []byte {
			clear(b[fileHeaderBlock+20*chunkSize:][:chunkSize])
			return b
		}, all - accountingPerChunk, accountingPerChunk, 1, 0, true, "numbers 401–420) are missing after the last chunk read (the file header's next record id is 421)"},
		{"cut to 12 of 21 chunks", func(b []byte) []byte { return b[:fileHeaderBlock+12*chunkSize] },
			12 * accountingPerChunk, 9 * accountingPerChunk, 9, 0, true, "the file header counts 21 chunks but the file ends at 790528 bytes: 9 chunks (589824 bytes) are missing"},
		{"cut inside the 4 KiB header", func(b []byte) []byte { return b[:2000] },
			0, 0, 21, 0, true, "inside its 4096-byte header block"},
		{"chunk signature broken", func(b []byte) []byte {
			copy(b[fileHeaderBlock+7*chunkSize:], "XXXXXXXX")
			return b
		}, all - accountingPerChunk, accountingPerChunk, 0, 1, true, "records (numbers 141–160) are missing"},
		{"record framing broken mid-chunk", func(b []byte) []byte {
			c := b[fileHeaderBlock+2*chunkSize:]
			off := chunkHeaderSize
			for range 10 {
				off += int(binary.LittleEndian.Uint32(c[off+4:]))
			}
			binary.LittleEndian.PutUint32(c[off+4:], 3) // size below the minimum
			return b
		}, all - 10, 9, 0, 0, true, "9 of them were not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.damage(AccountingFile(t, false))
			for _, workers := range []int{1, 2} {
				evs, errs, st := readAll(t, data, Options{Workers: workers})
				if len(evs) != tc.records || st.Records != tc.records || st.Missing != tc.missing ||
					st.ChunksMissing != tc.chunksMissing || st.ChunksSkipped != tc.skipped || st.Incomplete() != tc.incomplete {
					t.Errorf("workers=%d: %d events, stats records %d missing %d chunks missing %d skipped %d incomplete %v; want %d, %d, %d, %d, %v\nproblems: %+v",
						workers, len(evs), st.Records, st.Missing, st.ChunksMissing, st.ChunksSkipped, st.Incomplete(),
						tc.records, tc.missing, tc.chunksMissing, tc.skipped, tc.incomplete, st.Problems)
				}
				// Everything is accounted for: read + lost + missing = expected.
				if got := st.Records + st.Lost + st.Missing; st.Expected != got && tc.chunksMissing == 0 {
					t.Errorf("workers=%d: expected %d, but read %d + lost %d + missing %d = %d", workers, st.Expected, st.Records, st.Lost, st.Missing, got)
				}
				if tc.reason != "" && !hasProblem(st, tc.reason) {
					t.Errorf("workers=%d: no problem says %q: %+v", workers, tc.reason, st.Problems)
				}
				if tc.incomplete && len(st.Losses()) == 0 {
					t.Errorf("workers=%d: incomplete without a loss listed", workers)
				}
				if strings.HasPrefix(tc.name, "free-space") {
					var hm bool
					for _, err := range errs {
						hm = hm || errors.Is(err, ErrHeaderMismatch)
					}
					if !hm {
						t.Errorf("workers=%d: no ErrHeaderMismatch warning among %v", workers, errs)
					}
				}
			}
		})
	}
}

func hasProblem(st Stats, text string) bool {
	for _, p := range st.Problems {
		if strings.Contains(p.Reason, text) {
			return true
		}
	}
	return false
}

// A slack record that happens to follow the last record is not read as
// allocated unless it continues the numbering: stale copies stay slack.
func TestStaleSlackIsNotReadBeyondFreeSpace(t *testing.T) {
	data := slackFile(t)
	evs, _, st := readAll(t, data, Options{Workers: 1})
	if len(evs) != 2 || st.Records != 2 || hasProblem(st, "free-space") {
		t.Errorf("%d events, %d records; problems %+v", len(evs), st.Records, st.Problems)
	}
}

// A saved log: record_id is the EventRecordID Windows shows, the header's
// number is kept apart, and the JSON says both.
func TestRecordIDIsEventRecordID(t *testing.T) {
	data := AccountingFile(t, true)
	for _, generalOnly := range []bool{false, true} {
		f := newTestFile(t, data)
		f.generalOnly = generalOnly
		n := 0
		for ev, err := range f.Events(t.Context()) {
			if err != nil {
				t.Fatal(err)
			}
			n++
			wantHeader := uint64(n)
			want := 62781 + wantHeader
			if ev.Source.RecordID != want || ev.Source.HeaderRecordID != wantHeader || ev.System.EventRecordID != want {
				t.Fatalf("general=%v: record %d: RecordID %d, HeaderRecordID %d, EventRecordID %d; want %d, %d, %d",
					generalOnly, n, ev.Source.RecordID, ev.Source.HeaderRecordID, ev.System.EventRecordID, want, wantHeader, want)
			}
			if n == 1 {
				js := string(AppendJSON(nil, ev))
				if !strings.HasPrefix(js, `{"file":"t.evtx","record_id":62782,"header_record_id":1,"time":`) {
					t.Errorf("JSON: %s", js)
				}
			}
		}
		if st := f.Stats(); n != 420 || st.Incomplete() {
			t.Errorf("%d events, stats %+v", n, st)
		}
	}
	// Not exported: the two agree and the JSON has no header_record_id.
	f := newTestFile(t, AccountingFile(t, false))
	for ev := range f.Events(t.Context()) {
		if ev.Source.RecordID != ev.Source.HeaderRecordID || strings.Contains(string(AppendJSON(nil, ev)), "header_record_id") {
			t.Fatalf("RecordID %d, HeaderRecordID %d", ev.Source.RecordID, ev.Source.HeaderRecordID)
		}
		break
	}
}

func newTestFile(t *testing.T, data []byte) *File {
	t.Helper()
	f, err := NewFile(strings.NewReader(string(data)), int64(len(data)), "t.evtx", Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	return f
}
