package live

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// writeRun fakes a run's report writer: the files appear in the folder.
func writeRun(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readLatest(t *testing.T, r RunFolders, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.Latest(), name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func listRuns(t *testing.T, r RunFolders) []string {
	t.Helper()
	entries, _ := os.ReadDir(r.Runs())
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func TestRunFoldersEmptyRunKeepsFindings(t *testing.T) {
	r := RunFolders{Dir: t.TempDir(), Keep: 30}
	t0 := time.Date(2026, 12, 5, 19, 0, 0, 0, time.UTC)

	run1, err := r.New(t0)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(run1) != "2026-12-05T190000Z" {
		t.Errorf("run folder %s", run1)
	}
	writeRun(t, run1, map[string]string{"report.html": "3 findings", "findings.csv": "a,b"})
	if err := r.Finish(run1, 120, 3, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := readLatest(t, r, "report.html"); got != "3 findings" {
		t.Errorf("latest report.html: %q", got)
	}
	if idx := readLatest(t, r, LatestIndex); !strings.Contains(idx, "run 2026-12-05T190000Z") || !strings.Contains(idx, "120 events read, 3 findings") {
		t.Errorf("index %q", idx)
	}

	// Nothing new: the empty run's report does not replace the findings.
	run2, _ := r.New(t0.Add(15 * time.Minute))
	writeRun(t, run2, map[string]string{"report.html": "0 findings"})
	if err := r.Finish(run2, 0, 0, t0.Add(16*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := readLatest(t, r, "report.html"); got != "3 findings" {
		t.Errorf("an empty run replaced the latest findings: %q", got)
	}
	idx := readLatest(t, r, LatestIndex)
	if !strings.Contains(idx, "run 2026-12-05T190000Z") || !strings.Contains(idx, "last check: 2026-12-05T191600Z: no new events since that run") {
		t.Errorf("index after an empty run: %q", idx)
	}
	if got := listRuns(t, r); strings.Join(got, " ") != "2026-12-05T190000Z" {
		t.Errorf("runs %v: the empty run's folder stays or the last run's went", got)
	}

	// New events with another format set: latest is replaced as a whole.
	run3, _ := r.New(t0.Add(30 * time.Minute))
	writeRun(t, run3, map[string]string{"report.html": "1 finding"})
	if err := r.Finish(run3, 5, 1, t0.Add(31*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := readLatest(t, r, "report.html"); got != "1 finding" {
		t.Errorf("latest %q", got)
	}
	if _, err := os.Stat(filepath.Join(r.Latest(), "findings.csv")); err == nil {
		t.Error("latest keeps findings.csv of an older run")
	}
	if entries, _ := os.ReadDir(r.Latest()); len(entries) != 2 {
		t.Errorf("latest holds %v", entries)
	}
}

func TestRunFoldersFirstRunEmpty(t *testing.T) {
	r := RunFolders{Dir: t.TempDir(), Keep: 30}
	run, _ := r.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err := r.Finish(run, 0, 0, time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if idx := readLatest(t, r, LatestIndex); !strings.Contains(idx, "no run with events yet") {
		t.Errorf("index %q", idx)
	}
}

func TestRunFoldersRetention(t *testing.T) {
	r := RunFolders{Dir: t.TempDir(), Keep: 3}
	os.MkdirAll(filepath.Join(r.Runs(), "notes"), 0o755) // not a run: left alone
	t0 := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	for i := range 5 {
		run, err := r.New(t0.Add(time.Duration(i) * time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		writeRun(t, run, map[string]string{"report.html": "x"})
		if err := r.Finish(run, 1, 0, t0.Add(time.Duration(i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	want := "2026-12-05T020000Z 2026-12-05T030000Z 2026-12-05T040000Z notes"
	if got := strings.Join(listRuns(t, r), " "); got != want {
		t.Errorf("runs %s, want %s", got, want)
	}
}

func TestRunFoldersSameSecond(t *testing.T) {
	r := RunFolders{Dir: t.TempDir(), Keep: 2}
	t0 := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	a, _ := r.New(t0)
	b, err := r.New(t0)
	if err != nil || a == b || filepath.Base(b) != "2026-12-05T000000Z-2" {
		t.Errorf("second folder %s %v", b, err)
	}
	for _, name := range []string{"2026-12-05T000000Z", "2026-12-05T000000Z-2", "2026-12-05T000000Z-x", "latest", "2026-13-05T000000Z"} {
		if got, want := isRunName(name), !strings.HasSuffix(name, "x") && name != "latest" && !strings.HasPrefix(name, "2026-13"); got != want {
			t.Errorf("isRunName(%s) = %v", name, got)
		}
	}
}
