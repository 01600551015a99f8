package live

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"
)

// DefaultTaskName is the Task Scheduler path of the scheduled live run.
const DefaultTaskName = `\evtxscan\live`

// A Task is the scheduled task `evtxscan schedule install` creates: the
// program run as SYSTEM every Every, never two at once.
type Task struct {
	Name    string        // task path, e.g. \evtxscan\live
	Every   time.Duration // at least one minute
	Program string        // absolute path of evtxscan.exe, in a folder only administrators can write (InstallProgram)
	Args    []string      // its arguments (live --once …)
	// Start is the first run (the trigger's StartBoundary); zero: now.
	Start time.Time
	// Author is shown in Task Scheduler.
	Author string
}

// Check reports what is wrong with a task before it is installed.
func (t *Task) Check() error {
	var problems []error
	if t.Every < time.Minute {
		problems = append(problems, fmt.Errorf("--every %s is too short: use one minute or more (15m is a good start)", t.Every))
	}
	if t.Every > 31*24*time.Hour {
		problems = append(problems, fmt.Errorf("--every %s is longer than Task Scheduler's 31 days", t.Every))
	}
	if t.Every%time.Second != 0 {
		problems = append(problems, fmt.Errorf("--every %s: whole seconds only", t.Every))
	}
	if !strings.HasPrefix(t.Name, `\`) || strings.ContainsAny(t.Name, `/:*?"<>|`) || strings.HasSuffix(t.Name, `\`) {
		problems = append(problems, fmt.Errorf(`task name %q: use a path like \evtxscan\live`, t.Name))
	}
	if t.Program == "" {
		problems = append(problems, errors.New("no program path"))
	} else if strings.ContainsAny(t.Program, "\"\x00\r\n") {
		problems = append(problems, fmt.Errorf("program path %q holds a quote or line break", t.Program))
	}
	for _, a := range t.Args {
		if strings.ContainsAny(a, "\x00\r\n") {
			problems = append(problems, fmt.Errorf("argument %q holds a line break", a))
		}
	}
	return errors.Join(problems...)
}

// taskXML mirrors the parts of the Task Scheduler schema we write.
type taskXML struct {
	XMLName          xml.Name `xml:"Task"`
	Version          string   `xml:"version,attr"`
	Xmlns            string   `xml:"xmlns,attr"`
	RegistrationInfo struct {
		Author      string `xml:"Author,omitempty"`
		Description string `xml:"Description"`
		URI         string `xml:"URI"`
	} `xml:"RegistrationInfo"`
	Triggers struct {
		TimeTrigger struct {
			Repetition struct {
				Interval          string `xml:"Interval"`
				StopAtDurationEnd bool   `xml:"StopAtDurationEnd"`
			} `xml:"Repetition"`
			StartBoundary string `xml:"StartBoundary"`
			Enabled       bool   `xml:"Enabled"`
		} `xml:"TimeTrigger"`
	} `xml:"Triggers"`
	Principals struct {
		Principal struct {
			ID       string `xml:"id,attr"`
			UserID   string `xml:"UserId"`
			RunLevel string `xml:"RunLevel"`
		} `xml:"Principal"`
	} `xml:"Principals"`
	Settings struct {
		MultipleInstancesPolicy    string `xml:"MultipleInstancesPolicy"`
		DisallowStartIfOnBatteries bool   `xml:"DisallowStartIfOnBatteries"`
		StopIfGoingOnBatteries     bool   `xml:"StopIfGoingOnBatteries"`
		AllowHardTerminate         bool   `xml:"AllowHardTerminate"`
		StartWhenAvailable         bool   `xml:"StartWhenAvailable"`
		RunOnlyIfNetworkAvailable  bool   `xml:"RunOnlyIfNetworkAvailable"`
		IdleSettings               struct {
			StopOnIdleEnd bool `xml:"StopOnIdleEnd"`
			RestartOnIdle bool `xml:"RestartOnIdle"`
		} `xml:"IdleSettings"`
		AllowStartOnDemand bool   `xml:"AllowStartOnDemand"`
		Enabled            bool   `xml:"Enabled"`
		Hidden             bool   `xml:"Hidden"`
		ExecutionTimeLimit string `xml:"ExecutionTimeLimit"`
		Priority           int    `xml:"Priority"`
	} `xml:"Settings"`
	Actions struct {
		Context string `xml:"Context,attr"`
		Exec    struct {
			Command   string `xml:"Command"`
			Arguments string `xml:"Arguments,omitempty"`
		} `xml:"Exec"`
	} `xml:"Actions"`
}

