package report

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestRemoveStaleStages: only the stages of runs that are gone are removed
// (their lock can be taken); a live run's stage, a fresh stage still being
// created and files that are not ours stay.
func TestRemoveStaleStages(t *testing.T) {
	dir := t.TempDir()
	live, err := newStage(dir) // this process holds its lock
	if err != nil {
		t.Fatal(err)
	}
	defer live.remove()
	// A live stage of "another process": not registered as ours, lock held
	// through a second open file description.
	other := filepath.Join(dir, stagePrefix+"999999-aa")
	mustMkdir(t, other)
	mustWrite(t, filepath.Join(other, stageLockName))
	held, err := os.OpenFile(filepath.Join(other, stageLockName), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if err := lockFile(held); err != nil {
		t.Skipf("file locks not supported here: %v", err)
	}
	dead := filepath.Join(dir, stagePrefix+"1-bb") // unlocked lock file: its run died
	mustMkdir(t, dead)
	mustWrite(t, filepath.Join(dead, stageLockName))
	mustWrite(t, filepath.Join(dead, HTMLName))
	fresh := filepath.Join(dir, stagePrefix+"2-cc") // no lock yet, just made
	mustMkdir(t, fresh)
	oldNoLock := filepath.Join(dir, stagePrefix+"3-dd") // no lock, long ago
	mustMkdir(t, oldNoLock)
	legacyOld := filepath.Join(dir, ".evtxscan-timeline-123.tmp")
	legacyNew := filepath.Join(dir, ".evtxscan-timeline-456.tmp")
	notOurs := filepath.Join(dir, ".evtxscan-run-notes.txt")
	for _, p := range []string{legacyOld, legacyNew, notOurs, filepath.Join(dir, HTMLName)} {
		mustWrite(t, p)
	}
	long := time.Now().Add(-time.Hour)
	for _, p := range []string{oldNoLock, legacyOld} {
		if err := os.Chtimes(p, long, long); err != nil {
			t.Fatal(err)
		}
	}

	removeStaleStages(dir, time.Now())

	for _, tt := range []struct {
		path string
		kept bool
	}{
		{live.path, true}, {other, true}, {fresh, true}, {legacyNew, true}, {notOurs, true},
		{filepath.Join(dir, HTMLName), true},
		{dead, false}, {oldNoLock, false}, {legacyOld, false},
	} {
		_, err := os.Stat(tt.path)
		if kept := err == nil; kept != tt.kept {
			t.Errorf("%s: kept=%v, want %v", filepath.Base(tt.path), kept, tt.kept)
		}
	}
}

// TestWriterAbortKeepsPreviousReports: a run that stops after writing part
// of its timeline leaves the previous reports byte for byte, and nothing else.
func TestWriterAbortKeepsPreviousReports(t *testing.T) {
	dir := t.TempDir()
	write := func(n int, abort bool) {
		w, err := New(Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range fixtureEvents(n) {
			if err := w.AddEvent(ev); err != nil {
				t.Fatal(err)
			}
		}
		if abort {
			w.Abort()
			return
		}
		if err := w.Close(fixtureSummary(n)); err != nil {
			t.Fatal(err)
		}
	}
	write(20, false)
	before := readDir(t, dir)
	write(2000, true)
	after := readDir(t, dir)
	if len(after) != len(before) {
		t.Fatalf("entries after Abort: %v, before: %v", keys(after), keys(before))
	}
	for name, b := range before {
		if after[name] != b {
			t.Errorf("%s changed", name)
		}
	}
}

func readDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		out[e.Name()] = string(b)
	}
	return out
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func mustMkdir(t *testing.T, p string) {
	t.Helper()
	if err := os.Mkdir(p, 0o755); err != nil {
		t.Fatal(err)
	}
}

func mustWrite(t *testing.T, p string) {
	t.Helper()
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}
