// Package input finds the event logs a user points evtxscan at: files,
// directories (recursive), glob patterns and .zip archives (KAPE or
// Velociraptor collections), and opens each as an io.ReaderAt for the parser.
//
// Only regular files are read: named pipes, devices and sockets are skipped
// with a warning (opening a pipe would wait forever). Symbolic links are
// followed, to files and to folders, also when given as the argument; a link
// back to an enclosing folder (a loop) and a link to nothing are reported.
//
// Archives are read in place: nothing is extracted to disk, so a member name
// such as "../../etc/passwd" can never write outside a folder (zip-slip).
// Each archive's central directory is read once, however many members it
// has. Zips inside zips are read in place too, down to MaxZipDepth archives
// deep; a deeper one is reported, not read. When the central directory is
// damaged, the members are found by walking the local file headers (a
// warning says so).
//
// Stored (uncompressed) members are read straight from the archive. A
// compressed member is decompressed into memory through a hard limit that
// never trusts its header: at most Options.MaxMemberSize bytes (by default
// DefaultWindow, the memory window of readers that work ahead) for the member
// and the compressed zips around it together, in blocks allocated as data
// arrives. A member holding more or less than it claims, or failing its
// CRC, is an error naming the archive and the member.
//
// Files are recognised by the .evtx extension or by the EVTX signature
// ("ElfFile\x00") at their start, since collectors often rename them.
package input

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// DefaultMaxMemberSize bounds the memory compressed archive members take
// once decompressed (Windows' own default maximum log size is far less): the
// member and the compressed zips it is nested in together. It equals the
// reading window, so the memory of decompressed members stays within the
// window whatever their headers claim.
const DefaultMaxMemberSize = DefaultWindow

// MaxArchiveMembers bounds the number of members read from one archive.
const MaxArchiveMembers = 1 << 20

var (
	signatureEVTX = []byte("ElfFile\x00")
	signatureZip  = []byte("PK\x03\x04")
)

// Options tune how inputs are found.
type Options struct {
	// MaxMemberSize bounds decompressed archive members (with the
	// compressed zips around them); 0 means DefaultMaxMemberSize.
	MaxMemberSize int64
}

// An Item is one event log to read.
type Item struct {
	// Name is what reports show: the path, or "archive.zip!member/path.evtx"
	// (one "!" per archive level).
	Name string
	// Size is the size in bytes (for a compressed member, its declared
	// uncompressed size).
	Size int64
	// InMemory bounds what opening the item holds in memory: a compressed
	// archive member is decompressed whole (its declared size, at most
	// MaxMemberSize, which reading enforces whatever the header claims),
	// plus the compressed zips it is nested in; files and stored members
	// are read in place (0).
	InMemory int64
	open     func() (io.ReaderAt, int64, io.Closer, error)
}

// Open opens the item for reading. The caller closes the returned Closer.
// An archive stays open (a compressed nested zip decompressed) from the
// first of its items opened until each was opened and closed once, so
// readers open the items in order (as Expand returns them), each once.
func (it *Item) Open() (r io.ReaderAt, size int64, c io.Closer, err error) {
	return it.open()
}

// An Error is an input that could not be used; the run goes on without it.
// With Warning set it is a remark that lost nothing a log could be in (a
// named pipe skipped, a link loop not followed, a damaged central directory
// worked around).
type Error struct {
	Name    string // path or archive member
	Err     error
	Warning bool
}

