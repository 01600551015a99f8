package parser

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"iter"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
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
	// ranges collects the chunks' record number ranges during an
	// iteration, for the file's accounting (see finishAccounting).
	ranges []idRange
	// live holds the ids of the allocated records of all chunks as sorted,
	// merged ranges, when Recover is on: a carved record whose id is in them
	// is a stale copy of a record read from allocated space.
	live []idRange
	// templates holds, when Recover is on, every template the chunks'
	// template tables define, by id (first 32 bits of the GUID; ids shared
	// by different GUIDs are dropped): the fallback for carved records
	// whose own chunk lost the definition. Built before decoding, read-only
	// after, so the output does not depend on the number of workers.
	templates map[uint32]*template
	// generalOnly turns off the compiled-template fast path (tests compare
	// the two paths).
	generalOnly bool
	// noReuse makes every worker fresh, with no templates known from
	// earlier chunks or files (tests compare against it).
	noReuse bool
	// enc is the encoder of an Encoded iteration, called by the workers.
	enc func(dst []byte, ev *Event) []byte
}

type idRange struct{ first, last uint64 }

// scanLiveRanges walks the record headers of every chunk the way Events
// reads allocated records (framing only, no BinXML) and keeps the ids as
// merged ranges, so that a record carved from one chunk's slack can be
// recognised as a stale copy of a record read from any chunk, whatever
// their order. Ids within a chunk are consecutive, so this is about one
// range per chunk.
func (f *File) scanLiveRanges(ctx context.Context, slots int) error {
	f.live = f.live[:0]
	f.templates = make(map[uint32]*template)
	conflict := map[uint32]bool{}
	dec := newDecoder()
	buf := make([]byte, chunkSize)
	for i := 0; i < slots; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		off := fileHeaderBlock + int64(i)*chunkSize
		n := int(min(chunkSize, f.size-off))
		data := buf[:n:n]
		if m, _ := f.r.ReadAt(data, off); m < n || n < chunkHeaderSize || string(data[:8]) != chunkSignature {
			continue
		}
		dec.reset(data)
		if !safeScanTemplateTable(dec) {
			continue
		}
		for _, t := range dec.templates {
			if t.err != nil {
				continue
			}
			id := binary.LittleEndian.Uint32(t.guid[:4])
			if old, ok := f.templates[id]; ok && old.guid != t.guid {
				conflict[id] = true
			} else if !ok {
				t.shared = true
				f.templates[id] = t
			}
		}
		end := int(binary.LittleEndian.Uint32(data[48:]))
		if end < chunkHeaderSize || end > n {
			end = n
		}
		for rec := chunkHeaderSize; rec+recordMinSize <= end && string(data[rec:rec+4]) == recordSignature; {
			size, ok := recordSize(data, rec)
			if !ok {
				if size, ok = sizeFits(data, rec, end); !ok {
					break
				}
			}
			id := binary.LittleEndian.Uint64(data[rec+8:])
			if k := len(f.live); k > 0 && f.live[k-1].last+1 == id {
				f.live[k-1].last = id
			} else {
				f.live = append(f.live, idRange{id, id})
			}
			rec += size
		}
	}
	for id := range conflict {
		delete(f.templates, id)
	}
	slices.SortFunc(f.live, func(a, b idRange) int { return cmp.Compare(a.first, b.first) })
	merged := f.live[:0]
	for _, r := range f.live {
		if n := len(merged); n > 0 && r.first <= merged[n-1].last+1 {
			merged[n-1].last = max(merged[n-1].last, r.last)
			continue
		}
		merged = append(merged, r)
	}
	f.live = merged
	return nil
}

// safeScanTemplateTable scans a chunk's template table; a panic (a bug)
// only costs the fallback templates of that chunk.
func safeScanTemplateTable(d *decoder) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	d.scanTemplateTable()
	return true
}

