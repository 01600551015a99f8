package input

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// MaxZipDepth is how many archives deep evtxscan reads: the archive you name
// and the zips inside it down to this many levels in all
// (collection.zip!host.zip!logs.zip!Security.evtx with the default 3). A
// zip nested deeper is named in an error and not read.
const MaxZipDepth = 3

// An archive is one zip: a file on disk, or a member (".zip") of another
// archive. Its members are listed once. Its data (a decompressed nested
// zip, or an open file) is opened by the first of its items to be read and
// kept until every item was read (or while one holds a reference), so the
// items of a compressed nested zip, read in order, decompress it once.
type archive struct {
	name   string // shown: the path, or "outer.zip!inner.zip"
	path   string // the file on disk, for the outermost archive
	size   int64
	parent *archive
	member *zipMember // in parent
	depth  int        // 1 for a file on disk
	held   int64      // memory the decompressed archives of the chain hold while open
	opts   *Options

	mu      sync.Mutex
	refs    int
	pending int // items not read yet: the data stays open for them
	ra      io.ReaderAt
	closer  func()
}

// ReadAt reads the archive's data; valid while a reference is held.
func (a *archive) ReadAt(p []byte, off int64) (int, error) { return a.ra.ReadAt(p, off) }

// acquire opens the archive's data if it is not open yet and takes a
// reference.
func (a *archive) acquire() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ra != nil {
		a.refs++
		return nil
	}
	if a.parent == nil {
		if fi, err := os.Stat(a.path); err == nil && !fi.Mode().IsRegular() {
			return fmt.Errorf("the archive %s is %s now, not a regular file", a.path, describeMode(fi.Mode()))
		}
		f, err := os.Open(a.path)
		if err != nil {
			return err
		}
		fi, err := f.Stat()
		if err != nil || fi.Size() != a.size {
			f.Close()
			return fmt.Errorf("the archive %s changed since it was listed: scan it again", a.path)
		}
		a.ra, a.closer = f, func() { f.Close() }
	} else {
		if err := a.parent.acquire(); err != nil {
			return err
		}
		ra, _, inMem, err := openMember(a.parent, a.member, a.opts.MaxMemberSize-a.parent.held)
		if err != nil {
			a.parent.release()
			return err
		}
		if inMem {
			// Decompressed: the parent is no longer needed.
			a.parent.release()
			a.closer = func() {}
		} else {
			a.closer = a.parent.release
		}
		a.ra = ra
	}
	a.refs = 1
	return nil
}

// release gives back a reference taken by acquire.
func (a *archive) release() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.refs--
	a.closeIfUnused()
}

// itemDone records that one of the archive's items was read.
func (a *archive) itemDone() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pending--
	a.closeIfUnused()
}

func (a *archive) closeIfUnused() {
	if a.refs <= 0 && a.pending <= 0 && a.ra != nil {
		a.closer()
		a.ra, a.closer = nil, nil
	}
}

// A zipMember is one member as the central directory (or, when that is
// damaged, its local header) describes it. Its sizes are claims.
type zipMember struct {
	name   string
	method uint16
	csize  uint64
	usize  uint64
	crc    uint32
	zf     *zip.File // from the central directory; nil when found by walking
	data   int64     // offset of the data when found by walking
}

func (m *zipMember) dataOffset() (int64, error) {
	if m.zf == nil {
		return m.data, nil
	}
	return m.zf.DataOffset()
}

func (m *zipMember) compressed() bool {
	return !(m.method == zip.Store && m.csize == m.usize)
}

