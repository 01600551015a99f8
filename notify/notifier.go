package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/evtxscan/evtxscan/rules"
)

// Defaults.
const (
	DefaultMinLevel = rules.LevelMedium
	DefaultSuppress = time.Hour
	// DefaultDeadline bounds one run's delivery (--notify-deadline).
	DefaultDeadline = 2 * time.Minute
	// DefaultParallel is how many alerts are sent at once.
	DefaultParallel = 4
	// DefaultRequestTimeout bounds one webhook request.
	DefaultRequestTimeout = 30 * time.Second
	// GiveUpAfter is how long an undeliverable alert is retried.
	GiveUpAfter = 7 * 24 * time.Hour
)

// Options configure a Notifier.
type Options struct {
	Targets  []Target
	MinLevel rules.Level
	// Suppress is the repeat window; 0 sends every finding.
	Suppress time.Duration
	// OutboxDir is where alerts wait.
	OutboxDir string
	// Deadline bounds one Flush: waiting for the outbox lock and every
	// delivery together (0: DefaultDeadline). What is not delivered by
	// then waits in the outbox for the next run.
	Deadline time.Duration
	// Parallel is how many alerts are sent at once (0: DefaultParallel).
	Parallel int

	// HTTPClient sends webhooks (nil: a client with DefaultRequestTimeout).
	HTTPClient *http.Client
	// TLSConfig is used for SMTP (nil: system roots, the target's host).
	TLSConfig *tls.Config
	// Now replaces time.Now (tests).
	Now func() time.Time
}

// A Notifier turns findings into alerts and delivers them.
type Notifier struct {
	opts    Options
	outbox  *Outbox
	senders map[string]sender
	now     func() time.Time
	mu      sync.Mutex
}

// sender delivers one alert to one target.
type sender interface {
	send(ctx context.Context, a *Alert) error
}

// New makes a Notifier and opens its outbox.
func New(opts Options) (*Notifier, error) {
	if len(opts.Targets) == 0 {
		return nil, errors.New("notify: no targets")
	}
	if opts.OutboxDir == "" {
		return nil, errors.New("notify: no outbox folder")
	}
	ob, err := OpenOutbox(opts.OutboxDir)
	if err != nil {
		return nil, err
	}
	if opts.Deadline < 0 || opts.Parallel < 0 {
		return nil, errors.New("notify: the delivery deadline and parallelism cannot be negative")
	}
	if opts.Deadline == 0 {
		opts.Deadline = DefaultDeadline
	}
	if opts.Parallel == 0 {
		opts.Parallel = DefaultParallel
	}
	n := &Notifier{opts: opts, outbox: ob, senders: map[string]sender{}, now: opts.Now}
	if n.now == nil {
		n.now = time.Now
	}
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: DefaultRequestTimeout}
	}
	for i := range opts.Targets {
		t := opts.Targets[i]
		if err := t.check(); err != nil {
			return nil, fmt.Errorf("notify: target %q: %w", t.Name, err)
		}
		switch t.Type {
		case TypeEmail:
			n.senders[t.Name] = &smtpSender{t: t, tlsConfig: opts.TLSConfig}
		default:
			n.senders[t.Name] = &webhookSender{t: t, client: client}
		}
	}
	return n, nil
}

// Outbox returns the notifier's outbox.
func (n *Notifier) Outbox() *Outbox { return n.outbox }

// Notify queues alerts for the findings at or above the minimum level,
// folding repeats into suppression windows, and then delivers what is due
// (Flush). The alerts are on disk before delivery starts, so a failure —
// an unreachable server, the deadline, a cancelled ctx — loses nothing: a
// later Notify or Flush (of this or another process) retries. The
// Delivery names what was sent and what is still waiting, and why; the
// error reports problems with the outbox itself.
func (n *Notifier) Notify(ctx context.Context, findings []rules.Finding) (Delivery, error) {
	if err := n.Queue(findings); err != nil {
		return Delivery{}, err
	}
	return n.Flush(ctx)
}

// Queue writes the alerts for findings to the outbox without delivering
// them. Once it returns nil the alerts are on disk: a caller that keeps
// incremental state (live mode) may commit it then.
func (n *Notifier) Queue(findings []rules.Finding) error { return n.queue(findings) }

// queueLockWait bounds the wait for another process's queue lock (held for
// the few milliseconds it takes to add alerts).
const queueLockWait = 30 * time.Second