// isLive reports whether id falls in the id range of a sound chunk.
func (f *File) isLive(id uint64) bool {
	i, _ := slices.BinarySearchFunc(f.live, id, func(r idRange, id uint64) int {
		switch {
		case r.last < id:
			return -1
		case r.first > id:
			return 1
		}
		return 0
	})
	return i < len(f.live) && f.live[i].first <= id && id <= f.live[i].last
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
// when the sequence ends. With Options.Recover a first pass reads every
// chunk's record headers and template tables (to drop stale copies and to
// find lost templates), so the file is read twice.
func (f *File) Events(ctx context.Context) iter.Seq2[*Event, error] {
	return func(yield func(*Event, error) bool) {
		f.enc = nil
		f.decode(ctx, func(res *chunkResult) bool {
			for _, it := range res.items {
				if !yield(it.ev, it.err) {
					return false
				}
			}
			return true
		}, func(err error) { yield(nil, err) })
	}
}

// Encoded decodes the file as Events does, but hands each event to enc on
// the goroutine that decoded it — chunks are decoded, and so encoded, in
// parallel — and yields the bytes enc appended, in file order: a block per
// run of events, and the same errors as Events in between. It is the fast
// way to turn a file into text (evtxscan dump uses it with AppendJSON):
// events are not handed between goroutines and their memory is reused.
//
// enc may be called concurrently from several goroutines. The Event it
// gets, and every string in it, is valid only during the call: the memory
// is reused for the next record, so copy what must be kept. The yielded
// bytes are valid until the iteration continues.
func (f *File) Encoded(ctx context.Context, enc func(dst []byte, ev *Event) []byte) iter.Seq2[[]byte, error] {
	return func(yield func([]byte, error) bool) {
		f.enc = enc
		defer func() { f.enc = nil }()
		f.decode(ctx, func(res *chunkResult) bool {
			defer recycleOut(res.out)
			start := 0
			for i, it := range res.items {
				if it.err == nil {
					continue
				}
				if end := prevEnd(res.items, i); end > start {
					if !yield(res.out[start:end], nil) {
						return false
					}
					start = end
				}
				if !yield(nil, it.err) {
					return false
				}
			}
			if start < len(res.out) {
				return yield(res.out[start:], nil)
			}
			return true
		}, func(err error) { yield(nil, err) })
	}
}

// prevEnd returns where the encoded bytes before items[i] end.
func prevEnd(items []chunkItem, i int) int {
	for j := i - 1; j >= 0; j-- {
		if items[j].err == nil {
			return items[j].end
		}
	}
	return 0
}

// outPool recycles the chunk output buffers of Encoded, across files: a
// collection is hundreds of logs, and buffers made per file would be
// garbage by the hundred megabytes.
var outPool sync.Pool

// outBuffer returns an empty buffer for a chunk's encoded output.
func outBuffer() []byte {
	if b, ok := outPool.Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, 128<<10)
}

func recycleOut(b []byte) {
	if cap(b) > 0 && cap(b) <= 4<<20 {
		outPool.Put(&b)
	}
}

// decode runs one iteration: it decodes every chunk (in parallel when
// Workers allows) and calls deliver with each chunk's result in file order,
// until deliver returns false; fail gets a cancellation.
func (f *File) decode(ctx context.Context, deliver func(*chunkResult) bool, fail func(error)) {
	f.stats = Stats{File: f.name, Size: f.size}
	f.ranges = f.ranges[:0]
	if !f.header.ChecksumOK {
		f.stats.Problems = append(f.stats.Problems, Problem{Offset: 0, Chunk: -1,
			Reason: "file header checksum mismatch (header fields ignored; chunks are found by scanning)"})
	}
	slots := f.chunkSlots()
	complete := false
	defer func() {
		if complete {
			f.finishAccounting(slots)
		}
	}()
	if f.opts.Recover {
		if err := f.scanLiveRanges(ctx, slots); err != nil {
			fail(err)
			return
		}
	}
	workers := f.opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if workers > slots {
		workers = max(1, slots)
	}
	accounted := func(res *chunkResult) bool {
		f.account(res)
		return deliver(res)
	}
	if workers == 1 {
		w := newChunkWorker(f)
		defer w.release()
		for i := 0; i < slots; i++ {
			if err := ctx.Err(); err != nil {
				fail(err)
				return
			}
			if !accounted(w.chunk(i)) {
				return
			}
		}
		complete = true
		return
	}
	complete = f.parallel(ctx, slots, workers, accounted, fail)
}

