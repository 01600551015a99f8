package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/evtxscan/evtxscan/analysis"
	"github.com/evtxscan/evtxscan/live"
	"github.com/evtxscan/evtxscan/notify"
	"github.com/evtxscan/evtxscan/rules"
)

func init() {
	register(&command{name: "live", summary: "analyse this Windows machine's own event logs (incremental, follow, alerts)", run: runLive})
}

const liveUsage = `Usage: evtxscan live [--state FILE] [--once | --follow] [flags]

Reads this machine's event logs through the Windows Event Log API and runs
the same analysis as 'evtxscan scan'. Channels: Application, System,
Security, Setup and Microsoft-Windows-AppXDeploymentServer/Operational
unless --channel names others. Reading Security needs an administrator or
a member of Event Log Readers.

With --state, each run goes on where the last one stopped (one bookmark per
channel); a log cleared or rolled over since is reported and read again from
its oldest record. The state is saved only after reports and alerts are
written, so a crash repeats events rather than losing them.

--once (the default) reads what is there and ends. --follow keeps reading
new events as they are written; every time the logs go quiet it analyses
what came, writes reports and sends alerts. Stop it with Ctrl-C.

Each run (each --follow cycle) writes its reports into OUT/runs/<UTC time>/
and, when it read new events, copies them into OUT/latest/; a run with
nothing new leaves no folder and OUT/latest/ keeps the last findings
(OUT/latest/run.txt says from which run, and when the logs were last
checked). The newest --keep-runs run folders are kept.

--data-dir (Windows; set by 'schedule install') is the folder of the state,
reports and outbox: created for SYSTEM and Administrators only, checked on
every run, its permissions reset when they are wider, and refused when a
user owns it or anything in it.

Examples:
  evtxscan live --since 7d --format html
  evtxscan live --state C:\ProgramData\evtxscan\state.json --notify soc --notify-config C:\ProgramData\evtxscan\notify.yml
  evtxscan live --follow --channel Application --notify teams

Flags:
`

// Follow cycles: analyse once the logs were quiet this long, or at the
// latest this long after the first new event.
const (
	followQuiet = 10 * time.Second
	followMax   = 5 * time.Minute
)

type liveOptions struct {
	analysisFlags
	notify   notify.Flags
	state    string
	dataDir  string
	keepRuns int
	once     bool
	follow   bool
	batch    int
	budget   time.Duration
	sig      *interruption // SIGINT/SIGTERM: the run stops, exit 130/143
}

func (o *liveOptions) addFlags(fs *pflag.FlagSet) {
	o.analysisFlags.addFlags(fs)
	o.notify.AddFlags(fs)
	fs.StringVar(&o.state, "state", "", "state file: go on where the last run stopped (created; written atomically)")
	fs.StringVar(&o.dataDir, "data-dir", "", "Windows: folder of state, reports and outbox, made SYSTEM and Administrators only; checked (and repaired or refused) on every run")
	fs.IntVar(&o.keepRuns, "keep-runs", live.DefaultKeepRuns, "report folders kept under OUT/runs (0: all)")
	fs.BoolVar(&o.once, "once", false, "read what is in the logs now and end (the default)")
	fs.BoolVar(&o.follow, "follow", false, "keep reading new events until Ctrl-C; analyse and alert whenever the logs go quiet")
	fs.IntVar(&o.batch, "batch", live.DefaultBatchSize, "events per read from the event log service (1-1024)")
	fs.DurationVar(&o.budget, "read-budget", 0, "a single run stops reading after this long and leaves the rest to the next run (0: no limit)")
}

