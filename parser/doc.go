// Package parser reads Windows event log files (.evtx) in pure Go and
// turns each record into an [Event], the model the rest of evtxscan uses.
//
// The format is described in ../shared/docs/evtx-format.md and in
// [MS-EVEN6] §2.2.12 (BinXML) and §3.1.4.7 (templates and value types).
//
// # Reading a file
//
//	f, err := parser.Open("Application.evtx", parser.Options{})
//	if err != nil { … }       // not an EVTX file, or unreadable
//	defer f.Close()
//	for ev, err := range f.Events(ctx) {
//		if err != nil {       // *ChunkError or *RecordError: damage, iteration goes on
//			log.Print(err)
//			continue
//		}
//		use(ev)
//	}
//	st := f.Stats()            // records read, recovered, lost, chunks skipped, problems
//
// Events come in chunk order (file order) whatever [Options.Workers]; chunks
// are decoded in parallel with at most 4×Workers chunks in flight, so memory
// stays flat whatever the file size. [NewFile] reads from any io.ReaderAt.
//
// To turn events into text, [File.Encoded] is faster: the function given to
// it (for instance [AppendJSON]) runs on the goroutines that decode the
// chunks, events are not handed between goroutines and their memory is
// reused, and the bytes come back in file order.
//
// Most records are decoded through compiled templates: a template of the
// usual <Event><System/>payload</Event> shape is compiled once into a plan
// that reads substitution values straight into Event fields. Every chunk
// re-defines its templates; a worker reuses the template (and plan) it
// parsed in an earlier chunk or file when the definition is equivalent:
// same GUID and size, the same bytes apart from chunk offsets, and every
// name reference resolving to the same text.
// Records of any other shape take the general path, which builds the
// output tree; a test holds both paths to identical Events on every corpus
// file and the fuzz target does on arbitrary input.
//
// # What is decoded
//
// Chunks are found by position (4096 + n×65536) and signature; the file
// header's chunk count, dirty flag and next record id are reported in
// [FileHeader] and never trusted to find records, only to account for
// them (see Accounting). Every BinXML token is handled: elements and
// attributes, names inline and by offset, value text, CDATA, character and
// entity references, processing instructions, template instances (defined
// inline at first use, referenced by offset later, nested inside BinXML
// values), normal and optional substitutions and every value type 0x00–0x15,
// 0x21 and arrays. Values render as Windows renders them: GUIDs upper-case
// in braces, HexInt32/64 and SizeT as unpadded lower-case 0x…, FILETIME and
// SYSTEMTIME as RFC 3339 UTC with 7 fractional digits, SIDs as S-1-…,
// binary as upper-case hex, booleans as true/false. Windows' elision rules
// apply: an attribute with an empty value is dropped, an element whose
// optional substitution is NULL is dropped, and an array value repeats its
// element once per item.
//
// # Damage
//
// A chunk with a bad signature is skipped with a *ChunkError naming its
// offset; a checksum mismatch is yielded as a *ChunkError wrapping
// ErrChecksum (and noted in Problems) but the chunk's records are still
// read, each one checked on its own: libevtx does the same, and dropping
// them would lose records from VSS copies and live files. A record whose
// framing is broken ends the normal reading of its chunk; a record whose
// BinXML cannot be decoded is yielded as a *RecordError and counted lost.
// With [Options.Recover], chunk slack and skipped chunks are scanned for
// record signatures with a matching size copy; what decodes is yielded with
// Source.Recovered set (each offset at most once). A carved record whose id
// belongs to a record read from allocated space (any chunk) is a stale copy
// and is not yielded again. Carved records must find their names intact
// (stored name hashes must match) and their template by its id: at the
// offset they name, else elsewhere in the chunk, else in another chunk's
// template table (parsed templates carry their names, so they travel);
// what cannot be decoded is counted lost rather than rendered as garbage.
// [File.Stats] accounts for every record: read, recovered, or lost with
// reason and offset.
//
// # Accounting
//
// Records are checked against what the headers announce, so that nothing
// vanishes without a word. Each chunk whose header is sound (checksum
// matches, or the CRC flag is off) gives its first and last record
// identifiers; records of that range neither read, recovered nor counted
// lost are Stats.Missing, with a Problem saying how many. Records are
// numbered consecutively across chunks, so a gap between the chunks'
// ranges, or below the file header's next record id, is missing records
// too (chunks zeroed, skipped or cut off). A chunk the file header counts
// that is all zeros, and chunks it counts beyond the end of a cut file
// (also one cut inside its 4 KiB header block), are Stats.ChunksMissing.
// A chunk's free-space offset ends the records normally; when records with
// valid framing that continue the numbering follow it (an edited offset,
// with the CRC flag off so no checksum tells), they are read and the
// anomaly is reported, as libevtx reads them. [Stats.Incomplete] tells
// whether a file lost evidence, [Stats.Losses] lists why; Problem.Records
// is the number of records each one cost.
//
// # The dump JSONL format
//
// [AppendJSON] writes the object `evtxscan dump --format jsonl` prints, one
// per line. It is a public interface; keys come in this order:
//
//	file        string  Source.File, the path as given
//	record_id   number  the record id Windows shows (Event Viewer,
//	                    Get-WinEvent): System/EventRecordID, or the record
//	                    header's number when the event has none
//	                    (Source.RecordID)
//	header_record_id
//	            number  only when it differs from record_id: the record
//	                    header's number. Logs saved or exported by Windows
//	                    renumber headers from 1 while events keep their
//	                    EventRecordID (Source.HeaderRecordID)
//	time        string  TimeCreated (or the header's written time when absent),
//	                    RFC 3339 UTC with exactly 7 fractional digits,
//	                    e.g. "2024-03-01T10:00:04.3010000Z"
//	event_id    number  System/EventID
//	provider    string  System/Provider/@Name
//	channel     string  System/Channel
//	computer    string  System/Computer
//	level       number  System/Level
//	user_sid    string  System/Security/@UserID, "" when absent
//	event_data  object  EventData in document order: named fields by name,
//	                    unnamed ones as "Data[1]", "Data[2]"… (1-based
//	                    position), <Binary> as "Binary" in upper-case hex;
//	                    repeated names get suffixes "_1", "_2"…
//	user_data   object  only when the record has UserData: {element: value},
//	                    where a value is a string for a text-only element,
//	                    else an object with "@attr" keys, child elements
//	                    (repeated names suffixed "_1"…) and "#text"
//	recovered   bool    true only for records carved with --recover
//	truncated   bool    only when true: the record rendered more than
//	                    MaxRecordOutput bytes and its fields were cut there
//	message     string  only when a message text was rendered
//
// Strings are valid UTF-8 (invalid input becomes U+FFFD) with control
// characters escaped.
//
// # Security
//
// Event logs are evidence and may be hostile: an attacker controls event
// text and can craft whole files. The parser is hardened for that: every
// length, count and offset read from the file is checked against the bytes
// that exist before it is used; allocations are bounded by the input; every
// loop makes forward progress; element depth (256), nesting of templates
// and BinXML values (32) and the output of one record (32768 items, and
// [MaxRecordOutput] = 4 MiB of rendered names and text) are capped. The
// byte cap matters: a template reused inside nested BinXML values can
// render a 30,000-character value tens of thousands of times from a 68 KB
// file. A record over it is yielded with what was rendered up to the cap
// and Source.Truncated set, and counted in Stats.Truncated; once the
// records of one chunk have rendered 8 MiB, each further record of that
// chunk gets 16 KiB, so memory stays bounded whatever the input. Names
// and templates are cached by offset so no definition is parsed twice per
// chunk. A panic inside a chunk (a bug) is recovered and
// reported as a *ChunkError wrapping ErrPanic instead of ending the run.
// The fuzz target FuzzFile (fuzz_test.go) checks these guarantees. Event
// text is returned as is: callers that render it (HTML, spreadsheets) must
// escape it; the XML of Event.XML is always well-formed.
package parser
