package analysis

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"strings"

	"github.com/evtxscan/evtxscan/input"
	"github.com/evtxscan/evtxscan/parser"
)

// FileSource reads .evtx files (and archive members) in order, each with
// the parser's chunk-parallel decoding and the next ones decoded ahead. A file that cannot be
// read is accounted for (Stats.Err) and reported as a warning; the next
// file is read.
type FileSource struct {
	Items   []input.Item
	Options parser.Options
	// Errors from input.Expand: paths that gave no file at all. They are
	// accounted as unreadable files, except warnings (input.IsWarning).
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

// Error is the one place a file's problem becomes text for people: the path
// once, "cannot read it" once when the file was not read, then the cause
// without the path or prefix the layers below may have put in front.
func (e *FileError) Error() string {
	return FileMessage(e.File, e.Fatal, e.Err)
}

// FileMessage formats a problem with file as FileError does.
func FileMessage(file string, fatal bool, err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Err != nil && pe.Path == file && strings.HasSuffix(err.Error(), pe.Error()) {
		// "open PATH: no such file" → the cause; the path is said once.
		err = &causeText{prefix: strings.TrimSuffix(err.Error(), pe.Error()), err: pe.Err}
	}
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	const prefix = "cannot read it: "
	for {
		// The parser's and input's errors name the file, or say it could
		// not be read, already.
		switch {
		case file != "" && strings.HasPrefix(msg, file+": "):
			msg = msg[len(file)+2:]
			continue
		case strings.HasPrefix(msg, prefix):
			msg = msg[len(prefix):]
			continue
		}
		break
	}
	if fatal {
		msg = prefix + msg
	}
	if file == "" {
		return msg
	}
	return file + ": " + msg
}

type causeText struct {
	prefix string
	err    error
}

func (c *causeText) Error() string { return c.prefix + c.err.Error() }

func (e *FileError) Unwrap() error { return e.Err }

// readAhead is how many files are decoded ahead of the one whose events
// are being yielded. A collection is mostly small logs of one or two
// chunks, which a file's own chunk parallelism cannot spread over the
// cores; reading the next files meanwhile does. A file ahead holds at most
// aheadBatches batches of events until its turn.
const (
	readAhead    = 2
	aheadBatch   = 256
	aheadBatches = 4
)

// A fileRead is one file on its way through Events: its producer sends the
// events (and warnings) in batches, in order, then closes items after
// setting st.
type fileRead struct {
	it    *input.Item
	share int64 // of the memory window (see input.Window)
	items chan []sourceItem
	st    parser.Stats
}

type sourceItem struct {
	ev  *parser.Event
	err error
}

// Events yields the events of every file in order, decoding up to
// readAhead files ahead.
func (s *FileSource) Events(ctx context.Context) iter.Seq2[*parser.Event, error] {
	return func(yield func(*parser.Event, error) bool) {
		s.stats = s.stats[:0]
		for _, err := range s.InputErrors {
			name := ""
			if ie, ok := err.(*input.Error); ok {
				name = ie.Name
			}
			fatal := !input.IsWarning(err) // a warning lost nothing
			if fatal {
				// The accounting keeps the cause: reports show the file apart.
				s.stats = append(s.stats, parser.Stats{File: name, Err: unwrapInput(err)})
			}
			if !yield(nil, &FileError{File: name, Fatal: fatal, Err: unwrapInput(err)}) {
				return
			}
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		reads := make(chan *fileRead, readAhead)
		// Compressed archive members are decompressed in memory: reading
		// ahead must not hold several big ones at once.
		win := input.NewWindow(ctx, input.DefaultWindow)
		go func() {
			defer close(reads)
			for i := range s.Items {
				share, ok := win.Acquire(&s.Items[i])
				if !ok {
					return
				}
				r := &fileRead{it: &s.Items[i], share: share, items: make(chan []sourceItem, aheadBatches)}
				select {
				case reads <- r:
				case <-ctx.Done():
					return
				}
				go s.produce(ctx, r)
			}
		}()
		for r := range reads {
			for batch := range r.items {
				for _, x := range batch {
					if !yield(x.ev, x.err) {
						return
					}
				}
			}
			win.Release(r.share)
			s.stats = append(s.stats, r.st)
			if s.Progress != nil && r.st.Err == nil {
				s.Progress.Files.Add(1)
				s.Progress.Bytes.Add(r.st.Size)
			}
			if ctx.Err() != nil {
				return
			}
		}
	}
}

// produce reads one file for Events.
func (s *FileSource) produce(ctx context.Context, r *fileRead) {
	defer close(r.items)
	batch := make([]sourceItem, 0, aheadBatch)
	send := func() bool {
		select {
		case r.items <- batch:
			batch = make([]sourceItem, 0, aheadBatch)
			return true
		case <-ctx.Done():
			return false
		}
	}
	r.st = s.readOne(ctx, r.it, func(ev *parser.Event, err error) bool {
		batch = append(batch, sourceItem{ev, err})
		return len(batch) < aheadBatch || send()
	})
	if len(batch) > 0 {
		send()
	}
}

func unwrapInput(err error) error {
	if ie, ok := err.(*input.Error); ok {
		return ie.Err
	}
	return err
}

// readOne reads one file, passing its events and warnings to emit, and
// returns its accounting.
func (s *FileSource) readOne(ctx context.Context, it *input.Item, emit func(*parser.Event, error) bool) parser.Stats {
	fail := func(err error) parser.Stats {
		emit(nil, &FileError{File: it.Name, Fatal: true, Err: err})
		return parser.Stats{File: it.Name, Size: it.Size, Err: err}
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
			err = &FileError{File: it.Name, Err: err}
		}
		if !emit(ev, err) {
			break
		}
	}
	st := f.Stats()
	if st.File == "" {
		st.File = it.Name
	}
	if st.Size == 0 {
		st.Size = size
	}
	return st
}

// Stats returns the accounting of every file, in the order read.
func (s *FileSource) Stats() []parser.Stats { return s.stats }

// String describes the source for messages.
func (s *FileSource) String() string { return fmt.Sprintf("%d files", len(s.Items)) }
