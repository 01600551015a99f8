package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/evtxscan/evtxscan/internal/testenv"
)

func TestDescribeBuild(t *testing.T) {
	vcs := []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "e961ac1f00ba"},
		{Key: "vcs.time", Value: "2026-12-05T19:11:00Z"}, {Key: "vcs.modified", Value: "true"}}
	for _, tc := range []struct {
		name, ld string
		info     *debug.BuildInfo
		want     string
	}{
		{"no build info", "", nil, "evtxscan dev"},
		{"go test binary", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "evtxscan dev"},
		{"go install at a tag", "", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "evtxscan v1.4.0"},
		{"go build in a checkout", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261205191100-e961ac1f00ba+dirty"}, Settings: vcs},
			"evtxscan v0.0.0-20261205191100-e961ac1f00ba+dirty (revision e961ac1f00ba, 2026-12-05T19:11:00Z, modified)"},
		{"-ldflags -X main.version wins", "v2.0.0", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-x"}, Settings: vcs[:3]},
			"evtxscan v2.0.0 (revision e961ac1f00ba, 2026-12-05T19:11:00Z)"},
	} {
		if got := describeBuild(tc.ld, tc.info); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestVersionNamesTheBuild builds the command as a release would and checks
// that --version names the -ldflags version and, in a git checkout, the
// revision Go stamped.
func TestVersionNamesTheBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the command")
	}
	root := testenv.RepoRoot(t)
	bin := filepath.Join(t.TempDir(), "evtxscan")
	args := []string{"build", "-ldflags", "-X main.version=v9.9.9-test", "-o", bin}
	// Go stamps VCS data in a clone (.git a folder), not in a git worktree
	// (.git a file).
	fi, statErr := os.Stat(filepath.Join(root, ".git"))
	inGit := statErr == nil && fi.IsDir()
	if inGit {
		args = append(args, "-buildvcs=true") // GOFLAGS may turn stamping off
	}
	build := exec.Command("go", append(args, "./cmd/evtxscan")...)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.TrimSpace(string(out))
	if !strings.HasPrefix(got, "evtxscan v9.9.9-test") {
		t.Errorf("--version = %q, want the -ldflags version first", got)
	}
	if inGit {
		rev, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
		if err == nil && !strings.Contains(got, "revision "+strings.TrimSpace(string(rev))) {
			t.Errorf("--version = %q, want the revision %s", got, rev)
		}
	}
}

// TestScanReportsNameTheBuild: run.json (written with the CSV and JSONL
// reports) carries the same build name as --version.
func TestScanReportsNameTheBuild(t *testing.T) {
	var stdout bytes.Buffer
	run([]string{"--version"}, &stdout, &bytes.Buffer{})
	want := strings.TrimSpace(stdout.String())
	out := t.TempDir()
	s1 := filepath.Join(testenv.RepoRoot(t), "testdata", "evtx", "s1_custom_action_rollback")
	if code, _, stderr := scan(t, "--format", "jsonl", "--out", out, s1); code != exitFindings && code != exitOK {
		t.Fatalf("scan: exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(filepath.Join(out, "run.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ri struct {
		Tool     string `json:"tool"`
		Files    int    `json:"files"`
		Findings int    `json:"findings"`
	}
	if err := json.Unmarshal(b, &ri); err != nil {
		t.Fatalf("run.json: %v\n%s", err, b)
	}
	if ri.Tool != want || ri.Files == 0 || ri.Findings == 0 {
		t.Errorf("run.json = %+v, want tool %q and the run's files and findings", ri, want)
	}
}
