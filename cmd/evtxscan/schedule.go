package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/spf13/pflag"

	"github.com/evtxscan/evtxscan/live"
)

func init() {
	register(&command{name: "schedule", summary: "install, remove or show a Windows scheduled task that runs 'live --once'", run: runSchedule})
}

const scheduleUsage = `Usage:
  evtxscan schedule install [--every 15m] [--name \evtxscan\live] [--install-dir DIR] [live flags]
  evtxscan schedule remove  [--name \evtxscan\live]
  evtxscan schedule status  [--name \evtxscan\live]

install copies this program to %ProgramFiles%\evtxscan\evtxscan.exe
(--install-dir), after checking that only administrators can write there,
and creates (or replaces) a Task Scheduler task that runs it as
'evtxscan live --once --data-dir DIR --state FILE [live flags]' as SYSTEM
every --every, never two at a time, catching up after the machine was off.
It needs an elevated prompt. The data folder (--data-dir, default
%ProgramData%\evtxscan, holding state.json, reports/ and the outbox) is
made readable and writable by SYSTEM and Administrators only, and checked
on every run. Each run's reports go to reports\runs\<time>\; the newest
with events is copied to reports\latest\.
Alert secrets go into --notify-config (a file only administrators can read)
or machine-wide environment variables (setx /M), never onto the command line.
--print writes the task XML to stdout instead of installing it (any system).

Examples:
  evtxscan schedule install --every 15m --notify soc --notify-config C:\ProgramData\evtxscan\notify.yml --out C:\ProgramData\evtxscan\reports --format html,jsonl
  evtxscan schedule status
  evtxscan schedule remove

Flags:
`

// scheduleFlags are schedule's own flags; the rest of the command line
// goes to live.
var scheduleFlags = map[string]bool{"every": true, "name": true, "install-dir": true, "print": false}

func runSchedule(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		w := stderr
		code := exitUsage
		if len(args) > 0 {
			w, code = stdout, exitOK
		}
		fmt.Fprint(w, scheduleUsage)
		scheduleFlagSet(new(scheduleOptions), w).PrintDefaults()
		fmt.Fprintln(w, "\nand every flag of 'evtxscan live' except --follow.")
		return code
	}
	action := args[0]
	own, rest := splitScheduleArgs(args[1:])
	var o scheduleOptions
	fs := scheduleFlagSet(&o, stderr)
	if err := fs.Parse(own); err != nil {
		fmt.Fprintf(stderr, "evtxscan schedule: %v\n", err)
		return exitUsage
	}
	switch action {
	case "install":
		return o.install(rest, stdout, stderr)
	case "remove", "status":
		if len(rest) > 0 {
			fmt.Fprintf(stderr, "evtxscan schedule %s: unexpected %q (only --name)\n", action, rest[0])
			return exitUsage
		}
		if runtime.GOOS != "windows" {
			fmt.Fprintln(stderr, "evtxscan schedule: scheduled tasks exist only on Windows; offline use: evtxscan scan FILES")
			return exitUsage
		}
		if action == "remove" {
			return schtasks(stdout, stderr, "/Delete", "/TN", o.name, "/F")
		}
		return schtasks(stdout, stderr, "/Query", "/TN", o.name, "/V", "/FO", "LIST")
	}
	fmt.Fprintf(stderr, "evtxscan schedule: unknown action %q: use install, remove or status\n", action)
	return exitUsage
}

type scheduleOptions struct {
	every      time.Duration
	name       string
	installDir string
	print      bool
}

func scheduleFlagSet(o *scheduleOptions, w io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet("schedule", pflag.ContinueOnError)
	fs.SetOutput(w)
	fs.DurationVar(&o.every, "every", 15*time.Minute, "how often the task runs (1m to 744h)")
	fs.StringVar(&o.name, "name", live.DefaultTaskName, "task path in Task Scheduler")
	fs.StringVar(&o.installDir, "install-dir", programFiles()+`\evtxscan`, "where the program the task runs is installed (only administrators may write there)")
	fs.BoolVar(&o.print, "print", false, "print the task XML (UTF-8) instead of installing it")
	return fs
}

// splitScheduleArgs separates schedule's own flags from live's.
func splitScheduleArgs(args []string) (own, rest []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		takesValue, ok := scheduleFlags[name]
		if !strings.HasPrefix(a, "--") || !ok {
			rest = append(rest, a)
			continue
		}
		own = append(own, a)
		if takesValue && !hasValue && i+1 < len(args) {
			i++
			own = append(own, args[i])
		}
	}
	return own, rest
}

