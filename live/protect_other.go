//go:build !windows

package live

// WindowsSecurity is the SecurityStore of the running system; there is
// none outside Windows (nil).
func WindowsSecurity() SecurityStore { return nil }
