package parser

import (
	"errors"
	"strconv"
)

// Sentinel errors, for errors.Is on what Events yields and Open returns.
var (
	ErrNotEVTX      = errors.New("parser: not an EVTX file (no \"ElfFile\" signature)")
	ErrBadSignature = errors.New("parser: bad signature")
	ErrChecksum     = errors.New("parser: checksum mismatch")
	ErrTruncated    = errors.New("parser: data ends early")
	ErrBadRecord    = errors.New("parser: bad record framing")
	ErrBadToken     = errors.New("parser: bad BinXML")
	ErrTooDeep      = errors.New("parser: BinXML nested too deep")
	ErrNoTemplate   = errors.New("parser: template definition missing or damaged")
	ErrPanic        = errors.New("parser: internal error (a bug; please report it with the file)")
	// ErrHeaderMismatch: the records disagree with their chunk header (a
	// free-space offset that ends them early): they were read anyway.
	ErrHeaderMismatch = errors.New("parser: records disagree with their chunk header")
)

// A ChunkError is a problem with a whole chunk: it was skipped (bad
// signature, damaged header) or only partly read. Iteration goes on.
type ChunkError struct {
	File   string
	Chunk  int   // 0-based chunk index
	Offset int64 // file offset of the chunk (or of the damage inside it)
	Err    error
}

func (e *ChunkError) Error() string {
	return e.File + ": chunk " + strconv.Itoa(e.Chunk) + " at offset 0x" + strconv.FormatInt(e.Offset, 16) + ": " + e.Err.Error()
}

func (e *ChunkError) Unwrap() error { return e.Err }

// A RecordError is a record that could not be decoded (counted as lost in
// Stats). Iteration goes on with the next record.
type RecordError struct {
	File     string
	Chunk    int    // 0-based chunk index, -1 when outside any chunk
	Offset   int64  // file offset of the record header
	RecordID uint64 // 0 when unknown
	Err      error
}

func (e *RecordError) Error() string {
	s := e.File + ": record"
	if e.RecordID != 0 {
		s += " " + strconv.FormatUint(e.RecordID, 10)
	}
	return s + " at offset 0x" + strconv.FormatInt(e.Offset, 16) + " (chunk " + strconv.Itoa(e.Chunk) + "): " + e.Err.Error()
}

func (e *RecordError) Unwrap() error { return e.Err }

// A decodeError carries a cause and the chunk offset where decoding failed.
type decodeError struct {
	sentinel error
	what     string
	at       int // chunk offset
}

func (e *decodeError) Error() string {
	return e.sentinel.Error() + ": " + e.what + " at chunk offset 0x" + strconv.FormatInt(int64(e.at), 16)
}

func (e *decodeError) Unwrap() error { return e.sentinel }

func errAt(sentinel error, what string, at int) error {
	return &decodeError{sentinel: sentinel, what: what, at: at}
}

// wrapped is a sentinel with a specific message.
type wrapped struct {
	sentinel error
	text     string
}

func (e *wrapped) Error() string { return e.text }
func (e *wrapped) Unwrap() error { return e.sentinel }
