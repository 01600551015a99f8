// Package report turns events, findings, uninstall sessions and per-file
// accounting into the files an analyst hands over after a post-mortem:
//
//   - report.xlsx: sheets Summary, Findings, Uninstalls and Timeline
//     (continued in "Timeline 2", "Timeline 3"… at Excel's 1,048,576-row
//     limit), written with excelize's stream writer so memory stays flat;
//   - report.html: one self-contained page (no network access of any kind)
//     with summary cards, findings by severity, uninstall sessions, a
//     histogram and a filterable, sortable timeline;
//   - findings.csv, timeline.csv: flat tables for spreadsheets and
//     Timeline Explorer;
//   - findings.jsonl (a public format: see [Writer.Close]) and
//     timeline.jsonl, which Timesketch imports as it is;
//   - run.json, with the CSV or JSONL files: the build that wrote them
//     (Summary.Tool) and the run's counts.
//
// Data formats (JSONL) keep times in UTC (RFC 3339, 100 ns); display formats
// (xlsx, HTML, CSV) show [Options.Location] with the UTC offset on every
// value.
//
// The timeline is streamed: [Writer.AddEvent] writes each event to the xlsx
// stream, the CSV and JSONL files and a temporary file that Close embeds in
// the HTML page, so no format holds all events in memory.
//
// # Security
//
// Event text is attacker-controlled. In every display format, control
// characters, bidirectional overrides and invisible characters are shown as
// escapes (\x07, \u202e), line breaks as " ⏎ ", and long values are cut with
// a visible marker. No xlsx or CSV cell starts like a formula (=, +, -, @,
// tab, CR get a leading apostrophe). The HTML page is built with
// html/template, embeds events as JSON that cannot close its <script>
// element, renders them with textContent only, and carries a Content
// Security Policy that allows no network request and only its own script.
package report

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/evtxscan/evtxscan/parser"
	"github.com/evtxscan/evtxscan/rules"
	"github.com/evtxscan/evtxscan/uninstall"
)

// Output file names in Options.Dir; they are a public interface.
const (
	XLSXName          = "report.xlsx"
	HTMLName          = "report.html"
	FindingsCSVName   = "findings.csv"
	TimelineCSVName   = "timeline.csv"
	FindingsJSONLName = "findings.jsonl"
	TimelineJSONLName = "timeline.jsonl"
)

// Formats lists the format names Options.Formats accepts.
var Formats = []string{"xlsx", "html", "csv", "jsonl"}

// DefaultHTMLTimelineLimit is how many events the HTML timeline embeds when
// Options.HTMLTimelineLimit is 0. At about 250 bytes an event the page stays
// near 50 MB, which browsers open comfortably.
const DefaultHTMLTimelineLimit = 200_000

// Options says what to write and how to show it.
type Options struct {
	Dir      string         // output folder, created if missing
	Formats  []string       // any of "xlsx", "html", "csv", "jsonl"; empty = all
	Location *time.Location // display time zone (--tz); nil = UTC
	Title    string         // e.g. "evtxscan report — 3 files"
	// HTMLTimelineLimit caps the events embedded in the HTML timeline
	// (0 = DefaultHTMLTimelineLimit); the page says so when it cuts.
	HTMLTimelineLimit int
}

// Summary is everything a report shows besides the timeline.
type Summary struct {
	Files      []parser.Stats       // per input file accounting (Err set = unreadable)
	Findings   []rules.Finding      // all findings, any order
	Incidents  []uninstall.Incident // every operation (install, removal, upgrade…)
	Started    time.Time            // when the run started
	Elapsed    time.Duration        // how long it took
	Duplicates int                  // records dropped by --dedup
	Rules      int                  // rules loaded
	Tool       string               // "evtxscan vX"
}

// A Writer writes the reports of one run. Call AddEvent for every event in
// time order, then Close once; a run that stops early calls Abort instead.
// A Writer is not safe for concurrent use; internally the workbook is
// written on its own goroutine (see pipe.go, xlsxrows.go).
//
// Reports are replaced atomically: every file and every temporary file
// (the HTML timeline, the deflated Timeline rows, excelize's stream
// buffers) is written in a hidden folder .evtxscan-run-<pid>-<random> in
// Options.Dir, and only a successful Close renames the reports into
// Options.Dir, all at the end. After an error, Abort, kill -9 or a full
// disk the folder keeps its previous reports; New removes the hidden
// folders of runs that are gone (see stage.go).
//
// Memory: the Timeline rows are deflated to disk as they come (about 320 KB
// of buffers per sheet), the HTML writer keeps 12 bytes per embedded event;
// nothing else grows with the number of events.
type Writer struct {
	opts Options
	loc  *time.Location

	xlsx     *xlsxWriter
	pipe     *rowPipe // xlsx rows go through it, written on their own goroutine
	htmlPipe *rowPipe // and HTML rows through this one
	html     *htmlWriter
	csv      *csvWriter
	jsonl    *jsonlWriter
	stage    *stage // where the files are written until Close succeeds

	events    int
	first     time.Time
	last      time.Time
	byLevel   map[string]int // event level name → count
	eventHist histogram
	err       error // sticky: the first write error
	closed    bool
}

