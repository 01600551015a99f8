package report

import (
	"bufio"
	"encoding/csv"
	"os"
	"strconv"
	"time"

	"github.com/evtxscan/evtxscan/parser"
	"github.com/evtxscan/evtxscan/rules"
)

// A flatFile is one streamed output file with a path for error messages.
type flatFile struct {
	path string
	f    *os.File
	w    *bufio.Writer
}

// createFlat creates report file name in the run's stage; path (for
// messages) is where it goes when the run succeeds.
func createFlat(st *stage, name string) (*flatFile, error) {
	f, path, err := st.create(name)
	if err != nil {
		return nil, err
	}
	return &flatFile{path: path, f: f, w: bufio.NewWriterSize(f, 256<<10)}, nil
}

func (ff *flatFile) finish() error {
	if ff == nil || ff.f == nil {
		return nil
	}
	err := ff.w.Flush()
	if cerr := ff.f.Close(); err == nil {
		err = cerr
	}
	ff.f = nil
	if err != nil {
		return writeErr(ff.path, err)
	}
	return nil
}

// abort closes the file (the stage it is in is removed).
func (ff *flatFile) abort() {
	if ff != nil && ff.f != nil {
		_ = ff.f.Close()
		ff.f = nil
	}
}

// A csvWriter writes timeline.csv as events stream and findings.csv at
// close. Cells are neutralized like spreadsheet cells, because CSV files end
// up in Excel.
type csvWriter struct {
	loc      *time.Location
	stage    *stage
	timeline *flatFile
	tw       *csv.Writer
	rec      []string
}

func newCSVWriter(st *stage, loc *time.Location) (*csvWriter, error) {
	tl, err := createFlat(st, TimelineCSVName)
	if err != nil {
		return nil, err
	}
	c := &csvWriter{loc: loc, stage: st, timeline: tl, tw: csv.NewWriter(tl.w), rec: make([]string, len(timelineHeader))}
	header := append([]string(nil), timelineHeader...)
	header[0] = "Time (" + zoneLabel(loc) + ")"
	if err := c.tw.Write(header); err != nil {
		tl.abort()
		return nil, err
	}
	return c, nil
}

func (c *csvWriter) event(r *eventRow) error {
	ev := r.ev
	c.rec[0] = displayTime(r.time, c.loc, 7)
	c.rec[1] = cellText(ev.System.Computer)
	c.rec[2] = cellText(ev.System.Channel)
	c.rec[3] = cellText(ev.System.Provider)
	c.rec[4] = strconv.Itoa(int(ev.System.EventID))
	c.rec[5] = r.level
	c.rec[6] = cellText(r.details)
	c.rec[7] = strconv.FormatUint(recordID(ev.Source.RecordID, ev.System.EventRecordID), 10)
	c.rec[8] = cellText(ev.Source.File)
	if err := c.tw.Write(c.rec); err != nil {
		return writeErr(c.timeline.path, err)
	}
	return nil
}

func (c *csvWriter) close(v *view) error {
	c.tw.Flush()
	if err := c.tw.Error(); err != nil {
		c.timeline.abort()
		return writeErr(c.timeline.path, err)
	}
	if err := c.timeline.finish(); err != nil {
		return err
	}
	ff, err := createFlat(c.stage, FindingsCSVName)
	if err != nil {
		return err
	}
	w := csv.NewWriter(ff.w)
	header := append([]string(nil), findingsHeader...)
	header[0] = "Time (" + v.zone + ")"
	_ = w.Write(header)
	for i := range v.findings {
		f := &v.findings[i]
		r := layoutFinding(f)
		rec := []string{v.displayTime(f.Time), f.Level.String(), f.RuleID, f.Title, f.Computer, r.Product, r.Version,
			r.Status, r.Meaning, r.User, r.Details, strconv.Itoa(len(f.Events)), r.File, strconv.FormatUint(r.RecordID, 10)}
		for j := range rec {
			rec[j] = cellText(rec[j])
		}
		_ = w.Write(rec)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		ff.abort()
		return writeErr(ff.path, err)
	}
	return ff.finish()
}

func (c *csvWriter) abort() { c.timeline.abort() }

// A jsonlWriter writes timeline.jsonl as events stream and findings.jsonl at
// close. JSONL is a data format: values are kept whole (JSON escapes what
// must be escaped), times are UTC.
type jsonlWriter struct {
	stage    *stage
	timeline *flatFile
	buf      []byte
	obj      objectWriter
}

func newJSONLWriter(st *stage) (*jsonlWriter, error) {
	tl, err := createFlat(st, TimelineJSONLName)
	if err != nil {
		return nil, err
	}
	return &jsonlWriter{stage: st, timeline: tl}, nil
}

