package input

import (
	"context"
	"sync"
)

// A Window bounds the memory of the items open at once when a reader works
// ahead (decoding the next files while the current one is consumed): each
// item takes its InMemory bytes from the window before it is opened and
// gives them back once consumed. An item larger than the window takes all
// of it, so it is read alone; items read in place take nothing. Without it,
// reading ahead in a collection of large compressed members would hold
// several of them decompressed at once.
type Window struct {
	mu   sync.Mutex
	cond *sync.Cond
	size int64
	free int64
	ctx  context.Context
}

// DefaultWindow is the memory a reader working ahead may hold in
// decompressed archive members besides the one it is on.
const DefaultWindow = 512 << 20

// NewWindow returns a window of size bytes whose waits end when ctx is
// done.
func NewWindow(ctx context.Context, size int64) *Window {
	w := &Window{size: size, free: size, ctx: ctx}
	w.cond = sync.NewCond(&w.mu)
	context.AfterFunc(ctx, func() {
		w.mu.Lock()
		w.cond.Broadcast()
		w.mu.Unlock()
	})
	return w
}

// Acquire waits until the item's share of the window is free and takes it.
// It returns the share to give back to Release, and false when the
// context ended first.
func (w *Window) Acquire(it *Item) (int64, bool) {
	n := min(it.InMemory, w.size)
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.free < n {
		if w.ctx.Err() != nil {
			return 0, false
		}
		w.cond.Wait()
	}
	if w.ctx.Err() != nil {
		return 0, false
	}
	w.free -= n
	return n, true
}

// Release gives back a share taken by Acquire.
func (w *Window) Release(n int64) {
	if n == 0 {
		return
	}
	w.mu.Lock()
	w.free += n
	w.cond.Broadcast()
	w.mu.Unlock()
}
