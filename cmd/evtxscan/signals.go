package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"syscall"

	"github.com/evtxscan/evtxscan/report"
)

// Exit codes after a signal, as shells report a process killed by one
// (128 + the signal's number); a documented interface (README).
const (
	exitInterrupted = 130 // SIGINT (Ctrl-C)
	exitTerminated  = 143 // SIGTERM (kill, systemd, Task Scheduler's stop)
)

// An interruption turns SIGINT and SIGTERM into a cancelled context, so a
// command stops at its next event, removes its temporary files, keeps the
// previous reports and exits with code. A second signal exits at once: the
// next run removes what was left (see report's stages).
type interruption struct {
	ctx    context.Context
	cancel context.CancelFunc
	code   atomic.Int32 // exit code of the first signal, 0 before one
	ch     chan os.Signal
	done   chan struct{}
}

// exitNow ends the process on a second signal; tests replace it.
var exitNow = os.Exit

func handleSignals(parent context.Context, stderr io.Writer, what string) *interruption {
	ctx, cancel := context.WithCancel(parent)
	in := &interruption{ctx: ctx, cancel: cancel, ch: make(chan os.Signal, 2), done: make(chan struct{})}
	signal.Notify(in.ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		for {
			select {
			case <-in.done:
				return
			case sig := <-in.ch:
				code := int32(exitInterrupted)
				if sig == syscall.SIGTERM {
					code = exitTerminated
				}
				if !in.code.CompareAndSwap(0, code) {
					fmt.Fprintf(stderr, "\nevtxscan %s: %s again: stopping now; the next run removes the temporary files left behind\n", what, sigName(sig))
					exitNow(int(in.code.Load()))
					return
				}
				fmt.Fprintf(stderr, "\nevtxscan %s: %s: stopping and cleaning up (the previous reports are kept; send it again to stop at once)\n", what, sigName(sig))
				cancel()
			}
		}
	}()
	return in
}

// exitCode is the code for the signal received, 0 when none came.
func (in *interruption) exitCode() int { return int(in.code.Load()) }

// stop stops listening; signals then have their default effect again.
func (in *interruption) stop() {
	signal.Stop(in.ch)
	close(in.done)
	in.cancel()
}

func sigName(sig os.Signal) string {
	if sig == syscall.SIGTERM {
		return "SIGTERM"
	}
	return "interrupted (SIGINT)"
}

// printRunError says why a run failed and what to do. A report that could
// not be written names its file; the previous reports are still there.
func printRunError(stderr io.Writer, what string, err error) {
	var we *report.WriteError
	if !errors.As(err, &we) {
		fmt.Fprintf(stderr, "evtxscan %s: %v\n", what, err)
		return
	}
	dir := we.Path
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		dir = filepath.Dir(dir)
	}
	advice := "check the folder's permissions, or choose another with --out"
	if diskFull(err) {
		advice = "the disk is full (or a file size limit was reached): free some space there or choose another folder with --out"
	}
	fmt.Fprintf(stderr, "evtxscan %s: %v\n  no report was replaced (the previous ones in %s are unchanged); %s, then run it again\n", what, err, dir, advice)
}

// diskFull reports whether err says the disk (or a quota) is full.
func diskFull(err error) bool {
	var en syscall.Errno
	if !errors.As(err, &en) {
		return false
	}
	if runtime.GOOS == "windows" {
		return en == 39 || en == 112 // ERROR_HANDLE_DISK_FULL, ERROR_DISK_FULL
	}
	return en == syscall.ENOSPC || en == syscall.EDQUOT || en == syscall.EFBIG
}
