package analysis

import (
	"bufio"
	"container/heap"
	"fmt"
	"io"
	"iter"
	"os"
	"slices"

	"github.com/evtxscan/evtxscan/parser"
)

// A sorter puts events in time order with bounded memory: it keeps a run of
// events in memory, and when the run grows past its budget it sorts it and
// spills it to a temporary file; at the end it merges the runs. Input that
// fits in one run is never written to disk.
//
// Ties (events of the same instant) keep their arrival order, so the output
// is deterministic for a given input order.
type sorter struct {
	dir         string // where run files go ("" = os.TempDir())
	maxBytes    int64  // memory budget of one run (estimated)
	run         []seqEvent
	runBytes    int64
	seq         uint64
	files       []*os.File
	spilled     int // events written to disk
	maxRunBytes int64
}

type seqEvent struct {
	seq uint64
	ev  *parser.Event
}

func newSorter(dir string, maxBytes int64) *sorter {
	if maxBytes <= 0 {
		maxBytes = 256 << 20
	}
	return &sorter{dir: dir, maxBytes: maxBytes}
}

// add takes ownership of ev.
func (s *sorter) add(ev *parser.Event) error {
	s.run = append(s.run, seqEvent{s.seq, ev})
	s.seq++
	s.runBytes += estimateSize(ev)
	if s.runBytes > s.maxRunBytes {
		s.maxRunBytes = s.runBytes
	}
	if s.runBytes >= s.maxBytes {
		return s.spill()
	}
	return nil
}

func lessEvent(a, b seqEvent) int {
	if c := a.ev.Time().Compare(b.ev.Time()); c != 0 {
		return c
	}
	switch {
	case a.seq < b.seq:
		return -1
	case a.seq > b.seq:
		return 1
	}
	return 0
}

func (s *sorter) spill() error {
	slices.SortFunc(s.run, lessEvent)
	// Nothing is left behind on any exit path, kill -9 included: the file
	// is unlinked at once (Unix) or deleted on close by Windows.
	f, err := createSpill(s.dir)
	if err != nil {
		return fmt.Errorf("cannot create a temporary file to sort the timeline (%v): set TMPDIR to a folder with free space", err)
	}
	w := &spillWriter{w: bufio.NewWriterSize(f, 1<<20)}
	for _, se := range s.run {
		if err := w.write(se.seq, se.ev); err != nil {
			f.Close()
			return fmt.Errorf("writing the temporary sort file: %v (is the disk full? set TMPDIR elsewhere)", err)
		}
	}
	if err := w.w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("writing the temporary sort file: %v (is the disk full? set TMPDIR elsewhere)", err)
	}
	s.files = append(s.files, f)
	s.spilled += len(s.run)
	clear(s.run)
	s.run = s.run[:0]
	s.runBytes = 0
	return nil
}

// sorted yields every event in time order, then releases the run files.
// It may be called once.
func (s *sorter) sorted() iter.Seq2[*parser.Event, error] {
	return func(yield func(*parser.Event, error) bool) {
		defer s.close()
		if len(s.files) == 0 {
			slices.SortFunc(s.run, lessEvent)
			for i, se := range s.run {
				s.run[i].ev = nil // let the consumer's copy be the only one
				if !yield(se.ev, nil) {
					return
				}
			}
			return
		}
		if len(s.run) > 0 {
			if err := s.spill(); err != nil {
				yield(nil, err)
				return
			}
		}
		h := &mergeHeap{}
		for _, f := range s.files {
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				yield(nil, err)
				return
			}
			r := &spillReader{r: bufio.NewReaderSize(f, 256<<10)}
			seq, ev, err := r.read()
			if err == io.EOF {
				continue
			}
			if err != nil {
				yield(nil, err)
				return
			}
			heap.Push(h, &mergeSource{r: r, head: seqEvent{seq, ev}})
		}
		for h.Len() > 0 {
			src := (*h)[0]
			ev := src.head.ev
			seq, next, err := src.r.read()
			switch {
			case err == io.EOF:
				heap.Pop(h)
			case err != nil:
				yield(nil, err)
				return
			default:
				src.head = seqEvent{seq, next}
				heap.Fix(h, 0)
			}
			if !yield(ev, nil) {
				return
			}
		}
	}
}

func (s *sorter) close() {
	for _, f := range s.files {
		f.Close()
		os.Remove(f.Name())
	}
	s.files = nil
	s.run = nil
}

type mergeSource struct {
	r    *spillReader
	head seqEvent
}

type mergeHeap []*mergeSource

func (h mergeHeap) Len() int           { return len(h) }
func (h mergeHeap) Less(i, j int) bool { return lessEvent(h[i].head, h[j].head) < 0 }
func (h mergeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *mergeHeap) Push(x any)        { *h = append(*h, x.(*mergeSource)) }
func (h *mergeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// estimateSize approximates the memory an event holds, for the run budget.
func estimateSize(e *parser.Event) int64 {
	n := int64(512)                // struct and slice headers
	n += int64(len(e.Source.File)) // shared in practice, counted anyway
	s := &e.System
	n += int64(len(s.Provider) + len(s.ProviderGUID) + len(s.Channel) + len(s.Computer) + len(s.UserID) + len(s.ActivityID))
	for _, f := range e.EventData {
		n += int64(len(f.Name)+len(f.Value)) + 32
	}
	n += int64(len(e.Binary) + len(e.Message) + len(e.RenderedMessage) + len(e.XML))
	for _, v := range e.InsertionStrings {
		n += int64(len(v)) + 16
	}
	var walk func(*parser.Node)
	walk = func(nd *parser.Node) {
		if nd == nil {
			return
		}
		n += int64(len(nd.Name)+len(nd.Text)) + 64
		for _, a := range nd.Attrs {
			n += int64(len(a.Name)+len(a.Value)) + 32
		}
		for _, c := range nd.Children {
			walk(c)
		}
	}
	walk(e.UserData)
	for _, o := range e.Other {
		walk(o)
	}
	return n
}
