package parser

import (
	"context"
	"errors"
	"io"
	"iter"
	"os"
	"runtime"
	"sync"
)

// Options are the parser settings; the zero value is the default.
type Options struct {
	// Workers is the number of chunks decoded in parallel: 0 means
	// GOMAXPROCS, 1 decodes inline without goroutines. Events come out in
	// chunk order whatever the number.
	Workers int
	// Recover carves records from chunk slack (after the last record) and
	// from damaged chunks; they come out with Source.Recovered set. No
	// record is yielded twice.
	Recover bool
	// XML fills Event.XML with the record rendered as Windows writes it.
	XML bool
}

// A File is an open .evtx file. Its methods may be called from one
// goroutine at a time; Events decodes chunks in parallel internally.
type File struct {
	r      io.ReaderAt
	size   int64
	name   string
	opts   Options
	header FileHeader
	closer io.Closer
	stats  Stats
}

// Open opens the .evtx file at path. The File owns the os.File; Close it.
// The error names the path; errors.Is(err, ErrNotEVTX) tells a file that
// is not an event log.
func Open(path string, opts Options) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, err
	}
	f, err := NewFile(fh, st.Size(), path, opts)
	if err != nil {
		fh.Close()
		return nil, err
	}
	f.closer = fh
	return f, nil
}

// NewFile reads an event log from r, of size bytes; name is reported in
// Source.File and in errors. Close does not close r.
func NewFile(r io.ReaderAt, size int64, name string, opts Options) (*File, error) {
	if size < fileHeaderUsed {
		return nil, &fileError{name: name, err: ErrNotEVTX, why: "only " + itoa(size) + " bytes"}
	}
	var b [fileHeaderUsed]byte
	if _, err := r.ReadAt(b[:], 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, &fileError{name: name, err: err, why: "reading the file header"}
	}
	if !HasSignature(b[:]) {
		return nil, &fileError{name: name, err: ErrNotEVTX}
	}
	f := &File{r: r, size: size, name: name, opts: opts, header: parseFileHeader(b[:])}
	return f, nil
}

type fileError struct {
	name, why string
	err       error
}

func (e *fileError) Error() string {
	s := e.name + ": " + e.err.Error()
	if e.why != "" {
		s += " (" + e.why + ")"
	}
	return s
}

func (e *fileError) Unwrap() error { return e.err }

// Header returns the file header as stored (its counts are claims).
func (f *File) Header() FileHeader { return f.header }

// Stats returns the accounting of the last Events iteration; it is complete
// once the iteration has finished.
func (f *File) Stats() Stats {
	s := f.stats
	s.Problems = append([]Problem(nil), f.stats.Problems...)
	return s
}

// Close closes the file if Open opened it.
func (f *File) Close() error {
	if f.closer != nil {
		c := f.closer
		f.closer = nil
		return c.Close()
	}
	return nil
}

// chunkSlots returns the number of chunk positions the file size allows,
// counting a trailing partial chunk (which may hold carvable records).
func (f *File) chunkSlots() int {
	if f.size <= fileHeaderBlock {
		return 0
	}
	return int((f.size - fileHeaderBlock + chunkSize - 1) / chunkSize)
}

// Events returns the file's events in chunk order (file order), each with
// its own error slot: non-fatal problems come as *ChunkError or *RecordError
// values (with a nil event) and iteration goes on. Chunks are found by
// position and signature; the header's chunk count is not trusted. When ctx
// is cancelled the sequence yields ctx.Err() and stops. Stats is complete
// when the sequence ends.
func (f *File) Events(ctx context.Context) iter.Seq2[*Event, error] {
	return func(yield func(*Event, error) bool) {
		f.stats = Stats{File: f.name, Size: f.size}
		if !f.header.ChecksumOK {
			f.stats.Problems = append(f.stats.Problems, Problem{Offset: 0, Chunk: -1,
				Reason: "file header checksum mismatch (header fields ignored; chunks are found by scanning)"})
		}
		slots := f.chunkSlots()
		workers := f.opts.Workers
		if workers <= 0 {
			workers = runtime.GOMAXPROCS(0)
		}
		if workers > slots {
			workers = max(1, slots)
		}
		deliver := func(res *chunkResult) bool {
			f.account(res)
			for _, it := range res.items {
				if !yield(it.ev, it.err) {
					return false
				}
			}
			return true
		}
		if workers == 1 {
			w := newChunkWorker(f)
			for i := 0; i < slots; i++ {
				if err := ctx.Err(); err != nil {
					yield(nil, err)
					return
				}
				if !deliver(w.chunk(i)) {
					return
				}
			}
			return
		}
		f.parallel(ctx, slots, workers, deliver, yield)
	}
}

type chunkJob struct {
	idx int
	out chan *chunkResult
}

// parallel decodes chunks on workers goroutines with at most 2×workers
// chunks in flight, delivering results in chunk order.
func (f *File) parallel(ctx context.Context, slots, workers int, deliver func(*chunkResult) bool, yield func(*Event, error) bool) {
	done := make(chan struct{})
	jobs := make(chan chunkJob)
	queue := make(chan chan *chunkResult, 2*workers)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // producer: reserve an in-order slot, then hand out the job
		defer wg.Done()
		defer close(queue)
		defer close(jobs)
		for i := 0; i < slots; i++ {
			out := make(chan *chunkResult, 1)
			select {
			case queue <- out:
			case <-done:
				return
			}
			select {
			case jobs <- chunkJob{i, out}:
			case <-done:
				return
			}
		}
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newChunkWorker(f)
			for j := range jobs {
				j.out <- w.chunk(j.idx)
			}
		}()
	}
	defer func() {
		close(done)
		wg.Wait()
	}()
	for out := range queue {
		var res *chunkResult
		select {
		case res = <-out:
		case <-ctx.Done():
			yield(nil, ctx.Err())
			return
		}
		if err := ctx.Err(); err != nil {
			yield(nil, err)
			return
		}
		if !deliver(res) {
			return
		}
	}
}

func (f *File) account(res *chunkResult) {
	s := &f.stats
	if res.found {
		s.Chunks++
	}
	if res.skipped {
		s.ChunksSkipped++
	}
	s.Records += res.records
	s.Recovered += res.recovered
	s.Lost += res.lost
	s.Problems = append(s.Problems, res.problems...)
}

func itoa(v int64) string {
	var b [20]byte
	i := len(b)
	neg := v < 0
	if neg {
		v = -v
	}
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
