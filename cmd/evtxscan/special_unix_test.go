//go:build unix

package main

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/evtxscan/evtxscan/internal/testenv"
)

// TestScanSkipsFIFO: a named pipe called x.evtx used to hang the run
// forever. In a folder it is skipped with a warning (nothing a log could be
// in was lost: exit 0); named on the command line it is unreadable (exit 3).
func TestScanSkipsFIFO(t *testing.T) {
	root := testenv.RepoRoot(t)
	dir := t.TempDir()
	copyFile(t, filepath.Join(root, "testdata", "evtx", "s1_custom_action_rollback", "System.evtx"), filepath.Join(dir, "System.evtx"))
	fifo := filepath.Join(dir, "x.evtx")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		arg      string
		wantCode int
		want     string
	}{
		{dir, exitOK, "warning: " + fifo + ": skipped: a named pipe (FIFO), not a regular file"},
		{fifo, exitUnreadable, fifo + ": cannot read it: a named pipe (FIFO), not a regular file"},
	}
	for _, tt := range tests {
		done := make(chan struct{})
		var code int
		var stderr string
		go func() {
			code, _, stderr = scan(t, "--format", "jsonl", "--out", t.TempDir(), tt.arg)
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(time.Minute):
			t.Fatalf("scan %s hangs", tt.arg)
		}
		if code != tt.wantCode || !strings.Contains(stderr, tt.want) {
			t.Errorf("scan %s: exit %d, want %d; stderr does not say %q:\n%s", tt.arg, code, tt.wantCode, tt.want, stderr)
		}
	}
}
