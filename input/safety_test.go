package input

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// zipData writes members with archive/zip and returns the archive bytes.
// Big members are written as repeated zeros after the log signature, so a
// few MiB of archive can hold hundreds of MiB.
func zipData(t testing.TB, members []member) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	// One flate writer for every member: a new one per member costs more
	// than the test.
	fw, _ := flate.NewWriter(nil, flate.BestSpeed)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) { fw.Reset(w); return fw, nil })
	for _, m := range members {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: m.name, Method: m.method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(m.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zeroLog is a log signature followed by n zero bytes, written in pieces.
type zeroLog int64

func (z zeroLog) member(name string) member {
	return member{name: name, data: append(fakeLog(""), make([]byte, z)...), method: zip.Deflate}
}

// editCentral rewrites the central directory entry of name: its claimed
// uncompressed size, compressed size or CRC (a field < 0 is kept).
func editCentral(t testing.TB, b []byte, name string, usize, csize, crc int64) {
	t.Helper()
	for off := 0; ; {
		i := bytes.Index(b[off:], []byte("PK\x01\x02"))
		if i < 0 {
			t.Fatalf("no central directory entry for %s", name)
		}
		e := b[off+i:]
		n := int(binary.LittleEndian.Uint16(e[28:]))
		if string(e[46:46+n]) == name {
			if usize >= 0 {
				binary.LittleEndian.PutUint32(e[24:], uint32(usize))
			}
			if csize >= 0 {
				binary.LittleEndian.PutUint32(e[20:], uint32(csize))
			}
			if crc >= 0 {
				binary.LittleEndian.PutUint32(e[16:], uint32(crc))
			}
			return
		}
		off += i + 4
	}
}

// damageDirectory destroys the end-of-central-directory record, so that
// archive/zip cannot find the directory.
func damageDirectory(b []byte) {
	i := bytes.LastIndex(b, []byte("PK\x05\x06"))
	copy(b[i:], "XXXX")
}

// allocDuring returns the bytes allocated while f runs (TotalAlloc: every
// buffer counts, even one freed at once, so it bounds the peak).
func allocDuring(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestLyingMembers: whatever a member's header claims, reading it
// allocates about what it holds (never the claim), stops one byte past
// the claim or the budget, and the error names the member and the lie.
// Bound: allocations while opening stay under what the member holds, up
// to its claim, plus 4 MiB (a 1 MiB block, flate's window, the test's
// own); a claim over the budget is refused holding nothing.
func TestLyingMembers(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name      string
		holds     zeroLog
		claim     int64 // central directory's uncompressed size
		budget    int64 // Options.MaxMemberSize (0: the default, the window)
		wantErr   string
		maxAlloc  uint64
		wantBytes int64 // when it opens
	}{
		// Claims over the budget are refused holding nothing: the
		// content is only counted.
		{"claims 1 GiB, holds 4 MiB", 4 * mib, 1 << 30, 0, "claims 1073741824 bytes, holds 4194312", 4 * mib, 0},
		{"claims 1 GiB, holds 64 MiB, budget 8 MiB", 64 * mib, 1 << 30, 8 * mib, "claims 1073741824 bytes, more than the 8388608 evtxscan decompresses in memory", 4 * mib, 0},
		{"claims 1 MiB, holds 64 MiB, budget 8 MiB", 64 * mib, mib, 8 * mib, "claims 1048576 bytes, holds more", mib + 4*mib, 0},
		{"claims 1000 bytes, holds 64 MiB", 64 * mib, 1000, 0, "claims 1000 bytes, holds more", 4 * mib, 0},
		{"claims 2 MiB, holds 2 MiB + 1", 2*mib - 7, 2 * mib, 0, "claims 2097152 bytes, holds more", 2*mib + 4*mib, 0},
		{"honest 3 MiB", 3*mib - 8, -1, 0, "", 3*mib + 4*mib, 3 * mib},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := zipData(t, []member{tt.holds.member("Security.evtx")})
			editCentral(t, b, "Security.evtx", tt.claim, -1, -1)
			path := filepath.Join(t.TempDir(), "lying.zip")
			writeFile(t, path, b)
			items, errs := Expand([]string{path}, Options{MaxMemberSize: tt.budget})
			if len(errs) != 0 || len(items) != 1 || items[0].Name != path+"!Security.evtx" {
				t.Fatalf("items %v errs %v", names(items), errs)
			}
			var err error
			var size int64
			alloc := allocDuring(func() {
				var c io.Closer
				_, size, c, err = items[0].Open()
				if err == nil {
					c.Close()
				}
			})
			t.Logf("allocated %.1f MiB opening it (bound %.1f MiB)", float64(alloc)/mib, float64(tt.maxAlloc)/mib)
			if alloc > tt.maxAlloc {
				t.Errorf("allocated %d bytes, bound %d", alloc, tt.maxAlloc)
			}
			if tt.wantErr == "" {
				if err != nil || size != tt.wantBytes {
					t.Fatalf("Open: %d bytes, %v; want %d", size, err, tt.wantBytes)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "member Security.evtx "+tt.wantErr) {
				t.Fatalf("Open: err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestDamagedMembers: a CRC that does not match, a stored member claiming
// more than the archive holds, and an unknown method are errors naming the
// member.
func TestDamagedMembers(t *testing.T) {
	b := zipData(t, []member{
		{"crc.evtx", fakeLog("data"), zip.Deflate},
		{"short.evtx", fakeLog("stored"), zip.Store},
		{"method.evtx", fakeLog("x"), zip.Deflate},
	})
	editCentral(t, b, "crc.evtx", -1, -1, 0x12345678)
	editCentral(t, b, "short.evtx", 1<<20, 1<<20, -1)
	// Method 14 (LZMA) in the central directory entry of method.evtx.
	i := bytes.LastIndex(b[:bytes.LastIndex(b, []byte("method.evtx"))], []byte("PK\x01\x02"))
	binary.LittleEndian.PutUint16(b[i+10:], 14)
	path := filepath.Join(t.TempDir(), "d.zip")
	writeFile(t, path, b)
	items, errs := Expand([]string{path}, Options{})
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	want := map[string]string{
		"crc.evtx":    "member crc.evtx: CRC-32",
		"short.evtx":  "member short.evtx claims 1048576 bytes, holds less",
		"method.evtx": "member method.evtx uses compression method 14",
	}
	for _, it := range items {
		_, _, _, err := it.Open()
		w := want[strings.TrimPrefix(it.Name, path+"!")]
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("%s: err = %v, want %q", it.Name, err, w)
		}
	}
	if len(items) != 3 {
		t.Errorf("items = %v", names(items))
	}
}

// manyMembers is an archive of n small deflated logs.
func manyMembers(t testing.TB, n int) []byte {
	ms := make([]member, n)
	for i := range ms {
		ms[i] = member{fmt.Sprintf("logs/%05d.evtx", i), fakeLog(strings.Repeat("x", 100)), zip.Deflate}
	}
	return zipData(t, ms)
}

func expandAndOpenAll(t testing.TB, path string) int {
	items, errs := Expand([]string{path}, Options{})
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	for _, it := range items {
		r, size, c, err := it.Open()
		if err != nil {
			t.Fatal(err)
		}
		var sig [8]byte
		if _, err := r.ReadAt(sig[:], 0); err != nil || size != 108 {
			t.Fatalf("%s: %v", it.Name, err)
		}
		c.Close()
	}
	return len(items)
}

// TestTenThousandMembers: every member is listed and opened; the time is
// logged (BenchmarkTenThousandMembers measures it). Each Open used to read
// the whole central directory again (quadratic: 120 s).
func TestTenThousandMembers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "many.zip")
	writeFile(t, path, manyMembers(t, 10000))
	start := time.Now()
	if n := expandAndOpenAll(t, path); n != 10000 {
		t.Fatalf("%d items, want 10000", n)
	}
	t.Logf("10,000 members listed and opened in %v", time.Since(start))
}

func BenchmarkTenThousandMembers(b *testing.B) {
	path := filepath.Join(b.TempDir(), "many.zip")
	writeFile(b, path, manyMembers(b, 10000))
	for b.Loop() {
		expandAndOpenAll(b, path)
	}
}

// TestNestedZips: zips inside zips are read in place (deflated or stored)
// down to MaxZipDepth; a deeper one is an error naming it.
func TestNestedZips(t *testing.T) {
	level4 := zipData(t, []member{{"too-deep.evtx", fakeLog("4"), zip.Deflate}})
	level3 := zipData(t, []member{{"c.evtx", fakeLog("3"), zip.Deflate}, {"level4.zip", level4, zip.Store}})
	level2 := zipData(t, []member{{"b.evtx", fakeLog("2"), zip.Store}, {"level3.zip", level3, zip.Store}})
	outer := zipData(t, []member{{"a.evtx", fakeLog("1"), zip.Deflate}, {"host/level2.zip", level2, zip.Deflate}})
	path := filepath.Join(t.TempDir(), "case.zip")
	writeFile(t, path, outer)
	items, errs := Expand([]string{path}, Options{})
	got := map[string]string{}
	for _, it := range items {
		got[strings.TrimPrefix(it.Name, path)] = string(readAll(t, it)[8:])
	}
	want := map[string]string{
		"!a.evtx":                            "1",
		"!host/level2.zip!b.evtx":            "2",
		"!host/level2.zip!level3.zip!c.evtx": "3",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("items = %v, want %v", got, want)
	}
	if len(errs) != 1 || IsWarning(errs[0]) || !strings.Contains(errs[0].Error(), path+"!host/level2.zip!level3.zip!level4.zip: a zip nested 4 archives deep") {
		t.Errorf("errs = %v, want the level-4 zip named", errs)
	}
	// The deflated level2.zip is held in memory while its members are
	// read: their share of the window counts it.
	for _, it := range items {
		if strings.Contains(it.Name, "level2.zip!") && it.InMemory < int64(len(level2)) {
			t.Errorf("%s: InMemory %d does not count its container (%d bytes)", it.Name, it.InMemory, len(level2))
		}
	}
}

// TestNestedZipBudget: the budget covers a member and the decompressed
// zips around it together.
func TestNestedZipBudget(t *testing.T) {
	inner := zipData(t, []member{zeroLog(6 << 20).member("big.evtx")})
	outer := zipData(t, []member{{"inner.zip", inner, zip.Deflate}})
	path := filepath.Join(t.TempDir(), "o.zip")
	writeFile(t, path, outer)
	// 7 MiB in all: the container (a few KiB) fits, the member's 6 MiB too.
	items, errs := Expand([]string{path}, Options{MaxMemberSize: 7 << 20})
	if len(errs) != 0 || len(items) != 1 {
		t.Fatalf("items %v errs %v", names(items), errs)
	}
	if _, _, _, err := items[0].Open(); err != nil {
		t.Errorf("Open within the budget: %v", err)
	}
	// 6 MiB: the container's bytes leave less than the member's 6 MiB.
	items, _ = Expand([]string{path}, Options{MaxMemberSize: 6 << 20})
	if _, _, _, err := items[0].Open(); err == nil || !strings.Contains(err.Error(), "more than the") {
		t.Errorf("Open over the budget: err = %v", err)
	}
}

// TestDamagedCentralDirectory: without a readable central directory the
// members are found from their local headers, with a warning (archive/zip
// writes data descriptors: deflated members are delimited by decompressing
// them; a stored one cannot be, and is an error naming it, as is a member
// cut short).
func TestDamagedCentralDirectory(t *testing.T) {
	b := zipData(t, []member{
		{"Logs/Application.evtx", fakeLog(strings.Repeat("a", 70000)), zip.Deflate},
		{"Logs/stored.evtx", fakeLog("stored"), zip.Store},
		{"Logs/System.evtx", fakeLog("sys"), zip.Deflate},
	})
	damageDirectory(b)
	path := filepath.Join(t.TempDir(), "damaged.zip")
	writeFile(t, path, b)
	items, errs := Expand([]string{path}, Options{})
	if got := names(items); !slices.Equal(got, []string{path + "!Logs/Application.evtx", path + "!Logs/System.evtx"}) {
		t.Errorf("items = %v", got)
	}
	for _, it := range items {
		if data := readAll(t, it); !bytes.HasPrefix(data, signatureEVTX) || (strings.HasSuffix(it.Name, "System.evtx") && string(data[8:]) != "sys") {
			t.Errorf("%s: wrong content", it.Name)
		}
	}
	if len(errs) != 2 || !IsWarning(errs[0]) ||
		!strings.Contains(errs[0].Error(), path+": central directory unreadable") ||
		!strings.Contains(errs[0].Error(), "walked the local file headers instead and found 3 members, 2 of them readable") ||
		IsWarning(errs[1]) || !strings.HasPrefix(errs[1].Error(), path+"!Logs/stored.evtx: member cut short or its end not found") {
		t.Errorf("errs = %v", errs)
	}
	// Cut short (an interrupted download): the members before the cut
	// are read, the cut one is named.
	whole := zipData(t, []member{
		{"Logs/Application.evtx", fakeLog("app"), zip.Deflate},
		{"Logs/Security.evtx", append(fakeLog(""), bytes.Repeat([]byte("0123456789"), 10000)...), zip.Deflate},
		{"Logs/System.evtx", fakeLog("sys"), zip.Deflate},
	})
	cut := bytes.Index(whole, []byte("Logs/Security.evtx")) + 200
	writeFile(t, path, whole[:cut])
	items, errs = Expand([]string{path}, Options{})
	if got := names(items); !slices.Equal(got, []string{path + "!Logs/Application.evtx"}) {
		t.Errorf("cut archive: items = %v", got)
	}
	if len(errs) != 2 || !IsWarning(errs[0]) || !strings.Contains(errs[0].Error(), "found 2 members, 1 of them readable") ||
		IsWarning(errs[1]) || !strings.HasPrefix(errs[1].Error(), path+"!Logs/Security.evtx: member cut short") {
		t.Errorf("cut archive: errs = %v", errs)
	}
	// Nothing at all: an error, not a warning.
	writeFile(t, path, []byte("PK\x03\x04 and nothing else"))
	if _, errs := Expand([]string{path}, Options{}); len(errs) != 1 || IsWarning(errs[0]) {
		t.Errorf("garbage: errs = %v", errs)
	}
}

// expandWithin runs Expand with a deadline: a FIFO opened for reading
// blocks forever.
func expandWithin(t *testing.T, paths ...string) ([]Item, []error) {
	t.Helper()
	type result struct {
		items []Item
		errs  []error
	}
	done := make(chan result, 1)
	go func() {
		items, errs := Expand(paths, Options{})
		done <- result{items, errs}
	}()
	select {
	case r := <-done:
		return r.items, r.errs
	case <-time.After(time.Minute):
		t.Fatal("Expand hangs (opened a FIFO?)")
		return nil, nil
	}
}

// TestSymlinks: links to files and folders are followed, also a linked
// folder given as the argument; a loop, a second link to a folder already
// read and a dangling link are reported.
func TestSymlinks(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need privileges on Windows")
	}
	root := t.TempDir()
	logs := filepath.Join(root, "logs")
	writeFile(t, filepath.Join(logs, "a.evtx"), fakeLog("a"))
	writeFile(t, filepath.Join(root, "elsewhere", "b.evtx"), fakeLog("b"))
	writeFile(t, filepath.Join(root, "elsewhere", "sub", "c.evtx"), fakeLog("c"))
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink(filepath.Join(root, "elsewhere", "b.evtx"), filepath.Join(logs, "b-link.evtx")))
	must(os.Symlink(filepath.Join(root, "elsewhere", "sub"), filepath.Join(logs, "sub-link")))
	must(os.Symlink(".", filepath.Join(logs, "loop")))
	must(os.Symlink(filepath.Join(root, "elsewhere", "sub"), filepath.Join(logs, "zz-sub-again")))
	must(os.Symlink("gone.evtx", filepath.Join(logs, "dangling.evtx")))
	argLink := filepath.Join(root, "logs-link")
	must(os.Symlink(logs, argLink))

	items, errs := expandWithin(t, argLink)
	want := []string{"a.evtx", "b-link.evtx", "sub-link/c.evtx"}
	var got []string
	for _, it := range items {
		rel, _ := filepath.Rel(argLink, it.Name)
		got = append(got, filepath.ToSlash(rel))
	}
	if !slices.Equal(got, want) {
		t.Errorf("items = %v, want %v", got, want)
	}
	wantErrs := []string{
		filepath.Join(argLink, "dangling.evtx") + ": a symbolic link to gone.evtx, which cannot be read: no such file or directory",
		filepath.Join(argLink, "loop") + ": a symbolic link back to a folder it is in (a loop): not followed",
		filepath.Join(argLink, "zz-sub-again") + ": the same folder as " + filepath.Join(argLink, "sub-link") + " (through a symbolic link): read once",
	}
	var gotErrs []string
	for _, e := range errs {
		if !IsWarning(e) {
			t.Errorf("%v should be a warning", e)
		}
		gotErrs = append(gotErrs, e.Error())
	}
	if !slices.Equal(gotErrs, wantErrs) {
		t.Errorf("errs =\n%s\nwant\n%s", strings.Join(gotErrs, "\n"), strings.Join(wantErrs, "\n"))
	}
	// A dangling link named as the argument is an error.
	if _, errs := expandWithin(t, filepath.Join(logs, "dangling.evtx")); len(errs) != 1 || IsWarning(errs[0]) || !strings.Contains(errs[0].Error(), "a symbolic link to gone.evtx") {
		t.Errorf("dangling argument: %v", errs)
	}
}

// TestNestedZipDecompressedOnce: the items of a compressed zip inside a
// zip, read one after the other, decompress it once (it used to be once
// per member): the allocations while reading all of them stay under three
// times its size, where once per member would be 50 times.
func TestNestedZipDecompressedOnce(t *testing.T) {
	var ms []member
	for i := range 50 {
		ms = append(ms, member{fmt.Sprintf("logs/%02d.evtx", i), append(fakeLog(""), bytes.Repeat([]byte{byte(i)}, 100<<10)...), zip.Store})
	}
	inner := zipData(t, ms)
	path := filepath.Join(t.TempDir(), "o.zip")
	writeFile(t, path, zipData(t, []member{{"host.zip", inner, zip.Deflate}}))
	items, errs := Expand([]string{path}, Options{})
	if len(errs) != 0 || len(items) != 50 {
		t.Fatalf("items %d errs %v", len(items), errs)
	}
	alloc := allocDuring(func() {
		for _, it := range items {
			r, size, c, err := it.Open()
			if err != nil {
				t.Fatal(err)
			}
			var last [1]byte
			if _, err := r.ReadAt(last[:], size-1); err != nil || int(last[0]) != int(it.Name[len(it.Name)-7]-'0')*10+int(it.Name[len(it.Name)-6]-'0') {
				t.Errorf("%s: last byte %d, %v", it.Name, last[0], err)
			}
			c.Close()
		}
	})
	t.Logf("reading 50 members of a %d-byte compressed nested zip allocated %d bytes", len(inner), alloc)
	if alloc > 3*uint64(len(inner)) {
		t.Errorf("allocated %d bytes: the nested zip (%d bytes) was decompressed more than once", alloc, len(inner))
	}
}

// TestArchivesClosedAfterReading: once every item was read, no archive
// stays open (an archive counting the items of the zips inside it as its
// own would wait for them forever: an open file, or a nested zip held in
// memory for the rest of the run).
func TestArchivesClosedAfterReading(t *testing.T) {
	if _, err := os.ReadDir("/proc/self/fd"); err != nil {
		t.Skip("needs /proc/self/fd to count open files")
	}
	openFiles := func() int { e, _ := os.ReadDir("/proc/self/fd"); return len(e) }
	inner := zipData(t, []member{{"b.evtx", fakeLog("b"), zip.Store}, {"c.evtx", fakeLog("c"), zip.Deflate}})
	path := filepath.Join(t.TempDir(), "o.zip")
	writeFile(t, path, zipData(t, []member{{"a.evtx", fakeLog("a"), zip.Store}, {"inner.zip", inner, zip.Store}, {"z.evtx", fakeLog("z"), zip.Deflate}}))
	before := openFiles()
	items, errs := Expand([]string{path}, Options{})
	if len(errs) != 0 || len(items) != 4 {
		t.Fatalf("items %v errs %v", names(items), errs)
	}
	for i, it := range items {
		readAll(t, it)
		if i == 0 && openFiles() != before+1 {
			t.Errorf("after the first item: %d files open, want the archive (%d)", openFiles(), before+1)
		}
	}
	if n := openFiles(); n != before {
		t.Errorf("%d files open after reading every item, %d before", n, before)
	}
}

// TestConcurrentOpens: items of one archive opened from several goroutines
// at once (as readers working ahead do) read the right bytes (run with
// -race).
func TestConcurrentOpens(t *testing.T) {
	var ms []member
	for i := range 40 {
		method := uint16(zip.Deflate)
		if i%2 == 0 {
			method = zip.Store
		}
		ms = append(ms, member{fmt.Sprintf("%02d.evtx", i), fakeLog(fmt.Sprint(i)), method})
	}
	inner := zipData(t, ms)
	path := filepath.Join(t.TempDir(), "o.zip")
	writeFile(t, path, zipData(t, []member{{"inner.zip", inner, zip.Deflate}, {"top.evtx", fakeLog("top"), zip.Store}}))
	items, errs := Expand([]string{path}, Options{})
	if len(errs) != 0 || len(items) != 41 {
		t.Fatalf("items %d errs %v", len(items), errs)
	}
	sem := make(chan struct{}, 3)
	done := make(chan error, len(items))
	for _, it := range items {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			r, size, c, err := it.Open()
			if err != nil {
				done <- err
				return
			}
			defer c.Close()
			b := make([]byte, size)
			if _, err := r.ReadAt(b, 0); err != nil && err != io.EOF {
				done <- err
				return
			}
			want := strings.TrimSuffix(it.Name[strings.LastIndex(it.Name, "!")+1:], ".evtx")
			if want != "top" {
				want = strings.TrimPrefix(want, "0")
			}
			if string(b[8:]) != want {
				done <- fmt.Errorf("%s holds %q", it.Name, b[8:])
				return
			}
			done <- nil
		}()
	}
	for range items {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
