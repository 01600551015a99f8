//go:build !windows

package live

import "github.com/evtxscan/evtxscan/messages"

// ExportMessages works only on Windows; elsewhere it returns ErrUnsupported.
func ExportMessages(progress ExportProgress) ([]messages.Entry, error) {
	return nil, ErrUnsupported
}
