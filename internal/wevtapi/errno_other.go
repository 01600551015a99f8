//go:build !windows

package wevtapi

func errnoText(Errno) string { return "" }
