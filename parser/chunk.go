package parser

import (
	"encoding/binary"
	"hash/crc32"
	"strconv"
	"sync"
	"time"
)

// A chunkItem is one result of a chunk, in order: an event or an error.
type chunkItem struct {
	ev  *Event
	err error
	end int // Encoded: where this event's bytes end in chunkResult.out
}

// chunkResult is everything one chunk produced, handed to the consumer in
// chunk order.
type chunkResult struct {
	items      []chunkItem
	found      bool // a chunk (good or damaged) occupies this slot
	skipped    bool
	records    int
	recovered  int
	lost       int
	duplicates int // carved copies of records read from allocated space
	truncated  int // records whose output was cut at the byte budget
	// recoveredIn counts carved records numbered inside the chunk header's
	// range: they are found, if not from allocated space.
	recoveredIn int
	missing     int // records the chunk header announces that were not found
	// partial is set when reading stopped inside the chunk and its header's
	// record range cannot say how many records the rest held.
	partial bool
	zeroed  bool
	// ids is the range of record numbers the chunk holds: its header's
	// when that is trustworthy, else the numbers of the records read.
	ids      idRange
	hasIDs   bool
	problems []Problem
	out      []byte // Encoded: the encoder's output for the chunk's events
}

// chunkWorker decodes chunks; each worker owns its buffer and decoder.
type chunkWorker struct {
	f      *File
	buf    []byte
	dec    *decoder
	xml    []byte
	render renderState
	// scratch is the Event every record is decoded into when the File
	// encodes events in the worker (Encoded): it never leaves the worker.
	scratch Event
	res     *chunkResult
	idx     int
	base    int64 // file offset of the chunk
	// liveIDs holds the ids of this chunk's allocated records: a carved
	// record with one of them is a stale copy (slack keeps old copies).
	liveIDs map[uint64]bool
	// output is the number of bytes the chunk's records rendered so far
	// (see maxChunkOutput).
	output int
	// seen counts the records read or lost from allocated space whose
	// number is in hdr (the chunk header's range, when hdrOK), and
	// lowID/highID span the numbers of the records read.
	hdr           idRange
	hdrOK         bool
	seen          int
	lowID, highID uint64
}

// workerPool keeps chunk workers between iterations and files: their
// chunk buffer, decoder (with the templates known from earlier chunks,
// reusable in any file) and render slabs are made once per goroutine
// rather than once per file.
var workerPool sync.Pool

// newChunkWorker returns a worker for f, from the pool when one is free;
// release returns it.
func newChunkWorker(f *File) *chunkWorker {
	var w *chunkWorker
	if !f.noReuse {
		w, _ = workerPool.Get().(*chunkWorker)
	}
	if w == nil {
		w = &chunkWorker{buf: make([]byte, chunkSize), dec: newDecoder()}
		w.dec.noReuse = f.noReuse
	}
	w.f = f
	w.dec.global = f.templates
	w.render.ephemeral = false
	return w
}

// release returns the worker to the pool, keeping nothing of the file.
func (w *chunkWorker) release() {
	w.f, w.res, w.dec.global = nil, nil, nil
	w.dec.strict = false
	w.scratch = Event{EventData: w.scratch.EventData[:0]}
	if !w.dec.noReuse {
		workerPool.Put(w)
	}
}

func (w *chunkWorker) problem(off int64, id uint64, reason string) {
	w.res.problems = append(w.res.problems, Problem{Offset: off, Chunk: w.idx, RecordID: id, Reason: reason})
}

// loss is a problem that costs n records (lost, missing or truncated).
func (w *chunkWorker) loss(off int64, id uint64, n int, reason string) {
	w.res.problems = append(w.res.problems, Problem{Offset: off, Chunk: w.idx, RecordID: id, Records: n, Loss: true, Reason: reason})
}

// note records a record of allocated space (read or lost) with header
// number id for the chunk's accounting.
func (w *chunkWorker) note(id uint64) {
	if w.hdrOK && w.hdr.first <= id && id <= w.hdr.last {
		w.seen++
	}
	if w.lowID == 0 || id < w.lowID {
		w.lowID = id
	}
	w.highID = max(w.highID, id)
}

// maxChunkRecords is the most records a chunk can hold (each at least
// recordMinSize bytes after the chunk header).
const maxChunkRecords = (chunkSize - chunkHeaderSize) / recordMinSize

// plausibleRange reports whether a chunk header's record numbers can be
// believed: a non-empty range no larger than a chunk can hold.
func plausibleRange(first, last uint64) bool {
	// An empty chunk (a new log) has both set to all ones.
	return first >= 1 && last >= first && last-first < maxChunkRecords && last != ^uint64(0)
}

