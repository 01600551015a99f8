// Package testenv finds what tests need outside the repository: the EVTX
// corpus, the rest of the shared material (Sigma rules, Windows-rendered
// XML) and external tools (evtxexport, chromium). When something is missing
// a test skips with a message saying where it comes from and how to point
// at it, except under CI=true, where it fails, so a missing install step in
// .ci/run cannot hide.
//
// Locations, for a clone outside the team workspace:
//
//   - EVTXSCAN_CORPUS: the EVTX corpus folder (default ../shared/evtx-corpus
//     beside the repository). It holds public .evtx samples laid out as
//     owner+repository/<the repository's own paths>, from the GitHub
//     repositories its INDEX.md lists (omerbenamram/evtx,
//     Yamato-Security/hayabusa-sample-evtx, AndrewRathbun/DFIRArtifactMuseum,
//     williballenthin/python-evtx, Velocidex/evtx, WithSecureLabs/chainsaw,
//     4renwald/evtx-python).
//   - EVTXSCAN_SHARED: the shared folder with sigma/ and data/rendered-xml/
//     (default ../shared beside the repository).
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
	root, ok := repoRoot()
	if !ok {
		t.Fatal("testenv: cannot locate the source file")
	}
	return root
}

func repoRoot() (string, bool) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", false
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..")), true
}

// CorpusEnv and SharedEnv name the environment variables that locate the
// corpus and the shared folder.
const (
	CorpusEnv = "EVTXSCAN_CORPUS"
	SharedEnv = "EVTXSCAN_SHARED"
)

// corpusSources is where the corpus comes from, for the skip message.
const corpusSources = "public .evtx samples from the GitHub repositories omerbenamram/evtx, " +
	"Yamato-Security/hayabusa-sample-evtx, AndrewRathbun/DFIRArtifactMuseum, williballenthin/python-evtx, " +
	"Velocidex/evtx, WithSecureLabs/chainsaw and 4renwald/evtx-python, each cloned as owner+repository " +
	"(e.g. omerbenamram+evtx/samples/security.evtx; the list is the corpus's INDEX.md)"

// CorpusDir returns where the corpus is looked for ($EVTXSCAN_CORPUS, else
// ../shared/evtx-corpus beside the repository) and whether it is there. It
// never skips: for optional uses such as fuzz seeds.
func CorpusDir() (string, bool) {
	dir := os.Getenv(CorpusEnv)
	if dir == "" {
		root, ok := repoRoot()
		if !ok {
			return "", false
		}
		dir = filepath.Join(root, "..", "shared", "evtx-corpus")
	}
	return dir, dirExists(dir)
}

// SharedDir returns where the shared folder is looked for ($EVTXSCAN_SHARED,
// else ../shared beside the repository) and whether it is there.
func SharedDir() (string, bool) {
	dir := os.Getenv(SharedEnv)
	if dir == "" {
		root, ok := repoRoot()
		if !ok {
			return "", false
		}
		dir = filepath.Join(root, "..", "shared")
	}
	return dir, dirExists(dir)
}

// Corpus returns the corpus folder, or skips (fails under CI=true) with a
// message saying where the corpus comes from and how to point at it.
func Corpus(t testing.TB) string {
	t.Helper()
	dir, ok := CorpusDir()
	if !ok {
		missing(t, corpusMissing(dir))
	}
	return dir
}

// corpusMissing says where the corpus was looked for, what it is and how to
// point at it.
func corpusMissing(dir string) string {
	return "no EVTX corpus at " + dir + ": it holds " + corpusSources +
		"; set " + CorpusEnv + "=/path/to/evtx-corpus to run this test"
}

// Shared returns the shared folder (sigma/, data/rendered-xml/), or skips
// (fails under CI=true) saying how to point at it.
func Shared(t testing.TB) string {
	t.Helper()
	dir, ok := SharedDir()
	if !ok {
		missing(t, "no shared folder at "+dir+" (the team workspace's ../shared: sigma/ holds SigmaHQ's rules, "+
			"data/rendered-xml/ events as Windows renders them); set "+SharedEnv+"=/path/to/shared to run this test")
	}
	return dir
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

func dirExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
