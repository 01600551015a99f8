// Command evtxgen writes .evtx files from scenario YAML files (the format is
// described in testdata/scenarios/README.md).
//
// Usage, from the repository root:
//
//	go run ./internal/evtxwriter/evtxgen -o testdata/evtx testdata/scenarios/s1_custom_action_rollback.yaml
//	go run ./internal/evtxwriter/evtxgen -o testdata/evtx testdata/scenarios
//
// Each scenario is written under DIR/<name>/ (or DIR/<output.dir>/), one file
// per channel named as Windows names it (Application.evtx,
// Microsoft-Windows-AppXDeploymentServer%4Operational.evtx, …). A directory
// argument means every *.yaml in it. Before writing, stale *.evtx files in a
// scenario's own folder are removed, so a channel dropped from a scenario
// does not linger. To regenerate all fixtures: go generate ./internal/evtxwriter
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/evtxscan/evtxscan/internal/evtxwriter"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("evtxgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "output `DIR` (each scenario goes to DIR/<name>/)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: evtxgen -o DIR SCENARIO.yaml|SCENARIO_DIR...")
		fs.PrintDefaults()
	}
	// Accept flags after the arguments too (go run … FILE -o DIR).
	var files []string
	rest := args
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if *out == "" || len(files) == 0 {
		fs.Usage()
		return 2
	}
	var scenarios []*evtxwriter.Scenario
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			fmt.Fprintln(stderr, "evtxgen:", err)
			return 1
		}
		if st.IsDir() {
			ss, err := evtxwriter.LoadScenarios(f)
			if err != nil {
				fmt.Fprintln(stderr, "evtxgen:", err)
				return 1
			}
			scenarios = append(scenarios, ss...)
			continue
		}
		s, err := evtxwriter.LoadScenario(f)
		if err != nil {
			fmt.Fprintln(stderr, "evtxgen:", err)
			return 1
		}
		scenarios = append(scenarios, s)
	}
	for _, s := range scenarios {
		files, err := s.Files()
		if err != nil {
			fmt.Fprintln(stderr, "evtxgen:", err)
			return 1
		}
		if s.Output.File == "" {
			old, _ := filepath.Glob(filepath.Join(*out, s.Name, "*.evtx"))
			for _, o := range old {
				if err := os.Remove(o); err != nil {
					fmt.Fprintln(stderr, "evtxgen:", err)
					return 1
				}
			}
		}
		for _, f := range files {
			p := filepath.Join(*out, filepath.FromSlash(f.Path))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				fmt.Fprintln(stderr, "evtxgen:", err)
				return 1
			}
			if err := os.WriteFile(p, f.Bytes, 0o644); err != nil {
				fmt.Fprintln(stderr, "evtxgen:", err)
				return 1
			}
			fmt.Fprintf(stdout, "%s: %d records, %d bytes\n", p, len(f.Events), len(f.Bytes))
		}
	}
	return 0
}
