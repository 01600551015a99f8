// Command evtxscan analyzes Windows event logs (.evtx) for software-uninstall
// failures, rollbacks and related anomalies, and writes findings and a
// timeline as Excel, HTML, CSV and JSONL.
//
// This package is wiring only: flags, exit codes and words for people. The
// logic lives in parser, rules, report and the other rooms.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strings"
)

// Exit codes, a documented interface (README, --help).
const (
	exitOK         = 0 // done
	exitFindings   = 1 // findings at or above --fail-level
	exitUsage      = 2 // usage error, or a problem with the whole run
	exitUnreadable = 3 // incomplete: some input could not be read or lost records (the rest was scanned)
	exitAlerts     = 4 // some alerts were not delivered (they wait in the outbox)
	// exitInterrupted (130) and exitTerminated (143): see signals.go.
)

// version is set at release by the build (-ldflags "-X main.version=v1.2.3");
// empty, the module version Go stamps is used (see buildName).
var version = ""

// A command is one subcommand. Each lives in its own file and registers
// itself in init, so rooms can add theirs without touching this file.
type command struct {
	name    string
	summary string // one line for the command list
	run     func(args []string, stdout, stderr io.Writer) int
}

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

// GC settings for a batch tool: the parser allocates many short-lived
// values, and collecting at Go's default (heap doubled) spent a third of a
// dump's CPU in the collector. A collection at 5× the live heap, under a
// soft 1 GiB ceiling that makes it collect sooner when memory gets tight,
// keeps peak memory flat and small (a dump stays under ~30 MiB) while the
// CPU goes to parsing. GOGC or GOMEMLIMIT in the environment win.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(1 << 30)
	}
}

func main() {
	tuneGC()
	// EVTXSCAN_CPUPROFILE=FILE writes a CPU profile of the run (for
	// performance work: go tool pprof FILE).
	if path := os.Getenv("EVTXSCAN_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				code := run(os.Args[1:], os.Stdout, os.Stderr)
				pprof.StopCPUProfile()
				f.Close()
				os.Exit(code)
			}
		}
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	// Messages name files and archive members, which are attacker-chosen.
	stderr = visibleWriter{stderr}
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "--help", "help":
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				return c.run([]string{"--help"}, stdout, stderr)
			}
		}
		usage(stdout)
		return exitOK
	case "--version", "version":
		fmt.Fprintln(stdout, buildName())
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "evtxscan: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitUsage
	}
	return c.run(args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	var b strings.Builder
	b.WriteString("evtxscan finds software-uninstall failures, rollbacks and related anomalies\n")
	b.WriteString("in Windows event logs (.evtx), and writes findings and a timeline.\n\n")
	b.WriteString("Usage:\n  evtxscan <command> [flags] [arguments]\n\nCommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "  %-10s %s\n", n, commands[n].summary)
	}
	b.WriteString("\nRun 'evtxscan <command> --help' for a command's flags.\n")
	b.WriteString("Exit codes: 0 done; 1 findings at or above --fail-level; 2 usage error;\n")
	b.WriteString("3 incomplete: some input could not be read or lost records (the rest was still\n")
	b.WriteString("scanned; the summary says which file lost how many and why);\n")
	b.WriteString("4 some alerts were not delivered (they wait in the outbox for the next run).\n")
	b.WriteString("130/143 stopped by SIGINT/SIGTERM (previous reports kept).\n")
	fmt.Fprint(w, b.String())
}