// timelineMessage is the one-line text Timesketch shows for an event.
func timelineMessage(r *eventRow) string {
	ev := r.ev
	if ev.Message != "" {
		return ev.Message
	}
	head := ev.System.Provider + " " + strconv.Itoa(int(ev.System.EventID))
	if r.details == "" {
		return head
	}
	return head + ": " + r.details
}

func (j *jsonlWriter) event(r *eventRow) error {
	o := &j.obj
	o.begin(j.buf[:0])
	// Timesketch's required fields first, then the event as
	// `evtxscan dump --format jsonl` writes it (parser.AppendJSON), so the
	// two public formats cannot drift apart.
	o.str("message", timelineMessage(r))
	if r.time.IsZero() {
		o.str("datetime", "")
	} else {
		// Six fractional digits: every ISO 8601 parser Timesketch may use
		// accepts microseconds; "time" keeps the full 100 ns value.
		o.str("datetime", r.time.Format("2006-01-02T15:04:05.000000Z"))
		o.int("timestamp", r.time.UnixMicro())
	}
	o.str("timestamp_desc", "Event Time")
	o.str("level_name", r.level)
	// The dump object without its own "message" (already first here):
	// a shallow copy is cheap and leaves the caller's event untouched.
	ev := *r.ev
	ev.Message = ""
	n := len(o.b)
	b := parser.AppendJSON(o.b, &ev)
	switch {
	case len(b) > n+1 && b[n] == '{' && b[n+1] == '}': // empty object
		b = append(b[:n], '}')
	case len(b) > n && b[n] == '{': // splice: its brace becomes our comma
		b[n] = ','
	default:
		b = append(b[:n], '}')
	}
	j.buf = append(b, '\n')
	if _, err := j.timeline.w.Write(j.buf); err != nil {
		return writeErr(j.timeline.path, err)
	}
	return nil
}

func (j *jsonlWriter) close(v *view) error {
	if err := j.timeline.finish(); err != nil {
		return err
	}
	ff, err := createFlat(j.stage, FindingsJSONLName)
	if err != nil {
		return err
	}
	var buf []byte
	for i := range v.findings {
		buf = appendFindingJSON(buf[:0], &v.findings[i])
		buf = append(buf, '\n')
		if _, err := ff.w.Write(buf); err != nil {
			ff.abort()
			return writeErr(ff.path, err)
		}
	}
	return ff.finish()
}

func (j *jsonlWriter) abort() { j.timeline.abort() }

// appendFindingJSON appends one findings.jsonl object (without newline).
func appendFindingJSON(b []byte, f *rules.Finding) []byte {
	var o, in objectWriter
	o.begin(b)
	o.str("rule_id", f.RuleID)
	o.str("title", f.Title)
	o.str("level", f.Level.String())
	o.str("description", f.Description)
	o.str("time", dataTime(f.Time))
	o.str("computer", f.Computer)
	in.begin(nil)
	for _, d := range f.Fields {
		in.str(d.Name, d.Value)
	}
	o.raw("fields", in.end())
	tags := []byte{'['}
	for i, t := range f.Tags {
		if i > 0 {
			tags = append(tags, ',')
		}
		tags = appendJSONString(tags, t)
	}
	o.raw("tags", append(tags, ']'))
	evs := []byte{'['}
	for i, e := range f.Events {
		if i > 0 {
			evs = append(evs, ',')
		}
		in.begin(evs)
		in.str("file", e.File)
		in.uint("record_id", e.RecordID)
		in.uint("event_id", uint64(e.EventID))
		in.str("provider", e.Provider)
		in.str("channel", e.Channel)
		in.str("time", dataTime(e.Time))
		evs = in.end()
	}
	o.raw("events", append(evs, ']'))
	if f.Summary != "" {
		o.str("summary", f.Summary)
	}
	if in := f.Incident; in != nil {
		in2 := objectWriter{}
		in2.begin(nil)
		in2.str("kind", in.Kind)
		in2.str("outcome", in.Outcome)
		in2.str("reason", in.Reason)
		in2.str("product", in.Product)
		in2.str("version", in.Version)
		in2.str("product_code", in.ProductCode)
		in2.str("cause_code", in.CauseCode)
		in2.str("cause_name", in.CauseName)
		in2.str("cause_meaning", in.CauseMeaning)
		in2.str("advice", in.Advice)
		sig := []byte{'['}
		for i, s := range in.Signals {
			if i > 0 {
				sig = append(sig, ',')
			}
			sig = appendJSONString(sig, s)
		}
		in2.raw("signals", append(sig, ']'))
		o.raw("incident", in2.end())
	}
	return o.end()
}
