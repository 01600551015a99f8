package parser

// Stats is the accounting of one file: every record is parsed, recovered, or
// counted as lost with the reason and offset in Problems.
type Stats struct {
	File string // as in Source.File

	Size          int64 // bytes in the file
	Chunks        int   // chunks found (by signature, not the header's count)
	ChunksSkipped int   // chunks not read (bad magic, bad CRC policy, broken)
	Records       int   // records parsed from allocated chunk space
	Recovered     int   // records carved (Options.Recover)
	Lost          int   // records seen but not decodable
	// StaleCopies counts records carved from slack (Options.Recover) that
	// are older copies of records read from allocated space (same record
	// id): they are not yielded again, and a Problem names each chunk.
	StaleCopies int

	// Problems lists every non-fatal problem, each naming an offset.
	Problems []Problem
	// Err is set when the file could not be read at all (not an EVTX file,
	// unreadable header); the run goes on with the next file.
	Err error
}

// A Problem is one non-fatal damage report inside a file.
type Problem struct {
	Offset   int64  // file offset of the chunk or record concerned
	Chunk    int    // chunk index, -1 when not inside a chunk
	RecordID uint64 // 0 when unknown
	Reason   string // e.g. "chunk checksum mismatch: header says 0x…, computed 0x…"
}
