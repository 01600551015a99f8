package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evtxscan/evtxscan/internal/testenv"
)

func TestDumpFlags(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"help", []string{"dump", "--help"}, exitOK, "Usage: evtxscan dump"},
		{"no files", []string{"dump"}, exitUsage, "name at least one"},
		{"bad format", []string{"dump", "--format", "csv", "x.evtx"}, exitUsage, "--format must be jsonl or xml"},
		{"unknown flag", []string{"dump", "--nope", "x.evtx"}, exitUsage, "unknown flag"},
		{"missing file", []string{"dump", filepath.Join(t.TempDir(), "absent.evtx")}, exitUnreadable, "absent.evtx"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, &stdout, &stderr); code != tc.wantCode {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.wantCode, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.wantErr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tc.wantErr)
			}
		})
	}
}

func TestDumpNotEVTX(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "notes.evtx")
	if err := os.WriteFile(bad, []byte("not an event log at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"dump", bad}, &stdout, &stderr); code != exitUnreadable {
		t.Errorf("exit %d, want %d", code, exitUnreadable)
	}
	if !strings.Contains(stderr.String(), bad) || !strings.Contains(stderr.String(), "not an EVTX file") {
		t.Errorf("stderr %q should name the file and say why", stderr.String())
	}
}

func TestDumpCorpus(t *testing.T) {
	src := filepath.Join(testenv.Corpus(t), "4renwald+evtx-python/samples/Application.evtx")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	// A directory holding the log twice: once as *.evtx, once renamed the
	// way collectors do (found by its signature), plus a file to ignore.
	dir := t.TempDir()
	for name, b := range map[string][]byte{"a/Application.evtx": data, "b/renamed.bin": data, "b/readme.txt": []byte("hello")} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("jsonl", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if code := run([]string{"dump", "--workers", "2", dir}, &stdout, &stderr); code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
		if len(lines) != 2*481 {
			t.Errorf("%d lines, want %d", len(lines), 2*481)
		}
		var first map[string]any
		if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
			t.Fatalf("line 1 is not JSON: %v", err)
		}
		for _, k := range []string{"file", "record_id", "time", "event_id", "provider", "channel", "computer", "level", "user_sid", "event_data", "recovered"} {
			if _, ok := first[k]; !ok {
				t.Errorf("line 1 lacks key %q", k)
			}
		}
		if !strings.HasPrefix(lines[0], `{"file":`) || !strings.Contains(lines[0], `"event_id":490,"provider":"ESENT"`) {
			t.Errorf("line 1 = %s", lines[0])
		}
		if got := strings.Count(stderr.String(), "481 records, 0 recovered, 0 lost"); got != 2 {
			t.Errorf("stderr should hold one summary per file:\n%s", stderr.String())
		}
	})
	t.Run("xml", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if code := run([]string{"dump", "--format", "xml", "--recover", filepath.Join(dir, "a")}, &stdout, &stderr); code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
		if len(lines) < 481 {
			t.Fatalf("%d lines, want ≥ 481", len(lines))
		}
		for i, l := range lines {
			if err := xml.Unmarshal([]byte(l), new(struct{})); err != nil || !strings.HasPrefix(l, "<Event ") {
				t.Fatalf("line %d is not an <Event> document (%v): %.200s", i+1, err, l)
			}
		}
	})
}

type failingWriter struct{}

func (failingWriter) Write(p []byte) (int, error) { return 0, os.ErrClosed }

func TestDumpOutputError(t *testing.T) {
	src := filepath.Join(testenv.Corpus(t), "4renwald+evtx-python/samples/Application.evtx")
	var stderr bytes.Buffer
	if code := run([]string{"dump", src, src}, failingWriter{}, &stderr); code != exitUsage {
		t.Errorf("exit %d, want %d", code, exitUsage)
	}
	if got := strings.Count(stderr.String(), "writing output"); got != 1 {
		t.Errorf("stderr should report the output error once and stop:\n%s", stderr.String())
	}
}

// TestDumpManyFilesInOrder: with files decoded ahead of the one being
// written, the output of one run over many logs is still each file's
// output in input order, byte for byte as dumping them one at a time, and
// the per-file summaries come in the same order.
func TestDumpManyFilesInOrder(t *testing.T) {
	root := filepath.Join(testenv.Corpus(t), "omerbenamram+evtx", "samples")
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".evtx") {
			files = append(files, filepath.Join(root, e.Name()))
		}
	}
	if len(files) < 10 {
		t.Fatalf("only %d samples under %s", len(files), root)
	}
	var want, wantSummaries bytes.Buffer
	for _, f := range files {
		var stdout, stderr bytes.Buffer
		run([]string{"dump", "--recover", f}, &stdout, &stderr)
		want.Write(stdout.Bytes())
		for _, l := range strings.Split(stderr.String(), "\n") {
			if strings.Contains(l, " records, ") {
				wantSummaries.WriteString(l + "\n")
			}
		}
	}
	var stdout, stderr bytes.Buffer
	run(append([]string{"dump", "--recover"}, files...), &stdout, &stderr)
	if !bytes.Equal(stdout.Bytes(), want.Bytes()) {
		t.Errorf("one run over %d files: %d bytes, want %d (the files one at a time)", len(files), stdout.Len(), want.Len())
	}
	var summaries bytes.Buffer
	for _, l := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(l, " records, ") {
			summaries.WriteString(l + "\n")
		}
	}
	if summaries.String() != wantSummaries.String() {
		t.Errorf("summaries:\n%s\nwant:\n%s", summaries.String(), wantSummaries.String())
	}
}
