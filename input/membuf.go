package input

import (
	"errors"
	"io"
)

// memberBlock is the size of the blocks a decompressed member is held in.
// Blocks are allocated as data arrives, so a member's memory follows what it
// actually holds (plus at most one block), never what its header claims.
const memberBlock = 1 << 20

// blocks holds decompressed bytes in equal blocks (the last may be short)
// and reads them back at any offset.
type blocks struct {
	b    [][]byte
	size int64
	bs   int64
}

// readBlocks reads r until EOF or until limit bytes were read, whichever is
// first, into blocks. It returns what was read and the reader's error
// (nil at EOF). Callers pass one more than the bound they enforce, to learn
// whether the stream holds more.
func readBlocks(r io.Reader, limit int64) (*blocks, error) {
	m := &blocks{bs: min(limit, memberBlock)}
	for m.size < limit {
		n := min(m.bs, limit-m.size)
		blk := make([]byte, n)
		got, err := io.ReadFull(r, blk)
		if got > 0 {
			m.b = append(m.b, blk[:got])
			m.size += int64(got)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return m, nil
		}
		if err != nil {
			return m, err
		}
	}
	return m, nil
}

// ReadAt implements io.ReaderAt.
func (m *blocks) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	n := 0
	for n < len(p) {
		if off >= m.size {
			return n, io.EOF
		}
		i := off / m.bs
		c := copy(p[n:], m.b[i][off-i*m.bs:])
		n += c
		off += int64(c)
	}
	return n, nil
}
