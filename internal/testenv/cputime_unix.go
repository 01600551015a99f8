//go:build unix

package testenv

import (
	"syscall"
	"time"
)

// CPUTime returns the user+system CPU time this process has used, so
// benchmarks can report cost apart from the wall time a busy machine adds.
// It returns 0 where the OS does not tell.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
