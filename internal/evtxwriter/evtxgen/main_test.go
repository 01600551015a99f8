package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evtxscan/evtxscan/internal/evtxwriter"
	"github.com/evtxscan/evtxscan/internal/testenv"
)

// TestRunWritesScenario runs the command as the README shows it (flag after
// the file) and checks the files are those Scenario.Files produces, and that
// a stale channel file left in the folder is removed.
func TestRunWritesScenario(t *testing.T) {
	scenario := filepath.Join(testenv.RepoRoot(t), "testdata", "scenarios", "s1_custom_action_rollback.yaml")
	out := t.TempDir()
	stale := filepath.Join(out, "s1_custom_action_rollback", "Setup.evtx")
	if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{scenario, "-o", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	s, err := evtxwriter.LoadScenario(scenario)
	if err != nil {
		t.Fatal(err)
	}
	files, err := s.Files()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		got, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(f.Path)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, f.Bytes) {
			t.Errorf("%s differs from Scenario.Files", f.Path)
		}
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale %s was not removed", stale)
	}
	if !strings.Contains(stdout.String(), "Application.evtx: 7 records") {
		t.Errorf("stdout does not list the files written:\n%s", stdout.String())
	}
}

func TestRunUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"x.yaml"}, {"-o", "dir"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "usage: evtxgen") {
			t.Errorf("run(%q) = %d, stderr %q; want 2 and the usage", args, code, stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-o", t.TempDir(), "does-not-exist.yaml"}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "does-not-exist.yaml") {
		t.Errorf("missing scenario: exit %d, stderr %q; want 1 naming the file", code, stderr.String())
	}
}
