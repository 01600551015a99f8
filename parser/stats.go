package parser

import "strconv"

// Stats is the accounting of one file: every record is parsed, recovered, or
// counted as lost with the reason and offset in Problems.
type Stats struct {
	File string // as in Source.File

	Size          int64 // bytes in the file
	Chunks        int   // chunks found (by signature, not the header's count)
	ChunksSkipped int   // chunks not read (bad magic, bad CRC policy, broken)
	// ChunksPartial counts chunks whose reading stopped at damage while
	// their header's record range could not say how many records the rest
	// held: an unknown number of records lost (a Problem names the offset).
	ChunksPartial int
	Records       int // records parsed from allocated chunk space
	Recovered     int // records carved (Options.Recover)
	Lost          int // records seen but not decodable
	// StaleCopies counts records carved from slack (Options.Recover) that
	// are older copies of records read from allocated space (same record
	// id): they are not yielded again, and a Problem names each chunk.
	StaleCopies int

	// Accounting against the headers. Expected is the number of records
	// the chunk headers announce (numbers first–last of each chunk whose
	// header is sound), plus the gaps in the numbering between chunks and
	// up to the file header's next record id. Missing counts those neither
	// read, recovered nor counted as Lost: hidden by broken framing,
	// zeroed or cut chunks. ChunksMissing counts chunks the file header
	// counts that are zeroed or absent (a cut file); their records are
	// only counted in Missing when the numbering shows them. Truncated
	// counts records whose output was cut at MaxRecordOutput bytes.
	Expected      int
	Missing       int
	ChunksMissing int
	Truncated     int

	// Problems lists every non-fatal problem, each naming an offset.
	Problems []Problem
	// Err is set when the file could not be read at all (not an EVTX file,
	// unreadable header); the run goes on with the next file.
	Err error
}

// Incomplete reports whether evidence was lost from this file: it could
// not be read, or records were lost, missing, truncated, or in chunks that
// were skipped, zeroed or cut off. A run over such a file is incomplete
// (evtxscan exits 3 and its summary says which file lost how many and why:
// see the Problems with Records set, and Losses).
func (s *Stats) Incomplete() bool {
	return s.Err != nil || s.Lost > 0 || s.Missing > 0 || s.Truncated > 0 || s.ChunksSkipped > 0 || s.ChunksPartial > 0 || s.ChunksMissing > 0
}

// Losses returns the problems that cost records or chunks (lost, missing,
// truncated, skipped, zeroed or cut off), in file order.
func (s *Stats) Losses() []Problem {
	var out []Problem
	for _, p := range s.Problems {
		if p.Records > 0 || p.Loss {
			out = append(out, p)
		}
	}
	return out
}

// A Problem is one non-fatal damage report inside a file.
type Problem struct {
	Offset   int64  // file offset of the chunk or record concerned
	Chunk    int    // chunk index, -1 when not inside a chunk
	RecordID uint64 // the record header's number; 0 when unknown
	// Records is how many records this problem cost (lost, missing or
	// truncated), 0 when none or unknown.
	Records int
	// Loss is set on every problem that cost evidence, also when the
	// number of records is unknown (a skipped or zeroed chunk).
	Loss   bool
	Reason string // e.g. "chunk checksum mismatch: header says 0x…, computed 0x…"
}

// LossSummary says in one line what an incomplete file lost, e.g.
// "97 records missing, 1 lost, 2 chunks missing (cut or zeroed)"; empty
// when nothing was lost.
func LossSummary(s *Stats) string {
	var parts []string
	add := func(n int, what string) {
		if n > 0 {
			parts = append(parts, strconv.Itoa(n)+" "+what)
		}
	}
	if s.Err != nil {
		parts = append(parts, "not readable")
	}
	add(s.Missing, "records missing")
	add(s.Lost, "lost (not decodable)")
	add(s.Truncated, "truncated")
	add(s.ChunksSkipped, "chunks skipped")
	add(s.ChunksPartial, "chunks cut short (unknown number of records lost)")
	add(s.ChunksMissing, "chunks missing (cut off or zeroed)")
	out := ""
	for i, p := range parts {
		if i > 0 {
			out += ", "
		}
		out += p
	}
	return out
}
