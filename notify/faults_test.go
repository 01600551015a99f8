package notify

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
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

	"github.com/evtxscan/evtxscan/rules"
)

// findings32 are 32 findings that make 32 distinct alerts.
func findings32() []rules.Finding {
	var fs []rules.Finding
	for i := range 32 {
		f := finding(fmt.Sprintf("rule_%02d", i), "PC1", "Zoom", rules.LevelHigh)
		f.Events[0].RecordID = uint64(100 + i)
		fs = append(fs, f)
	}
	return fs
}

// recorder is a webhook receiver that records every request's
// Idempotency-Key and rule, and how many requests were in flight at once.
// Until release is closed, requests wait (up to 10 s) for it: a hung
// receiver, or one that holds the first requests until several arrive.
type recorder struct {
	mu          sync.Mutex
	keys        map[string]int    // Idempotency-Key → requests
	rules       map[string]string // Idempotency-Key → rule_id
	inFlight    int
	maxInFlight int
	holdUntil   int // release once this many are in flight (0: never)
	release     chan struct{}
	once        sync.Once
	srv         *httptest.Server
}

func newRecorder(t *testing.T, holdUntil int) *recorder {
	r := &recorder{keys: map[string]int{}, rules: map[string]string{}, holdUntil: holdUntil, release: make(chan struct{})}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var m map[string]any
		json.Unmarshal(body, &m)
		r.mu.Lock()
		r.inFlight++
		r.maxInFlight = max(r.maxInFlight, r.inFlight)
		if r.holdUntil > 0 && r.inFlight >= r.holdUntil {
			r.once.Do(func() { close(r.release) })
		}
		r.mu.Unlock()
		defer func() {
			r.mu.Lock()
			r.inFlight--
			r.mu.Unlock()
		}()
		select {
		case <-r.release:
		case <-req.Context().Done(): // the client gave up
			return
		case <-time.After(10 * time.Second):
		}
		r.mu.Lock()
		key := req.Header.Get("Idempotency-Key")
		r.keys[key]++
		r.rules[key], _ = m["rule_id"].(string)
		r.mu.Unlock()
	}))
	t.Cleanup(func() {
		r.once.Do(func() { close(r.release) })
		r.srv.Close()
	})
	return r
}

func (r *recorder) received() (keys map[string]int, maxInFlight int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys = map[string]int{}
	for k, v := range r.keys {
		keys[k] = v
	}
	return keys, r.maxInFlight
}

