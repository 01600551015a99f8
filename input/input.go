// Package input finds the event logs a user points evtxscan at: files,
// directories (recursive), glob patterns and .zip archives (KAPE or
// Velociraptor collections), and opens each as an io.ReaderAt for the parser.
//
// Archives are read in place: nothing is extracted to disk, so a member name
// such as "../../etc/passwd" can never write outside a folder (zip-slip). A
// member is decompressed into memory only up to Options.MaxMemberSize bytes,
// whatever its header claims, so a zip bomb costs at most that much.
// Stored (uncompressed) members are read straight from the archive.
//
// Files are recognised by the .evtx extension or by the EVTX signature
// ("ElfFile\x00") at their start, since collectors often rename them.
package input

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"
)

// DefaultMaxMemberSize bounds the memory one compressed archive member may
// take once decompressed (Windows' own default maximum log size is far less).
const DefaultMaxMemberSize = 2 << 30

// MaxArchiveMembers bounds the number of members read from one archive.
const MaxArchiveMembers = 1 << 20

var (
	signatureEVTX = []byte("ElfFile\x00")
	signatureZip  = []byte("PK\x03\x04")
)

// Options tune how inputs are found.
type Options struct {
	// MaxMemberSize bounds a decompressed archive member; 0 means
	// DefaultMaxMemberSize.
	MaxMemberSize int64
}

// An Item is one event log to read.
type Item struct {
	// Name is what reports show: the path, or "archive.zip!member/path.evtx".
	Name string
	// Size is the size in bytes (for a compressed member, its declared
	// uncompressed size).
	Size int64
	// InMemory is what opening the item holds in memory: a compressed
	// archive member is decompressed whole (its declared size, at most
	// MaxMemberSize); files and stored members are read in place (0).
	InMemory int64
	open     func() (io.ReaderAt, int64, io.Closer, error)
}

// Open opens the item for reading. The caller closes the returned Closer.
func (it *Item) Open() (r io.ReaderAt, size int64, c io.Closer, err error) {
	return it.open()
}

// An Error is an input that could not be used; the run goes on without it.
type Error struct {
	Name string // path or archive member
	Err  error
}

func (e *Error) Error() string { return e.Name + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Expand turns command-line paths into the items to read, in a stable order
// (each argument's items sorted by name). Problems with single paths or
// members are returned as *Error values; the other items are still returned.
func Expand(paths []string, opts Options) ([]Item, []error) {
	if opts.MaxMemberSize <= 0 {
		opts.MaxMemberSize = DefaultMaxMemberSize
	}
	var items []Item
	var errs []error
	for _, p := range paths {
		matches := []string{p}
		if _, err := os.Stat(p); err != nil && hasGlobMeta(p) {
			m, gerr := filepath.Glob(p)
			if gerr != nil {
				errs = append(errs, &Error{p, fmt.Errorf("bad glob pattern: %v", gerr)})
				continue
			}
			if len(m) == 0 {
				errs = append(errs, &Error{p, errors.New("no file matches this pattern")})
				continue
			}
			matches = m
		}
		for _, m := range matches {
			it, e := expandPath(m, opts)
			items = append(items, it...)
			errs = append(errs, e...)
		}
	}
	return items, errs
}

func hasGlobMeta(p string) bool { return strings.ContainsAny(p, "*?[") }

func expandPath(p string, opts Options) ([]Item, []error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, []error{&Error{p, fmt.Errorf("cannot read it: %w (check the path)", unwrapPathError(err))}}
	}
	if !fi.IsDir() {
		if isZip(p) {
			return expandZip(p, opts)
		}
		// An explicit file is always tried: the parser says if it is no EVTX.
		return []Item{fileItem(p, fi.Size())}, nil
	}
	var items []Item
	var errs []error
	walkErr := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, &Error{path, fmt.Errorf("cannot read it: %w", unwrapPathError(err))})
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			errs = append(errs, &Error{path, err})
			return nil
		}
		switch {
		case strings.EqualFold(filepath.Ext(path), ".evtx"):
			items = append(items, fileItem(path, info.Size()))
		case strings.EqualFold(filepath.Ext(path), ".zip") || hasPrefixFile(path, signatureZip):
			it, e := expandZip(path, opts)
			items = append(items, it...)
			errs = append(errs, e...)
		case hasPrefixFile(path, signatureEVTX):
			items = append(items, fileItem(path, info.Size()))
		}
		return nil
	})
	if walkErr != nil {
		errs = append(errs, &Error{p, walkErr})
	}
	return items, errs
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
	return strings.EqualFold(filepath.Ext(path), ".zip") || hasPrefixFile(path, signatureZip)
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

