package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evtxscan/evtxscan/analysis"
	"github.com/evtxscan/evtxscan/input"
	"github.com/evtxscan/evtxscan/internal/testenv"
	"github.com/evtxscan/evtxscan/live"
)

// A scheduled run that reads nothing new must not replace the last
// findings (issue #18 point 10): runs go to OUT/runs/<time>/, the newest
// with events is copied to OUT/latest/.
func TestLiveRunsKeepLastFindings(t *testing.T) {
	root := testenv.RepoRoot(t)
	out := t.TempDir()
	o, code := parseLiveFlags([]string{"--once", "--quiet", "--format", "jsonl", "--out", out, "--keep-runs", "2"}, &bytes.Buffer{}, &bytes.Buffer{})
	if o == nil {
		t.Fatalf("flags: exit %d", code)
	}
	cfg, err := o.analysisFlags.config(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	items, errs := input.Expand([]string{filepath.Join(root, "testdata", "evtx", "s1_custom_action_rollback")}, input.Options{})
	if len(errs) > 0 || len(items) == 0 {
		t.Fatalf("fixture: %v", errs)
	}
	var stderr bytes.Buffer
	t0 := time.Date(2026, 12, 5, 19, 0, 0, 0, time.UTC)

	res, code := o.liveRunInFolder(context.Background(), &analysis.FileSource{Items: items}, cfg, nil, "t", t0, &stderr)
	if res == nil || res.Read == 0 || len(res.Findings) == 0 {
		t.Fatalf("first run: exit %d, %s", code, stderr.String())
	}
	first, err := os.ReadFile(filepath.Join(out, "latest", "findings.jsonl"))
	if err != nil || len(first) == 0 {
		t.Fatalf("latest findings after the first run: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "runs", "2026-12-05T190000Z", "findings.jsonl")); err != nil {
		t.Errorf("the run's own folder: %v", err)
	}

	// Nothing new.
	res, code = o.liveRunInFolder(context.Background(), &analysis.FileSource{}, cfg, nil, "t", t0.Add(15*time.Minute), &stderr)
	if res == nil || res.Read != 0 {
		t.Fatalf("empty run: exit %d, %s", code, stderr.String())
	}
	if again, _ := os.ReadFile(filepath.Join(out, "latest", "findings.jsonl")); !bytes.Equal(again, first) {
		t.Errorf("an empty run replaced the latest findings (%d bytes, were %d)", len(again), len(first))
	}
	if idx, _ := os.ReadFile(filepath.Join(out, "latest", "run.txt")); !strings.Contains(string(idx), "no new events since that run") {
		t.Errorf("latest/run.txt %q", idx)
	}
	entries, _ := os.ReadDir(filepath.Join(out, "runs"))
	if len(entries) != 1 || entries[0].Name() != "2026-12-05T190000Z" {
		t.Errorf("runs %v: want only the run with events", entries)
	}
	if _, err := os.Stat(filepath.Join(out, "findings.jsonl")); err == nil {
		t.Error("reports written straight into --out, where the next run overwrites them")
	}
}

// ownedBy is a SecurityStore where every path has one owner and only
// SYSTEM and Administrators in its protected DACL.
type ownedBy string

func (o ownedBy) Descriptor(string) (live.Descriptor, error) {
	return live.Descriptor{Owner: string(o), Protected: true, ACEs: []live.ACE{
		{SID: live.SIDSystem, Allow: true, Mask: 0x1F01FF}, {SID: live.SIDAdministrators, Allow: true, Mask: 0x1F01FF}}}, nil
}
func (ownedBy) Protect(string) error           { return nil }
func (ownedBy) CreateProtected(p string) error { return os.Mkdir(p, 0o700) }

func TestSecureDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "evtxscan")
	var stderr bytes.Buffer
	if code := secureDataDir(ownedBy(live.SIDAdministrators), dir, []string{filepath.Join(dir, "state.json"), filepath.Join(dir, "..", "elsewhere")}, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "elsewhere is outside --data-dir") || strings.Contains(stderr.String(), "state.json") {
		t.Errorf("warnings: %s", stderr.String())
	}
	stderr.Reset()
	if code := secureDataDir(ownedBy("S-1-5-21-1-2-3-1001"), dir, nil, &stderr); code != exitUsage || !strings.Contains(stderr.String(), dir) || !strings.Contains(stderr.String(), "delete it") {
		t.Errorf("a user's folder: exit %d, %s", code, stderr.String())
	}
}
