package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/evtxscan/evtxscan/analysis"
	"github.com/evtxscan/evtxscan/input"
	"github.com/evtxscan/evtxscan/notify"
	"github.com/evtxscan/evtxscan/parser"
	"github.com/evtxscan/evtxscan/report"
	"github.com/evtxscan/evtxscan/rules"
)

func init() {
	register(&command{name: "scan", summary: "analyse .evtx files, folders or .zip collections and write reports", run: runScan})
}

const scanUsage = `Usage: evtxscan scan [flags] PATH...

Reads every event log under PATH (files, folders recursively, glob patterns,
.zip collections from KAPE or Velociraptor, renamed files that start with the
EVTX signature), runs the rules, and writes findings and a timeline.

Examples:
  evtxscan scan testdata/evtx
  evtxscan scan --since 7d --id 1033-1042,11000-11999 'C:\Cases\WS01\Logs'
  evtxscan scan --format xlsx,html,csv,jsonl --tz Europe/Berlin collection.zip
  evtxscan scan --fail-level high --format jsonl --out /tmp/r logs/ && echo clean

Flags:
`

// scanOptions are the flags of scan (the analysis flags are shared with live).
type scanOptions struct {
	analysisFlags
	notify  notify.Flags
	recover bool
	workers int
}

// analysisFlags are the flags scan and live share: filters, rules, output.
type analysisFlags struct {
	rulesNote string // set by config: how many --rules were skipped as unsupported
	out       string
	formats   []string
	tz        string
	channels  []string
	providers []string
	ids       []string
	levels    []string
	since     string
	until     string
	computers []string
	keywords  []string
	rulePaths []string
	noBuiltin bool
	minLevel  string
	failLevel string
	dedup     bool
	messages  string
	quiet     bool
	htmlLimit int
}

func (o *analysisFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.out, "out", "o", "evtxscan-report", "folder for the reports (created)")
	fs.StringSliceVarP(&o.formats, "format", "f", []string{"xlsx", "html"}, "reports to write: any of xlsx,html,csv,jsonl")
	fs.StringVar(&o.tz, "tz", "UTC", "time zone reports show: an IANA name (Europe/Berlin) or ±hh:mm; data stays UTC")
	fs.StringSliceVar(&o.channels, "channel", nil, "only these channels (e.g. Application,System)")
	fs.StringSliceVar(&o.providers, "provider", nil, "only these providers (e.g. MsiInstaller)")
	fs.StringSliceVar(&o.ids, "id", nil, "only these event ids: lists and ranges (1034,11000-11999)")
	fs.StringSliceVar(&o.levels, "level", nil, "only these levels: critical,error,warning,information,verbose or numbers")
	fs.StringVar(&o.since, "since", "", "only events at or after: RFC 3339, a date, or back from now (24h, 7d)")
	fs.StringVar(&o.until, "until", "", "only events before: RFC 3339, a date, or back from now")
	fs.StringSliceVar(&o.computers, "computer", nil, "only these computer names")
	fs.StringSliceVar(&o.keywords, "keyword", nil, "only events with this text in any value (case-insensitive)")
	fs.StringArrayVar(&o.rulePaths, "rules", nil, "add Sigma rules / field maps from a file or folder (repeatable)")
	fs.BoolVar(&o.noBuiltin, "no-builtin", false, "leave the built-in uninstall rule pack out")
	fs.StringVar(&o.minLevel, "min-level", "informational", "drop findings below: informational,low,medium,high,critical")
	fs.StringVar(&o.failLevel, "fail-level", "", "exit 1 when a finding is at or above this level")
	fs.BoolVar(&o.dedup, "dedup", false, "count a record seen in several files (VSS or backup copies) once")
	fs.StringVar(&o.messages, "messages", "", "extra message table (YAML, e.g. from 'evtxscan messages export')")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "no progress bar and no summary on stderr")
	fs.IntVar(&o.htmlLimit, "html-limit", report.DefaultHTMLTimelineLimit, "most events the HTML timeline embeds (the page says when it is cut; other formats are complete)")
}

