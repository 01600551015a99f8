//go:build unix

package input

import (
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// TestSpecialFiles: a FIFO named like a log is skipped with a warning in a
// folder and is an error when named; nothing blocks.
func TestSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "good.evtx"), fakeLog("g"))
	fifo := filepath.Join(dir, "x.evtx")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	items, errs := expandWithin(t, dir)
	if got := names(items); !slices.Equal(got, []string{filepath.Join(dir, "good.evtx")}) {
		t.Errorf("items = %v", got)
	}
	if len(errs) != 1 || !IsWarning(errs[0]) || errs[0].Error() != fifo+": skipped: a named pipe (FIFO), not a regular file" {
		t.Errorf("errs = %v", errs)
	}
	items, errs = expandWithin(t, fifo)
	if len(items) != 0 || len(errs) != 1 || IsWarning(errs[0]) || errs[0].Error() != fifo+": a named pipe (FIFO), not a regular file: evtxscan reads only regular files" {
		t.Errorf("named FIFO: items %v errs %v", names(items), errs)
	}
}
