//go:build !unix

package input

import "os"

// dirKey has no cheap identity off Unix: directories are compared with
// os.SameFile instead.
func dirKey(os.FileInfo) (any, bool) { return nil, false }