// parseLiveFlags parses live's flags; the int is an exit code when done
// (help, or a usage error), else -1.
func parseLiveFlags(args []string, stdout, stderr io.Writer) (*liveOptions, int) {
	fs := pflag.NewFlagSet("live", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	var o liveOptions
	o.addFlags(fs)
	help := fs.BoolP("help", "h", false, "show this help")
	fs.Usage = func() { fmt.Fprint(stderr, liveUsage); fs.PrintDefaults(); fmt.Fprint(stderr, exitCodesHelp) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil, exitOK
		}
		fmt.Fprintf(stderr, "evtxscan live: %v\n\n", err)
		fs.Usage()
		return nil, exitUsage
	}
	if *help {
		fs.SetOutput(stdout)
		fmt.Fprint(stdout, liveUsage)
		fs.PrintDefaults()
		fmt.Fprint(stdout, exitCodesHelp)
		return nil, exitOK
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "evtxscan live: unexpected argument %q (live reads this machine's logs; for files use evtxscan scan)\n", fs.Arg(0))
		return nil, exitUsage
	case o.once && o.follow:
		fmt.Fprintln(stderr, "evtxscan live: --once and --follow exclude each other")
		return nil, exitUsage
	case o.budget < 0:
		fmt.Fprintf(stderr, "evtxscan live: --read-budget %s: use 0 (no limit) or a positive duration such as 20m\n", o.budget)
		return nil, exitUsage
	case o.batch < 1 || o.batch > live.MaxBatchSize:
		fmt.Fprintf(stderr, "evtxscan live: --batch %d: use 1 to %d\n", o.batch, live.MaxBatchSize)
		return nil, exitUsage
	case o.keepRuns < 0:
		fmt.Fprintf(stderr, "evtxscan live: --keep-runs %d: use 0 (keep all) or more\n", o.keepRuns)
		return nil, exitUsage
	}
	return &o, -1
}

func runLive(args []string, stdout, stderr io.Writer) int {
	o, code := parseLiveFlags(args, stdout, stderr)
	if o == nil {
		return code
	}
	cfg, err := o.analysisFlags.config(time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "evtxscan live: %v\n", err)
		return exitUsage
	}
	if o.rulesNote != "" {
		fmt.Fprintln(stderr, o.rulesNote)
	}
	// The data folder first: nothing (the outbox) may create it unprotected.
	if o.dataDir != "" {
		if code := secureDataDir(live.WindowsSecurity(), o.dataDir, []string{o.state, cfg.Report.Dir, o.notify.Outbox}, stderr); code != exitOK {
			return code
		}
	}
	notifier, err := o.notify.Notifier(nil)
	if err != nil {
		fmt.Fprintf(stderr, "evtxscan live: %v\n", err)
		return exitUsage
	}
	if runtime.GOOS != "windows" {
		fmt.Fprintln(stderr, "evtxscan live: live mode works only on Windows; offline use: evtxscan scan FILES (e.g. a copy of C:\\Windows\\System32\\winevt\\Logs)")
		return exitUsage
	}
	o.sig = handleSignals(context.Background(), stderr, "live")
	defer o.sig.stop()
	ctx := o.sig.ctx

	src, err := live.Open(ctx, live.Config{
		Filter:     cfg.Filter,
		StatePath:  o.state,
		Follow:     o.follow,
		BatchSize:  o.batch,
		ReadBudget: o.budget,
		Warn:       func(msg string) { fmt.Fprintln(stderr, "warning:", msg) },
	})
	if err != nil {
		fmt.Fprintf(stderr, "evtxscan live: %v\n", err)
		return exitUsage
	}
	defer src.Close()
	// The channels were chosen by the query; forwarded events keep their
	// origin's channel, so the analysis must not filter on it again.
	cfg.Filter.Channels = nil
	if !o.quiet {
		fmt.Fprintf(stderr, "live: reading %s\n", strings.Join(src.Channels(), ", "))
	}
	if !o.follow {
		return o.liveOnce(ctx, src, cfg, notifier, stderr)
	}
	return o.liveFollow(ctx, src, cfg, notifier, stderr)
}