// queue writes the alerts for findings to the outbox. The queue lock makes
// the read-modify-write of the suppression state and the alert files one
// step across processes.
func (n *Notifier) queue(findings []rules.Finding) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), queueLockWait)
	defer cancel()
	lk, owner, err := waitLock(ctx, filepath.Join(n.outbox.dir, queueLock))
	if err != nil {
		if errors.Is(err, errLockBusy) {
			return fmt.Errorf("notify: outbox %s: %s has held its queue lock for over %s; alerts not queued", n.outbox.dir, owner, queueLockWait)
		}
		return fmt.Errorf("notify: cannot lock outbox %s: %w", n.outbox.dir, err)
	}
	defer lk.release()
	now := n.now()
	windows, werr := n.outbox.loadWindows()
	var problems []error
	if werr != nil {
		problems = append(problems, werr)
	}
	// Group this batch by suppression key, keeping first-seen order.
	type group struct {
		f     *rules.Finding
		count int
	}
	var order []string
	groups := map[string]*group{}
	for i := range findings {
		f := &findings[i]
		if f.Level < n.opts.MinLevel {
			continue
		}
		k := suppressKey(f)
		if g, ok := groups[k]; ok {
			g.count++
			continue
		}
		groups[k] = &group{f: f, count: 1}
		order = append(order, k)
	}
	var alerts []*Alert
	alerts = append(alerts, n.closeWindows(windows, now)...)
	for _, k := range order {
		g := groups[k]
		if n.opts.Suppress <= 0 {
			alerts = append(alerts, n.alerts(g.f, g.count, now, now, false)...)
			continue
		}
		w := windows[k]
		if w != nil && now.Sub(w.Since) < n.opts.Suppress {
			if w.First == firstEventKey(g.f) {
				continue // the window's own finding, reported again by another run
			}
			w.Count += g.count // a repeat: counted, reported when the window ends
			continue
		}
		fresh := n.alerts(g.f, g.count, now, now, false)
		if n.allSent(fresh) {
			continue // already alerted (an earlier run over the same logs): no new window
		}
		alerts = append(alerts, fresh...)
		windows[k] = &window{Since: now, Count: g.count, Reported: g.count, Finding: storeFinding(g.f), First: firstEventKey(g.f)}
	}
	for _, a := range alerts {
		if err := n.outbox.put(a); err != nil {
			return errors.Join(append(problems, err)...)
		}
	}
	if n.opts.Suppress > 0 {
		if err := n.outbox.saveWindows(windows); err != nil {
			problems = append(problems, fmt.Errorf("notify: cannot save suppression state in %s: %w", n.outbox.dir, err))
		}
	}
	return errors.Join(problems...)
}

// closeWindows ends the windows that have passed, returning the repeat
// alerts for those that counted more findings than were reported.
func (n *Notifier) closeWindows(windows map[string]*window, now time.Time) []*Alert {
	var out []*Alert
	for k, w := range windows {
		if now.Sub(w.Since) < n.opts.Suppress {
			continue
		}
		if extra := w.Count - w.Reported; extra > 0 {
			f := w.Finding.finding()
			out = append(out, n.alerts(&f, extra, w.Since, now, true)...)
		}
		delete(windows, k)
	}
	return out
}

// allSent reports whether the ledger holds every one of alerts.
func (n *Notifier) allSent(alerts []*Alert) bool {
	for _, a := range alerts {
		if !n.outbox.wasSent(a.ID) {
			return false
		}
	}
	return true
}

// alerts builds one alert per target.
func (n *Notifier) alerts(f *rules.Finding, count int, since, now time.Time, repeat bool) []*Alert {
	out := make([]*Alert, 0, len(n.opts.Targets))
	for _, t := range n.opts.Targets {
		out = append(out, newAlert(f, t.Name, count, since, now, repeat))
	}
	return out
}

func storeFinding(f *rules.Finding) storedFinding {
	s := storedFinding{RuleID: f.RuleID, Title: f.Title, Level: f.Level.String(), Description: f.Description, Computer: f.Computer, Time: f.Time}
	for _, d := range f.Fields {
		s.Fields = append(s.Fields, AlertField{Name: d.Name, Value: d.Value})
	}
	if len(f.Events) > 0 {
		e := f.Events[0]
		s.Event = &AlertEvent{File: e.File, RecordID: e.RecordID, EventID: e.EventID, Provider: e.Provider, Time: e.Time}
	}
	return s
}

