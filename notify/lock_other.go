//go:build !(unix && !aix) && !windows

package notify

import "os"

// lockFile cannot lock on this system (no flock or LockFileEx): the
// outbox is not locked, and concurrent runs rely on the delivered-alert
// ledger alone to avoid duplicates.
func lockFile(f *os.File) (bool, error) { return true, nil }

func unlockFile(f *os.File) {}