// install checks the live flags, builds the task and registers it.
func (o *scheduleOptions) install(liveArgs []string, stdout, stderr io.Writer) int {
	for _, a := range liveArgs {
		if a == "--follow" || strings.HasPrefix(a, "--follow=") {
			fmt.Fprintln(stderr, "evtxscan schedule install: a scheduled run reads once and ends; leave out --follow")
			return exitUsage
		}
	}
	args := append([]string{"live", "--once", "--quiet"}, liveArgs...)
	lo, code := parseLiveFlags(args[1:], io.Discard, stderr)
	if lo == nil {
		if code == exitOK {
			fmt.Fprintln(stderr, "evtxscan schedule install: --help is not a live flag here; see evtxscan live --help")
			return exitUsage
		}
		return code
	}
	if _, err := lo.analysisFlags.config(time.Now()); err != nil {
		fmt.Fprintf(stderr, "evtxscan schedule install: %v\n", err)
		return exitUsage
	}
	// The task runs in C:\Windows\System32: relative paths would land there.
	args = absolutePathArgs(args)
	// Windows paths, also in --print on other systems.
	dataDir := absPath(lo.dataDir)
	if dataDir == "" {
		dataDir = programData() + `\evtxscan`
		args = append(args, "--data-dir", dataDir)
	}
	if lo.state == "" {
		args = append(args, "--state", dataDir+`\state.json`)
	}
	if lo.out == "evtxscan-report" && !hasFlag(args, "out", "o") {
		args = append(args, "--out", dataDir+`\reports`)
	}
	installDir := absPath(o.installDir)
	prog := strings.TrimRight(installDir, `\/`) + `\` + live.ProgramName
	if !o.print && runtime.GOOS == "windows" {
		self, err := os.Executable()
		if err != nil {
			fmt.Fprintf(stderr, "evtxscan schedule install: cannot find this program's path: %v\n", err)
			return exitUsage
		}
		if prog, err = live.InstallProgram(live.WindowsSecurity(), self, installDir); err != nil {
			fmt.Fprintf(stderr, "evtxscan schedule install: %v\n", err)
			return exitUsage
		}
		if code := secureDataDir(live.WindowsSecurity(), dataDir, []string{lo.state, lo.out, lo.notify.Outbox}, stderr); code != exitOK {
			return code
		}
	}
	task := live.Task{Name: o.name, Every: o.every, Program: prog, Args: args, Author: os.Getenv("USERNAME")}
	xml, err := task.XML()
	if err != nil {
		fmt.Fprintf(stderr, "evtxscan schedule install: %v\n", err)
		return exitUsage
	}
	if o.print {
		fmt.Fprint(stdout, utf16ToString(xml))
		return exitOK
	}
	if runtime.GOOS != "windows" {
		fmt.Fprintln(stderr, "evtxscan schedule: scheduled tasks exist only on Windows (--print shows the task XML anywhere); offline use: evtxscan scan FILES")
		return exitUsage
	}
	f, err := os.CreateTemp("", "evtxscan-task-*.xml")
	if err != nil {
		fmt.Fprintf(stderr, "evtxscan schedule install: %v\n", err)
		return exitUsage
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(xml); err != nil {
		f.Close()
		fmt.Fprintf(stderr, "evtxscan schedule install: %v\n", err)
		return exitUsage
	}
	f.Close()
	if code := schtasks(stdout, stderr, "/Create", "/TN", o.name, "/XML", f.Name(), "/F"); code != exitOK {
		fmt.Fprintln(stderr, "evtxscan schedule install: run it from an elevated prompt (Run as administrator)")
		return code
	}
	fmt.Fprintf(stdout, "installed %s: %s %s every %s as SYSTEM\n", o.name, prog, live.JoinCommandLine(args), o.every)
	return exitOK
}

// pathFlags are live's flags that name files or folders.
var pathFlags = map[string]bool{"out": true, "o": true, "state": true, "data-dir": true, "rules": true, "messages": true, "notify-config": true, "notify-outbox": true}

// absolutePathArgs makes the values of path flags absolute, in both the
// "--flag value" and "--flag=value" forms.
func absolutePathArgs(args []string) []string {
	out := append([]string(nil), args...)
	for i := 0; i < len(out); i++ {
		a := out[i]
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !pathFlags[name] {
			continue
		}
		if hasValue {
			out[i] = a[:len(a)-len(value)] + absPath(value)
		} else if i+1 < len(out) {
			i++
			out[i] = absPath(out[i])
		}
	}
	return out
}

// absPath makes p absolute unless it already is (as Windows or as this
// system sees it).
func absPath(p string) string {
	if p == "" || filepath.IsAbs(p) || strings.HasPrefix(p, `\\`) || (len(p) > 2 && p[1] == ':' && (p[2] == '\\' || p[2] == '/')) {
		return p
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// hasFlag reports whether args set one of the named flags.
func hasFlag(args []string, names ...string) bool {
	for _, a := range args {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		for _, n := range names {
			if strings.HasPrefix(a, "-") && name == n {
				return true
			}
		}
	}
	return false
}

// programFiles is %ProgramFiles% (C:\Program Files when unset).
func programFiles() string {
	if pf := os.Getenv("ProgramFiles"); pf != "" {
		return pf
	}
	return `C:\Program Files`
}

// programData is %ProgramData% (C:\ProgramData when unset).
func programData() string {
	if pd := os.Getenv("ProgramData"); pd != "" {
		return pd
	}
	return `C:\ProgramData`
}

// schtasks runs schtasks.exe with its output passed through.
func schtasks(stdout, stderr io.Writer, args ...string) int {
	cmd := exec.Command("schtasks.exe", args...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			fmt.Fprintf(stderr, "evtxscan schedule: cannot run schtasks.exe: %v\n", err)
		}
		return exitUsage
	}
	return exitOK
}

// utf16ToString decodes the UTF-16LE task XML for printing, as UTF-8.
func utf16ToString(b []byte) string {
	if len(b) >= 2 && b[0] == 0xFF && b[1] == 0xFE {
		b = b[2:]
	}
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		u = append(u, uint16(b[i])|uint16(b[i+1])<<8)
	}
	return strings.Replace(string(utf16.Decode(u)), `encoding="UTF-16"`, `encoding="UTF-8"`, 1)
}