// New creates opts.Dir and opens the outputs. It fails on an unknown format
// or an output that cannot be created, naming the path.
func New(opts Options) (*Writer, error) {
	if opts.Dir == "" {
		return nil, errors.New("report: no output folder given: pass --out DIR")
	}
	formats := opts.Formats
	if len(formats) == 0 {
		formats = Formats
	}
	want := map[string]bool{}
	for _, f := range formats {
		f = strings.ToLower(strings.TrimSpace(f))
		if !slices.Contains(Formats, f) {
			return nil, fmt.Errorf("report: unknown format %q: use any of %s", f, strings.Join(Formats, ", "))
		}
		want[f] = true
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, &WriteError{Path: opts.Dir, Err: fmt.Errorf("cannot create the folder: %w", unwrapPath(err))}
	}
	if opts.HTMLTimelineLimit <= 0 {
		opts.HTMLTimelineLimit = DefaultHTMLTimelineLimit
	}
	st, err := newStage(opts.Dir)
	if err != nil {
		return nil, err
	}
	w := &Writer{opts: opts, loc: opts.Location, byLevel: map[string]int{}, stage: st}
	if w.loc == nil {
		w.loc = time.UTC
	}
	if want["xlsx"] && err == nil {
		w.xlsx, err = newXLSXWriter(st, w.loc)
	}
	if want["html"] && err == nil {
		w.html, err = newHTMLWriter(st, w.loc, opts.HTMLTimelineLimit)
	}
	if want["csv"] && err == nil {
		w.csv, err = newCSVWriter(st, w.loc)
	}
	if want["jsonl"] && err == nil {
		w.jsonl, err = newJSONLWriter(st)
	}
	if err != nil {
		w.abort()
		return nil, err
	}
	if w.xlsx != nil {
		w.pipe = newRowPipe(w.xlsx)
	}
	if w.html != nil {
		w.htmlPipe = newRowPipe(w.html)
	}
	return w, nil
}

// An eventRow is what every timeline shows of one event, computed once.
type eventRow struct {
	ev      *parser.Event
	time    time.Time // UTC
	level   string    // level name as Event Viewer shows it
	details string    // message or compact data, raw
}

// AddEvent appends ev to every timeline. The caller passes events in time
// order. After an error every later call returns the same error.
func (w *Writer) AddEvent(ev *parser.Event) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return errors.New("report: AddEvent after Close")
	}
	row := eventRow{ev: ev, time: ev.Time().UTC(), level: parser.LevelName(ev.System.Level), details: details(ev)}
	w.events++
	if !row.time.IsZero() {
		if w.first.IsZero() || row.time.Before(w.first) {
			w.first = row.time
		}
		if row.time.After(w.last) {
			w.last = row.time
		}
	}
	w.byLevel[row.level]++
	w.eventHist.add(row.time)
	if w.pipe != nil {
		w.setErr(w.pipe.event(&row))
	}
	if w.htmlPipe != nil {
		w.setErr(w.htmlPipe.event(&row))
	}
	if w.csv != nil {
		w.setErr(w.csv.event(&row))
	}
	if w.jsonl != nil {
		w.setErr(w.jsonl.event(&row))
	}
	return w.err
}

func (w *Writer) setErr(err error) {
	if err != nil && w.err == nil {
		w.err = err
	}
}

// Close writes the summary parts of every report, finishes the files and
// moves them into Options.Dir. Findings are shown sorted by time (then rule
// id), sessions by start. On an error (a *WriteError naming the report) no
// report in Options.Dir has changed.
//
// findings.jsonl has one object per finding: rule_id, title, level,
// description, time (RFC 3339 UTC), computer, fields (an object in the rule's
// display order), tags, and events (each file, record_id, event_id,
// provider, channel, time); findings that are incidents add summary (one
// line: what happened, the root cause, what to do next) and incident (kind,
// outcome, reason, product, version, product_code, cause_code, cause_name,
// cause_meaning, advice, signals).
func (w *Writer) Close(s Summary) error {
	if w.closed {
		return errors.New("report: Close called twice")
	}
	w.closed = true
	if w.pipe != nil {
		w.setErr(w.pipe.finish())
	}
	if w.htmlPipe != nil {
		w.setErr(w.htmlPipe.finish())
	}
	if w.err != nil {
		w.abort()
		return w.err
	}
	v := w.view(&s)
	// The workbook is saved (deflated) while the other reports are written.
	var xlsxDone chan error
	if w.xlsx != nil {
		xlsxDone = make(chan error, 1)
		go func() { xlsxDone <- w.xlsx.close(v) }()
	}
	if w.html != nil {
		w.setErr(w.html.close(v))
	}
	if w.csv != nil {
		w.setErr(w.csv.close(v))
	}
	if w.jsonl != nil {
		w.setErr(w.jsonl.close(v))
	}
	if w.csv != nil || w.jsonl != nil {
		w.setErr(writeRunInfo(w.stage, v))
	}
	if xlsxDone != nil {
		w.setErr(<-xlsxDone)
	}
	if w.err == nil {
		w.setErr(w.stage.commit())
	}
	if w.err != nil {
		w.abort()
	}
	return w.err
}

// Abort stops the writers' goroutines and removes what they wrote, for a
// run that ends without Close (an error or a cancellation): the reports in
// Options.Dir stay as they were. It does nothing after Close.
func (w *Writer) Abort() {
	if w.closed {
		return
	}
	w.closed = true
	if w.pipe != nil {
		w.pipe.finish()
	}
	if w.htmlPipe != nil {
		w.htmlPipe.finish()
	}
	w.abort()
}

// abort releases every temporary file after a failure, and the reports
// written so far: the output folder keeps its previous reports.
func (w *Writer) abort() {
	defer w.stage.remove()
	if w.xlsx != nil {
		w.xlsx.abort()
	}
	if w.html != nil {
		w.html.abort()
	}
	if w.csv != nil {
		w.csv.abort()
	}
	if w.jsonl != nil {
		w.jsonl.abort()
	}
}
