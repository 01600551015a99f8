//go:build windows

package notify

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// The locked byte lies far beyond the owner text: Windows locks are
// mandatory, and a waiting process must still read who holds the lock.
const lockByteHigh = 1 // offset 4 GiB

// lockFile takes an exclusive LockFileEx lock on f without waiting; false
// when another handle holds it. On a file system that has no locks it goes
// on unlocked rather than lose alerts (the ledger still keeps duplicates
// rare).
func lockFile(f *os.File) (bool, error) {
	ol := windows.Overlapped{OffsetHigh: lockByteHigh}
	err := windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ol)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, windows.ERROR_LOCK_VIOLATION), errors.Is(err, windows.ERROR_IO_PENDING):
		return false, nil
	case errors.Is(err, windows.ERROR_NOT_SUPPORTED), errors.Is(err, windows.ERROR_INVALID_FUNCTION):
		return true, nil
	}
	return false, err
}

func unlockFile(f *os.File) {
	ol := windows.Overlapped{OffsetHigh: lockByteHigh}
	windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, &ol)
}