// chunk reads and decodes chunk idx. It never panics: a panic (a bug) is
// turned into a chunk error naming the offset.
func (w *chunkWorker) chunk(idx int) (res *chunkResult) {
	res = &chunkResult{}
	if w.f.enc != nil {
		res.out = outBuffer()
	}
	if w.liveIDs == nil {
		w.liveIDs = make(map[uint64]bool, 256)
	}
	clear(w.liveIDs)
	w.res, w.idx = res, idx
	w.output, w.seen, w.lowID, w.highID, w.hdrOK = 0, 0, 0, 0, false
	w.base = fileHeaderBlock + int64(idx)*chunkSize
	defer func() {
		if p := recover(); p != nil {
			reason := "internal error decoding this chunk: " + panicText(p)
			w.loss(w.base, 0, 0, reason)
			res.items = append(res.items, chunkItem{err: &ChunkError{File: w.f.name, Chunk: idx, Offset: w.base, Err: ErrPanic}})
			res.skipped = true
		}
	}()
	n := chunkSize
	if rest := w.f.size - w.base; rest < int64(n) {
		n = int(rest)
	}
	data := w.buf[:n:n] // capped: nothing past the bytes read is reachable
	if m, err := w.f.r.ReadAt(data, w.base); m < n {
		res.found, res.skipped = true, true
		reason := "cannot read chunk"
		if err != nil {
			reason += ": " + err.Error()
		}
		w.loss(w.base, 0, 0, reason)
		res.items = append(res.items, chunkItem{err: &ChunkError{File: w.f.name, Chunk: idx, Offset: w.base, Err: ErrTruncated}})
		return res
	}
	if isZero(data) {
		// Never used, or wiped: it is a loss when the file header counts it.
		if hd := w.f.header; idx < int(hd.ChunkCount) {
			res.zeroed = true
			w.loss(w.base, 0, 0, "chunk "+strconv.Itoa(idx)+" is all zeros but the file header counts "+strconv.Itoa(int(hd.ChunkCount))+" chunks: its records are gone (wiped or never written)")
		}
		return res
	}
	res.found = true
	w.dec.reset(data)
	if n < chunkHeaderSize || string(data[:8]) != chunkSignature {
		res.skipped = true
		what := "bad chunk signature " + strconv.Quote(string(data[:min(8, n)]))
		if n < chunkSize {
			what = "trailing partial chunk of " + strconv.Itoa(n) + " bytes"
		}
		hint := "; records in it are not read (use --recover to carve them)"
		if w.f.opts.Recover {
			hint = "; carving records from it"
		}
		w.loss(w.base, 0, 0, what+hint)
		res.items = append(res.items, chunkItem{err: &ChunkError{File: w.f.name, Chunk: idx, Offset: w.base, Err: errAt(ErrBadSignature, what, 0)}})
		if w.f.opts.Recover {
			w.carve(0, n, "damaged chunk")
		}
		return res
	}
	h := parseChunkHeader(data)
	noCRC := h.flags&FlagNoCRC32 != 0 || w.f.header.Flags&FlagNoCRC32 != 0
	headerSound := true
	if !noCRC {
		if sum := chunkHeaderCRC(data); sum != h.headerChecksum {
			w.checksumProblem("chunk header", h.headerChecksum, sum)
			headerSound = false
		}
	}
	// The range is used even when the header checksum is off (that is
	// reported already): a checksum stops no one who edits on purpose.
	_ = headerSound
	if plausibleRange(h.firstRecordID, h.lastRecordID) {
		w.hdr, w.hdrOK = idRange{h.firstRecordID, h.lastRecordID}, true
	}
	end := int(h.freeSpaceOffset)
	if end < chunkHeaderSize || end > n {
		end = n // a lying free-space offset (or a truncated chunk): records end at zero padding
	}
	if !noCRC && int(h.freeSpaceOffset) == end {
		if sum := crc32.ChecksumIEEE(data[chunkHeaderSize:end]); sum != h.recordsChecksum {
			w.checksumProblem("chunk records", h.recordsChecksum, sum)
		}
	}
	off := chunkHeaderSize
	reachedEnd := true // false when damage stopped the reading
	for off+recordMinSize <= end {
		if string(data[off:off+4]) != recordSignature {
			if !isZero(data[off : off+4]) {
				w.problem(w.base+int64(off), 0, "bad record signature at chunk offset 0x"+strconv.FormatInt(int64(off), 16)+"; rest of chunk not read normally")
				res.items = append(res.items, chunkItem{err: &RecordError{File: w.f.name, Chunk: idx, Offset: w.base + int64(off), Err: errAt(ErrBadSignature, "record", off)}})
			}
			reachedEnd = false
			break
		}
		size, ok := recordSize(data, off)
		if !ok {
			// A damaged size copy alone (seen in real files) does not hide
			// the record when the size leads exactly to the next record or
			// to the end of the records.
			if s, fits := sizeFits(data, off, end); fits {
				id := binary.LittleEndian.Uint64(data[off+8:])
				w.problem(w.base+int64(off), id, "record size copy differs from its size "+strconv.Itoa(s)+"; record read anyway")
				w.record(off, s, false, "")
				w.liveIDs[id] = true
				w.note(id)
				off += s
				continue
			}
			id := binary.LittleEndian.Uint64(data[off+8:])
			w.loss(w.base+int64(off), id, 1, "record size "+strconv.FormatUint(uint64(binary.LittleEndian.Uint32(data[off+4:])), 10)+" does not fit or its copy differs; rest of chunk not read normally")
			res.items = append(res.items, chunkItem{err: &RecordError{File: w.f.name, Chunk: idx, Offset: w.base + int64(off), RecordID: id, Err: errAt(ErrBadRecord, "record size", off)}})
			res.lost++
			w.note(id)
			reachedEnd = false
			break
		}
		id := binary.LittleEndian.Uint64(data[off+8:])
		w.record(off, size, false, "")
		w.liveIDs[id] = true
		w.note(id)
		off += size
	}
	// The free-space offset (as stated, not clamped) ended the reading,
	// maybe inside a record: records may follow it.
	if reachedEnd && off < n && int(h.freeSpaceOffset) == end {
		off = w.beyondFreeSpace(off, h)
	}
	if w.f.opts.Recover && off < n {
		w.carve(off, n, "chunk slack")
	}
	if res.duplicates > 0 {
		w.problem(w.base, 0, strconv.Itoa(res.duplicates)+" carved records are stale copies of records read from allocated chunks (same ids); not yielded again")
	}
	w.accountChunk()
	w.accountRest(off, reachedEnd)
	return res
}

