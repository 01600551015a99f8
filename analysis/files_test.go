package analysis

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/evtxscan/evtxscan/input"
	"github.com/evtxscan/evtxscan/internal/testenv"
	"github.com/evtxscan/evtxscan/parser"
)

// TestFileSourceOrder: with files decoded ahead, FileSource still yields
// every file's events and warnings in input order, as reading the files
// one after the other does, and its Stats come in the same order. A file
// that is not an event log is a fatal warning in its place.
func TestFileSourceOrder(t *testing.T) {
	root := filepath.Join(testenv.Corpus(t), "omerbenamram+evtx", "samples")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "not-a-log.evtx"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	items, errs := input.Expand([]string{root, dir}, input.Options{})
	if len(errs) > 0 || len(items) < 10 {
		t.Fatalf("%d items, errors %v", len(items), errs)
	}
	var want []string
	var wantStats []string
	for i := range items {
		r, size, closer, err := items[i].Open()
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.NewFile(r, size, items[i].Name, parser.Options{Workers: 1})
		if err != nil {
			want = append(want, "fatal "+items[i].Name)
			wantStats = append(wantStats, items[i].Name+" unreadable")
			closer.Close()
			continue
		}
		for ev, err := range f.Events(context.Background()) {
			if err != nil {
				want = append(want, "warning "+items[i].Name)
				continue
			}
			want = append(want, fmt.Sprintf("%s#%d", ev.Source.File, ev.Source.RecordID))
		}
		st := f.Stats()
		wantStats = append(wantStats, fmt.Sprintf("%s %d+%d", st.File, st.Records, st.Recovered))
		closer.Close()
	}
	src := &FileSource{Items: items}
	var got []string
	for ev, err := range src.Events(context.Background()) {
		var fe *FileError
		switch {
		case err != nil && asFileError(err, &fe) && fe.Fatal:
			got = append(got, "fatal "+fe.File)
		case err != nil:
			got = append(got, "warning "+fe.File)
		default:
			got = append(got, fmt.Sprintf("%s#%d", ev.Source.File, ev.Source.RecordID))
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d items yielded, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("item %d: %s, want %s", i, got[i], want[i])
		}
	}
	var gotStats []string
	for _, st := range src.Stats() {
		if st.Err != nil {
			gotStats = append(gotStats, st.File+" unreadable")
			continue
		}
		gotStats = append(gotStats, fmt.Sprintf("%s %d+%d", st.File, st.Records, st.Recovered))
	}
	if fmt.Sprint(gotStats) != fmt.Sprint(wantStats) {
		t.Errorf("stats:\n%v\nwant\n%v", gotStats, wantStats)
	}

	// Stopping early ends the producers (the test would hang otherwise).
	n := 0
	for range src.Events(context.Background()) {
		if n++; n == 100 {
			break
		}
	}
}

func asFileError(err error, fe **FileError) bool {
	e, ok := err.(*FileError)
	*fe = e
	return ok
}

// TestFileMessage: the path once, "cannot read it" once, whatever the
// layers below put in front of the cause.
func TestFileMessage(t *testing.T) {
	const f = "/logs/App.evtx"
	pathErr := &fs.PathError{Op: "open", Path: f, Err: syscall.ENOENT}
	for _, tt := range []struct {
		name  string
		fatal bool
		err   error
		want  string
	}{
		{"input error", true, fmt.Errorf("cannot read it: %w (check the path)", syscall.ENOENT), f + ": cannot read it: no such file or directory (check the path)"},
		{"path error", true, pathErr, f + ": cannot read it: no such file or directory"},
		{"parser names the file", true, errors.New(f + ": not an EVTX file"), f + ": cannot read it: not an EVTX file"},
		{"both", true, errors.New(f + ": cannot read it: " + f + ": gone"), f + ": cannot read it: gone"},
		{"damage", false, errors.New(f + ": chunk 2 at offset 0x11000: bad CRC"), f + ": chunk 2 at offset 0x11000: bad CRC"},
	} {
		if got := FileMessage(f, tt.fatal, tt.err); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
