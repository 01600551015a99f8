package report

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A stage is the hidden folder in which one run writes its reports and
// every temporary file they need (the HTML timeline, the deflated Timeline
// rows, excelize's stream buffers):
//
//	DIR/.evtxscan-run-<pid>-<random>/
//
// Nothing in DIR itself changes until every report is complete: then each
// is renamed over its old version (an atomic replace on one file system),
// all in one go at the end. A run that fails, is cancelled or is killed
// leaves the previous reports as they were.
//
// The stage holds a lock file that stays locked (flock on Unix, LockFileEx
// on Windows) while its run lives; the kernel releases it when the process
// ends, however it ends. The next run in DIR removes every stage whose lock
// it can take, so what kill -9 or a power loss left behind is cleaned up
// without ever touching a concurrent run's files.
type stage struct {
	dir   string   // the output folder
	path  string   // the stage folder in it
	lock  *os.File // held while the run lives
	names []string // report files written in the stage, in creation order
}

const (
	// stagePrefix starts the name of every stage folder.
	stagePrefix = ".evtxscan-run-"
	// stageLockName is the lock file in a stage.
	stageLockName = "lock"
	// legacyTempPattern matches the temporary files earlier versions left
	// straight in the output folder.
	legacyTempPattern = ".evtxscan-timeline-*.tmp"
	// staleAge is how old an unlocked stage without a lock file, or a
	// legacy temporary file, must be before it is removed: a stage is
	// unlocked for a moment while its run creates it.
	staleAge = 10 * time.Minute
)

// newStage removes the stages dead runs left in dir and creates this run's.
func newStage(dir string) (*stage, error) {
	removeStaleStages(dir, time.Now())
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	path := filepath.Join(dir, stagePrefix+strconv.Itoa(os.Getpid())+"-"+hex.EncodeToString(rnd[:]))
	if err := os.Mkdir(path, 0o755); err != nil {
		return nil, &WriteError{Path: dir, Err: fmt.Errorf("cannot create a working folder in it: %w", unwrapPath(err))}
	}
	lock, err := os.OpenFile(filepath.Join(path, stageLockName), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		_ = os.RemoveAll(path)
		return nil, &WriteError{Path: dir, Err: fmt.Errorf("cannot create a working folder in it: %w", unwrapPath(err))}
	}
	// Where locking is not supported (some network shares) the stage stays
	// unlocked and so is never taken for a dead run's: it is removed only
	// by this run.
	_ = lockFile(lock)
	liveStages.Store(path, true)
	return &stage{dir: dir, path: path, lock: lock}, nil
}

// liveStages holds this process's stages. Where the system emulates flock
// with record locks (NFS), a process does not conflict with itself, so a
// concurrent Writer in the same folder is recognized by its path instead.
var liveStages sync.Map

// create creates the report file name in the stage; shown is the path the
// report will have, for messages.
func (s *stage) create(name string) (f *os.File, shown string, err error) {
	shown = filepath.Join(s.dir, name)
	f, err = os.Create(filepath.Join(s.path, name))
	if err != nil {
		return nil, shown, &WriteError{Path: shown, Err: unwrapPath(err)}
	}
	s.names = append(s.names, name)
	return f, shown, nil
}

// staged returns where report file name is written until commit.
func (s *stage) staged(name string) string { return filepath.Join(s.path, name) }

// commit moves every report into the output folder, each flushed to disk
// first so that a power loss cannot replace a good report by an empty one,
// then removes the stage.
func (s *stage) commit() error {
	for _, name := range s.names {
		if err := syncFile(s.staged(name)); err != nil {
			return &WriteError{Path: filepath.Join(s.dir, name), Err: unwrapPath(err)}
		}
	}
	for _, name := range s.names {
		if err := os.Rename(s.staged(name), filepath.Join(s.dir, name)); err != nil {
			return &WriteError{Path: filepath.Join(s.dir, name), Err: fmt.Errorf("cannot replace it: %w (is it open in another program?)", unwrapLink(err))}
		}
	}
	if d, err := os.Open(s.dir); err == nil {
		_ = d.Sync() // the renames themselves; fails harmlessly on Windows
		d.Close()
	}
	s.remove()
	return nil
}

// remove deletes the stage and everything in it.
func (s *stage) remove() {
	// Closed first: Windows cannot delete an open file. Another run that
	// finds the stage unlocked meanwhile removes it too, which is harmless.
	if s.lock != nil {
		_ = s.lock.Close()
		s.lock = nil
	}
	_ = os.RemoveAll(s.path)
	liveStages.Delete(s.path)
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// removeStaleStages removes from dir the stages of runs that are gone (their
// lock can be taken) and the temporary files earlier versions left there.
// Errors are ignored: this is housekeeping, and a stage that cannot be
// removed now is tried again by the next run.
func removeStaleStages(dir string, now time.Time) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(dir, name)
		switch {
		case e.IsDir() && strings.HasPrefix(name, stagePrefix):
			if stageIsDead(path, now) {
				_ = os.RemoveAll(path)
			}
		case e.Type().IsRegular():
			if ok, _ := filepath.Match(legacyTempPattern, name); ok {
				if fi, err := e.Info(); err == nil && now.Sub(fi.ModTime()) > staleAge {
					_ = os.Remove(path)
				}
			}
		}
	}
}

// stageIsDead reports whether the run that owns the stage at path is gone.
func stageIsDead(path string, now time.Time) bool {
	if _, ours := liveStages.Load(path); ours {
		return false
	}
	lock, err := os.OpenFile(filepath.Join(path, stageLockName), os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		// Its run is creating it, or died between the two steps.
		fi, err := os.Stat(path)
		return err == nil && now.Sub(fi.ModTime()) > staleAge
	}
	if err != nil {
		return false // cannot tell: leave it
	}
	defer lock.Close()
	// Taking the lock proves its owner is gone; closing releases it.
	return lockFile(lock) == nil
}

// A WriteError is a report file that could not be written or put in place.
// The previous reports in the folder are unchanged when it happens.
type WriteError struct {
	Path string // the report file (or the output folder)
	Err  error
}

func (e *WriteError) Error() string { return "cannot write " + e.Path + ": " + e.Err.Error() }
func (e *WriteError) Unwrap() error { return e.Err }

// writeErr wraps a failure of the report at path, keeping an existing
// WriteError as it is (it names its file already).
func writeErr(path string, err error) error {
	var we *WriteError
	if errors.As(err, &we) {
		return err
	}
	return &WriteError{Path: path, Err: unwrapPath(err)}
}

// unwrapPath drops the *PathError around err: messages name the report as
// the user will find it, not the stage path.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func unwrapLink(err error) error {
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