// beyondFreeSpace reads the records that follow the free-space offset at
// off when their framing is valid and they continue the numbering of the
// records before them (as libevtx does, which ignores the offset): a
// lowered offset (an edit, with the CRC flag off) must not hide records.
// Slack holds stale copies too, but those never continue the numbering.
// It returns where the reading stopped.
func (w *chunkWorker) beyondFreeSpace(off int, h chunkHeader) int {
	data := w.dec.data
	next := w.highID + 1
	if w.highID == 0 {
		if !w.hdrOK {
			return off
		}
		next = w.hdr.first
	}
	start, count := off, 0
	for off+recordMinSize <= len(data) && string(data[off:off+4]) == recordSignature {
		size, ok := recordSize(data, off)
		if !ok {
			break
		}
		id := binary.LittleEndian.Uint64(data[off+8:])
		if id != next {
			break
		}
		w.record(off, size, false, "")
		w.liveIDs[id] = true
		w.note(id)
		next++
		count++
		off += size
	}
	if count > 0 {
		reason := "chunk header's free-space offset 0x" + strconv.FormatInt(int64(h.freeSpaceOffset), 16) + " ends the records early: " +
			strconv.Itoa(count) + " more records follow it (up to chunk offset 0x" + strconv.FormatInt(int64(off), 16) +
			") and were read; the chunk header was altered or damaged"
		w.problem(w.base+int64(start), next-uint64(count), reason)
		w.res.items = append(w.res.items, chunkItem{err: &ChunkError{File: w.f.name, Chunk: w.idx, Offset: w.base + int64(start),
			Err: &wrapped{sentinel: ErrHeaderMismatch, text: reason}}})
	}
	return off
}

// accountChunk compares the records found with what the chunk header
// announces, and sets the chunk's id range for the file's accounting.
func (w *chunkWorker) accountChunk() {
	res := w.res
	if w.hdrOK {
		res.ids, res.hasIDs = w.hdr, true
		expected := int(w.hdr.last - w.hdr.first + 1)
		if missing := expected - w.seen - res.recoveredIn; missing > 0 {
			res.missing = missing
			w.loss(w.base, 0, missing, "chunk header gives records "+strconv.FormatUint(w.hdr.first, 10)+"–"+strconv.FormatUint(w.hdr.last, 10)+
				" ("+strconv.Itoa(expected)+"), but "+strconv.Itoa(missing)+" of them were not found in it (framing broken or records overwritten)")
		}
		return
	}
	if w.lowID != 0 && w.highID-w.lowID < maxChunkRecords {
		res.ids, res.hasIDs = idRange{w.lowID, w.highID}, true
	}
}