func (e *Error) Error() string { return e.Name + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// IsWarning reports whether err is an *Error with Warning set.
func IsWarning(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Warning
}

// An expander collects the items and errors of one Expand.
type expander struct {
	opts    Options
	items   []Item
	errs    []error
	dirKeys map[any]string // folders read, by dirKey
	dirs    []seenDir      // the same where dirKey cannot tell
}

func (x *expander) fail(name string, err error) {
	x.errs = append(x.errs, &Error{Name: name, Err: err})
}
func (x *expander) warn(name string, err error) {
	x.errs = append(x.errs, &Error{Name: name, Err: err, Warning: true})
}

// Expand turns command-line paths into the items to read, in a stable order
// (each argument's items sorted by name). Problems with single paths or
// members are returned as *Error values; the other items are still returned.
func Expand(paths []string, opts Options) ([]Item, []error) {
	if opts.MaxMemberSize <= 0 {
		opts.MaxMemberSize = DefaultMaxMemberSize
	}
	x := &expander{opts: opts, dirKeys: map[any]string{}}
	for _, p := range paths {
		matches := []string{p}
		if _, err := os.Lstat(p); err != nil && hasGlobMeta(p) {
			m, gerr := filepath.Glob(p)
			if gerr != nil {
				x.fail(p, fmt.Errorf("bad glob pattern: %v", gerr))
				continue
			}
			if len(m) == 0 {
				x.fail(p, errors.New("no file matches this pattern"))
				continue
			}
			matches = m
		}
		for _, m := range matches {
			x.expandArg(m)
		}
	}
	return x.items, x.errs
}

func hasGlobMeta(p string) bool { return strings.ContainsAny(p, "*?[") }

// expandArg expands one named path. Unlike a file met in a folder, a
// named file that is not regular is an error: the user asked for it.
func (x *expander) expandArg(p string) {
	fi, err := os.Stat(p)
	if err != nil {
		if li, lerr := os.Lstat(p); lerr == nil && li.Mode()&fs.ModeSymlink != 0 {
			x.fail(p, danglingLink(p, err))
			return
		}
		x.fail(p, fmt.Errorf("cannot read it: %w (check the path)", unwrapPathError(err)))
		return
	}
	switch {
	case fi.IsDir():
		x.walkDir(p, []os.FileInfo{fi})
	case !fi.Mode().IsRegular():
		x.fail(p, fmt.Errorf("%s, not a regular file: evtxscan reads only regular files", describeMode(fi.Mode())))
	case isZip(p):
		x.expandArchive(&archive{name: p, path: p, size: fi.Size(), depth: 1, opts: &x.opts})
	default:
		// An explicit file is always tried: the parser says if it is no EVTX.
		x.items = append(x.items, fileItem(p, fi.Size()))
	}
}

// walkDir adds the logs under dir, following symbolic links; ancestors are
// the folders from the argument down to dir, so that a link back to one of
// them (a loop) is reported instead of followed. A folder reached a second
// time through another link is read once (links could otherwise make a
// small tree expand exponentially).
func (x *expander) walkDir(dir string, ancestors []os.FileInfo) {
	if first, seen := x.visit(dir, ancestors[len(ancestors)-1]); seen {
		x.warn(dir, fmt.Errorf("the same folder as %s (through a symbolic link): read once", first))
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		x.fail(dir, fmt.Errorf("cannot read it: %w", unwrapPathError(err)))
	}
	for _, d := range entries {
		path := filepath.Join(dir, d.Name())
		var fi os.FileInfo
		// Windows reports junctions as irregular: resolve them like links.
		if d.Type()&(fs.ModeSymlink|fs.ModeIrregular) != 0 {
			fi, err = os.Stat(path)
			if err != nil {
				x.warn(path, danglingLink(path, err))
				continue
			}
		} else if fi, err = d.Info(); err != nil {
			x.fail(path, fmt.Errorf("cannot read it: %w", unwrapPathError(err)))
			continue
		}
		switch {
		case fi.IsDir():
			loop := false
			for _, a := range ancestors {
				if os.SameFile(a, fi) {
					loop = true
					break
				}
			}
			if loop {
				x.warn(path, errors.New("a symbolic link back to a folder it is in (a loop): not followed"))
				continue
			}
			x.walkDir(path, append(ancestors[:len(ancestors):len(ancestors)], fi))
		case !fi.Mode().IsRegular():
			x.warn(path, fmt.Errorf("skipped: %s, not a regular file", describeMode(fi.Mode())))
		case strings.EqualFold(filepath.Ext(path), ".evtx"):
			x.items = append(x.items, fileItem(path, fi.Size()))
		case isZip(path):
			x.expandArchive(&archive{name: path, path: path, size: fi.Size(), depth: 1, opts: &x.opts})
		case hasPrefixFile(path, signatureEVTX):
			x.items = append(x.items, fileItem(path, fi.Size()))
		}
	}
}

// visit records a folder as read; seen is true (with the path it was first
// read under) when it was read already.
func (x *expander) visit(path string, fi os.FileInfo) (first string, seen bool) {
	if key, ok := dirKey(fi); ok {
		if first, seen = x.dirKeys[key]; !seen {
			x.dirKeys[key] = path
		}
		return first, seen
	}
	for _, d := range x.dirs {
		if os.SameFile(d.fi, fi) {
			return d.path, true
		}
	}
	x.dirs = append(x.dirs, seenDir{path, fi})
	return "", false
}

type seenDir struct {
	path string
	fi   os.FileInfo
}

func danglingLink(path string, err error) error {
	target, lerr := os.Readlink(path)
	if lerr != nil {
		target = "?"
	}
	return fmt.Errorf("a symbolic link to %s, which cannot be read: %w", target, unwrapPathError(err))
}

func describeMode(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeIrregular != 0:
		return "an irregular file"
	}
	return "a special file (" + m.Type().String() + ")"
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func fileItem(path string, size int64) Item {
	return Item{Name: path, Size: size, open: func() (io.ReaderAt, int64, io.Closer, error) {
		// Checked again: a file replaced by a pipe since it was listed
		// must not block the run.
		if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
			return nil, 0, nil, fmt.Errorf("%s now, not a regular file", describeMode(fi.Mode()))
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, 0, nil, err
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, 0, nil, err
		}
		return f, fi.Size(), f, nil
	}}
}

func isZip(path string) bool {
	return isZipName(path) || hasPrefixFile(path, signatureZip)
}

func hasPrefixFile(path string, sig []byte) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	buf := make([]byte, len(sig))
	if _, err := io.ReadFull(f, buf); err != nil {
		return false
	}
	return bytes.Equal(buf, sig)
}

// DisplayMemberName makes an archive member name safe to use as a file
// name in reports: forward slashes, no leading slash or drive, ".."
// elements kept visible but harmless (nothing is ever written under that
// name). Control and bidi characters are kept as they are, so two members
// never get the same name: every output escapes them reversibly (JSON \u
// escapes, \xNN and \uNNNN in display formats and on the terminal).
func DisplayMemberName(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	name = strings.TrimLeft(name, "/")
	if len(name) >= 2 && name[1] == ':' {
		name = name[2:]
		name = strings.TrimLeft(name, "/")
	}
	if !utf8.ValidString(name) {
		// A name in a legacy code page: its bytes would all become U+FFFD
		// in JSON. As \xNN they stay apart (no "\" is left above, so the
		// escape cannot be confused with a name's own text).
		var b strings.Builder
		for i := 0; i < len(name); {
			r, size := utf8.DecodeRuneInString(name[i:])
			if r == utf8.RuneError && size == 1 {
				fmt.Fprintf(&b, "\\x%02x", name[i])
			} else {
				b.WriteString(name[i : i+size])
			}
			i += size
		}
		name = b.String()
	}
	return name
}
