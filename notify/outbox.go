package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/evtxscan/evtxscan/internal/atomicfile"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Outbox layout: <dir>/<alert id>.json per undelivered alert,
// <dir>/<id>.failed for given-up ones, <dir>/suppress.json for the
// suppression windows, <dir>/sent/<id> for each alert delivered within
// SentMemory (the ledger that keeps concurrent and later runs from sending
// it again), and two lock files: .deliver.lock, held by the one process
// that delivers, and .queue.lock, held for the moment a process adds
// alerts.
const (
	alertExt     = ".json"
	failedExt    = ".failed"
	suppressFile = "suppress.json"
	deliverLock  = ".deliver.lock"
	queueLock    = ".queue.lock"
	sentDir      = "sent"
	maxAlertFile = 1 << 20
)

// SentMemory is how long the outbox remembers a delivered alert's id: the
// same alert (same rule, computer, product and first event) queued again
// within it — by a concurrent run, or a later run over the same logs — is
// not sent again.
const SentMemory = 30 * 24 * time.Hour

// An Outbox is a folder of alerts waiting for delivery.
type Outbox struct {
	dir string
}

// OpenOutbox opens (and creates) the outbox folder.
func OpenOutbox(dir string) (*Outbox, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("notify: cannot create outbox %s: %w (pass --notify-outbox with a writable folder)", dir, err)
	}
	return &Outbox{dir: dir}, nil
}

// Dir returns the outbox folder.
func (o *Outbox) Dir() string { return o.dir }

func (o *Outbox) path(id string) string { return filepath.Join(o.dir, id+alertExt) }

// put stores an alert unless the ledger says it was delivered. An alert
// with the same id is the same finding (same first event) seen by another
// run: the waiting one is kept, with the larger count of the two.
func (o *Outbox) put(a *Alert) error {
	if o.wasSent(a.ID) {
		return nil
	}
	if old, err := o.load(a.ID); err == nil {
		if a.Count <= old.Count {
			return nil
		}
		old.Count = a.Count
		a = old
	}
	if err := o.save(a); err != nil {
		return err
	}
	// A deliverer marks an alert sent before it removes the file: if it did
	// so between the check above and the save, the file just written is a
	// second copy, and goes.
	if o.wasSent(a.ID) {
		os.Remove(o.path(a.ID))
	}
	return nil
}

func (o *Outbox) sentPath(id string) string { return filepath.Join(o.dir, sentDir, id) }

// wasSent reports whether the ledger holds id.
func (o *Outbox) wasSent(id string) bool {
	_, err := os.Stat(o.sentPath(id))
	return err == nil
}

// markSent records id in the ledger.
func (o *Outbox) markSent(id string) error {
	if err := os.MkdirAll(filepath.Join(o.dir, sentDir), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(o.sentPath(id), os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}

// pruneSent forgets ledger entries older than SentMemory.
func (o *Outbox) pruneSent(now time.Time) {
	entries, err := os.ReadDir(filepath.Join(o.dir, sentDir))
	if err != nil {
		return
	}
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && now.Sub(fi.ModTime()) > SentMemory {
			os.Remove(filepath.Join(o.dir, sentDir, e.Name()))
		}
	}
}

func (o *Outbox) save(a *Alert) error {
	data, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(o.path(a.ID), data); err != nil {
		return fmt.Errorf("notify: cannot write alert to outbox %s: %w", o.dir, err)
	}
	return nil
}

func (o *Outbox) load(id string) (*Alert, error) {
	data, err := os.ReadFile(o.path(id))
	if err != nil {
		return nil, err
	}
	if len(data) > maxAlertFile {
		return nil, errors.New("alert file too large")
	}
	var a Alert
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, err
	}
	if a.ID != id {
		return nil, fmt.Errorf("alert file says id %q", a.ID)
	}
	return &a, nil
}

// Pending returns the waiting alerts, oldest first. Unreadable files are
// renamed *.failed and reported in the error; the others still come back.
func (o *Outbox) Pending() ([]*Alert, error) {
	entries, err := os.ReadDir(o.dir)
	if err != nil {
		return nil, fmt.Errorf("notify: cannot read outbox %s: %w", o.dir, err)
	}
	var out []*Alert
	var problems []error
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, alertExt) || name == suppressFile || strings.HasPrefix(name, ".") {
			continue
		}
		id := strings.TrimSuffix(name, alertExt)
		a, err := o.load(id)
		if err != nil {
			problems = append(problems, fmt.Errorf("notify: outbox file %s is damaged (%v); renamed to %s", filepath.Join(o.dir, name), err, id+failedExt))
			os.Rename(filepath.Join(o.dir, name), filepath.Join(o.dir, id+failedExt))
			continue
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out, errors.Join(problems...)
}

// delivered records a delivered alert in the ledger, then removes it.
func (o *Outbox) delivered(a *Alert) error {
	if err := o.markSent(a.ID); err != nil {
		return err
	}
	err := os.Remove(o.path(a.ID))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// giveUp keeps a failed alert as *.failed.
func (o *Outbox) giveUp(a *Alert) error {
	if err := o.save(a); err != nil {
		return err
	}
	return os.Rename(o.path(a.ID), filepath.Join(o.dir, a.ID+failedExt))
}

// window is one suppression window.
type window struct {
	Since time.Time `json:"since"`
	// Count is how many findings fell in the window; Reported how many of
	// them alerts already carry.
	Count    int `json:"count"`
	Reported int `json:"reported"`
	// Finding is the first finding, to build the repeat alert from.
	Finding storedFinding `json:"finding"`
	// First is the first finding's identity (firstEventKey): another run
	// that reports the same finding (the same first event) adds nothing.
	First string `json:"first,omitempty"`
}

// storedFinding is what the repeat alert needs of the first finding.
type storedFinding struct {
	RuleID, Title, Level, Description, Computer string
	Fields                                      []AlertField
	Time                                        time.Time
	// Event is the first event, part of the alert's identity.
	Event *AlertEvent `json:",omitempty"`
}

func (o *Outbox) loadWindows() (map[string]*window, error) {
	w := map[string]*window{}
	data, err := os.ReadFile(filepath.Join(o.dir, suppressFile))
	if errors.Is(err, os.ErrNotExist) {
		return w, nil
	}
	if err != nil {
		return w, err
	}
	if err := json.Unmarshal(data, &w); err != nil {
		// Losing suppression state only means an alert too many.
		return map[string]*window{}, fmt.Errorf("notify: suppression state %s is damaged (%v); starting afresh", filepath.Join(o.dir, suppressFile), err)
	}
	return w, nil
}

func (o *Outbox) saveWindows(w map[string]*window) error {
	data, err := json.Marshal(w)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(o.dir, suppressFile), data)
}

// backoff is the wait before attempt n+1 after n failed attempts.
func backoff(attempts int) time.Duration {
	d := 30 * time.Second
	for i := 1; i < attempts && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}