// openMember opens a member of a (whose reference the caller holds): a
// stored member is read in place, a compressed one is decompressed into
// memory through a hard limit of budget bytes, whatever its header claims.
// inMem tells which.
func openMember(a *archive, m *zipMember, budget int64) (r io.ReaderAt, size int64, inMem bool, err error) {
	off, err := m.dataOffset()
	if err != nil {
		return nil, 0, false, fmt.Errorf("member %s: cannot find its data: %w", DisplayMemberName(m.name), err)
	}
	name := DisplayMemberName(m.name)
	switch m.method {
	case zip.Store:
		if m.csize != m.usize {
			return nil, 0, false, fmt.Errorf("member %s is stored uncompressed but claims %d bytes compressed and %d uncompressed: the archive is damaged or forged", name, m.csize, m.usize)
		}
		if m.usize > uint64(a.size) || off > a.size-int64(m.usize) {
			return nil, 0, false, fmt.Errorf("member %s claims %d bytes, holds less: the archive ends %d bytes after the member's start (cut short?)", name, m.usize, a.size-off)
		}
		return io.NewSectionReader(a, off, int64(m.usize)), int64(m.usize), false, nil
	case zip.Deflate:
	default:
		return nil, 0, false, fmt.Errorf("member %s uses compression method %d; evtxscan reads stored and deflated members: unpack it with a zip tool and scan the file", name, m.method)
	}
	if budget <= 0 {
		return nil, 0, false, fmt.Errorf("member %s: the archives around it already hold the %d bytes evtxscan decompresses in memory: unpack the outer archive and scan the folder", name, a.opts.MaxMemberSize)
	}
	csize := int64(min(m.csize, uint64(a.size)))
	fr := flate.NewReader(bufio.NewReaderSize(io.NewSectionReader(a, off, csize), 64<<10))
	defer fr.Close()
	if m.usize > uint64(budget) {
		// Refused whatever it holds; counting (output discarded, at most
		// one byte past the budget) tells the user whether the claim is
		// true, without holding anything.
		n, _ := io.Copy(io.Discard, io.LimitReader(fr, budget+1))
		if n <= budget {
			return nil, 0, false, fmt.Errorf("member %s claims %d bytes, holds %d: the archive is damaged or forged", name, m.usize, n)
		}
		return nil, 0, false, fmt.Errorf("member %s claims %d bytes, more than the %d evtxscan decompresses in memory: unpack it and scan the file", name, m.usize, budget)
	}
	h := crc32.NewIEEE()
	// Never trust the claim: read at most one byte more than the claim
	// or the budget, whichever is less, in blocks as the data arrives.
	limit := min(m.usize, uint64(budget))
	data, rerr := readBlocks(io.TeeReader(fr, h), int64(limit)+1)
	n := data.size
	switch {
	case uint64(n) > m.usize:
		return nil, 0, false, fmt.Errorf("member %s claims %d bytes, holds more: the archive is damaged or forged (nothing past the claim was read)", name, m.usize)
	case n > budget:
		return nil, 0, false, fmt.Errorf("member %s claims %d bytes, more than the %d evtxscan decompresses in memory: unpack it and scan the file", name, m.usize, budget)
	case rerr != nil:
		return nil, 0, false, fmt.Errorf("member %s: decompressing at byte %d: %v (the archive is damaged or cut short)", name, n, rerr)
	case uint64(n) < m.usize:
		return nil, 0, false, fmt.Errorf("member %s claims %d bytes, holds %d: the archive is damaged or forged", name, m.usize, n)
	case m.crc != 0 && h.Sum32() != m.crc:
		return nil, 0, false, fmt.Errorf("member %s: CRC-32 %08x, the archive says %08x: the data is damaged", name, h.Sum32(), m.crc)
	}
	return data, n, true, nil
}

// memberPrefix returns up to len(buf) first bytes of a member.
func memberPrefix(a *archive, m *zipMember, buf []byte) []byte {
	off, err := m.dataOffset()
	if err != nil || off > a.size {
		return nil
	}
	var r io.Reader = io.NewSectionReader(a, off, int64(min(m.csize, uint64(a.size-off))))
	if m.method == zip.Deflate {
		fr := flate.NewReader(r)
		defer fr.Close()
		r = fr
	} else if m.method != zip.Store {
		return nil
	}
	n, _ := io.ReadFull(r, buf)
	return buf[:n]
}

func isZipName(name string) bool { return strings.EqualFold(filepath.Ext(name), ".zip") }