// accountRest names the rest of a chunk whose reading stopped at off
// (damaged framing) when the chunk header's record range cannot count what
// was lost there: the range is implausible, or the records found fall
// outside it. The loss has an unknown number of records, but the run is
// incomplete and the problem says where and why.
func (w *chunkWorker) accountRest(off int, reachedEnd bool) {
	if reachedEnd || w.res.missing > 0 {
		return // read to the end, or the header's range counted the loss
	}
	trusted := w.hdrOK && (w.lowID == 0 || (w.hdr.first <= w.lowID && w.highID <= w.hdr.last))
	if trusted && w.highID >= w.hdr.last {
		return // every record the header announces was found before the damage
	}
	why := "the chunk header's record range is implausible"
	if w.hdrOK {
		why = "the chunk header's record range " + strconv.FormatUint(w.hdr.first, 10) + "–" + strconv.FormatUint(w.hdr.last, 10) + " does not match the records found"
	}
	w.res.partial = true
	w.res.problems = append(w.res.problems, Problem{Offset: w.base + int64(off), Chunk: w.idx, Loss: true,
		Reason: "rest of chunk from chunk offset 0x" + strconv.FormatInt(int64(off), 16) + " not read: an unknown number of records lost (" + why + ")"})
}

// checksumProblem reports a checksum mismatch as a Problem and as a
// *ChunkError wrapping ErrChecksum (damage or tampering is worth a warning),
// though the chunk's records are still read, each one checked on its own.
func (w *chunkWorker) checksumProblem(what string, stored, computed uint32) {
	reason := what + " checksum mismatch: header says 0x" + strconv.FormatUint(uint64(stored), 16) +
		", computed 0x" + strconv.FormatUint(uint64(computed), 16)
	w.problem(w.base, 0, reason+"; records read anyway, each one checked")
	w.res.items = append(w.res.items, chunkItem{err: &ChunkError{File: w.f.name, Chunk: w.idx, Offset: w.base,
		Err: &wrapped{sentinel: ErrChecksum, text: reason + " (records read anyway, each one checked)"}}})
}

// recordSize validates the framing of the record at off: size at least 28,
// inside the chunk, and equal to the trailing copy.
func recordSize(data []byte, off int) (int, bool) {
	if len(data)-off < recordMinSize {
		return 0, false
	}
	size := int64(binary.LittleEndian.Uint32(data[off+4:]))
	if size < recordMinSize || size > int64(len(data)-off) {
		return 0, false
	}
	s := int(size)
	if binary.LittleEndian.Uint32(data[off+s-4:]) != uint32(size) {
		return 0, false
	}
	return s, true
}

// sizeFits reports whether the record at off has a plausible size that
// ends where the next record starts, or at the end of the record area.
func sizeFits(data []byte, off, end int) (int, bool) {
	size := int64(binary.LittleEndian.Uint32(data[off+4:]))
	if size < recordMinSize || size > int64(end-off) {
		return 0, false
	}
	next := off + int(size)
	if next == end || next+4 <= len(data) && (string(data[next:next+4]) == recordSignature || isZero(data[next:next+4])) {
		return int(size), true
	}
	return 0, false
}

// carve scans [from, to) for records (signature, plausible size, matching
// size copy, a BinXML start) and decodes them as recovered. The scan only
// moves forward, so no record is yielded twice.
func (w *chunkWorker) carve(from, to int, where string) {
	data := w.dec.data[:to]
	for off := from; off+recordMinSize <= to; {
		if string(data[off:off+4]) != recordSignature {
			off++
			continue
		}
		size, ok := recordSize(data, off)
		if !ok {
			off++
			continue
		}
		if first := data[off+recordHeaderSize]; first != tokFragment && first != tokPITarget && first != tokEOF {
			off++
			continue
		}
		if id := binary.LittleEndian.Uint64(data[off+8:]); w.liveIDs[id] || w.f.isLive(id) {
			// A stale copy of a record read from an allocated chunk (slack
			// keeps old copies): yielding it would give the record twice.
			w.res.duplicates++
			off += size
			continue
		}
		w.dec.strict = true
		w.record(off, size, true, where)
		w.dec.strict = false
		off += size
	}
}

