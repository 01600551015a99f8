//go:build linux || darwin

package main

import (
	"bytes"
	"context"
	"errors"
	"iter"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/evtxscan/evtxscan/analysis"
	"github.com/evtxscan/evtxscan/internal/testenv"
	"github.com/evtxscan/evtxscan/parser"
)

// The interruption tests run a real scan in a child process: the test
// binary itself, re-executed with EVTXSCAN_TEST_CHILD set, which runs the
// command line given after the test flags. With EVTXSCAN_TEST_CHILD=block
// the scan's source yields one event, creates the file EVTXSCAN_TEST_READY
// names, then waits for the run to be cancelled: the child is always
// stopped at the same point, with its reports half-written in its stage.
func TestMain(m *testing.M) {
	switch os.Getenv("EVTXSCAN_TEST_CHILD") {
	case "":
		os.Exit(m.Run())
	case "block":
		wrapScanSource = func(s analysis.Source) analysis.Source {
			return &blockingSource{Source: s, ready: os.Getenv("EVTXSCAN_TEST_READY")}
		}
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type blockingSource struct {
	analysis.Source
	ready string
}

func (b *blockingSource) Events(ctx context.Context) iter.Seq2[*parser.Event, error] {
	return func(yield func(*parser.Event, error) bool) {
		n := 0
		for ev, err := range b.Source.Events(ctx) {
			if !yield(ev, err) {
				return
			}
			if n++; n == 1 {
				if err := os.WriteFile(b.ready, nil, 0o644); err != nil {
					panic(err)
				}
				<-ctx.Done()
				return
			}
		}
	}
}

// childScan starts the test binary as `evtxscan scan args...`.
func childScan(t *testing.T, mode string, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"scan"}, args...)...)
	cmd.Env = append(append(os.Environ(), "EVTXSCAN_TEST_CHILD="+mode), env...)
	return cmd
}

// snapshot returns the content of every file in dir, by name.
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() {
			out[e.Name()+"/"] = nil
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

func sameSnapshot(t *testing.T, what string, got, want map[string][]byte) {
	t.Helper()
	for name, b := range want {
		if g, ok := got[name]; !ok || !bytes.Equal(g, b) {
			t.Errorf("%s: %s changed (%d bytes, was %d)", what, name, len(g), len(b))
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: new entry %s in the output folder", what, name)
		}
	}
}

// leftovers lists the temporary entries evtxscan may leave in dir.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".evtxscan") || strings.HasSuffix(e.Name(), ".tmp") {
			out = append(out, e.Name())
		}
	}
	return out
}

var allFormats = []string{"--format", "xlsx,html,csv,jsonl", "--quiet"}

// goodReport scans the scenario logs into out, as a previous run would have.
func goodReport(t *testing.T, out string) map[string][]byte {
	t.Helper()
	src := filepath.Join(testenv.RepoRoot(t), "testdata", "evtx", "noise_quiet")
	var stderr bytes.Buffer
	if code := run(append([]string{"scan", "--out", out}, append(allFormats, src)...), &bytes.Buffer{}, &stderr); code != exitOK {
		t.Fatalf("first scan: exit %d: %s", code, stderr.String())
	}
	snap := snapshot(t, out)
	if len(snap) != 7 { // 6 reports and run.json
		t.Fatalf("first scan wrote %d files, want 7: %v", len(snap), snap)
	}
	return snap
}

