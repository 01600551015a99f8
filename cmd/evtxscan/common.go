package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/evtxscan/evtxscan/analysis"
	"github.com/evtxscan/evtxscan/filter"
	"github.com/evtxscan/evtxscan/input"
	"github.com/evtxscan/evtxscan/messages"
	"github.com/evtxscan/evtxscan/rules"
)

// buildFilter turns the filter flags into a filter.Filter.
func buildFilter(o *analysisFlags, now time.Time) (filter.Filter, error) {
	f := filter.Filter{Channels: o.channels, Providers: o.providers, Computers: o.computers, Keywords: o.keywords}
	for _, s := range o.ids {
		r, err := filter.ParseIDs(s)
		if err != nil {
			return f, fmt.Errorf("--id: %v", err)
		}
		f.IDs = append(f.IDs, r...)
	}
	for _, s := range o.levels {
		l, err := filter.ParseLevels(s)
		if err != nil {
			return f, fmt.Errorf("--level: %v", err)
		}
		f.Levels = append(f.Levels, l...)
	}
	var err error
	if o.since != "" {
		if f.Since, err = filter.ParseTime(o.since, now); err != nil {
			return f, fmt.Errorf("--since: %v", err)
		}
	}
	if o.until != "" {
		if f.Until, err = filter.ParseTime(o.until, now); err != nil {
			return f, fmt.Errorf("--until: %v", err)
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return f, fmt.Errorf("--since %s is not before --until %s", f.Since.Format(time.RFC3339), f.Until.Format(time.RFC3339))
	}
	return f, nil
}

// loadRuleset loads the built-in pack (unless left out) and the user's rules.
// A broken rule (bad YAML, an invalid rule) is an error naming every
// problem as file:line:col; the caller stops with exit 2. Valid Sigma that
// evtxscan cannot run (another product, an unsupported modifier) is
// skipped: note says how many, and lists the first lint warnings of the
// user's rules (EventId for EventID), or is empty.
func loadRuleset(noBuiltin bool, paths []string) (rs *rules.Ruleset, note string, err error) {
	rs = rules.NewRuleset()
	if !noBuiltin {
		if err := rs.AddBuiltin(); err != nil {
			return nil, "", fmt.Errorf("built-in rules: %v", err)
		}
	}
	for _, p := range paths {
		if err := rs.AddPath(p); err != nil {
			return nil, "", fmt.Errorf("--rules %s: %v (check it with 'evtxscan rules lint %s')", p, err, p)
		}
	}
	var broken []string
	files := map[string]bool{}
	unsupported := 0
	for _, le := range rs.Skipped() {
		if le.Unsupported() {
			unsupported++
			continue
		}
		files[le.File] = true
		for _, p := range le.Problems {
			if p.Severity == rules.SeverityError {
				broken = append(broken, p.Error())
			}
		}
	}
	if len(broken) > 0 {
		return nil, "", fmt.Errorf("%d rule file(s) do not load; fix these problems or leave the files out of --rules (check with 'evtxscan rules lint %s'):\n  %s",
			len(files), strings.Join(paths, " "), strings.Join(broken, "\n  "))
	}
	var notes []string
	if unsupported > 0 {
		notes = append(notes, fmt.Sprintf("note: %d rule(s) skipped as valid Sigma evtxscan does not support (another product or log source, expand/time modifiers, …); 'evtxscan rules lint %s' lists them",
			unsupported, strings.Join(paths, " ")))
	}
	if len(paths) > 0 {
		warns := rs.Warnings()
		const show = 3
		for i, w := range warns {
			if i == show {
				notes = append(notes, fmt.Sprintf("… and %d more warning(s): 'evtxscan rules lint %s' lists them", len(warns)-show, strings.Join(paths, " ")))
				break
			}
			notes = append(notes, w.Error())
		}
	}
	return rs, strings.Join(notes, "\n"), nil
}

// loadMessages returns the built-in message table, with the user's on top.
func loadMessages(path string) (*messages.Table, error) {
	t := messages.Builtin()
	if path == "" {
		return t, nil
	}
	user, err := messages.Load(path)
	if err != nil {
		return nil, fmt.Errorf("--messages: %v", err)
	}
	t.Merge(user)
	return t, nil
}

// inputMessage words an input.Error as every file problem is worded.
func inputMessage(err error) string {
	var ie *input.Error
	if errors.As(err, &ie) {
		return analysis.FileMessage(ie.Name, true, ie.Err)
	}
	return err.Error()
}

// reportFileNames lists the files the formats write, as the README names them.
func reportFileNames(formats []string) []string {
	var out []string
	for _, f := range formats {
		switch f {
		case "xlsx":
			out = append(out, "report.xlsx")
		case "html":
			out = append(out, "report.html")
		case "csv":
			out = append(out, "findings.csv", "timeline.csv")
		case "jsonl":
			out = append(out, "findings.jsonl", "timeline.jsonl")
		}
	}
	return out
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	if v, ok := w.(visibleWriter); ok {
		w = v.unwrap()
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// A progressBar draws one status line on a terminal while a run works, and
// nothing at all when stderr is not a terminal.
type progressBar struct {
	w      io.Writer
	p      *analysis.Progress
	files  int
	total  int64
	on     bool
	begin  time.Time
	done   chan struct{}
	wg     sync.WaitGroup
	maxLen int
}

func newProgressBar(w io.Writer, p *analysis.Progress, files int, total int64, quiet bool) *progressBar {
	return &progressBar{w: w, p: p, files: files, total: total, on: !quiet && p != nil && isTerminal(w)}
}

func (b *progressBar) start() {
	if !b.on {
		return
	}
	b.begin = time.Now()
	b.done = make(chan struct{})
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-b.done:
				return
			case <-t.C:
				b.draw()
			}
		}
	}()
}

func (b *progressBar) draw() {
	mib := float64(b.p.Bytes.Load()) / (1 << 20)
	secs := time.Since(b.begin).Seconds()
	rate := 0.0
	if secs > 0 {
		rate = mib / secs
	}
	phase, _ := b.p.Phase.Load().(string)
	line := fmt.Sprintf("%s: %d/%d files, %.1f/%.1f MiB, %d events, %d findings, %.1f MiB/s",
		phase, b.p.Files.Load(), b.files, mib, float64(b.total)/(1<<20), b.p.Events.Load(), b.p.Findings.Load(), rate)
	if len(line) > b.maxLen {
		b.maxLen = len(line)
	}
	fmt.Fprintf(b.w, "\r%-*s", b.maxLen, line)
}

func (b *progressBar) stop() {
	if !b.on {
		return
	}
	close(b.done)
	b.wg.Wait()
	fmt.Fprintf(b.w, "\r%s\r", strings.Repeat(" ", b.maxLen))
}
