package parser

import (
	"encoding/binary"
	"hash/crc32"
)

// Layout of an .evtx file (../shared/docs/evtx-format.md §1).
const (
	fileHeaderBlock  = 4096  // the file header block; chunk 0 starts here
	fileHeaderUsed   = 128   // bytes of the header block that carry fields
	chunkSize        = 65536 // every chunk, header included
	chunkHeaderSize  = 512   // chunk header + string and template tables
	recordHeaderSize = 24    // signature, size, id, written time
	recordMinSize    = 28    // header plus the trailing size copy
)

const (
	fileSignature   = "ElfFile\x00"
	chunkSignature  = "ElfChnk\x00"
	recordSignature = "\x2a\x2a\x00\x00"
)

// File and chunk flag bits (§1.2). Flags are reported, never trusted.
const (
	FlagDirty   = 0x1 // not closed cleanly
	FlagFull    = 0x2 // log full
	FlagNoCRC32 = 0x4 // checksums not computed (stored as zero)
)

// HasSignature reports whether b starts with the EVTX file signature
// "ElfFile\x00". Collectors rename files, so scanners sniff content.
func HasSignature(b []byte) bool {
	return len(b) >= len(fileSignature) && string(b[:len(fileSignature)]) == fileSignature
}

// FileHeader is the decoded file header. Its counts are what the file
// claims; the parser derives the real chunk list from the file size and the
// chunk signatures, because dirty files routinely understate it.
type FileHeader struct {
	FirstChunk      uint64 // oldest chunk number (the log is circular)
	LastChunk       uint64 // chunk being written
	NextRecordID    uint64 // stale when Dirty
	HeaderSize      uint32 // 128
	MinorVersion    uint16 // 1, or 2 on Windows 10 2004 and later
	MajorVersion    uint16 // 3
	HeaderBlockSize uint16 // 4096
	ChunkCount      uint16 // as stated; see Stats.Chunks for what was found
	Flags           uint32 // FlagDirty, FlagFull, FlagNoCRC32, possibly garbage bits
	Checksum        uint32 // CRC-32 of bytes [0,120) as stored
	ChecksumOK      bool   // Checksum matches the bytes (or FlagNoCRC32 with a zero checksum)
}

// Dirty reports the dirty flag: the file was not closed cleanly.
func (h FileHeader) Dirty() bool { return h.Flags&FlagDirty != 0 }

// Full reports the full flag.
func (h FileHeader) Full() bool { return h.Flags&FlagFull != 0 }

func parseFileHeader(b []byte) FileHeader {
	le := binary.LittleEndian
	h := FileHeader{
		FirstChunk:      le.Uint64(b[8:]),
		LastChunk:       le.Uint64(b[16:]),
		NextRecordID:    le.Uint64(b[24:]),
		HeaderSize:      le.Uint32(b[32:]),
		MinorVersion:    le.Uint16(b[36:]),
		MajorVersion:    le.Uint16(b[38:]),
		HeaderBlockSize: le.Uint16(b[40:]),
		ChunkCount:      le.Uint16(b[42:]),
		Flags:           le.Uint32(b[120:]),
		Checksum:        le.Uint32(b[124:]),
	}
	sum := crc32.ChecksumIEEE(b[:120])
	h.ChecksumOK = sum == h.Checksum || (h.Flags&FlagNoCRC32 != 0 && h.Checksum == 0)
	return h
}

// chunkHeader is the decoded 512-byte chunk header (§1.4).
type chunkHeader struct {
	firstRecordNumber, lastRecordNumber uint64
	firstRecordID, lastRecordID         uint64
	headerSize                          uint32
	lastRecordOffset                    uint32
	freeSpaceOffset                     uint32
	recordsChecksum                     uint32
	flags                               uint32
	headerChecksum                      uint32
}

func parseChunkHeader(b []byte) chunkHeader {
	le := binary.LittleEndian
	return chunkHeader{
		firstRecordNumber: le.Uint64(b[8:]),
		lastRecordNumber:  le.Uint64(b[16:]),
		firstRecordID:     le.Uint64(b[24:]),
		lastRecordID:      le.Uint64(b[32:]),
		headerSize:        le.Uint32(b[40:]),
		lastRecordOffset:  le.Uint32(b[44:]),
		freeSpaceOffset:   le.Uint32(b[48:]),
		recordsChecksum:   le.Uint32(b[52:]),
		flags:             le.Uint32(b[120:]),
		headerChecksum:    le.Uint32(b[124:]),
	}
}

// chunkHeaderCRC computes the header checksum over [0,120) and [128,512).
func chunkHeaderCRC(b []byte) uint32 {
	c := crc32.Update(0, crc32.IEEETable, b[:120])
	return crc32.Update(c, crc32.IEEETable, b[128:chunkHeaderSize])
}

func isZero(b []byte) bool {
	// Stops at the first non-zero byte (bytes.Trim also scanned a chunk's
	// zero padding back from its end: 7 % of a dump of the corpus).
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