// expandArchive lists the event logs in a (and in the zips inside it, down
// to MaxZipDepth). The archive's data is read once for the listing; items
// open it again when they are read.
func (x *expander) expandArchive(a *archive) {
	if err := a.acquire(); err != nil {
		x.fail(a.name, err)
		return
	}
	start := len(x.items)
	direct := 0 // items of this archive itself, not of the zips inside
	defer func() {
		a.release()
		// Set once the listing's reference is given back: the data is
		// opened again when the first item is read, not held from now on.
		a.mu.Lock()
		a.pending = direct
		a.mu.Unlock()
	}()
	members, skipped, warn, err := listMembers(a, a.size, a.opts.MaxMemberSize)
	if err != nil {
		x.fail(a.name, fmt.Errorf("not a readable zip archive: %w", err))
		return
	}
	if warn != nil {
		x.warn(a.name, warn)
	}
	// Members seen but not delimited are lost: errors, ten by name.
	const show = 10
	for i, name := range skipped {
		if i == show {
			x.fail(a.name, fmt.Errorf("%d more members could not be delimited and are not read: try repairing the archive (zip -FF)", len(skipped)-show))
			break
		}
		x.fail(a.name+"!"+DisplayMemberName(name), errors.New("member cut short or its end not found (the central directory is unreadable): not read; try repairing the archive (zip -FF)"))
	}
	if len(members) > MaxArchiveMembers {
		x.fail(a.name, fmt.Errorf("archive lists %d members, more than the %d evtxscan reads: unpack it and scan the folder", len(members), MaxArchiveMembers))
		return
	}
	for _, m := range members {
		if strings.HasSuffix(m.name, "/") {
			continue
		}
		name := a.name + "!" + DisplayMemberName(m.name)
		if isZipName(m.name) {
			if a.depth >= MaxZipDepth {
				x.fail(name, fmt.Errorf("a zip nested %d archives deep, deeper than the %d evtxscan reads: unpack it and scan it", a.depth+1, MaxZipDepth))
				continue
			}
			var held int64
			if m.compressed() {
				held = int64(min(m.usize, uint64(max(a.opts.MaxMemberSize-a.held, 0))))
			}
			x.expandArchive(&archive{name: name, size: int64(m.usize), parent: a, member: m, depth: a.depth + 1, held: a.held + held, opts: a.opts})
			continue
		}
		if !strings.EqualFold(filepath.Ext(m.name), ".evtx") && !bytes.Equal(memberPrefix(a, m, make([]byte, len(signatureEVTX))), signatureEVTX) {
			continue
		}
		x.items = append(x.items, zipItem(a, m, name))
		direct++
	}
	added := x.items[start:]
	sort.SliceStable(added, func(i, j int) bool { return added[i].Name < added[j].Name })
}

func zipItem(a *archive, m *zipMember, name string) Item {
	it := Item{Name: name, Size: int64(m.usize), InMemory: a.held}
	if m.compressed() {
		it.InMemory += int64(min(m.usize, uint64(max(a.opts.MaxMemberSize-a.held, 0))))
	}
	it.open = func() (io.ReaderAt, int64, io.Closer, error) {
		if err := a.acquire(); err != nil {
			return nil, 0, nil, err
		}
		r, size, inMem, err := openMember(a, m, a.opts.MaxMemberSize-a.held)
		if err != nil || inMem {
			// Done with the archive (decompressed, or failed).
			a.release()
			a.itemDone()
			return r, size, io.NopCloser(nil), err
		}
		return r, size, closerFunc(func() { a.release(); a.itemDone() }), nil
	}
	return it
}

type closerFunc func()

func (f closerFunc) Close() error { f(); return nil }

// listMembers reads the central directory; when it is damaged, the members
// are found by walking the local file headers, warn says so and skipped
// names the members seen but not delimited.
func listMembers(ra io.ReaderAt, size, maxOut int64) (members []*zipMember, skipped []string, warn, err error) {
	zr, err := zip.NewReader(ra, size)
	if err == nil || errors.Is(err, zip.ErrInsecurePath) {
		members = make([]*zipMember, 0, len(zr.File))
		for _, zf := range zr.File {
			members = append(members, &zipMember{name: zf.Name, method: zf.Method, csize: zf.CompressedSize64, usize: zf.UncompressedSize64, crc: zf.CRC32, zf: zf})
		}
		return members, nil, nil, nil
	}
	members, skipped = walkLocalHeaders(ra, size, maxOut)
	if len(members) == 0 && len(skipped) == 0 {
		return nil, nil, nil, err
	}
	warn = fmt.Errorf("central directory unreadable (%v): walked the local file headers instead and found %d members, %d of them readable", err, len(members)+len(skipped), len(members))
	return members, skipped, warn, nil
}

const (
	localHeaderLen = 30
	localSig       = "PK\x03\x04"
	descriptorSig  = "PK\x07\x08"
)

