package testenv

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestCorpusDirFollowsEnvironment(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		env    string
		want   string
		exists bool
	}{
		{env: dir, want: dir, exists: true},
		{env: filepath.Join(dir, "absent"), want: filepath.Join(dir, "absent"), exists: false},
	} {
		t.Setenv(CorpusEnv, tc.env)
		got, ok := CorpusDir()
		if got != tc.want || ok != tc.exists {
			t.Errorf("%s=%s: CorpusDir() = %q, %v; want %q, %v", CorpusEnv, tc.env, got, ok, tc.want, tc.exists)
		}
	}
	t.Setenv(CorpusEnv, "")
	got, _ := CorpusDir()
	if want := filepath.Join(RepoRoot(t), "..", "shared", "evtx-corpus"); got != want {
		t.Errorf("default CorpusDir() = %q, want %q", got, want)
	}
}

func TestSharedDirFollowsEnvironment(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(SharedEnv, dir)
	if got, ok := SharedDir(); got != dir || !ok {
		t.Errorf("SharedDir() = %q, %v; want %q, true", got, ok, dir)
	}
}

// The skip message is what a newcomer reads in a fresh clone: it must say
// where the corpus was looked for, where it comes from and how to point at it.
func TestCorpusMissingMessage(t *testing.T) {
	msg := corpusMissing("/nowhere/evtx-corpus")
	for _, want := range []string{"/nowhere/evtx-corpus", "omerbenamram/evtx", "Yamato-Security/hayabusa-sample-evtx", "INDEX.md", "EVTXSCAN_CORPUS="} {
		if !strings.Contains(msg, want) {
			t.Errorf("skip message lacks %q: %s", want, msg)
		}
	}
}