// TestHungReceiverIsNotWaitedForSerially: 32 alerts to a receiver that
// never answers, with a 1 s request timeout and 4 in parallel. Sent one
// after another they would take 32 s; the run gives up on the target after
// one round of failed requests and names all 32 as undelivered.
func TestHungReceiverIsNotWaitedForSerially(t *testing.T) {
	r := newRecorder(t, 0) // never releases: hung
	dir := t.TempDir()
	const deadline = 20 * time.Second
	n, err := New(Options{
		Targets: []Target{{Name: "hook", Type: TypeWebhook, URL: r.srv.URL}}, MinLevel: rules.LevelMedium,
		OutboxDir: dir, Deadline: deadline, Parallel: 4, HTTPClient: &http.Client{Timeout: time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	d, err := n.Notify(context.Background(), findings32())
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if took >= deadline {
		t.Errorf("delivery took %s, not bounded by the %s deadline", took, deadline)
	}
	if len(d.Sent) != 0 || len(d.Undelivered) != 32 {
		t.Fatalf("%d sent, %d undelivered; want 0 and 32", len(d.Sent), len(d.Undelivered))
	}
	tried, skipped := 0, 0
	for _, u := range d.Undelivered {
		switch {
		case strings.HasPrefix(u.Reason, "not tried: hook failed 4 times in a row in this run (last: POST"):
			skipped++
		case strings.Contains(u.Reason, "Timeout") || strings.Contains(u.Reason, "deadline exceeded"):
			tried++
		default:
			t.Errorf("reason %q", u.Reason)

		}
	}
	if tried > 8 || tried+skipped != 32 {
		t.Errorf("%d requests timed out and %d were skipped; want one round (≤ 8) and the rest skipped", tried, skipped)
	}
	if files := pendingFiles(t, dir); len(files) != 32 {
		t.Errorf("outbox holds %d alerts, want all 32 kept for the next run", len(files))
	}
	t.Logf("32 alerts against a hung receiver: %s (%d requests, %d skipped)", took.Round(time.Millisecond), tried, skipped)
}

// TestDeliveryDeadline: a receiver that never answers and a client with
// no timeout of its own; the run's deadline ends the delivery.
func TestDeliveryDeadline(t *testing.T) {
	r := newRecorder(t, 0)
	n, err := New(Options{
		Targets: []Target{{Name: "hook", Type: TypeWebhook, URL: r.srv.URL}}, MinLevel: rules.LevelMedium,
		OutboxDir: t.TempDir(), Deadline: 500 * time.Millisecond, HTTPClient: &http.Client{},
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	d, err := n.Notify(context.Background(), findings32()[:3])
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("delivery took %s with a 500ms deadline", took)
	}
	if err != nil || len(d.Undelivered) != 3 {
		t.Fatalf("%v, %d undelivered", err, len(d.Undelivered))
	}
	for _, u := range d.Undelivered {
		if !strings.Contains(u.Reason, "delivery deadline (500ms, --notify-deadline) passed") {
			t.Errorf("reason %q", u.Reason)
		}
		if u.Alert.Attempts != 0 {
			t.Errorf("a delivery cut by the deadline counted as a failed attempt (%d): the next run must retry at once", u.Alert.Attempts)
		}
	}
}

// TestParallelDelivery: the receiver holds the first requests until four
// are in flight at once, which a serial sender never reaches.
func TestParallelDelivery(t *testing.T) {
	r := newRecorder(t, 4)
	n, err := New(Options{
		Targets: []Target{{Name: "hook", Type: TypeWebhook, URL: r.srv.URL}}, MinLevel: rules.LevelMedium,
		OutboxDir: t.TempDir(), Parallel: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := n.Notify(context.Background(), findings32())
	if err := all(d, err); err != nil {
		t.Fatal(err)
	}
	keys, maxInFlight := r.received()
	if len(d.Sent) != 32 || len(keys) != 32 || maxInFlight != 4 {
		t.Errorf("%d sent, %d received, %d in flight at most; want 32, 32, 4", len(d.Sent), len(keys), maxInFlight)
	}
}

// TestIdempotencyKeyFromTheAlert: two runs at different times that find
// the same thing make the same key; another first event makes another.
func TestIdempotencyKeyFromTheAlert(t *testing.T) {
	f := finding("r", "PC1", "Zoom", rules.LevelHigh)
	t1, t2 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	a, b := newAlert(&f, "hook", 1, t1, t1, false), newAlert(&f, "hook", 3, t2, t2, false)
	if a.ID != b.ID {
		t.Errorf("the same finding in two runs has ids %s and %s", a.ID, b.ID)
	}
	g := f
	g.Events = []rules.EventRef{f.Events[0]}
	g.Events[0].RecordID++
	for name, other := range map[string]*Alert{
		"first event": newAlert(&g, "hook", 1, t1, t1, false),
		"target":      newAlert(&f, "mail", 1, t1, t1, false),
		"repeat":      newAlert(&f, "hook", 1, t1, t1, true),
	} {
		if other.ID == a.ID {
			t.Errorf("another %s, the same id", name)
		}
	}
}

// TestConcurrentRunsDeliverOnce: two notifiers (two runs) on one outbox,
// with the same 32 findings, at the same time: each alert reaches the
// receiver exactly once, and with the key the alert's content gives it.
func TestConcurrentRunsDeliverOnce(t *testing.T) {
	for _, suppress := range []time.Duration{time.Hour, 0} {
		t.Run(fmt.Sprint("suppress=", suppress), func(t *testing.T) {
			r := newRecorder(t, 4)
			dir := t.TempDir()
			target := Target{Name: "hook", Type: TypeWebhook, URL: r.srv.URL}
			var wg sync.WaitGroup
			results := make([]Delivery, 3)
			errs := make([]error, 3)
			for i := range results {
				n, err := New(Options{Targets: []Target{target}, MinLevel: rules.LevelMedium, Suppress: suppress, OutboxDir: dir, Deadline: time.Minute})
				if err != nil {
					t.Fatal(err)
				}
				wg.Go(func() { results[i], errs[i] = n.Notify(context.Background(), findings32()) })
			}
			wg.Wait()
			sent := 0
			for i := range results {
				if err := all(results[i], errs[i]); err != nil {
					t.Errorf("run %d: %v", i, err)
				}
				sent += len(results[i].Sent)
			}
			keys, _ := r.received()
			want := map[string]bool{}
			for _, f := range findings32() {
				want[newAlert(&f, "hook", 1, time.Now(), time.Now(), false).ID] = true
			}
			for k, c := range keys {
				if c != 1 || !want[k] {
					t.Errorf("key %s received %d times (expected key: %v)", k, c, want[k])
				}
			}
			if len(keys) != 32 || sent != 32 {
				t.Errorf("%d keys received, %d sent by the runs together; want 32 and 32", len(keys), sent)
			}
			// A later run over the same logs sends nothing again.
			n, _ := New(Options{Targets: []Target{target}, MinLevel: rules.LevelMedium, Suppress: suppress, OutboxDir: dir})
			if d, err := n.Notify(context.Background(), findings32()); err != nil || len(d.Sent) != 0 {
				t.Errorf("rerun: %d sent, %v", len(d.Sent), err)
			}
		})
	}
}

// TestDeadOwnerLockIsTakenOverAtOnce: lock files left by crashed runs (the
// old format, and the current one naming a pid that does not exist), both
// fresh, do not hold delivery up.
func TestDeadOwnerLockIsTakenOverAtOnce(t *testing.T) {
	r := newRecorder(t, 1)
	dir := t.TempDir()
	now := time.Now()
	os.WriteFile(filepath.Join(dir, ".lock"), []byte("999999999 "+now.Format(time.RFC3339)+"\n"), 0o600)
	dead, _ := json.Marshal(lockOwner{PID: 999999999, Host: "gone", Since: now, Heartbeat: now})
	os.WriteFile(filepath.Join(dir, deliverLock), dead, 0o600)
	os.WriteFile(filepath.Join(dir, queueLock), dead, 0o600)
	n, err := New(Options{Targets: []Target{{Name: "hook", Type: TypeWebhook, URL: r.srv.URL}}, MinLevel: rules.LevelMedium, OutboxDir: dir, Deadline: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	d, err := n.Notify(context.Background(), findings32()[:1])
	if err := all(d, err); err != nil || len(d.Sent) != 1 {
		t.Fatalf("%d sent: %v", len(d.Sent), err)
	}
}

// TestLiveOwnerHoldsAndRefreshesTheLock: while another delivery holds the
// lock, a run waits for it within its deadline, names the owner when the
// deadline passes, and the owner's heartbeat moves; once released, the
// alert goes.
func TestLiveOwnerHoldsAndRefreshesTheLock(t *testing.T) {
	defer func(d time.Duration) { lockRefresh = d }(lockRefresh)
	lockRefresh = 20 * time.Millisecond
	r := newRecorder(t, 1)
	dir := t.TempDir()
	path := filepath.Join(dir, deliverLock)
	held, _, err := tryLock(path)
	if err != nil {
		t.Fatal(err)
	}
	var first lockOwner
	data, _ := os.ReadFile(path)
	json.Unmarshal(data, &first)
	n, err := New(Options{Targets: []Target{{Name: "hook", Type: TypeWebhook, URL: r.srv.URL}}, MinLevel: rules.LevelMedium, OutboxDir: dir, Deadline: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	d, err := n.Notify(context.Background(), findings32()[:1])
	if err != nil || len(d.Sent) != 0 || len(d.Undelivered) != 1 || !strings.Contains(d.Undelivered[0].Reason, fmt.Sprintf("evtxscan pid %d", os.Getpid())) {
		t.Fatalf("while locked: %d sent, %+v, %v", len(d.Sent), d.Undelivered, err)
	}
	refreshed := false
	for range 500 {
		data, _ := os.ReadFile(path)
		var now lockOwner
		if json.Unmarshal(data, &now) == nil && now.Heartbeat.After(first.Heartbeat) {
			refreshed = true
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !refreshed {
		t.Error("the owner's heartbeat was not refreshed")
	}
	held.release()
	if d, err := n.Flush(context.Background()); all(d, err) != nil || len(d.Sent) != 1 {
		t.Errorf("after release: %d sent, %v", len(d.Sent), all(d, err))
	}
}

// TestLockHolderProcess is not a test: TestKilledOwnerLock runs it in a
// child process that takes the lock and waits to be killed.
func TestLockHolderProcess(t *testing.T) {
	path := os.Getenv("EVTXSCAN_TEST_LOCK_HOLDER")
	if path == "" {
		t.Skip("helper process for TestKilledOwnerLock")
	}
	if _, _, err := tryLock(path); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("locked")
	time.Sleep(time.Minute)
	os.Exit(0)
}

// TestKilledOwnerLock: a process holding the delivery lock is killed
// (kill -9 on Unix, TerminateProcess on Windows); the next run delivers at
// once, without waiting for any expiry.
func TestKilledOwnerLock(t *testing.T) {
	r := newRecorder(t, 1)
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHolderProcess$")
	cmd.Env = append(os.Environ(), "EVTXSCAN_TEST_LOCK_HOLDER="+filepath.Join(dir, deliverLock))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "locked" {
		t.Fatalf("helper process: %q", line)
	}
	target := Target{Name: "hook", Type: TypeWebhook, URL: r.srv.URL}
	n, err := New(Options{Targets: []Target{target}, MinLevel: rules.LevelMedium, OutboxDir: dir, Deadline: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	d, err := n.Notify(context.Background(), findings32()[:1])
	if err != nil || len(d.Sent) != 0 || len(d.Undelivered) != 1 || !strings.Contains(d.Undelivered[0].Reason, fmt.Sprintf("pid %d", cmd.Process.Pid)) {
		t.Fatalf("while the other process holds the lock: %d sent, %+v, %v", len(d.Sent), d.Undelivered, err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	n, _ = New(Options{Targets: []Target{target}, MinLevel: rules.LevelMedium, OutboxDir: dir, Deadline: 10 * time.Second})
	d, err = n.Flush(context.Background())
	if err := all(d, err); err != nil || len(d.Sent) != 1 {
		t.Fatalf("after the owner was killed: %d sent, %v", len(d.Sent), err)
	}
}
