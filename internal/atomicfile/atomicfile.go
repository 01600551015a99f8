// Package atomicfile replaces a file's content so that a crash or a power
// loss leaves either the old content or the new one, never a mix: the live
// mode's state file and the alert outbox depend on it.
package atomicfile

import (
	"os"
	"path/filepath"
)

// WriteFile writes data to path through a synced temporary file in the same
// folder (created if needed) and a rename, then syncs the folder where the
// system allows it (on Windows opening a folder for sync fails; that is
// ignored, MoveFileEx's replace is atomic there).
func WriteFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
