package main

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/evtxscan/evtxscan/rules"
)

func init() {
	register(&command{name: "rules", summary: "list the rules, or lint rule files", run: runRules})
}

const rulesUsage = `Usage:
  evtxscan rules list [--rules PATH]... [--no-builtin] [--all]
  evtxscan rules lint FILE|DIR...

list   shows every rule that a scan would run: id, level, kind, title.
lint   checks Sigma rules and field maps; every problem is printed as
       file:line:col: rule <id>: what is wrong. Exit 1 when there is one.

Flags:
`

func runRules(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("rules", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	paths := fs.StringArray("rules", nil, "add rules from a file or folder (repeatable)")
	noBuiltin := fs.Bool("no-builtin", false, "leave the built-in pack out")
	all := fs.Bool("all", false, "also list hidden base rules that only feed correlations")
	help := fs.BoolP("help", "h", false, "show this help")
	fs.Usage = func() { fmt.Fprint(stderr, rulesUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "evtxscan rules: %v\n\n", err)
		fs.Usage()
		return exitUsage
	}
	if *help {
		fmt.Fprint(stdout, rulesUsage)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return exitOK
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitUsage
	}
	switch fs.Arg(0) {
	case "list":
		rs, _, err := loadRuleset(*noBuiltin, *paths)
		if err != nil {
			fmt.Fprintf(stderr, "evtxscan rules list: %v\n", err)
			return exitUsage
		}
		infos := rs.Rules()
		sort.SliceStable(infos, func(i, j int) bool {
			if infos[i].Level != infos[j].Level {
				return infos[i].Level > infos[j].Level
			}
			return infos[i].ID < infos[j].ID
		})
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tLEVEL\tKIND\tTITLE")
		n := 0
		for _, r := range infos {
			if r.Hidden && !*all {
				continue
			}
			n++
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.ID, r.Level, r.Kind, r.Title)
		}
		tw.Flush()
		fmt.Fprintf(stdout, "%d rules", n)
		if sk := rs.Skipped(); len(sk) > 0 {
			fmt.Fprintf(stdout, ", %d refused:\n", len(sk))
			for _, e := range sk {
				fmt.Fprintf(stdout, "  %v\n", e)
			}
		} else {
			fmt.Fprintln(stdout)
		}
		return exitOK
	case "lint":
		if fs.NArg() < 2 {
			fmt.Fprintln(stderr, "evtxscan rules lint: name the rule files or folders to check")
			return exitUsage
		}
		bad := 0
		for _, p := range fs.Args()[1:] {
			for _, pr := range rules.Lint(p) {
				fmt.Fprintln(stdout, pr.Error())
				bad++
			}
		}
		if bad > 0 {
			fmt.Fprintf(stderr, "%d problems\n", bad)
			return exitFindings
		}
		fmt.Fprintln(stderr, "no problems found")
		return exitOK
	}
	fmt.Fprintf(stderr, "evtxscan rules: unknown action %q: use list or lint\n", fs.Arg(0))
	return exitUsage
}
