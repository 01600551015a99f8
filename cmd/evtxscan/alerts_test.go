package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evtxscan/evtxscan/internal/testenv"
)

// TestScanUndeliveredAlerts: alerts a receiver refuses, or never answers,
// make exit 4 with each alert named on stderr; they stay in the outbox, and
// the next run delivers them and exits 0. --fail-level findings still win.
func TestScanUndeliveredAlerts(t *testing.T) {
	root := testenv.RepoRoot(t)
	s1 := filepath.Join(root, "testdata", "evtx", "s1_custom_action_rollback")
	var mu sync.Mutex
	mode := "refuse"
	keys := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		m := mode
		mu.Unlock()
		switch m {
		case "refuse":
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		case "hang":
			<-r.Context().Done()
		default:
			mu.Lock()
			keys[r.Header.Get("Idempotency-Key")]++
			mu.Unlock()
		}
	}))
	defer srv.Close()
	setMode := func(m string) { mu.Lock(); mode = m; mu.Unlock() }
	t.Setenv("EVTXSCAN_WEBHOOK_URL", srv.URL)
	outbox := t.TempDir()
	args := func(extra ...string) []string {
		return append([]string{"--format", "jsonl", "--out", t.TempDir(), "--notify", "webhook", "--notify-min-level", "high", "--notify-outbox", outbox}, append(extra, s1)...)
	}

	code, _, stderr := scan(t, args()...)
	if code != exitAlerts {
		t.Fatalf("refused alerts: exit %d, want %d (alerts not delivered):\n%s", code, exitAlerts, stderr)
	}
	for _, want := range []string{"NOT delivered", "wait in " + outbox, "Contoso Agent", "→ webhook: POST http://127.0.0.1:", "503"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr)
		}
	}
	if code, _, _ := scan(t, args("--fail-level", "high")...); code != exitFindings {
		t.Errorf("findings and undelivered alerts: exit %d, want %d", code, exitFindings)
	}

	// A hung receiver: the deadline ends the run, exit 4.
	setMode("hang")
	backoffPassed(t, outbox)
	start := time.Now()
	code, _, stderr = scan(t, args("--notify-deadline", "1s")...)
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("a hung receiver held the run %s with --notify-deadline 1s", took)
	}
	if code != exitAlerts || !strings.Contains(stderr, "deadline (1s, --notify-deadline) passed") {
		t.Errorf("hung receiver: exit %d:\n%s", code, stderr)
	}

	// The receiver is back: the waiting alerts go, each once, exit 0.
	setMode("accept")
	backoffPassed(t, outbox)
	if code, _, stderr = scan(t, args()...); code != exitOK {
		t.Fatalf("receiver back: exit %d:\n%s", code, stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(keys) == 0 {
		t.Fatal("nothing delivered once the receiver was back")
	}
	for k, n := range keys {
		if n != 1 {
			t.Errorf("alert %s delivered %d times", k, n)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(outbox, "*.json")); len(left) > 1 { // suppress.json stays
		t.Errorf("outbox still holds %v", left)
	}
	if code, _, _ := scan(t, "--format", "jsonl", "--out", t.TempDir(), "--notify-deadline", "1s", s1); code != exitUsage {
		t.Errorf("--notify-deadline without --notify: exit %d", code)
	}
}

// backoffPassed makes the outbox's waiting alerts due now, as if their
// retry time had come.
func backoffPassed(t *testing.T, outbox string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(outbox, "*.json"))
	for _, f := range files {
		if filepath.Base(f) == "suppress.json" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var a map[string]any
		if err := json.Unmarshal(data, &a); err != nil {
			t.Fatal(err)
		}
		delete(a, "next_attempt")
		data, _ = json.Marshal(a)
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestScanProcess is not a test: TestConcurrentScansShareAnOutbox runs it
// in child processes, each one `evtxscan scan` with the arguments given.
func TestScanProcess(t *testing.T) {
	args := os.Getenv("EVTXSCAN_TEST_SCAN_ARGS")
	if args == "" {
		t.Skip("helper process for TestConcurrentScansShareAnOutbox")
	}
	os.Exit(run(strings.Split(args, "\x1f"), io.Discard, os.Stderr))
}

// TestConcurrentScansShareAnOutbox: two scan processes at once, on the
// same logs and the same outbox: each alert reaches the receiver exactly
// once, both runs exit 0 — with suppression windows (the default) and
// without them (suppress: 0, where only the alert's id keeps them apart).
func TestConcurrentScansShareAnOutbox(t *testing.T) {
	for _, suppress := range []string{"1h", "0"} {
		t.Run("suppress="+suppress, func(t *testing.T) { concurrentScans(t, suppress) })
	}
}

func concurrentScans(t *testing.T, suppress string) {
	root := testenv.RepoRoot(t)
	s1 := filepath.Join(root, "testdata", "evtx", "s1_custom_action_rollback")
	var mu sync.Mutex
	keys := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(50 * time.Millisecond) // a receiver that takes a moment, so the runs overlap
		mu.Lock()
		keys[r.Header.Get("Idempotency-Key")]++
		mu.Unlock()
	}))
	defer srv.Close()
	outbox := t.TempDir()
	config := filepath.Join(t.TempDir(), "notify.yml")
	os.WriteFile(config, []byte("suppress: \""+suppress+"\"\ntargets:\n  - name: hook\n    type: webhook\n    url: ${TEST_HOOK_URL}\n"), 0o600)
	// One run alone on its own outbox: how many alerts the logs make.
	var alone bytes.Buffer
	t.Setenv("TEST_HOOK_URL", srv.URL)
	if code := run([]string{"scan", "--quiet", "--format", "jsonl", "--out", t.TempDir(), "--notify", "hook", "--notify-config", config, "--notify-min-level", "medium", "--notify-outbox", t.TempDir(), s1}, io.Discard, &alone); code != exitOK {
		t.Fatalf("single run: exit %d: %s", code, alone.String())
	}
	mu.Lock()
	want := len(keys)
	clear(keys)
	mu.Unlock()
	type proc struct {
		cmd    *exec.Cmd
		stderr *strings.Builder
	}
	var procs []proc
	for range 2 {
		args := []string{"scan", "--quiet", "--format", "jsonl", "--out", t.TempDir(), "--notify", "hook", "--notify-config", config, "--notify-min-level", "medium", "--notify-outbox", outbox, s1}
		cmd := exec.Command(os.Args[0], "-test.run=^TestScanProcess$")
		cmd.Env = append(os.Environ(), "TEST_HOOK_URL="+srv.URL, "EVTXSCAN_TEST_SCAN_ARGS="+strings.Join(args, "\x1f"))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, proc{cmd, &stderr})
	}
	for _, p := range procs {
		if err := p.cmd.Wait(); err != nil {
			t.Errorf("scan process: %v\n%s", err, p.stderr.String())
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(keys) != want || want == 0 {
		t.Fatalf("two concurrent runs delivered %d distinct alerts, one run alone %d", len(keys), want)
	}
	for k, n := range keys {
		if n != 1 {
			t.Errorf("alert %s delivered %d times by two concurrent runs", k, n)
		}
	}
	t.Logf("%d alerts, each delivered once by two concurrent scans", len(keys))
}
