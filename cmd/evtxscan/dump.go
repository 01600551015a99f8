package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/pflag"

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
		fmt.Fprintf(stderr, "read, else 0.\n\nFlags:\n")
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
		fmt.Fprintf(stderr, "evtxscan dump: %v\n", err)
		code = exitUnreadable
	}
	for i := range items {
		readable, outErr := dumpFile(&items[i], &o, w, stderr)
		if !readable {
			code = exitUnreadable
		}
		if outErr != nil {
			fmt.Fprintf(stderr, "evtxscan dump: writing output: %v\n", outErr)
			return exitUsage
		}
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintf(stderr, "evtxscan dump: writing output: %v\n", err)
		return exitUsage
	}
	return code
}

// dumpFile writes one file's records. It reports whether the file could be
// read at all, and an output error that should end the run.
func dumpFile(it *input.Item, o *dumpOptions, w *bufio.Writer, stderr io.Writer) (readable bool, outErr error) {
	path := it.Name
	r, size, closer, err := it.Open()
	if err != nil {
		fmt.Fprintf(stderr, "evtxscan dump: %s: %v\n", path, err)
		return false, nil
	}
	defer closer.Close()
	f, err := parser.NewFile(r, size, path, parser.Options{Workers: o.workers, Recover: o.recover, XML: o.format == "xml"})
	if err != nil {
		fmt.Fprintf(stderr, "evtxscan dump: %v\n", err)
		return false, nil
	}
	defer f.Close()
	// Events are encoded by the goroutines that decode them and come back
	// as bytes in file order.
	for b, err := range f.Encoded(context.Background(), o.encode) {
		if err != nil {
			fmt.Fprintf(stderr, "warning: %v\n", err)
			continue
		}
		if _, err := w.Write(b); err != nil {
			return true, err // the output is gone: stop reading
		}
	}
	st := f.Stats()
	fmt.Fprintf(stderr, "%s: %d records, %d recovered, %d lost; %d chunks, %d skipped; %d problems\n",
		path, st.Records, st.Recovered, st.Lost, st.Chunks, st.ChunksSkipped, len(st.Problems))
	return true, nil
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
