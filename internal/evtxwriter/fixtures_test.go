package evtxwriter

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/evtxscan/evtxscan/internal/testenv"
)

// generated is one file of a scenario, generated in memory.
type generated struct {
	File
	corrupt uint64  // record id broken on purpose, or 0
	slack   []Event // events written into slack
}

// generateAll regenerates every scenario of testdata/scenarios in memory.
func generateAll(t *testing.T) []generated {
	t.Helper()
	root := testenv.RepoRoot(t)
	scenarios, err := LoadScenarios(filepath.Join(root, "testdata", "scenarios"))
	if err != nil {
		t.Fatal(err)
	}
	if len(scenarios) == 0 {
		t.Fatal("no scenarios in testdata/scenarios")
	}
	var out []generated
	for _, s := range scenarios {
		files, err := s.Files()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			g := generated{File: f, corrupt: s.CorruptRecord}
			if len(files) == 1 {
				g.slack = s.Slack
			}
			out = append(out, g)
		}
	}
	return out
}

const regenerate = "go generate ./internal/evtxwriter"

// TestFixturesUpToDate fails when testdata/evtx differs from what the
// scenarios generate: a scenario or the writer changed without regenerating,
// or a fixture was edited by hand.
func TestFixturesUpToDate(t *testing.T) {
	root := filepath.Join(testenv.RepoRoot(t), "testdata", "evtx")
	want := map[string]bool{}
	for _, f := range generateAll(t) {
		want[f.Path] = true
		got, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f.Path)))
		if err != nil {
			t.Errorf("testdata/evtx/%s is missing: run %s", f.Path, regenerate)
			continue
		}
		if !bytes.Equal(got, f.Bytes) {
			t.Errorf("testdata/evtx/%s is stale (differs from its scenario): run %s", f.Path, regenerate)
		}
	}
	var extra []string
	var total int64
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if info, err := d.Info(); err == nil {
			total += info.Size()
		}
		if filepath.Ext(p) == ".evtx" && !want[rel] {
			extra = append(extra, rel)
		}
		return nil
	})
	sort.Strings(extra)
	for _, e := range extra {
		t.Errorf("testdata/evtx/%s comes from no scenario: delete it, or add its scenario to testdata/scenarios", e)
	}
	// Every channel file is at least 4 KiB + one 64 KiB chunk (the format
	// fixes the chunk size), so the budget counts files more than events;
	// git stores each mostly-empty chunk zlib-compressed in about 2 KiB.
	if total > 4<<20 {
		t.Errorf("testdata/evtx holds %d bytes, more than the 4 MiB budget", total)
	}
}
