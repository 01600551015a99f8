package input

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeLog is enough of an EVTX file for input: the signature and a body.
func fakeLog(body string) []byte { return append([]byte("ElfFile\x00"), body...) }

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

type member struct {
	name   string
	data   []byte
	method uint16
}

func writeZip(t *testing.T, path string, members []member) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range members {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: m.name, Method: m.method})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(m.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, buf.Bytes())
}

func readAll(t *testing.T, it Item) []byte {
	t.Helper()
	r, size, c, err := it.Open()
	if err != nil {
		t.Fatalf("%s: Open: %v", it.Name, err)
	}
	defer c.Close()
	b, err := io.ReadAll(io.NewSectionReader(r, 0, size))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func names(items []Item) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.Name)
	}
	return out
}

func TestExpandDirectory(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "Logs", "Application.evtx"), fakeLog("app"))
	writeFile(t, filepath.Join(dir, "Logs", "System.EVTX"), fakeLog("sys"))
	writeFile(t, filepath.Join(dir, "renamed", "C_Windows_Security.bin"), fakeLog("sec")) // collector rename
	writeFile(t, filepath.Join(dir, "other", "notes.txt"), []byte("not a log"))
	items, errs := Expand([]string{dir}, Options{})
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	got := strings.Join(names(items), "\n")
	for _, want := range []string{"Application.evtx", "System.EVTX", "C_Windows_Security.bin"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %s in %s", want, got)
		}
	}
	if strings.Contains(got, "notes.txt") {
		t.Errorf("notes.txt should not be an input: %s", got)
	}
}

func TestExpandZip(t *testing.T) {
	dir := t.TempDir()
	zipPath := filepath.Join(dir, "collection.zip")
	writeZip(t, zipPath, []member{
		{"uploads/auto/C%3A/Windows/System32/winevt/Logs/Application.evtx", fakeLog(strings.Repeat("a", 5000)), zip.Deflate},
		{"uploads/auto/C%3A/Windows/System32/winevt/Logs/System.evtx", fakeLog("stored"), zip.Store},
		{"../../escape/Security.evtx", fakeLog("slip"), zip.Deflate},
		{"renamed.dat", fakeLog("sniffed"), zip.Deflate},
		{"readme.txt", []byte("hello"), zip.Deflate},
	})
	items, errs := Expand([]string{zipPath}, Options{})
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	if len(items) != 4 {
		t.Fatalf("got %d items %v, want 4", len(items), names(items))
	}
	for _, it := range items {
		if !strings.HasPrefix(it.Name, zipPath+"!") {
			t.Errorf("name %q should start with the archive path", it.Name)
		}
		data := readAll(t, it)
		if !bytes.HasPrefix(data, []byte("ElfFile\x00")) {
			t.Errorf("%s: content %q", it.Name, data[:8])
		}
	}
	// Nothing was written next to the archive (read in place).
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("scan wrote files: %v", entries)
	}
	if _, err := os.Stat(filepath.Join(dir, "..", "escape")); err == nil {
		t.Error("zip-slip: a folder was created outside")
	}
}

func TestZipBombBounded(t *testing.T) {
	dir := t.TempDir()
	zipPath := filepath.Join(dir, "bomb.zip")
	writeZip(t, zipPath, []member{{"big.evtx", fakeLog(strings.Repeat("\x00", 1<<20)), zip.Deflate}})
	items, errs := Expand([]string{zipPath}, Options{MaxMemberSize: 64 << 10})
	if len(errs) != 0 || len(items) != 1 {
		t.Fatalf("items %v errs %v", names(items), errs)
	}
	_, _, _, err := items[0].Open()
	if err == nil || !strings.Contains(err.Error(), "unpack it") {
		t.Fatalf("Open of an oversized member: err = %v, want a bounded refusal", err)
	}
}

func TestExpandErrorsNameThePath(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.evtx"), fakeLog("a"))
	writeFile(t, filepath.Join(dir, "broken.zip"), []byte("PK\x03\x04garbage"))
	items, errs := Expand([]string{filepath.Join(dir, "missing.evtx"), filepath.Join(dir, "a.evtx"), filepath.Join(dir, "broken.zip"), filepath.Join(dir, "*.nothing")}, Options{})
	if len(items) != 1 {
		t.Errorf("items = %v, want the one good file", names(items))
	}
	if len(errs) != 3 {
		t.Fatalf("errs = %v, want 3", errs)
	}
	for i, want := range []string{"missing.evtx", "broken.zip", "*.nothing"} {
		if !strings.Contains(errs[i].Error(), want) {
			t.Errorf("error %q should name %s", errs[i], want)
		}
	}
}

func TestGlob(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "Application.evtx"), fakeLog("a"))
	writeFile(t, filepath.Join(dir, "System.evtx"), fakeLog("s"))
	items, errs := Expand([]string{filepath.Join(dir, "App*.evtx")}, Options{})
	if len(errs) != 0 || len(items) != 1 || !strings.HasSuffix(items[0].Name, "Application.evtx") {
		t.Errorf("glob: items %v errs %v", names(items), errs)
	}
}

func TestDisplayMemberName(t *testing.T) {
	tests := []struct{ in, want string }{
		{`C:\Windows\System32\winevt\Logs\Application.evtx`, "Windows/System32/winevt/Logs/Application.evtx"},
		{"/abs/x.evtx", "abs/x.evtx"},
		// Kept, not replaced: "a?b" would collide with "a\x01b" and "a\x02b".
		{"a\x1b[31mb.evtx", "a\x1b[31mb.evtx"},
		{"a\x01b.evtx", "a\x01b.evtx"},
		// Legacy code page bytes: escaped, not all turned into U+FFFD.
		{"caf\xe9.evtx", `caf\xe9.evtx`},
		{"caf\xe8.evtx", `caf\xe8.evtx`},
	}
	for _, tt := range tests {
		if got := DisplayMemberName(tt.in); got != tt.want {
			t.Errorf("DisplayMemberName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
