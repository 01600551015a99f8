package main

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evtxscan/evtxscan/internal/testenv"
)

// TestScanRefusesBadInput: a negative worker count is a usage error, and a
// path that does not exist writes no report (an earlier good one stays),
// says so once, and exits 3.
func TestScanRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	missing := filepath.Join(dir, "nope.evtx")
	for _, tt := range []struct {
		name     string
		args     []string
		code     int
		want     string
		notWants []string
	}{
		{"negative workers", []string{"--workers", "-3", missing}, exitUsage, "--workers -3", nil},
		{"nonexistent input", []string{missing}, exitUnreadable, missing + ": cannot read it: no such file or directory (check the path)",
			[]string{"cannot read it: cannot read it", missing + ": " + missing}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := run(append([]string{"scan", "--out", out}, tt.args...), &bytes.Buffer{}, &stderr)
			if code != tt.code {
				t.Errorf("exit %d, want %d: %s", code, tt.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr lacks %q: %s", tt.want, stderr.String())
			}
			for _, bad := range tt.notWants {
				if strings.Contains(stderr.String(), bad) {
					t.Errorf("stderr repeats itself (%q): %s", bad, stderr.String())
				}
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("%s: the output folder was created", tt.name)
			}
		})
	}
}

// TestHostileMemberNames: zip member names with control and bidi
// characters stay distinct in timeline.jsonl and never reach the terminal
// raw.
func TestHostileMemberNames(t *testing.T) {
	log, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "testdata", "evtx", "noise_quiet", "System.evtx"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	zpath := filepath.Join(dir, "collection.zip")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	names := []string{"a\x01.evtx", "a\x02.evtx", "rlo\u202egpj.evtx", "esc\x1b[2J.evtx"}
	for _, n := range names {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(log)
	}
	// A member that is no EVTX, so its name is printed in a warning.
	w, _ := zw.Create("bad\u202e\x07.evtx")
	w.Write([]byte("ElfFile\x00 but not really"))
	zw.Close()
	if err := os.WriteFile(zpath, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	var stderr bytes.Buffer
	code := run([]string{"scan", "--out", out, "--format", "jsonl", zpath}, &bytes.Buffer{}, &stderr)
	if code != exitUnreadable {
		t.Errorf("exit %d, want %d: %s", code, exitUnreadable, stderr.String())
	}
	for _, raw := range []string{"\x01", "\x07", "\x1b", "\u202e"} {
		if strings.Contains(stderr.String(), raw) {
			t.Errorf("stderr carries a raw %q: %q", raw, stderr.String())
		}
	}
	if !strings.Contains(stderr.String(), `bad\u202e\x07.evtx`) {
		t.Errorf("stderr does not show the bad member's name escaped: %q", stderr.String())
	}
	type line struct {
		File string `json:"file"`
	}
	files := map[string]bool{}
	for _, l := range readJSONL[line](t, filepath.Join(out, "timeline.jsonl")) {
		files[l.File] = true
	}
	for _, n := range names {
		if !files[zpath+"!"+n] {
			t.Errorf("timeline.jsonl has no event of member %q; files: %v", n, files)
		}
	}
}