// expandZip lists the event logs inside an archive. The archive stays open
// for the items' lifetime only while one of them is being read.
func expandZip(path string, opts Options) ([]Item, []error) {
	zr, err := zip.OpenReader(path)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, []error{&Error{path, fmt.Errorf("not a readable zip archive: %w", err)}}
	}
	defer zr.Close()
	var items []Item
	var errs []error
	if len(zr.File) > MaxArchiveMembers {
		return nil, []error{&Error{path, fmt.Errorf("archive lists %d members, more than the %d evtxscan reads: unpack it and scan the folder", len(zr.File), MaxArchiveMembers)}}
	}
	for i, zf := range zr.File {
		if zf.FileInfo().IsDir() {
			continue
		}
		name := path + "!" + DisplayMemberName(zf.Name)
		if !strings.EqualFold(filepath.Ext(zf.Name), ".evtx") && !zipMemberHasSignature(zf) {
			continue
		}
		it := zipItem(path, i, name, int64(zf.UncompressedSize64), opts.MaxMemberSize)
		if !(zf.Method == zip.Store && zf.CompressedSize64 == zf.UncompressedSize64) {
			it.InMemory = min(int64(zf.UncompressedSize64), opts.MaxMemberSize)
		}
		items = append(items, it)
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].Name < items[j].Name })
	return items, errs
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

func zipMemberHasSignature(zf *zip.File) bool {
	if zf.UncompressedSize64 < uint64(len(signatureEVTX)) {
		return false
	}
	rc, err := zf.Open()
	if err != nil {
		return false
	}
	defer rc.Close()
	buf := make([]byte, len(signatureEVTX))
	if _, err := io.ReadFull(rc, buf); err != nil {
		return false
	}
	return bytes.Equal(buf, signatureEVTX)
}

func zipItem(archive string, index int, name string, size int64, maxSize int64) Item {
	return Item{Name: name, Size: size, open: func() (io.ReaderAt, int64, io.Closer, error) {
		zr, err := zip.OpenReader(archive)
		if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
			return nil, 0, nil, err
		}
		if index >= len(zr.File) {
			zr.Close()
			return nil, 0, nil, errors.New("archive changed while reading")
		}
		zf := zr.File[index]
		if zf.Method == zip.Store && zf.CompressedSize64 == zf.UncompressedSize64 {
			// Stored: read in place from the archive file.
			off, err := zf.DataOffset()
			if err == nil {
				f, err := os.Open(archive)
				if err == nil {
					zr.Close()
					return io.NewSectionReader(f, off, int64(zf.UncompressedSize64)), int64(zf.UncompressedSize64), f, nil
				}
			}
		}
		defer zr.Close()
		if zf.UncompressedSize64 > uint64(maxSize) {
			return nil, 0, nil, fmt.Errorf("member claims %d bytes, more than the %d evtxscan decompresses in memory: unpack it and scan the file", zf.UncompressedSize64, maxSize)
		}
		rc, err := zf.Open()
		if err != nil {
			return nil, 0, nil, err
		}
		defer rc.Close()
		// Never trust the declared size: read at most maxSize+1 bytes.
		capHint := int64(zf.UncompressedSize64)
		if capHint > maxSize {
			capHint = maxSize
		}
		buf := bytes.NewBuffer(make([]byte, 0, capHint))
		n, err := io.Copy(buf, io.LimitReader(rc, maxSize+1))
		if err != nil {
			return nil, 0, nil, fmt.Errorf("decompressing: %w", err)
		}
		if n > maxSize {
			return nil, 0, nil, fmt.Errorf("member decompresses to more than %d bytes (a zip bomb, or a huge log): unpack it and scan the file", maxSize)
		}
		return bytes.NewReader(buf.Bytes()), n, io.NopCloser(nil), nil
	}}
}
