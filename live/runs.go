package live

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Run folders. Every live run (a --once run, a --follow cycle) writes its
// reports into a folder of its own,
//
//	OUT/runs/2026-12-05T190000Z/report.html …
//
// and, when it read new events, copies them into OUT/latest/, a stable
// path to bookmark. A run that read nothing new removes its folder and
// leaves OUT/latest/ as it was, so the last findings stay in view; its
// OUT/latest/run.txt says which run the reports come from and when the
// logs were last checked ("no new events since"). A copy rather than a
// link: symbolic links need a privilege on Windows and a junction cannot
// point at a file. The newest Keep run folders are kept.

// DefaultKeepRuns is how many run folders are kept by default.
const DefaultKeepRuns = 30

// runStampLayout names run folders: UTC, sortable, valid on Windows.
const runStampLayout = "2006-01-02T150405Z"

// LatestIndex is the file in OUT/latest naming the run shown there.
const LatestIndex = "run.txt"

// RunFolders manages OUT/runs and OUT/latest.
type RunFolders struct {
	Dir  string // OUT
	Keep int    // run folders kept; 0 or less: all
}

// Runs is the folder holding the run folders.
func (r RunFolders) Runs() string { return filepath.Join(r.Dir, "runs") }

// Latest is the folder holding a copy of the newest run with events.
func (r RunFolders) Latest() string { return filepath.Join(r.Dir, "latest") }

// New creates the folder of a run started at start and returns its path.
// A second run in the same second gets a suffix (-2, -3 …).
func (r RunFolders) New(start time.Time) (string, error) {
	if err := os.MkdirAll(r.Runs(), 0o755); err != nil {
		return "", fmt.Errorf("cannot create the report folder %s: %w (choose another with --out)", r.Runs(), err)
	}
	base := filepath.Join(r.Runs(), start.UTC().Format(runStampLayout))
	path := base
	for i := 2; ; i++ {
		err := os.Mkdir(path, 0o755)
		if err == nil {
			return path, nil
		}
		if !errors.Is(err, os.ErrExist) || i > 100 {
			return "", fmt.Errorf("cannot create the report folder %s: %w (choose another with --out)", path, err)
		}
		path = fmt.Sprintf("%s-%d", base, i)
	}
}

// Discard removes the folder of a run that failed or was interrupted
// before writing reports (it is left when it holds any).
func (r RunFolders) Discard(run string) {
	_ = os.Remove(run) // only when empty: a report writer removes its own stage
}

// Finish ends a run: with events it becomes the latest (its reports are
// copied into Latest); without, its folder is removed and Latest keeps
// the previous run's reports, its index saying when the logs were last
// checked. Then the oldest run folders beyond Keep are removed.
func (r RunFolders) Finish(run string, events, findings int, now time.Time) error {
	stamp := now.UTC().Format(runStampLayout)
	if events == 0 {
		_ = os.RemoveAll(run)
		return r.writeIndex(func(old string) string {
			if old == "" {
				return "no run with events yet\nlast check: " + stamp + ": no new events\n"
			}
			first, _, _ := strings.Cut(old, "\n")
			return first + "\nlast check: " + stamp + ": no new events since that run\n"
		})
	}
	if err := r.copyLatest(run); err != nil {
		return err
	}
	name := filepath.Base(run)
	err := r.writeIndex(func(string) string {
		return fmt.Sprintf("run %s (%s): %d events read, %d findings\nlast check: %s: this run\n",
			name, filepath.Join("runs", name), events, findings, stamp)
	})
	r.prune(name)
	return err
}