func runScan(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("scan", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	var o scanOptions
	o.addFlags(fs)
	fs.BoolVar(&o.recover, "recover", false, "also carve records from chunk slack and damaged regions (marked recovered)")
	fs.IntVar(&o.workers, "workers", 0, "chunks decoded in parallel (0 = all cores)")
	o.notify.AddFlags(fs)
	help := fs.BoolP("help", "h", false, "show this help")
	fs.Usage = func() {
		fmt.Fprint(stderr, scanUsage)
		fs.PrintDefaults()
		fmt.Fprint(stderr, exitCodesHelp)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "evtxscan scan: %v\n\n", err)
		fs.Usage()
		return exitUsage
	}
	if *help {
		fs.SetOutput(stdout)
		fmt.Fprint(stdout, scanUsage)
		fs.PrintDefaults()
		fmt.Fprint(stdout, exitCodesHelp)
		return exitOK
	}
	if o.workers < 0 {
		fmt.Fprintf(stderr, "evtxscan scan: --workers %d: give 0 (one per core) or a positive number\n", o.workers)
		return exitUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "evtxscan scan: name at least one file, folder or .zip to scan (e.g. evtxscan scan C:\\Windows\\System32\\winevt\\Logs)")
		return exitUsage
	}
	cfg, err := o.analysisFlags.config(time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "evtxscan scan: %v\n", err)
		return exitUsage
	}
	items, inputErrs := input.Expand(fs.Args(), input.Options{})
	if len(items) == 0 {
		// Nothing to read: reports would only say so, and would replace
		// the good ones of an earlier run with empty ones.
		for _, err := range inputErrs {
			fmt.Fprintf(stderr, "evtxscan scan: %s\n", inputMessage(err))
		}
		fmt.Fprintf(stderr, "evtxscan scan: no event log (.evtx, or a file starting with the EVTX signature) to read in %s: no report written\n", strings.Join(fs.Args(), ", "))
		return exitUnreadable
	}
	prog := &analysis.Progress{}
	src := &analysis.FileSource{Items: items, InputErrors: inputErrs, Options: parser.Options{Recover: o.recover, Workers: o.workers}, Progress: prog}
	cfg.Progress = prog
	var source analysis.Source = src
	if wrapScanSource != nil {
		source = wrapScanSource(source)
	}
	var total int64
	for _, it := range items {
		total += it.Size
	}
	notifier, err := o.notify.Notifier(nil)
	if err != nil {
		fmt.Fprintf(stderr, "evtxscan scan: %v\n", err)
		return exitUsage
	}
	return o.analysisFlags.execute(cfg, source, notifier, len(items), total, stdout, stderr)
}

// wrapScanSource, when set (by tests only), wraps scan's source: the
// interruption tests stop a real scan at a known point.
var wrapScanSource func(analysis.Source) analysis.Source

const exitCodesHelp = `
Exit codes: 0 done; 1 findings at or above --fail-level (takes precedence over 3
and 4); 2 usage error or the reports could not be written (the previous ones are
kept); 3 incomplete: some input could not be read, or lost records (lost, missing
by its headers' accounting, or truncated); the rest was scanned and the summary
and reports say which file lost how many and why (nothing readable: no report;
takes precedence over 4); 4 some alerts were not delivered (named on stderr; they
wait in the outbox and the next run with --notify retries them); 130/143 stopped
by SIGINT/SIGTERM (previous reports kept).
`