// liveOnce analyses what the logs hold now, alerts, then saves the state.
func (o *liveOptions) liveOnce(ctx context.Context, src *live.Source, cfg analysis.Config, notifier *notify.Notifier, stderr io.Writer) int {
	res, code := o.liveRunInFolder(ctx, src, cfg, notifier, "evtxscan live report", time.Now(), stderr)
	if res == nil {
		return code
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "evtxscan live: interrupted; the state was not saved, the next run reads these events again")
		return o.interruptedCode()
	}
	if err := src.Commit(); err != nil {
		fmt.Fprintf(stderr, "evtxscan live: %v\n", err)
		return exitUsage
	}
	return code
}

// liveFollow analyses cycle after cycle until Ctrl-C.
func (o *liveOptions) liveFollow(ctx context.Context, src *live.Source, cfg analysis.Config, notifier *notify.Notifier, stderr io.Writer) int {
	worst := exitOK
	alertsLeft := false
	if notifier != nil {
		// Alerts that failed are retried on their backoff even while the
		// logs stay quiet (the outbox lock keeps this from racing a cycle).
		go func() {
			t := time.NewTicker(time.Minute)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					d, err := notifier.Flush(ctx)
					if ctx.Err() == nil && (len(d.Sent) > 0 || err != nil || tried(d)) {
						reportDelivery(d, err, notifier.Outbox().Dir(), true, stderr)
					}
				}
			}
		}()
	}
	for ctx.Err() == nil {
		cycle := src.Cycle(followQuiet, followMax)
		start := time.Now().UTC()
		res, code := o.liveRunInFolder(ctx, cycle, cfg, notifier, "evtxscan live report "+start.Format(time.RFC3339), start, stderr)
		if res == nil {
			return code
		}
		if code == exitFindings {
			worst = exitFindings
		}
		alertsLeft = code == exitAlerts
		if res.Read == 0 && ctx.Err() != nil {
			return o.interruptedCode() // the empty cycle cut short by Ctrl-C
		}
		if res.Read > 0 && !o.quiet {
			fmt.Fprintf(stderr, "live: %s: %d events, %d findings\n", start.Format(time.RFC3339), res.Read, len(res.Findings))
		}
		if ctx.Err() != nil {
			return o.interruptedCode() // an interrupted cycle is read again by the next run
		}
		if err := src.Commit(); err != nil {
			fmt.Fprintf(stderr, "evtxscan live: %v\n", err)
			return exitUsage
		}
	}
	if worst == exitOK && alertsLeft {
		return exitAlerts // the last cycle left alerts undelivered
	}
	return worst
}

// interruptedCode is the exit code after a signal (130 or 143).
func (o *liveOptions) interruptedCode() int {
	if o.sig != nil {
		if code := o.sig.exitCode(); code != 0 {
			return code
		}
	}
	return exitInterrupted
}

// liveRunInFolder runs liveRun with its reports in a folder of their own,
// OUT/runs/<start>, and, when the run read events, copies them to
// OUT/latest; a run that read nothing leaves no folder and keeps the
// previous findings in OUT/latest (live.RunFolders). Without --format
// there is nothing to keep.
func (o *liveOptions) liveRunInFolder(ctx context.Context, src analysis.Source, cfg analysis.Config, notifier *notify.Notifier, title string, start time.Time, stderr io.Writer) (*analysis.Result, int) {
	if len(cfg.Report.Formats) == 0 {
		return o.liveRun(ctx, src, cfg, notifier, title, stderr)
	}
	runs := live.RunFolders{Dir: cfg.Report.Dir, Keep: o.keepRuns}
	dir, err := runs.New(start)
	if err != nil {
		fmt.Fprintf(stderr, "evtxscan live: %v\n", err)
		return nil, exitUsage
	}
	cfg.Report.Dir = dir
	res, code := o.liveRun(ctx, src, cfg, notifier, title, stderr)
	switch {
	case res == nil:
		runs.Discard(dir)
	case ctx.Err() != nil:
		// Interrupted: the events are read again by the next run, which
		// becomes the latest; an empty folder goes.
		if res.Read == 0 {
			_ = os.RemoveAll(dir)
		}
	default:
		if err := runs.Finish(dir, res.Read, len(res.Findings), time.Now()); err != nil {
			fmt.Fprintf(stderr, "evtxscan live: %v\n", err)
			return nil, exitUsage
		}
	}
	return res, code
}

