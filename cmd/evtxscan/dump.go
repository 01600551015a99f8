package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"

	"github.com/evtxscan/evtxscan/analysis"
	"github.com/evtxscan/evtxscan/input"
	"github.com/evtxscan/evtxscan/messages"
	"github.com/evtxscan/evtxscan/parser"
)

func init() {
	register(&command{
		name:    "dump",
		summary: "write every record of .evtx files as JSONL or XML (what the parser reads)",
		run:     runDump,
	})
}

// dumpOptions are the flags of evtxscan dump.
type dumpOptions struct {
	format   string
	recover  bool
	workers  int
	messages string
	table    *messages.Table
}

func (o *dumpOptions) addFlags(fl *pflag.FlagSet) {
	fl.StringVar(&o.format, "format", "jsonl", "output format: jsonl (one object per record) or xml (one <Event> per line)")
	fl.BoolVar(&o.recover, "recover", false, "also carve records from chunk slack and damaged chunks (marked recovered)")
	fl.IntVar(&o.workers, "workers", 0, "chunks decoded in parallel per file (0 = number of CPUs)")
	fl.StringVar(&o.messages, "messages", "", "extra message table (YAML, e.g. from 'evtxscan messages export'); the built-in one is always used")
}

func runDump(args []string, stdout, stderr io.Writer) int {
	var o dumpOptions
	fl := pflag.NewFlagSet("dump", pflag.ContinueOnError)
	fl.SetOutput(stderr)
	o.addFlags(fl)
	fl.Usage = func() {
		fmt.Fprintf(stderr, "Usage: evtxscan dump FILE|DIR|ZIP... [--format jsonl|xml] [--recover] [--workers N]\n\n")
		fmt.Fprintf(stderr, "Writes every record to stdout; directories are searched recursively for *.evtx\n")
		fmt.Fprintf(stderr, "and for files starting with the EVTX signature, .zip archives are read in place.\n")
		fmt.Fprintf(stderr, "JSONL records carry \"message\", the Event Viewer text, when its template is known.\n")
		fmt.Fprintf(stderr, "Warnings and a per-file summary go to stderr. Exit 3 when a file could not be\n")
		fmt.Fprintf(stderr, "read or is incomplete (records lost, missing or truncated: the summary says\n")
		fmt.Fprintf(stderr, "which and why), else 0.\n\nFlags:\n")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "evtxscan dump: %v\n\n", err)
		fl.Usage()
		return exitUsage
	}
	if o.workers < 0 {
		fmt.Fprintf(stderr, "evtxscan dump: --workers %d: give 0 (one per CPU) or a positive number\n", o.workers)
		return exitUsage
	}
	if o.format != "jsonl" && o.format != "xml" {
		fmt.Fprintf(stderr, "evtxscan dump: --format must be jsonl or xml, not %q\n", o.format)
		return exitUsage
	}
	if fl.NArg() == 0 {
		fmt.Fprintln(stderr, "evtxscan dump: name at least one .evtx file or directory")
		fl.Usage()
		return exitUsage
	}
	table, err := loadMessages(o.messages)
	if err != nil {
		fmt.Fprintf(stderr, "evtxscan dump: %v\n", err)
		return exitUsage
	}
	o.table = table
	items, inputErrs := input.Expand(fl.Args(), input.Options{})
	w := bufio.NewWriterSize(stdout, 256<<10)
	defer w.Flush()
	code := exitOK
	for _, err := range inputErrs {
		if input.IsWarning(err) {
			fmt.Fprintf(stderr, "warning: %s\n", inputMessage(err))
			continue
		}
		fmt.Fprintf(stderr, "evtxscan dump: %s\n", inputMessage(err))
		code = exitUnreadable
	}
	sig := handleSignals(context.Background(), stderr, "dump")
	defer sig.stop()
	outErr := dumpFiles(sig.ctx, items, &o, w, stdout, stderr, &code)
	if c := sig.exitCode(); c != 0 {
		// Whole lines only: what is buffered ends at a record's end.
		_ = w.Flush()
		return c
	}
	if outErr != nil {
		fmt.Fprintf(stderr, "evtxscan dump: writing output: %v\n", outErr)
		return exitUsage
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintf(stderr, "evtxscan dump: writing output: %v\n", err)
		return exitUsage
	}
	return code
}

// dumpAhead is how many files are decoded ahead of the one being written.
// A collection is mostly small logs of one or two chunks, which a file's own
// chunk parallelism cannot spread over the cores; decoding the next files
// meanwhile does. Each file ahead holds at most its parser's window of
// decoded chunks until its turn comes, so memory stays bounded.
const dumpAhead = 2

// A dumpJob is one input file on its way to the output: its producer sends
// the blocks File.Encoded yields and waits until each is written (the bytes
// are only valid until the iteration goes on).
type dumpJob struct {
	it     *input.Item
	share  int64 // of the memory window (see input.Window)
	blocks chan dumpBlock
	ack    chan struct{}
	// Set by the producer before it closes blocks.
	openErr    string // the file could not be opened as an event log
	summary    string
	incomplete bool // records lost, missing or truncated (see parser.Stats.Incomplete)
}