// config turns the flags into an analysis configuration.
func (o *analysisFlags) config(now time.Time) (analysis.Config, error) {
	var cfg analysis.Config
	var err error
	if cfg.Filter, err = buildFilter(o, now); err != nil {
		return cfg, err
	}
	for _, f := range o.formats {
		switch f = strings.ToLower(strings.TrimSpace(f)); f {
		case "xlsx", "html", "csv", "jsonl":
			cfg.Report.Formats = append(cfg.Report.Formats, f)
		case "":
		default:
			return cfg, fmt.Errorf("--format %q: choose from xlsx, html, csv, jsonl", f)
		}
	}
	if cfg.Report.Location, err = report.ParseLocation(o.tz); err != nil {
		return cfg, fmt.Errorf("--tz: %v", err)
	}
	cfg.Report.Dir = o.out
	if o.htmlLimit < 1 {
		return cfg, fmt.Errorf("--html-limit %d: give a positive number of events", o.htmlLimit)
	}
	cfg.Report.HTMLTimelineLimit = o.htmlLimit
	var ok bool
	if cfg.MinLevel, ok = rules.ParseLevel(strings.ToLower(o.minLevel)); !ok {
		return cfg, fmt.Errorf("--min-level %q: choose from informational, low, medium, high, critical", o.minLevel)
	}
	if o.failLevel != "" {
		if _, ok := rules.ParseLevel(strings.ToLower(o.failLevel)); !ok {
			return cfg, fmt.Errorf("--fail-level %q: choose from informational, low, medium, high, critical", o.failLevel)
		}
	}
	rs, note, err := loadRuleset(o.noBuiltin, o.rulePaths)
	if err != nil {
		return cfg, err
	}
	cfg.Rules = rs
	o.rulesNote = note
	if cfg.Messages, err = loadMessages(o.messages); err != nil {
		return cfg, err
	}
	cfg.Dedup = o.dedup
	cfg.Tool = buildName()
	return cfg, nil
}

// execute runs the analysis with a progress bar and prints the summary.
func (o *analysisFlags) execute(cfg analysis.Config, src analysis.Source, notifier *notify.Notifier, nfiles int, total int64, stdout, stderr io.Writer) int {
	if len(cfg.Report.Formats) > 0 {
		if err := os.MkdirAll(cfg.Report.Dir, 0o755); err != nil {
			fmt.Fprintf(stderr, "evtxscan: cannot create the report folder %s: %v (choose another with --out)\n", cfg.Report.Dir, err)
			return exitUsage
		}
	}
	if o.rulesNote != "" {
		fmt.Fprintln(stderr, o.rulesNote)
	}
	cfg.Report.Title = fmt.Sprintf("evtxscan report — %d files", nfiles)
	var warnings []string
	unreadable := 0
	cfg.Warn = func(err error) {
		var fe *analysis.FileError
		if errors.As(err, &fe) && fe.Fatal {
			unreadable++
		}
		warnings = append(warnings, err.Error())
	}
	bar := newProgressBar(stderr, cfg.Progress, nfiles, total, o.quiet)
	bar.start()
	sig := handleSignals(context.Background(), stderr, "scan")
	defer sig.stop()
	ctx := sig.ctx
	res, err := analysis.Run(ctx, src, cfg)
	bar.stop()
	if code := sig.exitCode(); code != 0 {
		if len(cfg.Report.Formats) > 0 {
			fmt.Fprintf(stderr, "evtxscan scan: stopped before the end: no report written, the reports in %s are unchanged\n", cfg.Report.Dir)
		}
		return code
	}
	if err != nil {
		printRunError(stderr, "scan", err)
		return exitUsage
	}
	printWarnings(stderr, warnings)
	if !o.quiet {
		printSummary(stderr, res, cfg)
	}
	alertsOK := true
	printIncomplete(stderr, res)
	if notifier != nil {
		// Alerts are in the outbox before delivery starts: what is not
		// delivered now is retried by the next run, but a scheduled run
		// must not look clean while alerts are stuck: exit 4.
		alertsOK = deliverAlerts(ctx, notifier, res.Findings, o.quiet, stderr)
	}
	if code := sig.exitCode(); code != 0 {
		return code // stopped while delivering: the reports are complete
	}
	if o.failLevel != "" {
		l, _ := rules.ParseLevel(strings.ToLower(o.failLevel))
		if res.CountAtLeast(l) > 0 {
			return exitFindings
		}
	}
	if len(res.Unreadable()) > 0 || unreadable > 0 || len(incompleteFiles(res)) > 0 {
		return exitUnreadable
	}
	if !alertsOK {
		return exitAlerts
	}
	return exitOK
}

