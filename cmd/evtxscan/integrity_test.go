package main

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/evtxscan/evtxscan/internal/evtxwriter"
)

// integrityFile writes 21 chunks of 20 MsiInstaller records (1–420).
func integrityFile(t *testing.T) []byte {
	t.Helper()
	var evs []evtxwriter.Event
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range 420 {
		evs = append(evs, evtxwriter.Event{
			System: evtxwriter.System{Provider: "MsiInstaller", EventID: 1034, Level: 4, Channel: "Application",
				Computer: "HOST", TimeCreated: start.Add(time.Duration(i) * time.Second)},
			Classic: true,
			Data:    []evtxwriter.Value{{Text: "Product"}},
		})
	}
	data, err := evtxwriter.Write(evs, evtxwriter.Options{MaxRecordsPerChunk: 20})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// The crafted inputs of issue 13, through the whole command: the records
// that come out, the exit code and what stderr says.
func TestIntegrityExitCodes(t *testing.T) {
	const chunk0 = 4096
	cases := []struct {
		name    string
		damage  func([]byte) []byte
		records int
		code    int
		say     []string // in stderr, dump and scan alike
	}{
		{"intact", func(b []byte) []byte { return b }, 420, exitOK, nil},
		{"free-space offset lowered", func(b []byte) []byte {
			// 6 bytes: chunk 3's free-space offset down to its 5th record,
			// the CRC flag on so no checksum tells.
			c := b[chunk0+3*65536:]
			off := 512
			for range 5 {
				off += int(binary.LittleEndian.Uint32(c[off+4:]))
			}
			binary.LittleEndian.PutUint32(c[48:], uint32(off))
			binary.LittleEndian.PutUint16(c[120:], 4)
			return b
		}, 420, exitOK, []string{"free-space offset", "15 more records follow it"}},
		{"chunk zeroed", func(b []byte) []byte { clear(b[chunk0+5*65536:][:65536]); return b },
			400, exitUnreadable, []string{"INCOMPLETE: 20 records missing, 1 chunks missing (cut off or zeroed)", "numbers 101–120"}},
		{"cut to 12 of 21 chunks", func(b []byte) []byte { return b[:chunk0+12*65536] },
			240, exitUnreadable, []string{"INCOMPLETE: 180 records missing, 9 chunks missing (cut off or zeroed)", "the file was cut"}},
		{"cut inside the header", func(b []byte) []byte { return b[:2000] },
			0, exitUnreadable, []string{"INCOMPLETE: 21 chunks missing (cut off or zeroed)", "inside its 4096-byte header block"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "Application.evtx")
			if err := os.WriteFile(path, tc.damage(integrityFile(t)), 0o644); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			code := run([]string{"dump", path}, &out, &errb)
			if lines := bytes.Count(out.Bytes(), []byte("\n")); lines != tc.records || code != tc.code {
				t.Errorf("dump: %d records, exit %d; want %d, exit %d\n%s", lines, code, tc.records, tc.code, errb.String())
			}
			for _, s := range tc.say {
				if !strings.Contains(errb.String(), s) {
					t.Errorf("dump stderr does not say %q:\n%s", s, errb.String())
				}
			}
			if tc.code == exitOK && strings.Contains(errb.String(), "INCOMPLETE") {
				t.Errorf("dump says INCOMPLETE:\n%s", errb.String())
			}

			outDir := t.TempDir()
			errb.Reset()
			code = run([]string{"scan", "--format", "html,xlsx", "--out", outDir, path}, &out, &errb)
			stderr := errb.String()
			if code != tc.code || !strings.Contains(stderr, " "+strconv.Itoa(tc.records)+" events read") {
				t.Errorf("scan: exit %d, want %d and %d events read:\n%s", code, tc.code, tc.records, stderr)
			}
			html, _ := os.ReadFile(filepath.Join(outDir, "report.html"))
			x, err := excelize.OpenFile(filepath.Join(outDir, "report.xlsx"))
			if err != nil {
				t.Fatal(err)
			}
			defer x.Close()
			rows, _ := x.GetRows("Summary")
			var sheet strings.Builder
			for _, r := range rows {
				sheet.WriteString(strings.Join(r, "\t") + "\n")
			}
			if tc.code == exitOK {
				if strings.Contains(stderr, "INCOMPLETE") || strings.Contains(string(html), "Incomplete: ") {
					t.Errorf("scan of a complete file says incomplete:\n%s", stderr)
				}
				return
			}
			lost := tc.say[0][len("INCOMPLETE: "):]
			if !strings.Contains(stderr, "INCOMPLETE: 1 files lost evidence") || !strings.Contains(stderr, path+": "+lost) {
				t.Errorf("scan summary does not name the file and %q:\n%s", lost, stderr)
			}
			if !strings.Contains(string(html), "Incomplete: "+path+" lost "+lost) {
				t.Errorf("report.html does not say the file lost %q", lost)
			}
			if !strings.Contains(sheet.String(), "Incomplete files\t1\n") || !strings.Contains(sheet.String(), path+"\tlost "+lost) {
				t.Errorf("xlsx Summary does not list the file with %q:\n%s", lost, sheet.String())
			}
		})
	}
}