func (s storedFinding) finding() rules.Finding {
	lvl, _ := rules.ParseLevel(s.Level)
	f := rules.Finding{RuleID: s.RuleID, Title: s.Title, Level: lvl, Description: s.Description, Computer: s.Computer, Time: s.Time}
	for _, d := range s.Fields {
		f.Fields = append(f.Fields, rules.DisplayField{Name: d.Name, Value: d.Value})
	}
	if e := s.Event; e != nil {
		f.Events = []rules.EventRef{{File: e.File, RecordID: e.RecordID, EventID: e.EventID, Provider: e.Provider, Time: e.Time}}
	}
	return f
}

// A Delivery is what one Flush did.
type Delivery struct {
	// Sent are the alerts delivered by this Flush.
	Sent []*Alert
	// Undelivered are the alerts for this notifier's targets that are
	// still in the outbox afterwards (or were given up), with the reason.
	Undelivered []Undelivered
}

// Undelivered is an alert that was not delivered, and why.
type Undelivered struct {
	Alert  *Alert
	Reason string
	// Waiting is true when this Flush did not try the alert because its
	// retry time has not come (the reason says when).
	Waiting bool
}

// breakAfter is how many failures in a row make a run stop trying a
// target: a hung or refusing receiver costs one round of requests, not
// the whole deadline.
func (n *Notifier) breakAfter() int { return max(3, n.opts.Parallel) }

// Flush delivers every alert that is due — new ones, and failed ones whose
// backoff has passed — up to Parallel at a time, within the Deadline.
// Repeat alerts of suppression windows that have ended are queued first.
//
// One process delivers from an outbox at a time. If another live process
// holds the delivery lock, Flush waits for it (within the deadline) and
// then sends what that process left; a lock left by a process that has
// ended is taken at once. An alert is marked sent in the outbox's ledger
// before its file is removed, and never sent again while the ledger
// remembers it (SentMemory), so concurrent runs deliver each alert once.
//
// A target that fails breakAfter times in a row is not tried again in
// this Flush. What is left waits in the outbox for the next run and is
// listed in Delivery.Undelivered; the error reports problems with the
// outbox itself (unreadable, not writable).
func (n *Notifier) Flush(ctx context.Context) (Delivery, error) {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, n.opts.Deadline)
	defer cancel()
	var d Delivery
	var problems []error
	if n.opts.Suppress > 0 {
		if err := n.queue(nil); err != nil {
			problems = append(problems, err)
		}
	}
	lk, owner, err := waitLock(ctx, filepath.Join(n.outbox.dir, deliverLock))
	if err != nil {
		why := fmt.Sprintf("%s was delivering from this outbox for all of this run's %s deadline", owner, n.opts.Deadline)
		switch {
		case !errors.Is(err, errLockBusy):
			err = fmt.Errorf("notify: cannot lock outbox %s: %w (put --notify-outbox on a local disk)", n.outbox.dir, err)
			problems = append(problems, err)
			why = "not sent: " + err.Error()
		case parent.Err() != nil:
			why = fmt.Sprintf("interrupted while %s was delivering from this outbox", owner)
		}
		d.Undelivered = n.leftover(ctx, parent, nil, &problems, why)
		return d, errors.Join(problems...)
	}
	defer lk.release()
	n.outbox.pruneSent(n.now())

	var mu sync.Mutex
	tried := map[string]string{} // alert id → why it is still here ("" when sent)
	failures := map[string]int{} // target → failures in a row
	lastErr := map[string]string{}
	deliver := func(a *Alert) {
		mu.Lock()
		if ctx.Err() != nil {
			mu.Unlock()
			return // reported by leftover
		}
		if failures[a.Target] >= n.breakAfter() {
			tried[a.ID] = fmt.Sprintf("not tried: %s failed %d times in a row in this run (last: %s)", a.Target, failures[a.Target], lastErr[a.Target])
			mu.Unlock()
			return
		}
		tried[a.ID] = "sending"
		mu.Unlock()

		err := n.senders[a.Target].send(ctx, a)

		mu.Lock()
		defer mu.Unlock()
		if err == nil {
			failures[a.Target] = 0
			tried[a.ID] = ""
			d.Sent = append(d.Sent, a)
			if err := n.outbox.delivered(a); err != nil {
				problems = append(problems, fmt.Errorf("notify: alert %s was sent but could not be marked sent in %s (it may be sent again): %w", a.ID, n.outbox.dir, err))
			}
			return
		}
		if ctx.Err() != nil {
			// Cut by the deadline or an interrupt, not the receiver's
			// fault: the next run tries again at once.
			tried[a.ID] = n.cutReason(parent)
			return
		}
		failures[a.Target]++
		lastErr[a.Target] = err.Error()
		a.Attempts++
		a.LastError = clip(err.Error())
		a.NextAttempt = n.now().Add(backoff(a.Attempts))
		if n.now().Sub(a.Created) > GiveUpAfter {
			reason := fmt.Sprintf("gave up after %d attempts over %s: %v (kept as %s)", a.Attempts, GiveUpAfter, err, filepath.Join(n.outbox.dir, a.ID+failedExt))
			tried[a.ID] = reason
			d.Undelivered = append(d.Undelivered, Undelivered{Alert: a, Reason: reason})
			if gerr := n.outbox.giveUp(a); gerr != nil {
				problems = append(problems, gerr)
			}
			return
		}
		tried[a.ID] = fmt.Sprintf("%v (retry after %s)", err, a.NextAttempt.UTC().Format(time.RFC3339))
		if serr := n.outbox.save(a); serr != nil {
			problems = append(problems, serr)
		}
	}
	// Rounds: alerts another process queued while this one delivered are
	// picked up by the next round; each alert is tried once per Flush.
	for ctx.Err() == nil {
		pending, perr := n.outbox.Pending()
		if perr != nil {
			problems = append(problems, perr)
		}
		now := n.now()
		var due []*Alert
		for _, a := range pending {
			if _, done := tried[a.ID]; done {
				continue
			}
			if _, ok := n.senders[a.Target]; !ok {
				continue // a target of another configuration: leave it be
			}
			if n.outbox.wasSent(a.ID) {
				n.outbox.delivered(a) // a copy of a delivered alert
				continue
			}
			if a.NextAttempt.After(now) {
				continue
			}
			due = append(due, a)
		}
		if len(due) == 0 {
			break
		}
		jobs := make(chan *Alert)
		var wg sync.WaitGroup
		for range min(n.opts.Parallel, len(due)) {
			wg.Go(func() {
				for a := range jobs {
					deliver(a)
				}
			})
		}
	feed:
		for _, a := range due {
			select {
			case jobs <- a:
			case <-ctx.Done():
				break feed
			}
		}
		close(jobs)
		wg.Wait()
	}
	d.Undelivered = append(d.Undelivered, n.leftover(ctx, parent, tried, &problems, "")...)
	return d, errors.Join(problems...)
}