// parallel decodes chunks on workers goroutines and delivers the results
// in chunk order. Workers take the next chunk index themselves (no
// dispatcher goroutine to wake) and may run at most window chunks ahead of
// delivery: a worker takes a token per chunk, the consumer returns it once
// the chunk is delivered, so memory stays bounded and result slot i%window
// is always free when chunk i is done.
func (f *File) parallel(ctx context.Context, slots, workers int, deliver func(*chunkResult) bool, fail func(error)) (complete bool) {
	window := 4 * workers
	results := make([]chan *chunkResult, window)
	for i := range results {
		results[i] = make(chan *chunkResult, 1)
	}
	tokens := make(chan struct{}, window)
	for range window {
		tokens <- struct{}{}
	}
	var next atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newChunkWorker(f)
			defer w.release()
			for {
				select {
				case <-tokens:
				case <-done:
					return
				}
				i := next.Add(1) - 1
				if i >= int64(slots) {
					return
				}
				results[i%int64(window)] <- w.chunk(int(i))
			}
		}()
	}
	defer func() {
		close(done)
		wg.Wait()
	}()
	for i := 0; i < slots; i++ {
		var res *chunkResult
		select {
		case res = <-results[i%window]:
		case <-ctx.Done():
			fail(ctx.Err())
			return false
		}
		if err := ctx.Err(); err != nil {
			fail(err)
			return false
		}
		if !deliver(res) {
			return false
		}
		tokens <- struct{}{}
	}
	return true
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
	s.StaleCopies += res.duplicates
	s.Lost += res.lost
	s.Truncated += res.truncated
	s.Missing += res.missing
	if res.partial {
		s.ChunksPartial++
	}
	if res.zeroed {
		s.ChunksMissing++
	}
	if res.hasIDs {
		s.Expected += int(res.ids.last - res.ids.first + 1)
		f.ranges = append(f.ranges, res.ids)
	} else {
		s.Expected += res.records + res.lost
	}
	s.Problems = append(s.Problems, res.problems...)
}

// finishAccounting checks what was found against the file header and the
// numbering: records are numbered consecutively across chunks (the log is
// a ring, but its numbers never skip), so a gap between the chunks' ranges
// or below the header's next record id is records missing; chunks the
// header counts beyond the end of the file were cut off.
func (f *File) finishAccounting(slots int) {
	s, h := &f.stats, f.header
	// The header's claims are used even when its checksum is off: a
	// checksum stops no one who edits a file on purpose, and a damaged
	// header that overstates only costs a false alarm on a damaged file.
	// (Dirty files understate; that hides nothing.)
	if int(h.ChunkCount) > slots {
		cut := int(h.ChunkCount) - slots
		s.ChunksMissing += cut
		where := "the file ends at " + itoa(f.size) + " bytes"
		if f.size < fileHeaderBlock {
			where += ", inside its " + itoa(fileHeaderBlock) + "-byte header block"
		}
		f.stats.Problems = append(f.stats.Problems, Problem{Offset: f.size, Chunk: -1, Loss: true,
			Reason: "the file header counts " + itoa(int64(h.ChunkCount)) + " chunks but " + where + ": " + itoa(int64(cut)) +
				" chunks (" + itoa(int64(cut)*chunkSize) + " bytes) are missing; the file was cut (copy it again from the source)"})
	}
	// Budget for gaps: the records that chunks not read could have held.
	// A gap larger than that is a numbering jump (a damaged or hostile
	// header), reported but not counted.
	unread := s.ChunksSkipped + s.ChunksMissing
	slices.SortFunc(f.ranges, func(a, b idRange) int { return cmp.Compare(a.first, b.first) })
	var last uint64
	for i, r := range f.ranges {
		if i > 0 && r.first > last+1 {
			f.gap(last+1, r.first-1, unread, "between chunks")
		}
		last = max(last, r.last)
	}
	if len(f.ranges) > 0 && last < ^uint64(0) && h.NextRecordID > last+1 {
		f.gap(last+1, h.NextRecordID-1, unread, "after the last chunk read (the file header's next record id is "+itoa(int64(h.NextRecordID))+")")
	}
}

// gap accounts records first–last missing from the numbering.
func (f *File) gap(first, last uint64, unread int, where string) {
	n := last - first + 1
	s := &f.stats
	if n > uint64(max(unread, 1))*maxChunkRecords {
		s.Problems = append(s.Problems, Problem{Offset: 0, Chunk: -1,
			Reason: "record numbers jump from " + strconv.FormatUint(first-1, 10) + " to " + strconv.FormatUint(last+1, 10) + " " + where + ": more than the chunks not read could hold (a damaged header?)"})
		return
	}
	s.Expected += int(n)
	s.Missing += int(n)
	s.Problems = append(s.Problems, Problem{Offset: 0, Chunk: -1, Records: int(n), Loss: true,
		Reason: strconv.FormatUint(n, 10) + " records (numbers " + strconv.FormatUint(first, 10) + "–" + strconv.FormatUint(last, 10) + ") are missing " + where + ": in chunks skipped, zeroed or cut off"})
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