// incompleteFiles returns the files that were read but lost evidence
// (records lost, missing or truncated); unreadable ones are listed apart.
func incompleteFiles(res *analysis.Result) []parser.Stats {
	var out []parser.Stats
	for _, st := range res.Files {
		if st.Err == nil && st.Incomplete() {
			out = append(out, st)
		}
	}
	return out
}

// printWarnings prints each warning once; long lists are cut with a count.
func printWarnings(w io.Writer, warnings []string) {
	const max = 50
	for i, s := range warnings {
		if i == max {
			fmt.Fprintf(w, "warning: … and %d more (all are in the reports' Summary)\n", len(warnings)-max)
			break
		}
		fmt.Fprintf(w, "warning: %s\n", s)
	}
}

func printSummary(w io.Writer, res *analysis.Result, cfg analysis.Config) {
	mib := float64(res.Bytes) / (1 << 20)
	secs := res.Elapsed.Seconds()
	rate := 0.0
	if secs > 0 {
		rate = mib / secs
	}
	fmt.Fprintf(w, "\n%d files (%.1f MiB), %d events read, %d in the timeline", len(res.Files), mib, res.Read, res.Events)
	if res.Duplicates > 0 {
		fmt.Fprintf(w, ", %d duplicates dropped", res.Duplicates)
	}
	fmt.Fprintf(w, "; %s, %.1f MiB/s\n", res.Elapsed.Round(time.Millisecond), rate)
	var byLevel [5]int
	for _, f := range res.Findings {
		if f.Level >= 0 && int(f.Level) < len(byLevel) {
			byLevel[f.Level]++
		}
	}
	fmt.Fprintf(w, "%d findings: %d critical, %d high, %d medium, %d low, %d informational\n",
		len(res.Findings), byLevel[rules.LevelCritical], byLevel[rules.LevelHigh], byLevel[rules.LevelMedium], byLevel[rules.LevelLow], byLevel[rules.LevelInformational])
	if n := len(res.Incidents); n > 0 {
		fmt.Fprintf(w, "%d operations (installs, removals, upgrades…)\n", n)
	}
	if u := res.Unreadable(); len(u) > 0 {
		fmt.Fprintf(w, "%d files could not be read:\n", len(u))
		for _, s := range u {
			fmt.Fprintf(w, "  %s\n", analysis.FileMessage(s.File, true, s.Err))
		}
	}
	if len(cfg.Report.Formats) > 0 {
		fmt.Fprintf(w, "reports in %s:", cfg.Report.Dir)
		for _, name := range reportFileNames(cfg.Report.Formats) {
			fmt.Fprintf(w, " %s", filepath.Join(cfg.Report.Dir, name))
		}
		fmt.Fprintln(w)
	}
}

// printIncomplete names the files that lost evidence, how many records
// and why, even with --quiet: it says why the exit code is 3.
func printIncomplete(w io.Writer, res *analysis.Result) {
	if inc := incompleteFiles(res); len(inc) > 0 {
		fmt.Fprintf(w, "INCOMPLETE: %d files lost evidence (the reports' Summary lists every loss):\n", len(inc))
		for i := range inc {
			fmt.Fprintf(w, "  %s: %s\n", inc[i].File, parser.LossSummary(&inc[i]))
			for j, p := range inc[i].Losses() {
				if j == 5 {
					fmt.Fprintf(w, "    … and %d more\n", len(inc[i].Losses())-5)
					break
				}
				fmt.Fprintf(w, "    at offset 0x%x: %s\n", p.Offset, p.Reason)
			}
		}
	}
}
