// Package testenv finds what tests need outside the repository: the shared
// corpus (../shared), external tools (evtxexport, chromium). When something
// is missing a test skips with a message saying how to get it, except under
// CI=true, where it fails, so a missing install step in .ci/run cannot hide.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// RepoRoot returns the repository root (the folder holding go.mod).
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("testenv: cannot locate the source file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Shared returns the path of ../shared (from the repository root), or skips
// (fails under CI=true) when it is absent.
func Shared(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(RepoRoot(t), "..", "shared")
	if _, err := os.Stat(filepath.Join(dir, "evtx-corpus")); err != nil {
		missing(t, "the shared corpus is not at "+dir+" (it sits beside the repository clone in the team workspace)")
	}
	return dir
}

// Corpus returns the path of ../shared/evtx-corpus, or skips (fails in CI).
func Corpus(t testing.TB) string {
	t.Helper()
	return filepath.Join(Shared(t), "evtx-corpus")
}

// Tool returns the path of an external program, or skips (fails in CI) with
// the Debian package that provides it.
func Tool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		missing(t, name+" is not installed: apt-get install "+debianPackage)
	}
	return p
}

// InCI reports whether the tests run under CI (CI=true).
func InCI() bool { return os.Getenv("CI") == "true" }

func missing(t testing.TB, why string) {
	t.Helper()
	if InCI() {
		t.Fatal("CI=true and " + why)
	}
	t.Skip(why)
}