// secureDataDir creates or checks the data folder (--data-dir), repairing
// or refusing it (live.SecureDataFolder), and warns about the paths in
// paths (state, reports, outbox) that are outside it.
func secureDataDir(store live.SecurityStore, dir string, paths []string, stderr io.Writer) int {
	if store == nil {
		return exitOK // no NTFS permissions to check (live refuses to run off Windows anyway)
	}
	dir = absPath(dir)
	repaired, err := live.SecureDataFolder(store, dir, nil)
	if err != nil {
		fmt.Fprintf(stderr, "evtxscan live: %v\n", err)
		return exitUsage
	}
	if len(repaired) > 0 {
		fmt.Fprintf(stderr, "warning: the permissions of %s were reset to SYSTEM and Administrators only (it %s)\n", dir, strings.Join(repaired, ", "))
	}
	for _, p := range paths {
		if p == "" {
			continue
		}
		rel, err := filepath.Rel(dir, absPath(p))
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			fmt.Fprintf(stderr, "warning: %s is outside --data-dir %s: its permissions are not checked\n", p, dir)
		}
	}
	return exitOK
}

// liveRun runs one analysis and hands its findings to the notifier. It
// returns a nil result when the run failed (the code says how).
func (o *liveOptions) liveRun(ctx context.Context, src analysis.Source, cfg analysis.Config, notifier *notify.Notifier, title string, stderr io.Writer) (*analysis.Result, int) {
	var warnings []string
	cfg.Warn = func(err error) { warnings = append(warnings, err.Error()) }
	cfg.Report.Title = title
	if len(cfg.Report.Formats) > 0 {
		if err := os.MkdirAll(cfg.Report.Dir, 0o755); err != nil {
			fmt.Fprintf(stderr, "evtxscan: cannot create the report folder %s: %v (choose another with --out)\n", cfg.Report.Dir, err)
			return nil, exitUsage
		}
	}
	res, err := analysis.Run(ctx, src, cfg)
	if err != nil && ctx.Err() != nil {
		// Stopped by a signal: no report was written (a cycle's folder,
		// made above, is removed when empty) and the state is not saved.
		if o.follow {
			_ = os.Remove(cfg.Report.Dir)
		}
		fmt.Fprintln(stderr, "evtxscan live: interrupted; the state was not saved, the next run reads these events again")
		return nil, o.interruptedCode()
	}
	if err != nil {
		printRunError(stderr, "live", err)
		return nil, exitUsage
	}
	printWarnings(stderr, warnings)
	if notifier != nil && len(res.Findings) > 0 {
		// Queued alerts are on disk: only then may the state move on.
		if err := notifier.Queue(res.Findings); err != nil {
			fmt.Fprintf(stderr, "evtxscan live: %v\n", err)
			return nil, exitUsage
		}
	}
	alertsOK := true
	if notifier != nil {
		alertsOK = deliverAlerts(ctx, notifier, nil, o.quiet || o.follow, stderr)
	}
	if !o.quiet && !o.follow {
		printSummary(stderr, res, cfg)
	}
	code := exitOK
	for _, st := range res.Files {
		if st.Err != nil {
			code = exitUnreadable
		}
	}
	if o.failLevel != "" {
		l, _ := rules.ParseLevel(strings.ToLower(o.failLevel))
		if res.CountAtLeast(l) > 0 {
			code = exitFindings
		}
	}
	if code == exitOK && !alertsOK {
		code = exitAlerts
	}
	return res, code
}
