//go:build !windows

package analysis

import "os"

// createSpill creates a sorter run file and unlinks it at once, so nothing
// is left behind even if the process is killed; the open file stays usable.
func createSpill(dir string) (*os.File, error) {
	f, err := os.CreateTemp(dir, "evtxscan-run-*.bin")
	if err != nil {
		return nil, err
	}
	_ = os.Remove(f.Name())
	return f, nil
}
