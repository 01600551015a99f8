package input

import (
	"archive/zip"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestInMemory: a deflated member holds its decompressed size in memory
// when open; a stored member and a plain file are read in place.
func TestInMemory(t *testing.T) {
	dir := t.TempDir()
	archive := filepath.Join(dir, "c.zip")
	writeZip(t, archive, []member{
		{"deflated.evtx", fakeLog(strings.Repeat("a", 5000)), zip.Deflate},
		{"stored.evtx", fakeLog("stored"), zip.Store},
	})
	writeFile(t, filepath.Join(dir, "plain.evtx"), fakeLog("plain"))
	items, errs := Expand([]string{dir}, Options{})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	got := map[string]int64{}
	for _, it := range items {
		got[filepath.Base(strings.ReplaceAll(it.Name, "!", "/"))] = it.InMemory
	}
	if got["deflated.evtx"] != int64(len(fakeLog(strings.Repeat("a", 5000)))) || got["stored.evtx"] != 0 || got["plain.evtx"] != 0 {
		t.Errorf("InMemory = %v", got)
	}
}

// TestWindow: small items share the window, an item larger than it waits
// until everything before it is released, and cancelling ends a wait.
func TestWindow(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := NewWindow(ctx, 100)
	a, ok1 := w.Acquire(&Item{InMemory: 40})
	b, ok2 := w.Acquire(&Item{InMemory: 0})
	c, ok3 := w.Acquire(&Item{InMemory: 50})
	if !ok1 || !ok2 || !ok3 || a != 40 || b != 0 || c != 50 {
		t.Fatalf("small items: %d %v, %d %v, %d %v", a, ok1, b, ok2, c, ok3)
	}
	big := make(chan int64)
	go func() {
		n, _ := w.Acquire(&Item{InMemory: 1 << 30}) // capped at the window: all of it
		big <- n
	}()
	select {
	case <-big:
		t.Fatal("a big item got in while others were open")
	case <-time.After(50 * time.Millisecond):
	}
	w.Release(a)
	w.Release(c)
	if n := <-big; n != 100 {
		t.Fatalf("big item took %d, want the whole window", n)
	}
	waiting := make(chan bool)
	go func() {
		_, ok := w.Acquire(&Item{InMemory: 10})
		waiting <- ok
	}()
	cancel()
	select {
	case ok := <-waiting:
		if ok {
			t.Error("Acquire succeeded after the context ended")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancelling did not end the wait")
	}
}