// record decodes the record at chunk offset off and appends the event, or
// a record error counted as lost.
func (w *chunkWorker) record(off, size int, recovered bool, where string) {
	data := w.dec.data
	id := binary.LittleEndian.Uint64(data[off+8:])
	written := binary.LittleEndian.Uint64(data[off+16:])
	fallbacks := w.dec.fallbacks
	var ev *Event
	if w.f.enc != nil {
		ev = &w.scratch
		*ev = Event{EventData: ev.EventData[:0]}
		w.render.ephemeral = true
	} else {
		ev = w.render.newEvent()
	}
	w.render.budget = MaxRecordOutput
	if left := maxChunkOutput - w.output; left < MaxRecordOutput {
		w.render.budget = max(left, minRecordOutput)
	}
	err := w.decodeRecord(off+recordHeaderSize, off+size-4, ev)
	if err != nil {
		reason := err.Error()
		if recovered {
			reason = "recovered record from " + where + " not decodable: " + reason
		}
		w.loss(w.base+int64(off), id, 1, reason)
		w.res.items = append(w.res.items, chunkItem{err: &RecordError{File: w.f.name, Chunk: w.idx, Offset: w.base + int64(off), RecordID: id, Err: err}})
		w.res.lost++
		return
	}
	rid := ev.System.EventRecordID
	if rid == 0 {
		rid = id
	}
	ev.Source = Source{
		File:           w.f.name,
		Chunk:          w.idx,
		Offset:         w.base + int64(off),
		RecordID:       rid,
		HeaderRecordID: id,
		Written:        fileTimeToTime(written),
	}
	w.output += w.render.bytes
	if w.render.truncated {
		ev.Source.Truncated = true
		w.res.truncated++
		w.loss(w.base+int64(off), id, 1, "record output over its budget of "+strconv.Itoa(w.render.budget)+
			" bytes (a template reused inside nested values multiplies its text): the event is cut there and marked truncated")
	}
	if recovered {
		if w.dec.fallbacks != fallbacks {
			where += " (its template found by id elsewhere in the file)"
		}
		ev.Source.Recovered, ev.Source.RecoverReason = true, where
		w.res.recovered++
		if w.hdrOK && w.hdr.first <= id && id <= w.hdr.last {
			w.res.recoveredIn++
		}
	} else {
		w.res.records++
	}
	if enc := w.f.enc; enc != nil {
		w.res.out = enc(w.res.out, ev)
		if r := &w.render; cap(r.insertion) > cap(r.insertionBuf) {
			r.insertionBuf = r.insertion[:0] // grown by appends: keep the capacity
		}
		w.res.items = append(w.res.items, chunkItem{end: len(w.res.out)})
		return
	}
	w.res.items = append(w.res.items, chunkItem{ev: ev})
}

// decodeRecord decodes the BinXML payload in [from, to) into e, a zero
// Event (but for the capacity of its EventData).
func (w *chunkWorker) decodeRecord(from, to int, e *Event) error {
	c := &cursor{pos: from, end: to}
	defer w.dec.recordDone()
	parts, err := w.dec.fragment(c)
	if err != nil {
		return err
	}
	r := &w.render
	r.reset(w.dec)
	if !w.f.opts.XML && !w.f.generalOnly {
		if r.decodeFast(parts, e) {
			return nil
		}
		*e = Event{EventData: e.EventData[:0]}
		r.reset(w.dec)
	}
	out, err := r.parts(parts, nil, -1, 0, nil)
	if err != nil {
		return err
	}
	// The first root element wins (§5.2 #19): the XML holds the processing
	// instructions before it and the element, nothing after.
	var root *onode
	for i := range out {
		if out[i].kind == outElement {
			root = out[i].node
			out = out[:i+1]
			break
		}
	}
	if root == nil {
		return errAt(ErrBadToken, "record holds no element", from)
	}
	fillEvent(e, root)
	if r.haveInsert {
		e.InsertionStrings = r.insertion
	} else if len(e.EventData) > 0 {
		e.InsertionStrings = make([]string, len(e.EventData))
		for i := range e.EventData {
			e.InsertionStrings[i] = e.EventData[i].Value
		}
	}
	if w.f.opts.XML {
		w.xml = w.xml[:0]
		for i := range out {
			if k := out[i].kind; k == outElement || k == outPI {
				w.xml = appendXML(w.xml, out[i:i+1])
			}
		}
		e.XML = string(w.xml)
	}
	return nil
}

// fileTimeToTime converts a FILETIME to UTC time; zero stays the zero Time.
func fileTimeToTime(ft uint64) time.Time {
	if ft == 0 || ft > 1<<62 {
		return time.Time{}
	}
	const unixEpoch = 116444736000000000
	ticks := int64(ft) - unixEpoch
	return time.Unix(ticks/ticksPerSecond, ticks%ticksPerSecond*100).UTC()
}

func panicText(p any) string {
	switch v := p.(type) {
	case error:
		return v.Error()
	case string:
		return v
	}
	return "panic"
}
