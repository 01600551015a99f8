package analysis

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"time"

	"github.com/evtxscan/evtxscan/parser"
)

// The spill codec writes events to the sorter's temporary run files and
// reads them back. It is private to this package and only ever reads what
// it wrote in the same process, so it carries no version: a compact
// sequence of uvarints and length-prefixed strings in field order.

const maxSpillString = 1 << 30 // a corrupt run file cannot make us allocate more

var errSpillCorrupt = errors.New("analysis: temporary run file is corrupt")

type spillWriter struct {
	w   *bufio.Writer
	buf []byte
}

func (s *spillWriter) uvarint(v uint64) { s.buf = binary.AppendUvarint(s.buf, v) }
func (s *spillWriter) varint(v int64)   { s.buf = binary.AppendVarint(s.buf, v) }
func (s *spillWriter) str(v string)     { s.uvarint(uint64(len(v))); s.buf = append(s.buf, v...) }
func (s *spillWriter) bytes(v []byte) {
	if v == nil {
		s.uvarint(0)
		return
	}
	s.uvarint(uint64(len(v)) + 1)
	s.buf = append(s.buf, v...)
}
func (s *spillWriter) bool(v bool) {
	if v {
		s.buf = append(s.buf, 1)
	} else {
		s.buf = append(s.buf, 0)
	}
}
func (s *spillWriter) time(t time.Time) {
	if t.IsZero() {
		s.buf = append(s.buf, 0)
		return
	}
	s.buf = append(s.buf, 1)
	s.varint(t.Unix())
	s.uvarint(uint64(t.Nanosecond()))
}
func (s *spillWriter) fields(fs []parser.Field) {
	s.uvarint(uint64(len(fs)))
	for _, f := range fs {
		s.str(f.Name)
		s.str(f.Value)
	}
}
func (s *spillWriter) node(n *parser.Node) {
	if n == nil {
		s.buf = append(s.buf, 0)
		return
	}
	s.buf = append(s.buf, 1)
	s.str(n.Name)
	s.fields(n.Attrs)
	s.str(n.Text)
	s.uvarint(uint64(len(n.Children)))
	for _, c := range n.Children {
		s.node(c)
	}
}