type dumpBlock struct {
	b   []byte
	err error // a warning (damage), in its place between the records
}

// dumpFiles writes the records of every file in input order, decoding up to
// dumpAhead files ahead. It sets *code to exitUnreadable when a file could
// not be read and returns an output error, which ends the run.
func dumpFiles(parent context.Context, items []input.Item, o *dumpOptions, w *bufio.Writer, out, stderr io.Writer, code *int) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	jobs := make(chan *dumpJob, dumpAhead)
	// Compressed archive members are decompressed in memory: decoding
	// ahead must not hold several big ones at once.
	win := input.NewWindow(ctx, input.DefaultWindow)
	go func() {
		defer close(jobs)
		for i := range items {
			share, ok := win.Acquire(&items[i])
			if !ok {
				return
			}
			j := &dumpJob{it: &items[i], share: share, blocks: make(chan dumpBlock), ack: make(chan struct{})}
			select {
			case jobs <- j:
			case <-ctx.Done():
				return
			}
			go o.produce(ctx, j)
		}
	}()
	for j := range jobs {
		for blk := range j.blocks {
			if blk.err != nil {
				fmt.Fprintf(stderr, "warning: %v\n", blk.err)
				continue
			}
			if ctx.Err() != nil {
				return nil // interrupted: the caller says so
			}
			if err := writeBlock(w, out, blk.b); err != nil {
				return err // the output is gone: cancel stops every producer
			}
			j.ack <- struct{}{}
		}
		win.Release(j.share)
		if ctx.Err() != nil {
			return nil
		}
		if j.openErr != "" {
			fmt.Fprintf(stderr, "evtxscan dump: %s\n", j.openErr)
			*code = exitUnreadable
			continue
		}
		fmt.Fprintln(stderr, j.summary)
		if j.incomplete {
			*code = exitUnreadable
		}
	}
	return nil
}

// writeBlock writes a block of lines to out through w. A chunk's block
// (tens of KiB) goes to out directly rather than through the buffer:
// copying every byte once more was the one serial cost of the dump besides
// start-up.
func writeBlock(w *bufio.Writer, out io.Writer, b []byte) error {
	if len(b) < 16<<10 {
		_, err := w.Write(b)
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	_, err := out.Write(b)
	return err
}

// produce decodes one file for dumpFiles.
func (o *dumpOptions) produce(ctx context.Context, j *dumpJob) {
	defer close(j.blocks)
	path := j.it.Name
	r, size, closer, err := j.it.Open()
	if err != nil {
		j.openErr = analysis.FileMessage(path, true, err)
		return
	}
	defer closer.Close()
	f, err := parser.NewFile(r, size, path, parser.Options{Workers: o.workers, Recover: o.recover, XML: o.format == "xml"})
	if err != nil {
		j.openErr = analysis.FileMessage(path, true, err)
		return
	}
	defer f.Close()
	// Events are encoded by the goroutines that decode them and come back
	// as bytes in file order.
	for b, err := range f.Encoded(ctx, o.encode) {
		select {
		case j.blocks <- dumpBlock{b: b, err: err}:
		case <-ctx.Done():
			return
		}
		if err == nil {
			select {
			case <-j.ack:
			case <-ctx.Done():
				return
			}
		}
	}
	if ctx.Err() != nil {
		return
	}
	st := f.Stats()
	j.summary = fmt.Sprintf("%s: %d records, %d recovered, %d lost; %d chunks, %d skipped; %d problems",
		path, st.Records, st.Recovered, st.Lost, st.Chunks, st.ChunksSkipped, len(st.Problems))
	if st.Incomplete() {
		j.incomplete = true
		j.summary += "\n" + incompleteText(&st)
	}
}

// incompleteText says, for a file that lost evidence, how much and why:
// one line of totals, then each loss with its offset.
func incompleteText(st *parser.Stats) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: INCOMPLETE: %s", st.File, parser.LossSummary(st))
	const max = 20
	for i, p := range st.Losses() {
		if i == max {
			fmt.Fprintf(&b, "\n  … and %d more losses", len(st.Losses())-max)
			break
		}
		fmt.Fprintf(&b, "\n  at offset 0x%x: %s", p.Offset, p.Reason)
	}
	return b.String()
}

// encode appends the output line of one event (called concurrently by the
// parser's workers).
func (o *dumpOptions) encode(dst []byte, ev *parser.Event) []byte {
	if o.format == "xml" {
		dst = append(dst, ev.XML...)
	} else {
		if ev.Message == "" {
			// Windows' own text (forwarded events) wins over our table.
			ev.Message, _ = o.table.Known(ev)
		}
		dst = parser.AppendJSON(dst, ev)
	}
	return append(dst, '\n')
}
