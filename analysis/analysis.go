// Package analysis runs one analysis from a source of events to findings
// and reports: filter → messages → time order → dedup → rules + uninstall
// sessions + timeline. The file scan and the live mode both call Run, so
// they run exactly the same analysis.
//
// Memory stays bounded whatever the input size: events are put in time
// order by a sorter that spills sorted runs to temporary files, the rules
// keep only open correlation windows, and reports stream their timelines.
package analysis

import (
	"context"
	"errors"
	"iter"
	"sync/atomic"
	"time"

	"github.com/evtxscan/evtxscan/filter"
	"github.com/evtxscan/evtxscan/messages"
	"github.com/evtxscan/evtxscan/parser"
	"github.com/evtxscan/evtxscan/report"
	"github.com/evtxscan/evtxscan/rules"
	"github.com/evtxscan/evtxscan/uninstall"
)

// A Source yields events and, once it is drained, accounts for what it read.
// Errors it yields are warnings (damage inside a file, a file that could not
// be read); the run goes on.
type Source interface {
	Events(ctx context.Context) iter.Seq2[*parser.Event, error]
	Stats() []parser.Stats
}

// Config is one analysis.
type Config struct {
	Filter   filter.Filter
	Dedup    bool            // drop records seen in several files (VSS/backup copies)
	Rules    *rules.Ruleset  // nil: no rules
	MinLevel rules.Level     // findings below are dropped
	Messages *messages.Table // nil: no message text
	// Report is where reports go; Report.Formats empty: no report files.
	Report report.Options
	// TempDir holds the sorter's run files ("" = the system's).
	TempDir string
	// SortMemory bounds the timeline sorter's memory (0 = 256 MiB).
	SortMemory int64
	// Warn receives every warning as it happens (nil: dropped; they are
	// in the accounting anyway).
	Warn func(error)
	// Progress, when set, is updated as the run goes.
	Progress *Progress
	// Tool names the program in reports ("evtxscan v1.2.3").
	Tool string
}

// Progress counters, safe to read from another goroutine while Run works.
type Progress struct {
	Files    atomic.Int64 // files finished
	Bytes    atomic.Int64 // bytes of finished files
	Events   atomic.Int64 // events read (before filtering)
	Findings atomic.Int64
	Phase    atomic.Value // string: "reading", "analysing", "writing"
}

// Result is what a run found.
type Result struct {
	Files      []parser.Stats
	Events     int // events in the timeline (after filter and dedup)
	Read       int // events read
	Duplicates int // dropped by dedup
	// Findings are the incidents that need attention (one finding each,
	// see uninstall.Fold) and the detections that belong to no incident.
	Findings []rules.Finding
	// Incidents are every operation the logs tell of (installs, removals,
	// upgrades…), needing attention or not.
	Incidents []uninstall.Incident
	Started   time.Time
	Elapsed   time.Duration
	Bytes     int64 // size of the input files
}

// Unreadable returns the files that could not be read at all.
func (r *Result) Unreadable() []parser.Stats {
	var out []parser.Stats
	for _, s := range r.Files {
		if s.Err != nil {
			out = append(out, s)
		}
	}
	return out
}

// CountAtLeast returns how many findings are at or above level l.
func (r *Result) CountAtLeast(l rules.Level) int {
	n := 0
	for _, f := range r.Findings {
		if f.Level >= l {
			n++
		}
	}
	return n
}

