package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/evtxscan/evtxscan/parser"
	"github.com/spf13/pflag"
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
	format  string
	recover bool
	workers int
}

func (o *dumpOptions) addFlags(fl *pflag.FlagSet) {
	fl.StringVar(&o.format, "format", "jsonl", "output format: jsonl (one object per record) or xml (one <Event> per line)")
	fl.BoolVar(&o.recover, "recover", false, "also carve records from chunk slack and damaged chunks (marked recovered)")
	fl.IntVar(&o.workers, "workers", 0, "chunks decoded in parallel per file (0 = number of CPUs)")
}

func runDump(args []string, stdout, stderr io.Writer) int {
	var o dumpOptions
	fl := pflag.NewFlagSet("dump", pflag.ContinueOnError)
	fl.SetOutput(stderr)
	o.addFlags(fl)
	fl.Usage = func() {
		fmt.Fprintf(stderr, "Usage: evtxscan dump FILE|DIR... [--format jsonl|xml] [--recover] [--workers N]\n\n")
		fmt.Fprintf(stderr, "Writes every record to stdout; directories are searched recursively for *.evtx\n")
		fmt.Fprintf(stderr, "and for files starting with the EVTX signature. Warnings and a per-file summary\n")
		fmt.Fprintf(stderr, "go to stderr. Exit 3 when a file could not be read, else 0.\n\nFlags:\n")
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
	files, unreadable := collectEVTX(fl.Args(), stderr)
	w := bufio.NewWriterSize(stdout, 256<<10)
	defer w.Flush()
	code := exitOK
	if unreadable {
		code = exitUnreadable
	}
	for _, path := range files {
		readable, outErr := dumpFile(path, &o, w, stderr)
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
func dumpFile(path string, o *dumpOptions, w *bufio.Writer, stderr io.Writer) (readable bool, outErr error) {
	f, err := parser.Open(path, parser.Options{Workers: o.workers, Recover: o.recover, XML: o.format == "xml"})
	if err != nil {
		fmt.Fprintf(stderr, "evtxscan dump: %v\n", err)
		return false, nil
	}
	defer f.Close()
	var buf []byte
	for ev, err := range f.Events(context.Background()) {
		if err != nil {
			fmt.Fprintf(stderr, "warning: %v\n", err)
			continue
		}
		// The messages package will fill ev.Message here (lead's follow-up).
		buf = buf[:0]
		if o.format == "xml" {
			buf = append(buf, ev.XML...)
		} else {
			buf = parser.AppendJSON(buf, ev)
		}
		buf = append(buf, '\n')
		if _, err := w.Write(buf); err != nil {
			return true, err // the output is gone: stop reading
		}
	}
	st := f.Stats()
	fmt.Fprintf(stderr, "%s: %d records, %d recovered, %d lost; %d chunks, %d skipped; %d problems\n",
		path, st.Records, st.Recovered, st.Lost, st.Chunks, st.ChunksSkipped, len(st.Problems))
	return true, nil
}

// collectEVTX expands the arguments: files as given, directories walked
// recursively for *.evtx and for files that start with the EVTX signature.
func collectEVTX(args []string, stderr io.Writer) (files []string, unreadable bool) {
	for _, arg := range args {
		st, err := os.Stat(arg)
		if err != nil {
			fmt.Fprintf(stderr, "evtxscan dump: %v\n", err)
			unreadable = true
			continue
		}
		if !st.IsDir() {
			files = append(files, arg)
			continue
		}
		var found []string
		err = filepath.WalkDir(arg, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				fmt.Fprintf(stderr, "evtxscan dump: %v\n", err)
				unreadable = true
				return nil
			}
			if d.IsDir() || !d.Type().IsRegular() {
				return nil
			}
			if strings.EqualFold(filepath.Ext(p), ".evtx") || sniffEVTX(p) {
				found = append(found, p)
			}
			return nil
		})
		if err != nil {
			fmt.Fprintf(stderr, "evtxscan dump: %v\n", err)
			unreadable = true
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	return files, unreadable
}

func sniffEVTX(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var b [8]byte
	n, _ := io.ReadFull(f, b[:])
	return parser.HasSignature(b[:n])
}
