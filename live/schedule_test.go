package live

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
)

func decodeUTF16(t *testing.T, b []byte) string {
	t.Helper()
	if len(b) < 2 || b[0] != 0xFF || b[1] != 0xFE || len(b)%2 != 0 {
		t.Fatalf("not UTF-16LE with BOM: % x", b[:min(len(b), 4)])
	}
	u := make([]uint16, 0, len(b)/2)
	for i := 2; i < len(b); i += 2 {
		u = append(u, uint16(b[i])|uint16(b[i+1])<<8)
	}
	return string(utf16.Decode(u))
}

func TestTaskXML(t *testing.T) {
	task := Task{
		Name: DefaultTaskName, Every: 15 * time.Minute, Program: `C:\Program Files\evtxscan\evtxscan.exe`,
		Args:  []string{"live", "--once", "--state", `C:\ProgramData\evtxscan\state.json`, "--notify", "soc", "--keyword", `say "hi"`},
		Start: time.Date(2026, 3, 1, 8, 0, 0, 0, time.Local), Author: `CONTOSO\admin <&>`,
	}
	b, err := task.XML()
	if err != nil {
		t.Fatal(err)
	}
	s := decodeUTF16(t, b)
	for _, want := range []string{
		`<?xml version="1.0" encoding="UTF-16"?>`,
		`<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">`,
		`<URI>\evtxscan\live</URI>`,
		`<Author>CONTOSO\admin &lt;&amp;&gt;</Author>`,
		`<Interval>PT15M</Interval>`,
		`<StartBoundary>2026-03-01T08:00:00</StartBoundary>`,
		`<UserId>S-1-5-18</UserId>`,
		`<RunLevel>HighestAvailable</RunLevel>`,
		`<MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>`,
		`<DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>`,
		`<StartWhenAvailable>true</StartWhenAvailable>`,
		`<ExecutionTimeLimit>PT1H</ExecutionTimeLimit>`,
		`<Command>&#34;C:\Program Files\evtxscan\evtxscan.exe&#34;</Command>`,
		`<Arguments>live --once --state C:\ProgramData\evtxscan\state.json --notify soc --keyword &#34;say \&#34;hi\&#34;&#34;</Arguments>`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("task XML lacks %s\n%s", want, s)
		}
	}
	// It is well-formed and reads back.
	var back taskXML
	if err := xml.Unmarshal([]byte(strings.Replace(s, `encoding="UTF-16"`, `encoding="UTF-8"`, 1)), &back); err != nil {
		t.Fatalf("task XML does not parse: %v", err)
	}
	if back.Actions.Exec.Arguments != `live --once --state C:\ProgramData\evtxscan\state.json --notify soc --keyword "say \"hi\""` {
		t.Errorf("arguments read back as %q", back.Actions.Exec.Arguments)
	}
}

func TestTaskCheck(t *testing.T) {
	good := Task{Name: DefaultTaskName, Every: time.Hour, Program: "x.exe"}
	tests := []struct {
		mod  func(*Task)
		want string
	}{
		{func(t *Task) { t.Every = 30 * time.Second }, "too short"},
		{func(t *Task) { t.Every = 40 * 24 * time.Hour }, "31 days"},
		{func(t *Task) { t.Every = time.Minute + time.Millisecond }, "whole seconds"},
		{func(t *Task) { t.Name = "evtxscan" }, "task name"},
		{func(t *Task) { t.Name = `\a\b:c` }, "task name"},
		{func(t *Task) { t.Args = []string{"a\r\nb"} }, "line break"},
		{func(t *Task) { t.Program = "" }, "no program"},
	}
	for _, tt := range tests {
		task := good
		tt.mod(&task)
		if err := task.Check(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("error %v, want %q", err, tt.want)
		}
	}
	if err := good.Check(); err != nil {
		t.Error(err)
	}
}

func TestISODuration(t *testing.T) {
	tests := map[time.Duration]string{
		time.Minute: "PT1M", 15 * time.Minute: "PT15M", 90 * time.Minute: "PT1H30M", 24 * time.Hour: "P1D",
		26*time.Hour + 5*time.Second: "P1DT2H5S", 72 * time.Hour: "P3D", 0: "PT0S", 61 * time.Second: "PT1M1S",
	}
	for d, want := range tests {
		if got := isoDuration(d); got != want {
			t.Errorf("isoDuration(%v) = %s, want %s", d, got, want)
		}
	}
}

func TestJoinCommandLine(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"live", "--once"}, "live --once"},
		{[]string{""}, `""`},
		{[]string{`C:\Program Files\x`}, `"C:\Program Files\x"`},
		{[]string{`a"b`}, `"a\"b"`},
		{[]string{`C:\dir with space\`}, `"C:\dir with space\\"`},
		{[]string{`a\\"b c`}, `"a\\\\\"b c"`},
		{[]string{`C:\no\space\`}, `C:\no\space\`},
	}
	for _, tt := range tests {
		if got := JoinCommandLine(tt.args); got != tt.want {
			t.Errorf("JoinCommandLine(%q) = %s, want %s", tt.args, got, tt.want)
		}
	}
}