// cutReason says why a delivery stopped when ctx ended.
func (n *Notifier) cutReason(parent context.Context) string {
	if parent.Err() != nil {
		return "not sent: the run was interrupted"
	}
	return fmt.Sprintf("not sent: the delivery deadline (%s, --notify-deadline) passed", n.opts.Deadline)
}

// leftover lists the alerts for this notifier's targets still in the
// outbox, each with why: tried[id] when this Flush tried it, else why (the
// lock was busy), else its backoff or the deadline.
func (n *Notifier) leftover(ctx, parent context.Context, tried map[string]string, problems *[]error, why string) []Undelivered {
	pending, perr := n.outbox.Pending()
	if perr != nil {
		*problems = append(*problems, perr)
	}
	now := n.now()
	var out []Undelivered
	for _, a := range pending {
		if _, ok := n.senders[a.Target]; !ok || n.outbox.wasSent(a.ID) {
			continue
		}
		reason, done := tried[a.ID]
		waiting := false
		switch {
		case done && reason != "" && reason != "sending":
		case why != "":
			reason = why
		case a.NextAttempt.After(now):
			waiting = true
			reason = fmt.Sprintf("waiting to be retried after %s (last error: %s)", a.NextAttempt.UTC().Format(time.RFC3339), a.LastError)
		case ctx.Err() != nil:
			reason = n.cutReason(parent)
		default:
			reason = "queued by another run while this one delivered; the next run sends it"
		}
		out = append(out, Undelivered{Alert: a, Reason: reason, Waiting: waiting})
	}
	return out
}

// parseLevel parses a level name, as --notify-min-level takes it.
func parseLevel(s string) (rules.Level, error) {
	if l, ok := rules.ParseLevel(strings.ToLower(strings.TrimSpace(s))); ok {
		return l, nil
	}
	return 0, fmt.Errorf("level %q: use informational, low, medium, high or critical", s)
}