// walkLocalHeaders finds the members of an archive from their local file
// headers, in file order, when the central directory cannot be read. A
// member whose sizes are in a data descriptor (written after its data) is
// delimited by decompressing it when it is deflated; a stored one cannot be
// delimited and is returned in skipped, like a deflated one decompressing
// to more than maxOut bytes (it could not be read anyway).
func walkLocalHeaders(ra io.ReaderAt, size, maxOut int64) (members []*zipMember, skipped []string) {
	off := int64(0)
	for len(members) < MaxArchiveMembers {
		off = findSignature(ra, off, size, []byte(localSig))
		if off < 0 {
			break
		}
		var h [localHeaderLen]byte
		if _, err := ra.ReadAt(h[:], off); err != nil {
			break
		}
		flags := binary.LittleEndian.Uint16(h[6:])
		m := &zipMember{
			method: binary.LittleEndian.Uint16(h[8:]),
			crc:    binary.LittleEndian.Uint32(h[14:]),
			csize:  uint64(binary.LittleEndian.Uint32(h[18:])),
			usize:  uint64(binary.LittleEndian.Uint32(h[22:])),
		}
		nameLen, extraLen := int64(binary.LittleEndian.Uint16(h[26:])), int64(binary.LittleEndian.Uint16(h[28:]))
		ne := make([]byte, nameLen+extraLen)
		if _, err := ra.ReadAt(ne, off+localHeaderLen); err != nil {
			break
		}
		m.name = string(ne[:min(nameLen, 1024)]) // a bounded name: it may be garbage
		m.data = off + localHeaderLen + nameLen + extraLen
		zip64Sizes(m, ne[nameLen:])
		if flags&0x8 != 0 {
			if m.method != zip.Deflate || !delimitDeflated(ra, size, maxOut, m) {
				skipped = append(skipped, DisplayMemberName(m.name))
				off = m.data
				continue
			}
		}
		if m.data+int64(m.csize) > size || m.data+int64(m.csize) < m.data {
			skipped = append(skipped, DisplayMemberName(m.name))
			off = m.data
			continue
		}
		members = append(members, m)
		off = m.data + int64(m.csize)
	}
	return members, skipped
}

// zip64Sizes takes the sizes from a zip64 extra field when the header's are
// saturated.
func zip64Sizes(m *zipMember, extra []byte) {
	for len(extra) >= 4 {
		id, n := binary.LittleEndian.Uint16(extra), int(binary.LittleEndian.Uint16(extra[2:]))
		extra = extra[4:]
		if n > len(extra) {
			return
		}
		if id == 0x0001 {
			f := extra[:n]
			if m.usize == 0xffffffff && len(f) >= 8 {
				m.usize, f = binary.LittleEndian.Uint64(f), f[8:]
			}
			if m.csize == 0xffffffff && len(f) >= 8 {
				m.csize = binary.LittleEndian.Uint64(f)
			}
		}
		extra = extra[n:]
	}
}

// countingReader counts the bytes flate consumes (it reads byte by byte
// through io.ByteReader, so the count ends exactly at the stream's end).
type countingReader struct {
	r *bufio.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

// delimitDeflated finds the end of a deflated member with a data descriptor
// by decompressing it (output discarded), then reads the descriptor.
func delimitDeflated(ra io.ReaderAt, size, maxOut int64, m *zipMember) bool {
	cr := &countingReader{r: bufio.NewReader(io.NewSectionReader(ra, m.data, size-m.data))}
	fr := flate.NewReader(cr)
	h := crc32.NewIEEE()
	n, err := io.Copy(h, io.LimitReader(fr, maxOut+1))
	fr.Close()
	if err != nil || n > maxOut {
		return false
	}
	m.csize, m.usize, m.crc = uint64(cr.n), uint64(n), h.Sum32()
	// The descriptor (optional signature, CRC, sizes) follows; its CRC
	// must agree with the data.
	var d [16]byte
	end := m.data + cr.n
	if k, _ := ra.ReadAt(d[:], end); k >= 12 {
		b := d[:k]
		if string(b[:4]) == descriptorSig {
			b = b[4:]
		}
		if binary.LittleEndian.Uint32(b) != m.crc {
			return false
		}
	}
	return true
}

// findSignature returns the offset of the next sig at or after off, or -1.
func findSignature(ra io.ReaderAt, off, size int64, sig []byte) int64 {
	buf := make([]byte, 64<<10)
	for off < size {
		n, _ := ra.ReadAt(buf, off)
		if n < len(sig) {
			return -1
		}
		if i := bytes.Index(buf[:n], sig); i >= 0 {
			return off + int64(i)
		}
		off += int64(n - len(sig) + 1)
	}
	return -1
}
