package main

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evtxscan/evtxscan/internal/testenv"
)

// readmeCommand returns the first command of the fenced block that follows
// the marker comment in README.md.
func readmeCommand(t *testing.T, readme, marker string) string {
	t.Helper()
	f, err := os.Open(readme)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	state := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case state == 0 && line == "<!-- "+marker+" -->":
			state = 1
		case state == 1 && strings.HasPrefix(line, "```"):
			state = 2
		case state == 2 && line != "":
			return line
		}
	}
	t.Fatalf("README.md has no command after <!-- %s -->", marker)
	return ""
}

// TestReadmeCommandsInFreshClone runs the README's two commands — the main
// job and the tests — in a fresh clone of the committed repository, the way
// a newcomer would. The nested test run does not run this test again.
func TestReadmeCommandsInFreshClone(t *testing.T) {
	if os.Getenv("EVTXSCAN_README_NESTED") != "" {
		t.Skip("inside the README's own test run")
	}
	if testing.Short() {
		t.Skip("-short: the fresh-clone run takes as long as the whole suite")
	}
	root := testenv.RepoRoot(t)
	git := testenv.Tool(t, "git", "git")
	if _, err := os.Stat(filepath.Join(root, ".git")); err != nil {
		if testenv.InCI() {
			t.Fatal("CI=true but the repository is not a git checkout")
		}
		t.Skip("not a git checkout: cannot make a fresh clone")
	}
	work := t.TempDir()
	clone := filepath.Join(work, "main")
	if out, err := exec.Command(git, "clone", "--quiet", root, clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	// The shared corpus sits beside the clone, as it does beside a real one.
	if shared := filepath.Join(root, "..", "shared"); dirExists(shared) {
		if err := os.Symlink(shared, filepath.Join(work, "shared")); err != nil {
			t.Fatal(err)
		}
	}
	readme := filepath.Join(clone, "README.md")
	mainJob := readmeCommand(t, readme, "readme-main-job")
	mainJobCommand := mainJob
	runShell := func(command string, extraEnv ...string) {
		t.Helper()
		cmd := exec.Command("sh", "-c", command)
		cmd.Dir = clone
		cmd.Env = append(os.Environ(), extraEnv...)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		// The README says why the main job exits 3 (go run reports it as
		// "exit status 3" and exits 1): a damaged scenario loses a record.
		if command == mainJobCommand && errors.As(err, &exit) && bytes.Contains(out, []byte("INCOMPLETE")) &&
			(exit.ExitCode() == exitUnreadable || bytes.Contains(out, []byte("exit status 3"))) {
			err = nil
		}
		if err != nil {
			t.Fatalf("README command %q failed: %v\n%s", command, err, tail(out, 4000))
		}
		t.Logf("%s: ok\n%s", command, tail(out, 1500))
	}

	runShell(mainJob)
	for _, name := range []string{"report.xlsx", "report.html"} {
		if fi, err := os.Stat(filepath.Join(clone, "evtxscan-report", name)); err != nil || fi.Size() == 0 {
			t.Errorf("the main job did not write evtxscan-report/%s: %v", name, err)
		}
	}

	tests := readmeCommand(t, readme, "readme-tests")
	if !strings.HasPrefix(tests, "go test") {
		t.Fatalf("the README's test command %q is not a go test command", tests)
	}
	// -short keeps the nested run quick (the long checks ran in the outer run).
	runShell(tests, "EVTXSCAN_README_NESTED=1", "GOFLAGS=-short")
}

func dirExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
