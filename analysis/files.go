package analysis

import (
	"context"
	"fmt"
	"iter"
	"strings"

	"github.com/evtxscan/evtxscan/input"
	"github.com/evtxscan/evtxscan/parser"
)

// FileSource reads .evtx files (and archive members) one after the other,
// each with the parser's chunk-parallel decoding. A file that cannot be
// read is accounted for (Stats.Err) and reported as a warning; the next
// file is read.
type FileSource struct {
	Items   []input.Item
	Options parser.Options
	// Errors from input.Expand: paths that gave no file at all. They are
	// accounted as unreadable files.
	InputErrors []error
	Progress    *Progress

	stats []parser.Stats
}

// FileError is a warning about one file: damage inside it, or a file that
// could not be read at all (Fatal).
type FileError struct {
	File  string
	Fatal bool
	Err   error
}

func (e *FileError) Error() string {
	msg := e.Err.Error()
	if e.File != "" && strings.HasPrefix(msg, e.File) {
		// The parser's errors name the file already.
		msg = strings.TrimPrefix(msg[len(e.File):], ": ")
	}
	if e.Fatal {
		msg = "cannot read it: " + msg
	}
	return e.File + ": " + msg
}

func (e *FileError) Unwrap() error { return e.Err }

// Events yields the events of every file in order.
func (s *FileSource) Events(ctx context.Context) iter.Seq2[*parser.Event, error] {
	return func(yield func(*parser.Event, error) bool) {
		s.stats = s.stats[:0]
		for _, err := range s.InputErrors {
			name := ""
			if ie, ok := err.(*input.Error); ok {
				name = ie.Name
			}
			s.stats = append(s.stats, parser.Stats{File: name, Err: err})
			if !yield(nil, &FileError{File: name, Fatal: true, Err: unwrapInput(err)}) {
				return
			}
		}
		for i := range s.Items {
			if ctx.Err() != nil {
				return
			}
			if !s.readOne(ctx, &s.Items[i], yield) {
				return
			}
		}
	}
}

func unwrapInput(err error) error {
	if ie, ok := err.(*input.Error); ok {
		return ie.Err
	}
	return err
}

func (s *FileSource) readOne(ctx context.Context, it *input.Item, yield func(*parser.Event, error) bool) bool {
	fail := func(err error) bool {
		s.stats = append(s.stats, parser.Stats{File: it.Name, Size: it.Size, Err: err})
		return yield(nil, &FileError{File: it.Name, Fatal: true, Err: err})
	}
	r, size, closer, err := it.Open()
	if err != nil {
		return fail(err)
	}
	defer closer.Close()
	f, err := parser.NewFile(r, size, it.Name, s.Options)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	for ev, err := range f.Events(ctx) {
		if err != nil {
			if !yield(nil, &FileError{File: it.Name, Err: err}) {
				return false
			}
			continue
		}
		if !yield(ev, nil) {
			return false
		}
	}
	st := f.Stats()
	if st.File == "" {
		st.File = it.Name
	}
	if st.Size == 0 {
		st.Size = size
	}
	s.stats = append(s.stats, st)
	if s.Progress != nil {
		s.Progress.Files.Add(1)
		s.Progress.Bytes.Add(size)
	}
	return true
}

// Stats returns the accounting of every file, in the order read.
func (s *FileSource) Stats() []parser.Stats { return s.stats }

// String describes the source for messages.
func (s *FileSource) String() string { return fmt.Sprintf("%d files", len(s.Items)) }
