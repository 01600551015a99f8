package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// The outbox's locks are operating-system file locks (flock on Unix,
// LockFileEx on Windows) held on an open file for as long as the owner
// works. The system drops such a lock the moment its process ends, however
// it ends, so a lock left by a crashed run is taken over at once — there
// is no expiry that a slow delivery could outlive and no pid to be reused.
// The lock file is never removed (removing it would let two processes lock
// two different files of the same name); while held, it names its owner
// and a heartbeat the owner rewrites every lockRefresh, so a process that
// waits can say who it waits for and whether that owner still moves.

// lockRefresh is how often an owner rewrites its heartbeat (a variable for
// tests).
var lockRefresh = 10 * time.Second

// lockPoll is how often a waiting process tries the lock again.
var lockPoll = 100 * time.Millisecond

// lockOwner is what a lock file says about its holder.
type lockOwner struct {
	PID       int       `json:"pid"`
	Host      string    `json:"host"`
	Since     time.Time `json:"since"`
	Heartbeat time.Time `json:"heartbeat"`
}

func (o *lockOwner) String() string {
	if o == nil || o.PID == 0 {
		return "another evtxscan process"
	}
	s := fmt.Sprintf("evtxscan pid %d", o.PID)
	if o.Host != "" {
		s += " on " + o.Host
	}
	if !o.Since.IsZero() {
		s += ", since " + o.Since.UTC().Format(time.RFC3339)
	}
	if !o.Heartbeat.IsZero() {
		s += ", last heartbeat " + o.Heartbeat.UTC().Format(time.RFC3339)
	}
	return s
}

// errLockBusy reports a lock held by a live process.
var errLockBusy = errors.New("lock held by another process")

// A fileLock is a held lock.
type fileLock struct {
	f        *os.File
	path     string
	stop     chan struct{}
	done     chan struct{}
	mu       sync.Mutex
	released bool
}

// tryLock takes the lock at path without waiting. When another live
// process holds it, it returns errLockBusy and what the file says about
// that owner.
func tryLock(path string) (*fileLock, *lockOwner, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, err
	}
	ok, err := lockFile(f)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !ok {
		owner := readOwner(f)
		f.Close()
		return nil, owner, errLockBusy
	}
	// Whatever the file says now was written by a process that is gone.
	host, _ := os.Hostname()
	now := time.Now().UTC()
	l := &fileLock{f: f, path: path, stop: make(chan struct{}), done: make(chan struct{})}
	if err := l.write(lockOwner{PID: os.Getpid(), Host: host, Since: now, Heartbeat: now}); err != nil {
		unlockFile(f)
		f.Close()
		return nil, nil, err
	}
	go l.refresh(lockOwner{PID: os.Getpid(), Host: host, Since: now})
	return l, nil, nil
}

// waitLock takes the lock at path, waiting while a live process holds it
// until ctx ends; then it returns errLockBusy and the owner.
func waitLock(ctx context.Context, path string) (*fileLock, *lockOwner, error) {
	for {
		l, owner, err := tryLock(path)
		if !errors.Is(err, errLockBusy) {
			return l, owner, err
		}
		t := time.NewTimer(lockPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, owner, err
		case <-t.C:
		}
	}
}

func readOwner(f *os.File) *lockOwner {
	data, err := io.ReadAll(io.LimitReader(io.NewSectionReader(f, 0, 4096), 4096))
	if err != nil {
		return nil
	}
	var o lockOwner
	if json.Unmarshal(data, &o) != nil {
		return nil
	}
	return &o
}

func (l *fileLock) write(o lockOwner) error {
	data, _ := json.Marshal(o)
	data = append(data, '\n')
	if err := l.f.Truncate(0); err != nil {
		return err
	}
	_, err := l.f.WriteAt(data, 0)
	return err
}

// refresh rewrites the heartbeat until the lock is released.
func (l *fileLock) refresh(o lockOwner) {
	defer close(l.done)
	t := time.NewTicker(lockRefresh)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			// A failed write only leaves an older heartbeat: the system
			// lock itself stays held while the file is open.
			o.Heartbeat = time.Now().UTC()
			l.write(o)
		}
	}
}

// release ends the heartbeat, empties the file and drops the lock.
func (l *fileLock) release() {
	l.mu.Lock()
	if l.released {
		l.mu.Unlock()
		return
	}
	l.released = true
	l.mu.Unlock()
	close(l.stop)
	<-l.done
	l.f.Truncate(0)
	unlockFile(l.f)
	l.f.Close()
}
