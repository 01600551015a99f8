//go:build !unix && !windows

package report

import (
	"errors"
	"os"
)

// lockFile is not supported here: stages are then never taken for a dead
// run's, and each run removes only its own.
func lockFile(*os.File) error { return errors.ErrUnsupported }
