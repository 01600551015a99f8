//go:build unix

package input

import (
	"os"
	"syscall"
)

// dirKey identifies a directory however it was reached (device, inode).
func dirKey(fi os.FileInfo) (any, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, false
	}
	return [2]uint64{uint64(st.Dev), uint64(st.Ino)}, true
}