// XML returns the task definition as `schtasks /Create /XML` reads it:
// UTF-16 little-endian with a byte-order mark, as Task Scheduler writes
// its own exports.
//
// The task runs as SYSTEM (S-1-5-18, which can read every channel,
// Security included) with highest privileges, repeats every Every from
// Start indefinitely, starts a missed run when the machine is back,
// ignores a new run while one is still going (MultipleInstancesPolicy
// IgnoreNew), runs on batteries, and is stopped after 4 × Every (at most
// 3 days) so a hung run cannot block the schedule forever.
func (t *Task) XML() ([]byte, error) {
	if err := t.Check(); err != nil {
		return nil, err
	}
	var x taskXML
	x.Version = "1.2"
	x.Xmlns = "http://schemas.microsoft.com/windows/2004/02/mit/task"
	x.RegistrationInfo.Author = t.Author
	x.RegistrationInfo.Description = "evtxscan live: looks for failed software removals and related anomalies in this machine's event logs, and alerts."
	x.RegistrationInfo.URI = t.Name
	start := t.Start
	if start.IsZero() {
		start = time.Now()
	}
	tt := &x.Triggers.TimeTrigger
	tt.Repetition.Interval = isoDuration(t.Every)
	tt.StartBoundary = start.Format("2006-01-02T15:04:05") // local time, as Task Scheduler shows it
	tt.Enabled = true
	p := &x.Principals.Principal
	p.ID, p.UserID, p.RunLevel = "Author", "S-1-5-18", "HighestAvailable"
	s := &x.Settings
	s.MultipleInstancesPolicy = "IgnoreNew"
	s.AllowHardTerminate = true
	s.StartWhenAvailable = true
	s.AllowStartOnDemand = true
	s.Enabled = true
	s.ExecutionTimeLimit = isoDuration(min(4*t.Every, 72*time.Hour))
	s.Priority = 7
	x.Actions.Context = "Author"
	// Quoted: Task Scheduler starts Command through CreateProcess, and an
	// unquoted C:\Program Files\… would first try C:\Program.exe.
	x.Actions.Exec.Command = `"` + t.Program + `"`
	x.Actions.Exec.Arguments = JoinCommandLine(t.Args)

	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-16"?>` + "\n")
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(&x); err != nil {
		return nil, err
	}
	b.WriteString("\n")
	return utf16LE(b.String()), nil
}

// isoDuration writes d as an XML Schema duration (PT15M, P1DT2H).
func isoDuration(d time.Duration) string {
	d = d.Round(time.Second)
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	h := d / time.Hour
	d -= h * time.Hour
	m := d / time.Minute
	d -= m * time.Minute
	sec := d / time.Second
	var b strings.Builder
	b.WriteString("P")
	if days > 0 {
		fmt.Fprintf(&b, "%dD", days)
	}
	if h > 0 || m > 0 || sec > 0 || days == 0 {
		b.WriteString("T")
		if h > 0 {
			fmt.Fprintf(&b, "%dH", h)
		}
		if m > 0 {
			fmt.Fprintf(&b, "%dM", m)
		}
		if sec > 0 || (h == 0 && m == 0 && days == 0) {
			fmt.Fprintf(&b, "%dS", sec)
		}
	}
	return b.String()
}

// utf16LE encodes s as UTF-16LE with a byte-order mark.
func utf16LE(s string) []byte {
	u := utf16.Encode([]rune(s))
	out := make([]byte, 2, 2+2*len(u))
	out[0], out[1] = 0xFF, 0xFE
	for _, c := range u {
		out = append(out, byte(c), byte(c>>8))
	}
	return out
}

// JoinCommandLine quotes arguments the way Windows programs split them
// (CommandLineToArgvW rules): arguments with spaces, tabs or quotes are
// put in quotes, quotes are escaped with a backslash, and backslashes are
// doubled only where they precede a quote.
func JoinCommandLine(args []string) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a != "" && !strings.ContainsAny(a, " \t\"") {
			b.WriteString(a)
			continue
		}
		b.WriteByte('"')
		slashes := 0
		for _, c := range []byte(a) {
			switch c {
			case '\\':
				slashes++
				continue
			case '"':
				b.WriteString(strings.Repeat(`\`, 2*slashes+1))
			default:
				b.WriteString(strings.Repeat(`\`, slashes))
			}
			slashes = 0
			b.WriteByte(c)
		}
		b.WriteString(strings.Repeat(`\`, 2*slashes))
		b.WriteByte('"')
	}
	return b.String()
}
