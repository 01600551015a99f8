package main

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func runCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestLiveFlags(t *testing.T) {
	tests := []struct {
		args    []string
		code    int
		wantErr string
	}{
		{[]string{"live", "--once", "--follow"}, exitUsage, "exclude each other"},
		{[]string{"live", "--batch", "5000"}, exitUsage, "--batch 5000"},
		{[]string{"live", "C:\\logs"}, exitUsage, "for files use evtxscan scan"},
		{[]string{"live", "--id", "x"}, exitUsage, "--id"},
		{[]string{"live", "--notify", "https://hooks.slack.com/services/T/B/SECRET"}, exitUsage, "not an address"},
		{[]string{"live", "--notify-min-level", "high"}, exitUsage, "need --notify"},
	}
	for _, tt := range tests {
		code, _, stderr := runCmd(tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.wantErr) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tt.args, code, stderr, tt.code, tt.wantErr)
		}
		if strings.Contains(stderr, "SECRET") {
			t.Errorf("%q: the secret is echoed: %s", tt.args, stderr)
		}
	}
	if code, stdout, _ := runCmd("live", "--help"); code != exitOK || !strings.Contains(stdout, "--state") || !strings.Contains(stdout, "--notify-config") {
		t.Errorf("live --help: exit %d\n%s", code, stdout)
	}
}

func TestLiveOnlyOnWindows(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("this checks the message on other systems")
	}
	for _, args := range [][]string{{"live"}, {"live", "--follow"}, {"schedule", "status"}, {"schedule", "remove"}, {"schedule", "install"}, {"messages", "export"}} {
		code, _, stderr := runCmd(args...)
		if code != exitUsage || !strings.Contains(stderr, "only on Windows") || !strings.Contains(stderr, "evtxscan scan") {
			t.Errorf("%q: exit %d, stderr %q", args, code, stderr)
		}
	}
}

func TestScheduleInstallPrint(t *testing.T) {
	code, stdout, stderr := runCmd("schedule", "install", "--every", "30m", "--print", "--name", `\evtxscan\test`, "--notify", "soc", "--keyword", "a b", "--format=jsonl")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var task struct {
		URI       string `xml:"RegistrationInfo>URI"`
		Interval  string `xml:"Triggers>TimeTrigger>Repetition>Interval"`
		UserID    string `xml:"Principals>Principal>UserId"`
		Arguments string `xml:"Actions>Exec>Arguments"`
		Command   string `xml:"Actions>Exec>Command"`
	}
	if err := xml.Unmarshal([]byte(strings.Replace(stdout, `encoding="UTF-8"`, "", 1)), &task); err != nil {
		t.Fatalf("printed XML does not parse: %v\n%s", err, stdout)
	}
	want := `live --once --quiet --notify soc --keyword "a b" --format=jsonl --data-dir C:\ProgramData\evtxscan --state C:\ProgramData\evtxscan\state.json --out C:\ProgramData\evtxscan\reports`
	if task.URI != `\evtxscan\test` || task.Interval != "PT30M" || task.UserID != "S-1-5-18" || task.Arguments != want {
		t.Errorf("task %+v\nwant arguments %s", task, want)
	}
	// The task runs the installed copy, quoted, never the program it was started from.
	if runtime.GOOS != "windows" && task.Command != `"C:\Program Files\evtxscan\evtxscan.exe"` {
		t.Errorf("Command %s, want the quoted installed path", task.Command)
	}
	code, stdout, stderr = runCmd("schedule", "install", "--print", "--install-dir", `D:\Tools dir\evtxscan\`, "--data-dir", `D:\evtx data`)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if err := xml.Unmarshal([]byte(strings.Replace(stdout, `encoding="UTF-8"`, "", 1)), &task); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && (task.Command != `"D:\Tools dir\evtxscan\evtxscan.exe"` ||
		task.Arguments != `live --once --quiet --data-dir "D:\evtx data" --state "D:\evtx data\state.json" --out "D:\evtx data\reports"`) {
		t.Errorf("with --install-dir and --data-dir: Command %s Arguments %s", task.Command, task.Arguments)
	}
	refusals := []struct {
		args []string
		want string
	}{
		{[]string{"schedule", "install", "--print", "--follow"}, "leave out --follow"},
		{[]string{"schedule", "install", "--print", "--every", "10s"}, "too short"},
		{[]string{"schedule", "install", "--print", "--level", "nope"}, "--level"},
		{[]string{"schedule", "frobnicate"}, "unknown action"},
	}
	for _, tt := range refusals {
		code, _, stderr := runCmd(tt.args...)
		if code != exitUsage || !strings.Contains(stderr, tt.want) {
			t.Errorf("%q: exit %d, stderr %q, want %q", tt.args, code, stderr, tt.want)
		}
	}
}

func TestAbsolutePathArgs(t *testing.T) {
	wd, _ := os.Getwd()
	got := absolutePathArgs([]string{"--out", "rep", "--rules=my rules", "-o", `C:\r`, "--state", `\\srv\share\s.json`, "--keyword", "rel", "--messages", "/abs/m.yml"})
	want := []string{"--out", filepath.Join(wd, "rep"), "--rules=" + filepath.Join(wd, "my rules"), "-o", `C:\r`, "--state", `\\srv\share\s.json`, "--keyword", "rel", "--messages", "/abs/m.yml"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if !hasFlag([]string{"-o", "x"}, "out", "o") || hasFlag([]string{"--outbox"}, "out") {
		t.Error("hasFlag")
	}
}

func TestSplitScheduleArgs(t *testing.T) {
	own, rest := splitScheduleArgs([]string{"--every", "5m", "--notify", "soc", "--name=x", "--print", "-q", "--everyone"})
	if strings.Join(own, " ") != "--every 5m --name=x --print" || strings.Join(rest, " ") != "--notify soc -q --everyone" {
		t.Errorf("own %q rest %q", own, rest)
	}
}
