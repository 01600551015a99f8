//go:build !windows

package live

func openEventLog() (eventLog, error) { return nil, ErrUnsupported }