func waitForFile(t *testing.T, path string, cmd *exec.Cmd) {
	t.Helper()
	// A bound against a hung child, not a timing assertion.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("the child scan never reached its blocking point")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestScanInterrupted kills a real scan in the middle of its run, with
// kill -9 and with SIGTERM: the previous reports are intact; SIGTERM cleans
// up and exits 143, kill -9 cannot, and the next run removes its stage.
func TestScanInterrupted(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("signals are a Unix test; Windows stops processes with TerminateProcess (the kill -9 case)")
	}
	src := filepath.Join(testenv.RepoRoot(t), "testdata", "evtx", "noise_quiet")
	for _, tt := range []struct {
		name     string
		sig      syscall.Signal
		wantCode int
	}{
		{"SIGKILL", syscall.SIGKILL, -1},
		{"SIGTERM", syscall.SIGTERM, exitTerminated},
		{"SIGINT", syscall.SIGINT, exitInterrupted},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out")
			before := goodReport(t, out)

			ready := filepath.Join(dir, "ready")
			cmd := childScan(t, "block", []string{"EVTXSCAN_TEST_READY=" + ready}, append(append([]string{"--out", out}, allFormats...), src)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waitForFile(t, ready, cmd)
			// Mid-run: the child's stage holds its half-written reports.
			if left := leftovers(t, out); len(left) != 1 || !strings.HasPrefix(left[0], ".evtxscan-run-") {
				t.Errorf("mid-run the output folder holds %v, want one stage folder", left)
			}
			if err := cmd.Process.Signal(tt.sig); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("child: %v, want it stopped; stderr: %s", err, stderr.String())
			}
			if tt.wantCode >= 0 && ee.ExitCode() != tt.wantCode {
				t.Errorf("exit code %d, want %d; stderr: %s", ee.ExitCode(), tt.wantCode, stderr.String())
			}
			left := leftovers(t, out)
			if tt.sig == syscall.SIGKILL {
				if len(left) != 1 {
					t.Errorf("after kill -9: %v, want the dead run's stage", left)
				}
				for _, name := range left {
					before[name+"/"] = nil // compared as an entry, not by content
				}
			} else {
				if len(left) != 0 {
					t.Errorf("after %s: temporary files left: %v", tt.name, left)
				}
				if !strings.Contains(stderr.String(), "reports in "+out+" are unchanged") {
					t.Errorf("stderr does not say the reports are unchanged: %s", stderr.String())
				}
			}
			sameSnapshot(t, "after "+tt.name, snapshot(t, out), before)

			// The next run replaces the reports and removes every
			// temporary file, the dead run's included.
			var stderr2 bytes.Buffer
			if code := run(append([]string{"scan", "--out", out}, append(allFormats, src)...), &bytes.Buffer{}, &stderr2); code != exitOK {
				t.Fatalf("next scan: exit %d: %s", code, stderr2.String())
			}
			if left := leftovers(t, out); len(left) != 0 {
				t.Errorf("after the next run: temporary files left: %v", left)
			}
		})
	}
}

// TestScanDiskFull fills the output folder's disk during a rerun: the run
// fails with exit 2 and a message naming the report and saying what to do,
// the previous reports are intact and no temporary file is left. It uses a
// small tmpfs when this process may mount one (root on Linux); otherwise a
// file size limit (ulimit -f) makes the writes fail the same way.
func TestScanDiskFull(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs a Unix shell or tmpfs")
	}
	src := filepath.Join(testenv.RepoRoot(t), "testdata", "evtx", "noise_quiet")
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	args := append(append([]string{"scan", "--out", out}, allFormats...), src)
	var cmd *exec.Cmd
	var before map[string][]byte
	if runtime.GOOS == "linux" && exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", out).Run() == nil {
		t.Cleanup(func() { _ = exec.Command("umount", out).Run() })
		before = goodReport(t, out)
		fillDisk(t, out, 16<<10)
		cmd = exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "EVTXSCAN_TEST_CHILD=plain")
		t.Log("full disk: tmpfs")
	} else {
		if _, err := exec.LookPath("sh"); err != nil {
			t.Skip("neither tmpfs nor sh available")
		}
		before = goodReport(t, out)
		// 16 KiB: less than report.html or report.xlsx need.
		cmd = exec.Command("sh", append([]string{"-c", `ulimit -f 32 && exec "$0" "$@"`, os.Args[0]}, args...)...)
		cmd.Env = append(os.Environ(), "EVTXSCAN_TEST_CHILD=plain")
		t.Log("full disk: no tmpfs mount allowed, a file size limit instead")
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitUsage {
		t.Fatalf("scan on a full disk: %v, want exit %d; stderr: %s", err, exitUsage, stderr.String())
	}
	msg := stderr.String()
	for _, want := range []string{"cannot write " + out + string(filepath.Separator), "the previous ones in " + out + " are unchanged", "disk is full", "--out"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q: %s", want, msg)
		}
	}
	if strings.Contains(msg, ".evtxscan-run-") {
		t.Errorf("message names the stage folder instead of the report: %s", msg)
	}
	if left := leftovers(t, out); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	after := snapshot(t, out)
	delete(after, "filler")
	sameSnapshot(t, "after the full disk", after, before)
}

// fillDisk writes a file "filler" in dir until only about free bytes are
// left on its file system.
func fillDisk(t *testing.T, dir string, free int64) {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	avail := int64(st.Bavail) * int64(st.Bsize)
	if avail <= free {
		return
	}
	if err := os.WriteFile(filepath.Join(dir, "filler"), make([]byte, avail-free), 0o644); err != nil {
		t.Fatal(err)
	}
}
