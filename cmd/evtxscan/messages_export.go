package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/spf13/pflag"

	"github.com/evtxscan/evtxscan/live"
	"github.com/evtxscan/evtxscan/messages"
)

func init() {
	register(&command{name: "messages", summary: "export this Windows machine's event message texts as a table for --messages", run: runMessages})
}

const messagesUsage = `Usage: evtxscan messages export [-o FILE] [--verbose]

Reads the message text of every event of every provider registered on this
Windows machine and writes them as a message table (YAML). Give the table to
'evtxscan scan --messages FILE' to render messages of logs from machines like
this one, on any system. Only providers with a manifest are exported; classic
event sources (message DLLs without a manifest) are not.

Flags:
`

func runMessages(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("messages", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.StringP("output", "o", "", "write the table to FILE (default: stdout)")
	verbose := fs.BoolP("verbose", "v", false, "list each provider and how many messages it gave")
	help := fs.BoolP("help", "h", false, "show this help")
	fs.Usage = func() { fmt.Fprint(stderr, messagesUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "evtxscan messages: %v\n\n", err)
		fs.Usage()
		return exitUsage
	}
	if *help {
		fs.SetOutput(stdout)
		fmt.Fprint(stdout, messagesUsage)
		fs.PrintDefaults()
		return exitOK
	}
	if fs.NArg() != 1 || fs.Arg(0) != "export" {
		fs.Usage()
		return exitUsage
	}
	if runtime.GOOS != "windows" {
		fmt.Fprintln(stderr, "evtxscan messages export: works only on Windows (it asks Windows for the texts); offline use: evtxscan scan FILES with the built-in table")
		return exitUsage
	}
	failed := 0
	entries, err := live.ExportMessages(func(p string, n int, err error) {
		if err != nil {
			failed++
			if *verbose {
				fmt.Fprintf(stderr, "%s: skipped: %v\n", p, err)
			}
		} else if *verbose {
			fmt.Fprintf(stderr, "%s: %d messages\n", p, n)
		}
	})
	if err != nil {
		fmt.Fprintf(stderr, "evtxscan messages export: %v\n", err)
		return exitUsage
	}
	w := stdout
	var f *os.File
	if *out != "" {
		if f, err = os.Create(*out); err != nil {
			fmt.Fprintf(stderr, "evtxscan messages export: cannot create %s: %v\n", *out, err)
			return exitUsage
		}
		w = f
	}
	bw := bufio.NewWriter(w)
	err = messages.WriteYAML(bw, entries)
	if err == nil {
		err = bw.Flush()
	}
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "evtxscan messages export: writing %s: %v\n", *out, err)
		return exitUsage
	}
	fmt.Fprintf(stderr, "%d messages exported", len(entries))
	if failed > 0 {
		fmt.Fprintf(stderr, "; %d providers could not be opened (--verbose lists them)", failed)
	}
	fmt.Fprintln(stderr)
	return exitOK
}
