package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/evtxscan/evtxscan/rules"
)

// Defaults.
const (
	DefaultMinLevel = rules.LevelMedium
	DefaultSuppress = time.Hour
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

	// HTTPClient sends webhooks (nil: a client with a 30 s timeout).
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
	n := &Notifier{opts: opts, outbox: ob, senders: map[string]sender{}, now: opts.Now}
	if n.now == nil {
		n.now = time.Now
	}
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
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
// (Flush). The alerts are on disk before delivery starts, so an error —
// an unreachable server, a cancelled ctx — loses nothing: a later Notify
// or Flush (of this or another process) retries. The error reports what
// could not be delivered this time.
func (n *Notifier) Notify(ctx context.Context, findings []rules.Finding) error {
	if err := n.Queue(findings); err != nil {
		return err
	}
	return n.Flush(ctx)
}

// Queue writes the alerts for findings to the outbox without delivering
// them. Once it returns nil the alerts are on disk: a caller that keeps
// incremental state (live mode) may commit it then.
func (n *Notifier) Queue(findings []rules.Finding) error { return n.queue(findings) }

// queue writes the alerts for findings to the outbox.
func (n *Notifier) queue(findings []rules.Finding) error {
	n.mu.Lock()
	defer n.mu.Unlock()
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
	alerts = append(alerts, n.closeWindows(windows, now, "")...)
	for _, k := range order {
		g := groups[k]
		if n.opts.Suppress <= 0 {
			alerts = append(alerts, n.alerts(g.f, g.count, now, now, false)...)
			continue
		}
		w := windows[k]
		if w != nil && now.Sub(w.Since) < n.opts.Suppress {
			w.Count += g.count // a repeat: counted, reported when the window ends
			continue
		}
		alerts = append(alerts, n.alerts(g.f, g.count, now, now, false)...)
		windows[k] = &window{Since: now, Count: g.count, Reported: g.count, Finding: storeFinding(g.f)}
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
func (n *Notifier) closeWindows(windows map[string]*window, now time.Time, _ string) []*Alert {
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
	return s
}

func (s storedFinding) finding() rules.Finding {
	lvl, _ := rules.ParseLevel(s.Level)
	f := rules.Finding{RuleID: s.RuleID, Title: s.Title, Level: lvl, Description: s.Description, Computer: s.Computer, Time: s.Time}
	for _, d := range s.Fields {
		f.Fields = append(f.Fields, rules.DisplayField{Name: d.Name, Value: d.Value})
	}
	return f
}

// Flush delivers every alert that is due: new ones, and failed ones whose
// backoff has passed. Repeat alerts of suppression windows that have
// ended are queued first. If another process is delivering from the same
// outbox, Flush leaves the alerts to it and returns nil.
func (n *Notifier) Flush(ctx context.Context) error {
	if n.opts.Suppress > 0 {
		if err := n.queue(nil); err != nil {
			return err
		}
	}
	unlock, ok, err := n.outbox.lock(n.now())
	if err != nil || !ok {
		return err
	}
	defer unlock()
	pending, perr := n.outbox.Pending()
	problems := []error{perr}
	for _, a := range pending {
		if err := ctx.Err(); err != nil {
			problems = append(problems, fmt.Errorf("notify: %d alerts wait in %s: %w", len(pending), n.outbox.dir, err))
			break
		}
		now := n.now()
		if a.NextAttempt.After(now) {
			continue
		}
		s, ok := n.senders[a.Target]
		if !ok {
			continue // a target of another configuration: leave it be
		}
		err := s.send(ctx, a)
		if err == nil {
			if err := n.outbox.delivered(a); err != nil {
				problems = append(problems, fmt.Errorf("notify: alert %s was sent but could not be removed from %s: %w", a.ID, n.outbox.dir, err))
			}
			continue
		}
		a.Attempts++
		a.LastError = clip(err.Error())
		a.NextAttempt = n.now().Add(backoff(a.Attempts))
		if n.now().Sub(a.Created) > GiveUpAfter {
			problems = append(problems, fmt.Errorf("notify: gave up on alert %s to %s after %d attempts: %v", a.ID, a.Target, a.Attempts, err))
			if gerr := n.outbox.giveUp(a); gerr != nil {
				problems = append(problems, gerr)
			}
			continue
		}
		problems = append(problems, fmt.Errorf("notify: %s: %w (queued in %s, retry after %s)", a.Target, err, n.outbox.dir, a.NextAttempt.Format(time.RFC3339)))
		if serr := n.outbox.save(a); serr != nil {
			problems = append(problems, serr)
		}
	}
	return errors.Join(problems...)
}

// parseLevel parses a level name, as --notify-min-level takes it.
func parseLevel(s string) (rules.Level, error) {
	if l, ok := rules.ParseLevel(strings.ToLower(strings.TrimSpace(s))); ok {
		return l, nil
	}
	return 0, fmt.Errorf("level %q: use informational, low, medium, high or critical", s)
}