// write appends one record (sequence number + event) to the run file.
func (s *spillWriter) write(seq uint64, e *parser.Event) error {
	s.buf = s.buf[:0]
	s.uvarint(seq)
	src := &e.Source
	s.str(src.File)
	s.varint(int64(src.Chunk))
	s.varint(src.Offset)
	s.uvarint(src.RecordID)
	s.uvarint(src.HeaderRecordID)
	s.time(src.Written)
	s.bool(src.Recovered)
	s.str(src.RecoverReason)
	s.bool(src.Truncated)
	sys := &e.System
	s.str(sys.Provider)
	s.str(sys.ProviderGUID)
	s.str(sys.EventSourceName)
	s.uvarint(uint64(sys.EventID))
	s.uvarint(uint64(sys.Qualifiers))
	s.bool(sys.HasQualifiers)
	s.uvarint(uint64(sys.Version))
	s.uvarint(uint64(sys.Level))
	s.uvarint(uint64(sys.Task))
	s.uvarint(uint64(sys.Opcode))
	s.uvarint(sys.Keywords)
	s.time(sys.TimeCreated)
	s.uvarint(sys.EventRecordID)
	s.str(sys.ActivityID)
	s.str(sys.RelatedActivityID)
	s.uvarint(uint64(sys.ProcessID))
	s.uvarint(uint64(sys.ThreadID))
	s.str(sys.Channel)
	s.str(sys.Computer)
	s.str(sys.UserID)
	s.fields(sys.Extra)
	s.fields(e.EventData)
	s.str(e.EventDataName)
	s.bytes(e.Binary)
	s.node(e.UserData)
	s.uvarint(uint64(len(e.Other)))
	for _, n := range e.Other {
		s.node(n)
	}
	s.uvarint(uint64(len(e.InsertionStrings)))
	for _, v := range e.InsertionStrings {
		s.str(v)
	}
	s.str(e.RenderedMessage)
	s.str(e.Message)
	s.str(e.XML)
	var lenBuf [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(lenBuf[:], uint64(len(s.buf)))
	if _, err := s.w.Write(lenBuf[:n]); err != nil {
		return err
	}
	_, err := s.w.Write(s.buf)
	return err
}

type spillReader struct {
	r   *bufio.Reader
	buf []byte
	pos int
	err error
}

// read returns the next record, or io.EOF after the last one.
func (s *spillReader) read() (uint64, *parser.Event, error) {
	size, err := binary.ReadUvarint(s.r)
	if err != nil {
		if err == io.EOF {
			return 0, nil, io.EOF
		}
		return 0, nil, errSpillCorrupt
	}
	if size > math.MaxInt32 {
		return 0, nil, errSpillCorrupt
	}
	if cap(s.buf) < int(size) {
		s.buf = make([]byte, size)
	}
	s.buf = s.buf[:size]
	if _, err := io.ReadFull(s.r, s.buf); err != nil {
		return 0, nil, errSpillCorrupt
	}
	s.pos, s.err = 0, nil
	seq := s.uvarint()
	e := &parser.Event{}
	src := &e.Source
	src.File = s.str()
	src.Chunk = int(s.varint())
	src.Offset = s.varint()
	src.RecordID = s.uvarint()
	src.HeaderRecordID = s.uvarint()
	src.Written = s.time()
	src.Recovered = s.bool()
	src.RecoverReason = s.str()
	src.Truncated = s.bool()
	sys := &e.System
	sys.Provider = s.str()
	sys.ProviderGUID = s.str()
	sys.EventSourceName = s.str()
	sys.EventID = uint16(s.uvarint())
	sys.Qualifiers = uint16(s.uvarint())
	sys.HasQualifiers = s.bool()
	sys.Version = uint8(s.uvarint())
	sys.Level = uint8(s.uvarint())
	sys.Task = uint16(s.uvarint())
	sys.Opcode = uint8(s.uvarint())
	sys.Keywords = s.uvarint()
	sys.TimeCreated = s.time()
	sys.EventRecordID = s.uvarint()
	sys.ActivityID = s.str()
	sys.RelatedActivityID = s.str()
	sys.ProcessID = uint32(s.uvarint())
	sys.ThreadID = uint32(s.uvarint())
	sys.Channel = s.str()
	sys.Computer = s.str()
	sys.UserID = s.str()
	sys.Extra = s.fields()
	e.EventData = s.fields()
	e.EventDataName = s.str()
	e.Binary = s.bytes()
	e.UserData = s.node(0)
	if n := s.count(); n > 0 {
		e.Other = make([]*parser.Node, 0, n)
		for i := 0; i < n; i++ {
			e.Other = append(e.Other, s.node(0))
		}
	}
	if n := s.count(); n > 0 {
		e.InsertionStrings = make([]string, 0, n)
		for i := 0; i < n; i++ {
			e.InsertionStrings = append(e.InsertionStrings, s.str())
		}
	}
	e.RenderedMessage = s.str()
	e.Message = s.str()
	e.XML = s.str()
	if s.err != nil || s.pos != len(s.buf) {
		return 0, nil, errSpillCorrupt
	}
	return seq, e, nil
}

func (s *spillReader) uvarint() uint64 {
	v, n := binary.Uvarint(s.buf[s.pos:])
	if n <= 0 {
		s.err = errSpillCorrupt
		s.pos = len(s.buf)
		return 0
	}
	s.pos += n
	return v
}

func (s *spillReader) varint() int64 {
	v, n := binary.Varint(s.buf[s.pos:])
	if n <= 0 {
		s.err = errSpillCorrupt
		s.pos = len(s.buf)
		return 0
	}
	s.pos += n
	return v
}

// count reads an element count, bounded by the bytes left (each element
// takes at least one byte).
func (s *spillReader) count() int {
	v := s.uvarint()
	if v > uint64(len(s.buf)-s.pos) {
		s.err = errSpillCorrupt
		s.pos = len(s.buf)
		return 0
	}
	return int(v)
}

func (s *spillReader) str() string {
	n := s.uvarint()
	if n > maxSpillString || n > uint64(len(s.buf)-s.pos) {
		s.err = errSpillCorrupt
		s.pos = len(s.buf)
		return ""
	}
	v := string(s.buf[s.pos : s.pos+int(n)])
	s.pos += int(n)
	return v
}

func (s *spillReader) bytes() []byte {
	n := s.uvarint()
	if n == 0 {
		return nil
	}
	n--
	if n > uint64(len(s.buf)-s.pos) {
		s.err = errSpillCorrupt
		s.pos = len(s.buf)
		return nil
	}
	v := append([]byte{}, s.buf[s.pos:s.pos+int(n)]...)
	s.pos += int(n)
	return v
}

func (s *spillReader) bool() bool {
	if s.pos >= len(s.buf) {
		s.err = errSpillCorrupt
		return false
	}
	v := s.buf[s.pos] != 0
	s.pos++
	return v
}

func (s *spillReader) time() time.Time {
	if !s.bool() {
		return time.Time{}
	}
	sec := s.varint()
	nsec := s.uvarint()
	if nsec >= 1e9 {
		s.err = errSpillCorrupt
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

func (s *spillReader) fields() []parser.Field {
	n := s.count()
	if n == 0 {
		return nil
	}
	fs := make([]parser.Field, n)
	for i := range fs {
		fs[i].Name = s.str()
		fs[i].Value = s.str()
	}
	return fs
}

const maxNodeDepth = 256

func (s *spillReader) node(depth int) *parser.Node {
	if !s.bool() {
		return nil
	}
	if depth > maxNodeDepth {
		s.err = errSpillCorrupt
		return nil
	}
	n := &parser.Node{Name: s.str(), Attrs: s.fields(), Text: s.str()}
	if c := s.count(); c > 0 {
		n.Children = make([]*parser.Node, 0, c)
		for i := 0; i < c; i++ {
			n.Children = append(n.Children, s.node(depth+1))
		}
	}
	return n
}