// Run reads src to the end and analyses what it yields.
func Run(ctx context.Context, src Source, cfg Config) (*Result, error) {
	res := &Result{Started: time.Now()}
	warn := cfg.Warn
	if warn == nil {
		warn = func(error) {}
	}
	prog := cfg.Progress
	if prog == nil {
		prog = &Progress{}
	}
	prog.Phase.Store("reading")

	var engine *rules.Engine
	if cfg.Rules != nil {
		var err error
		// Events reach the engine in time order (after the sorter), so
		// correlation windows are decided as they close and memory holds
		// only the open ones.
		// Every level: a low signal may belong to an incident that needs
		// attention; MinLevel applies to the folded findings.
		engine, err = cfg.Rules.NewEngine(rules.WithMinLevel(rules.LevelInformational), rules.WithReorderWindow(0))
		if err != nil {
			return nil, err
		}
	}
	var rw *report.Writer
	if len(cfg.Report.Formats) > 0 {
		var err error
		if rw, err = report.New(cfg.Report); err != nil {
			return nil, err
		}
		// A run that fails or is cancelled before Close leaves no writer
		// goroutine and no partial report behind (Abort is a no-op after
		// Close).
		defer rw.Abort()
	}

	// Phase 1: read, filter, render messages, put in time order.
	srt := newSorter(cfg.TempDir, cfg.SortMemory)
	defer srt.close()
	for ev, err := range src.Events(ctx) {
		if err != nil {
			warn(err)
			continue
		}
		res.Read++
		prog.Events.Add(1)
		if !cfg.Filter.Match(ev) {
			continue
		}
		if cfg.Messages != nil && ev.Message == "" {
			// Windows' own text (forwarded events) or the table's template.
			ev.Message, _ = cfg.Messages.Known(ev)
		}
		if err := srt.add(ev); err != nil {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	res.Files = src.Stats()
	for _, s := range res.Files {
		res.Bytes += s.Size
	}

	// Phase 2: in time order, drop duplicates, run the rules, follow
	// uninstall sessions and write the timeline.
	prog.Phase.Store("analysing")
	// Events reach the tracker in time order (after the sorter), so it can
	// close sessions as they end and keep only the open ones. It reads
	// events through the built-in field maps whatever rules are loaded, so
	// incidents never depend on the user's rules.
	tracker := uninstall.NewTracker(uninstall.Ordered())
	var signals []rules.Finding
	emit := func(f rules.Finding) {
		signals = append(signals, f)
	}
	dd := newDeduper()
	for ev, err := range srt.sorted() {
		if err != nil {
			return nil, err
		}
		if cfg.Dedup && dd.seen(ev) {
			res.Duplicates++
			continue
		}
		res.Events++
		if engine != nil {
			engine.Process(ev, emit)
		}
		tracker.Add(ev)
		if rw != nil {
			if err := rw.AddEvent(ev); err != nil {
				return nil, err // a *report.WriteError, naming the file
			}
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	if engine != nil {
		engine.Flush(emit)
	}
	// Signals → incidents → findings: one finding per incident that needs
	// attention, detections of no incident standalone.
	res.Incidents = tracker.Incidents()
	if cfg.Rules != nil {
		for _, f := range uninstall.Fold(signals, res.Incidents, cfg.Rules.Rules()) {
			if f.Level >= cfg.MinLevel {
				res.Findings = append(res.Findings, f)
			}
		}
	}
	prog.Findings.Store(int64(len(res.Findings)))
	sortFindings(res.Findings)
	res.Elapsed = time.Since(res.Started)

	if ctx.Err() != nil {
		// Cancelled (Ctrl-C, SIGTERM): the deferred Abort keeps the
		// previous reports.
		return nil, ctx.Err()
	}
	if rw != nil {
		prog.Phase.Store("writing")
		nrules := 0
		if cfg.Rules != nil {
			for _, r := range cfg.Rules.Rules() {
				if !r.Hidden {
					nrules++
				}
			}
		}
		err := rw.Close(report.Summary{
			Files: res.Files, Findings: res.Findings, Incidents: res.Incidents,
			Started: res.Started, Elapsed: time.Since(res.Started),
			Duplicates: res.Duplicates, Rules: nrules, Tool: cfg.Tool,
		})
		if err != nil {
			return nil, err // a *report.WriteError, naming the file
		}
	}
	res.Elapsed = time.Since(res.Started)
	return res, nil
}

// ErrNoInput is returned by sources given nothing to read.
var ErrNoInput = errors.New("analysis: no input")