// copyLatest makes Latest hold the reports of run: each file is copied
// to a temporary name and renamed over the old one, then reports the run
// did not write (another --format) are removed.
func (r RunFolders) copyLatest(run string) error {
	latest := r.Latest()
	if err := os.MkdirAll(latest, 0o755); err != nil {
		return fmt.Errorf("cannot create %s: %w", latest, err)
	}
	entries, err := os.ReadDir(run)
	if err != nil {
		return fmt.Errorf("cannot read %s: %w", run, err)
	}
	keep := map[string]bool{LatestIndex: true}
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		keep[e.Name()] = true
		if err := copyFileAtomic(filepath.Join(run, e.Name()), filepath.Join(latest, e.Name())); err != nil {
			return err
		}
	}
	old, _ := os.ReadDir(latest)
	for _, e := range old {
		if keep[e.Name()] || !e.Type().IsRegular() {
			continue
		}
		stale := false
		if strings.HasPrefix(e.Name(), ".evtxscan-latest-") { // a killed run's temporary file
			fi, err := e.Info()
			stale = err == nil && time.Since(fi.ModTime()) > 10*time.Minute
		}
		if stale || !strings.HasPrefix(e.Name(), ".") {
			_ = os.Remove(filepath.Join(latest, e.Name()))
		}
	}
	return nil
}

// writeIndex rewrites Latest's index from its old text ("" if none).
func (r RunFolders) writeIndex(text func(old string) string) error {
	if err := os.MkdirAll(r.Latest(), 0o755); err != nil {
		return fmt.Errorf("cannot create %s: %w", r.Latest(), err)
	}
	path := filepath.Join(r.Latest(), LatestIndex)
	old, _ := os.ReadFile(path)
	return writeFileAtomic(path, strings.NewReader(text(string(old))))
}

// prune removes the oldest run folders beyond Keep, never current.
func (r RunFolders) prune(current string) {
	if r.Keep <= 0 {
		return
	}
	entries, err := os.ReadDir(r.Runs())
	if err != nil {
		return
	}
	var runs []string
	for _, e := range entries {
		if e.IsDir() && isRunName(e.Name()) {
			runs = append(runs, e.Name()) // anything else is not ours: left alone
		}
	}
	sort.Strings(runs)
	for i := 0; i < len(runs)-r.Keep; i++ {
		if runs[i] != current {
			_ = os.RemoveAll(filepath.Join(r.Runs(), runs[i]))
		}
	}
}

// isRunName reports whether name is a run folder's: a stamp, maybe -N.
func isRunName(name string) bool {
	if len(name) < len(runStampLayout) {
		return false
	}
	if _, err := time.Parse(runStampLayout, name[:len(runStampLayout)]); err != nil {
		return false
	}
	rest := name[len(runStampLayout):]
	if rest == "" {
		return true
	}
	var n int
	_, err := fmt.Sscanf(rest, "-%d", &n)
	return err == nil && fmt.Sprintf("-%d", n) == rest
}

func copyFileAtomic(src, dest string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("cannot read %s: %w", src, err)
	}
	defer in.Close()
	return writeFileAtomic(dest, in)
}

// writeFileAtomic writes dest through a temporary file in its folder,
// flushed and renamed over it: a reader sees the old or the new file.
func writeFileAtomic(dest string, from io.Reader) error {
	stage, err := replaceFile(dest, ".evtxscan-latest-*.tmp", from)
	switch {
	case err == nil:
		return nil
	case stage == stageCreate:
		return fmt.Errorf("cannot write %s: %w", dest, err)
	}
	return fmt.Errorf("cannot write %s: %w (is it open in another program?)", dest, err)
}

// The steps of replaceFile, so callers can say what to do about a failure.
const (
	stageCreate = "create" // the temporary file could not be created
	stageWrite  = "write"  // copying, flushing or closing it failed
	stageRename = "rename" // it could not replace dest
)

// replaceFile writes dest through a temporary file (named by pattern) in
// dest's folder, flushed and renamed over dest once complete. On failure
// the temporary file is removed and stage says which step failed.
func replaceFile(dest, pattern string, from io.Reader) (stage string, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(dest), pattern)
	if err != nil {
		return stageCreate, err
	}
	stage = stageWrite
	_, err = io.Copy(tmp, from)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		stage = stageRename
		err = os.Rename(tmp.Name(), dest)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return stage, err
	}
	return "", nil
}
