package main

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/evtxscan/evtxscan/rules"
)

func init() {
	register(&command{name: "rules", summary: "list the rules, or lint rule files", run: runRules})
}

const rulesUsage = `Usage:
  evtxscan rules list [--rules PATH]... [--no-builtin] [--all]
  evtxscan rules lint [--strict] FILE|DIR...

list   shows every rule that a scan would run: id, level, kind, title.
lint   checks Sigma rules and field maps; every problem is printed as
       file:line:col: LEVEL: rule <id>: what is wrong (what to do), where
       LEVEL is
         error        the rule is broken; scan and live refuse to start
         unsupported  valid Sigma evtxscan skips (other product, modifier…)
         warning      loads, but an unknown field name or a condition
                      that can never match
       Exit 0 without errors, 1 with errors (with --strict: with any
       problem), 2 on a usage error.

Flags:
`

func runRules(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("rules", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	paths := fs.StringArray("rules", nil, "add rules from a file or folder (repeatable)")
	noBuiltin := fs.Bool("no-builtin", false, "leave the built-in pack out")
	all := fs.Bool("all", false, "also list hidden base rules that only feed correlations")
	strict := fs.Bool("strict", false, "lint: also fail (exit 1) on warnings and unsupported rules")
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
		counts := map[rules.Severity]int{}
		kinds := map[string]int{}
		for _, p := range fs.Args()[1:] {
			for _, pr := range rules.Lint(p) {
				fmt.Fprintln(stdout, pr.Error())
				counts[pr.Severity]++
				if pr.Kind != "" {
					kinds[pr.Kind]++
				}
			}
		}
		total := counts[rules.SeverityError] + counts[rules.SeverityUnsupported] + counts[rules.SeverityWarning]
		if total == 0 {
			fmt.Fprintln(stderr, "no problems found")
			return exitOK
		}
		names := make([]string, 0, len(kinds))
		for k := range kinds {
			names = append(names, k)
		}
		sort.Strings(names)
		var by []string
		for _, k := range names {
			by = append(by, fmt.Sprintf("%s %d", k, kinds[k]))
		}
		fmt.Fprintf(stderr, "%d errors, %d unsupported, %d warnings", counts[rules.SeverityError], counts[rules.SeverityUnsupported], counts[rules.SeverityWarning])
		if len(by) > 0 {
			fmt.Fprintf(stderr, " (%s)", strings.Join(by, ", "))
		}
		fmt.Fprintln(stderr)
		if counts[rules.SeverityError] > 0 || *strict {
			return exitFindings
		}
		return exitOK
	}
	fmt.Fprintf(stderr, "evtxscan rules: unknown action %q: use list or lint\n", fs.Arg(0))
	return exitUsage
}
