package parser

import (
	"strconv"
	"time"
)

// An Event is one normalized Windows event: what a record of an .evtx file
// (or, in live mode, an EvtRender XML document) says, in typed form.
//
// Event is the model every other part of evtxscan uses: rules read its
// fields, reports print them. Values are rendered to text the way Windows
// renders them (GUIDs in braces, SIDs as S-1-…, hex without padding); rules
// compare text, numeric modifiers parse it.
//
// An Event and everything it references is owned by the caller and safe to
// keep after the iteration that produced it has moved on.
type Event struct {
	Source Source // where the event came from
	System System // the <System> section

	// EventData holds the <EventData> children in document order. A Field
	// with an empty Name is an unnamed <Data>; rules address it by its
	// 1-based position as Data[1], Data[2], … (see DataKey).
	EventData []Field
	// EventDataName is the optional Name attribute of <EventData>.
	EventDataName string
	// Binary is the decoded <Binary> of classic events (nil when absent).
	Binary []byte
	// UserData is the single child of <UserData> as a generic tree, or nil.
	UserData *Node
	// Other holds any other payload section (ProcessingErrorData,
	// BinaryEventData, DebugData, RenderingInfo) as a tree, or nil.
	Other []*Node

	// InsertionStrings are the values that %1…%n of the event's message
	// refer to: the substitution values of the payload, in index order.
	InsertionStrings []string
	// RenderedMessage is RenderingInfo/Message of forwarded events, or the
	// text EvtFormatMessage returned in live mode; empty otherwise.
	RenderedMessage string
	// Message is the human text, filled in later by the messages package
	// (never by the parser).
	Message string
	// XML is the record rendered as Windows writes it, when Options.XML asked
	// for it (file parser), or the EvtRender output (live mode); else empty.
	XML string
}

// Source says where an event was read from.
type Source struct {
	// File is the path of the .evtx file, "archive.zip!inner/path.evtx" for
	// a zip member, or "live:<Channel>" in live mode.
	File string
	// Chunk is the 0-based chunk index in the file; -1 when not from a file
	// chunk (carved from unallocated space, or live).
	Chunk int
	// Offset is the file offset of the record header (0 in live mode).
	Offset int64
	// RecordID is the record id Windows shows (Event Viewer, Get-WinEvent,
	// wevtutil): System.EventRecordID, or the record header's number when
	// the event has none.
	RecordID uint64
	// HeaderRecordID is the record header's number (in live mode the
	// channel's record id). Logs saved or exported by Windows renumber
	// their headers from 1 while the events keep their EventRecordID, and
	// forwarded events carry the origin's: then the two differ.
	HeaderRecordID uint64
	// Written is the record header's FILETIME, in UTC.
	Written time.Time
	// Recovered is true only for records carved from chunk slack or damaged
	// regions (see Options.Recover); RecoverReason then says from where.
	Recovered     bool
	RecoverReason string
	// Truncated is true when the record rendered more than its output
	// budget (MaxRecordOutput): the event holds what was rendered up to
	// it, and Stats counts it.
	Truncated bool
}

// System is the <System> section with typed values. Missing elements leave
// zero values; Has* flags tell zero from absent where it matters.
type System struct {
	Provider        string // Provider/@Name
	ProviderGUID    string // Provider/@Guid, as "{XXXXXXXX-…}" upper-case
	EventSourceName string // Provider/@EventSourceName

	EventID       uint16
	Qualifiers    uint16
	HasQualifiers bool // EventID/@Qualifiers present and not empty
	Version       uint8
	Level         uint8
	Task          uint16
	Opcode        uint8
	Keywords      uint64

	TimeCreated   time.Time // TimeCreated/@SystemTime, UTC, 100 ns precision
	EventRecordID uint64

	ActivityID        string // Correlation/@ActivityID
	RelatedActivityID string // Correlation/@RelatedActivityID
	ProcessID         uint32 // Execution/@ProcessID
	ThreadID          uint32 // Execution/@ThreadID

	Channel  string
	Computer string
	UserID   string // Security/@UserID, a SID such as "S-1-5-18"; empty when absent

	// Extra keeps any other System element or attribute by path
	// (e.g. "Execution/@ProcessorID"), in document order.
	Extra []Field
}

// A Field is one named value of a payload section, in document order.
type Field struct {
	Name  string // empty for an unnamed <Data>
	Value string // rendered as Windows renders it
}

// A Node is an element of a generic XML tree (UserData and other payloads).
type Node struct {
	Name     string
	Attrs    []Field // in document order
	Text     string  // concatenated character data
	Children []*Node
}

// Data returns the value of the first EventData field named name.
func (e *Event) Data(name string) (string, bool) {
	for i := range e.EventData {
		if e.EventData[i].Name == name {
			return e.EventData[i].Value, true
		}
	}
	return "", false
}

// Positional returns the value of the n-th (1-based) EventData field, the one
// rules call Data[n], whether or not it has a name.
func (e *Event) Positional(n int) (string, bool) {
	if n < 1 || n > len(e.EventData) {
		return "", false
	}
	return e.EventData[n-1].Value, true
}

// DataKey returns the key of EventData[i] (0-based) in the event_data object
// of the JSONL output and in rule field names: its Name, or "Data[i+1]" when
// it is unnamed.
func (e *Event) DataKey(i int) string {
	if n := e.EventData[i].Name; n != "" {
		return n
	}
	return "Data[" + strconv.Itoa(i+1) + "]"
}

// Time returns the event's canonical time: System.TimeCreated, or the record
// header's written time when TimeCreated is missing.
func (e *Event) Time() time.Time {
	if !e.System.TimeCreated.IsZero() {
		return e.System.TimeCreated
	}
	return e.Source.Written
}

// LevelName returns the name Event Viewer shows for a level.
func LevelName(level uint8) string {
	switch level {
	case 0:
		return "Information" // LogAlways
	case 1:
		return "Critical"
	case 2:
		return "Error"
	case 3:
		return "Warning"
	case 4:
		return "Information"
	case 5:
		return "Verbose"
	}
	return "Level " + strconv.Itoa(int(level))
}
