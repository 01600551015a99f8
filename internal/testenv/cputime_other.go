//go:build !unix

package testenv

import "time"

// CPUTime returns 0: this OS's CPU accounting is not wired up.
func CPUTime() time.Duration { return 0 }
