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
// suppression windows, <dir>/.lock while a process delivers.
const (
	alertExt       = ".json"
	failedExt      = ".failed"
	suppressFile   = "suppress.json"
	lockFile       = ".lock"
	staleLockAfter = 10 * time.Minute
	maxAlertFile   = 1 << 20
)

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

// put stores an alert. If an alert with the same id is waiting, the new
// one's count is added to it instead (the same finding seen again before
// delivery).
func (o *Outbox) put(a *Alert) error {
	if old, err := o.load(a.ID); err == nil {
		old.Count += a.Count
		return o.save(old)
	}
	return o.save(a)
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

// delivered removes a delivered alert.
func (o *Outbox) delivered(a *Alert) error {
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

// lock takes the outbox's delivery lock; ok is false when another live
// process holds it. A lock older than staleLockAfter (its holder crashed)
// is taken over.
func (o *Outbox) lock(now time.Time) (unlock func(), ok bool, err error) {
	p := filepath.Join(o.dir, lockFile)
	for range 2 {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			fmt.Fprintf(f, "%d %s\n", os.Getpid(), now.UTC().Format(time.RFC3339))
			f.Close()
			return func() { os.Remove(p) }, true, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, false, fmt.Errorf("notify: cannot lock outbox %s: %w", o.dir, err)
		}
		fi, serr := os.Stat(p)
		if serr != nil || now.Sub(fi.ModTime()) < staleLockAfter {
			return nil, false, nil
		}
		os.Remove(p) // the holder crashed: take over
	}
	return nil, false, nil
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
}

// storedFinding is what the repeat alert needs of the first finding.
type storedFinding struct {
	RuleID, Title, Level, Description, Computer string
	Fields                                      []AlertField
	Time                                        time.Time
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
