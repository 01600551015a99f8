package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evtxscan/evtxscan/rules"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }
func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// hook is a webhook receiver that records successful deliveries.
type hook struct {
	mu       sync.Mutex
	status   int // reply status (0: 200)
	block    bool
	started  int // requests that reached the handler
	received []*http.Request
	bodies   [][]byte
	srv      *httptest.Server
}

func newHook(t *testing.T) *hook {
	h := &hook{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		status, block := h.status, h.block
		h.started++
		h.mu.Unlock()
		if block {
			<-r.Context().Done() // the client gives up mid-delivery
			return
		}
		if status != 0 && status != 200 {
			http.Error(w, "try later", status)
			return
		}
		h.mu.Lock()
		h.received = append(h.received, r)
		h.bodies = append(h.bodies, body)
		h.mu.Unlock()
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) set(status int, block bool) {
	h.mu.Lock()
	h.status, h.block = status, block
	h.mu.Unlock()
}

func (h *hook) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.bodies)
}

func (h *hook) body(i int) map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	var m map[string]any
	json.Unmarshal(h.bodies[i], &m)
	return m
}

func finding(rule, computer, product string, level rules.Level) rules.Finding {
	return rules.Finding{
		RuleID: rule, Title: "MSI removal failed", Level: level, Description: "Windows Installer removal ended with a failure status.",
		Time: time.Date(2026, 2, 28, 10, 0, 0, 0, time.UTC), Computer: computer,
		Fields: []rules.DisplayField{{Name: "ProductName", Value: product}, {Name: "Status", Value: "1603"}},
		Events: []rules.EventRef{{File: "live:Application", RecordID: 42, EventID: 1034, Provider: "MsiInstaller", Time: time.Date(2026, 2, 28, 10, 0, 0, 0, time.UTC)}},
	}
}

func newNotifier(t *testing.T, dir string, c *clock, targets ...Target) *Notifier {
	t.Helper()
	n, err := New(Options{Targets: targets, MinLevel: rules.LevelMedium, Suppress: time.Hour, OutboxDir: dir, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// all joins Flush's results into one error: outbox problems and each
// undelivered alert with its reason.
func all(d Delivery, err error) error {
	errs := []error{err}
	for _, u := range d.Undelivered {
		errs = append(errs, fmt.Errorf("%s: %s", u.Alert.Target, u.Reason))
	}
	return errors.Join(errs...)
}

func pendingFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	var out []string
	for _, f := range m {
		if filepath.Base(f) != suppressFile {
			out = append(out, filepath.Base(f))
		}
	}
	return out
}

func TestWebhookPayloads(t *testing.T) {
	h := newHook(t)
	c := newClock()
	evil := "Zoom <!channel> <http://evil|click> [x](http://evil) *b*"
	tests := []struct {
		typ   string
		check func(t *testing.T, body map[string]any, raw string)
	}{
		{TypeWebhook, func(t *testing.T, b map[string]any, raw string) {
			if b["rule_id"] != "msi_fail" || b["level"] != "high" || b["computer"] != "PC1" || b["product"] != evil || b["count"] != 1.0 || b["source"] != "evtxscan" {
				t.Errorf("generic payload %s", raw)
			}
			if f := b["fields"].(map[string]any); f["Status"] != "1603" {
				t.Errorf("fields %v", f)
			}
			if ev := b["events"].([]any)[0].(map[string]any); ev["record_id"] != 42.0 || ev["event_id"] != 1034.0 {
				t.Errorf("events %v", ev)
			}
		}},
		{TypeSlack, func(t *testing.T, b map[string]any, raw string) {
			if strings.Contains(raw, "<!channel>") || strings.Contains(raw, "<http://evil") {
				t.Errorf("Slack control sequence not escaped: %s", raw)
			}
			if !strings.Contains(raw, "&lt;!channel&gt;") || b["blocks"].([]any)[0].(map[string]any)["type"] != "header" {
				t.Errorf("slack payload %s", raw)
			}
			if txt, _ := b["text"].(string); !strings.HasPrefix(txt, "[HIGH] MSI removal failed: Zoom") || !strings.Contains(txt, "on PC1") {
				t.Errorf("slack text %q", txt)
			}
		}},
		{TypeTeams, func(t *testing.T, b map[string]any, raw string) {
			att := b["attachments"].([]any)[0].(map[string]any)
			if b["type"] != "message" || att["contentType"] != "application/vnd.microsoft.card.adaptive" {
				t.Errorf("teams payload %s", raw)
			}
			card, _ := json.Marshal(att["content"])
			if strings.Contains(string(card), "[x](http://evil)") || !strings.Contains(raw, `\\[x\\]\\(http://evil\\)`) {
				t.Errorf("markdown link not escaped: %s", raw)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			before := h.count()
			target := Target{Name: "t-" + tt.typ, Type: tt.typ, URL: h.srv.URL + "/hook/SECRET", Headers: map[string]string{"Authorization": "Bearer tok"}}
			n := newNotifier(t, t.TempDir(), c, target)
			if err := all(n.Notify(context.Background(), []rules.Finding{finding("msi_fail", "PC1", evil, rules.LevelHigh)})); err != nil {
				t.Fatal(err)
			}
			if h.count() != before+1 {
				t.Fatalf("%d deliveries, want 1", h.count()-before)
			}
			r := h.received[before]
			if r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Authorization") != "Bearer tok" || len(r.Header.Get("Idempotency-Key")) != 32 {
				t.Errorf("headers %v", r.Header)
			}
			tt.check(t, h.body(before), string(h.bodies[before]))
			if files := pendingFiles(t, n.Outbox().Dir()); len(files) != 0 {
				t.Errorf("delivered alert still in the outbox: %v", files)
			}
		})
	}
}

func TestOutboxSurvivesAnUnreachableServer(t *testing.T) {
	h := newHook(t)
	h.set(503, false)
	c := newClock()
	dir := t.TempDir()
	target := Target{Name: "hook", Type: TypeWebhook, URL: h.srv.URL}
	n := newNotifier(t, dir, c, target)
	err := all(n.Notify(context.Background(), []rules.Finding{finding("r1", "PC1", "Zoom", rules.LevelHigh), finding("r2", "PC1", "Zoom", rules.LevelCritical)}))
	if err == nil || !strings.Contains(err.Error(), "503") || strings.Contains(err.Error(), "/hook") {
		t.Fatalf("error %v, want the 503", err)
	}
	if files := pendingFiles(t, dir); len(files) != 2 {
		t.Fatalf("outbox holds %v, want 2 alerts", files)
	}
	// Within the backoff nothing is retried.
	h.set(0, false)
	d, err := n.Flush(context.Background())
	if err != nil || h.count() != 0 || len(d.Undelivered) != 2 || !d.Undelivered[0].Waiting || !strings.Contains(d.Undelivered[0].Reason, "waiting to be retried after 2026-03-01T12:00:30Z (last error: POST") {
		t.Fatalf("retried before the backoff: %d deliveries, %v, %+v", h.count(), err, d.Undelivered)
	}
	// The process "dies"; a new one, later, delivers.
	c.add(31 * time.Second)
	n2 := newNotifier(t, dir, c, target)
	if err := all(n2.Flush(context.Background())); err != nil {
		t.Fatal(err)
	}
	if h.count() != 2 || len(pendingFiles(t, dir)) != 0 {
		t.Fatalf("%d deliveries, outbox %v; want 2 and empty", h.count(), pendingFiles(t, dir))
	}
	// Nothing is sent twice.
	c.add(time.Hour)
	n3 := newNotifier(t, dir, c, target)
	n3.Flush(context.Background())
	if h.count() != 2 {
		t.Errorf("%d deliveries after another flush, want still 2", h.count())
	}
	if got := fmt.Sprintf("%v %v", h.body(0)["rule_id"], h.body(1)["rule_id"]); got != "r1 r2" && got != "r2 r1" {
		t.Errorf("delivered %s", got)
	}
}

func TestOutboxSurvivesAKillMidDelivery(t *testing.T) {
	h := newHook(t)
	h.set(0, true) // the server hangs
	c := newClock()
	dir := t.TempDir()
	target := Target{Name: "hook", Type: TypeWebhook, URL: h.srv.URL}
	n := newNotifier(t, dir, c, target)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for h.startedCount() == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel() // the process is stopped while the POST is in flight
	}()
	if err := all(n.Notify(ctx, []rules.Finding{finding("r1", "PC1", "Zoom", rules.LevelHigh)})); err == nil {
		t.Fatal("no error from an interrupted delivery")
	}
	if len(pendingFiles(t, dir)) != 1 {
		t.Fatalf("outbox %v, want the alert kept", pendingFiles(t, dir))
	}
	h.set(0, false)
	c.add(time.Minute)
	if err := all(newNotifier(t, dir, c, target).Flush(context.Background())); err != nil {
		t.Fatal(err)
	}
	if h.count() != 1 || len(pendingFiles(t, dir)) != 0 {
		t.Errorf("%d deliveries, outbox %v", h.count(), pendingFiles(t, dir))
	}
}

func (h *hook) startedCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.started
}

func TestSuppression(t *testing.T) {
	h := newHook(t)
	c := newClock()
	dir := t.TempDir()
	target := Target{Name: "hook", Type: TypeWebhook, URL: h.srv.URL}
	n := newNotifier(t, dir, c, target)
	batch := []rules.Finding{
		finding("msi_fail", "PC1", "Zoom", rules.LevelHigh),
		finding("msi_fail", "pc1", "ZOOM", rules.LevelHigh), // same computer and product, other case
		finding("msi_fail", "PC1", "Zoom", rules.LevelHigh),
		finding("msi_fail", "PC1", "Teams", rules.LevelHigh),
		finding("msi_fail", "PC1", "Zoom", rules.LevelLow), // below --notify-min-level
	}
	if err := all(n.Notify(context.Background(), batch)); err != nil {
		t.Fatal(err)
	}
	zoom, teams := h.body(0), h.body(1)
	if zoom["product"] != "Zoom" {
		zoom, teams = teams, zoom // delivered in parallel: either order
	}
	if h.count() != 2 || zoom["count"] != 3.0 || teams["product"] != "Teams" {
		t.Fatalf("%d alerts (%v), want Zoom×3 and Teams", h.count(), zoom)
	}
	if !strings.Contains(zoom["text"].(string), "(3 times)") {
		t.Errorf("headline %q", zoom["text"])
	}
	// Repeats within the window (a later scheduled run, new events) are
	// only counted; the same findings reported again (the same first
	// events, another run over the same logs) are not repeats.
	c.add(20 * time.Minute)
	n = newNotifier(t, dir, c, target)
	n.Notify(context.Background(), later(batch[:2], 1))
	n.Notify(context.Background(), batch)
	c.add(20 * time.Minute)
	n.Notify(context.Background(), later(batch[:1], 2))
	if h.count() != 2 {
		t.Fatalf("%d alerts within the window, want still 2", h.count())
	}
	// After the window: one alert with the count of repeats.
	c.add(21 * time.Minute)
	if err := all(newNotifier(t, dir, c, target).Flush(context.Background())); err != nil {
		t.Fatal(err)
	}
	if h.count() != 3 {
		t.Fatalf("%d alerts after the window, want 3", h.count())
	}
	b := h.body(2)
	if b["repeat"] != true || b["count"] != 3.0 || b["product"] != "Zoom" || !strings.Contains(b["text"].(string), "repeated 3 more times since 2026-03-01T12:00:00Z") {
		t.Errorf("repeat alert %v", b)
	}
	// The window is closed: nothing more; the old finding is not sent
	// again, and a new one alerts at once.
	c.add(2 * time.Hour)
	n = newNotifier(t, dir, c, target)
	n.Flush(context.Background())
	n.Notify(context.Background(), batch[:1])
	if h.count() != 3 {
		t.Fatalf("%d alerts, want 3", h.count())
	}
	n.Notify(context.Background(), later(batch[:1], 3))
	if h.count() != 4 || h.body(3)["repeat"] != false {
		t.Errorf("%d alerts, want a fresh first alert", h.count())
	}
}

// later returns copies of findings whose events came k hours later.
func later(findings []rules.Finding, k int) []rules.Finding {
	var out []rules.Finding
	for _, f := range findings {
		f.Time = f.Time.Add(time.Duration(k) * time.Hour)
		f.Events = append([]rules.EventRef(nil), f.Events...)
		for i := range f.Events {
			f.Events[i].Time = f.Events[i].Time.Add(time.Duration(k) * time.Hour)
			f.Events[i].RecordID += uint64(k * 1000)
		}
		out = append(out, f)
	}
	return out
}

func TestNoSuppressionSendsEach(t *testing.T) {
	h := newHook(t)
	n, err := New(Options{Targets: []Target{{Name: "h", Type: TypeWebhook, URL: h.srv.URL}}, OutboxDir: t.TempDir(), Now: newClock().now})
	if err != nil {
		t.Fatal(err)
	}
	f := finding("r", "PC1", "Zoom", rules.LevelInformational)
	n.Notify(context.Background(), []rules.Finding{f})
	if h.count() != 1 {
		t.Errorf("%d alerts", h.count())
	}
}

func TestGiveUpAfterAWeek(t *testing.T) {
	h := newHook(t)
	h.set(500, false)
	c := newClock()
	dir := t.TempDir()
	target := Target{Name: "hook", Type: TypeWebhook, URL: h.srv.URL}
	n := newNotifier(t, dir, c, target)
	n.Notify(context.Background(), []rules.Finding{finding("r", "PC1", "Zoom", rules.LevelHigh)})
	c.add(GiveUpAfter + time.Hour)
	err := all(newNotifier(t, dir, c, target).Flush(context.Background()))
	if err == nil || !strings.Contains(err.Error(), "gave up") {
		t.Errorf("error %v", err)
	}
	failed, _ := filepath.Glob(filepath.Join(dir, "*.failed"))
	if len(failed) != 1 || len(pendingFiles(t, dir)) != 0 {
		t.Errorf("failed %v pending %v", failed, pendingFiles(t, dir))
	}
}

func TestBackoff(t *testing.T) {
	want := []time.Duration{30 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute, 32 * time.Minute, time.Hour, time.Hour}
	for i, w := range want {
		if got := backoff(i); got != w {
			t.Errorf("backoff(%d) = %v, want %v", i, got, w)
		}
	}
}

func TestDamagedOutboxFile(t *testing.T) {
	dir := t.TempDir()
	ob, _ := OpenOutbox(dir)
	os.WriteFile(filepath.Join(dir, "abc.json"), []byte("{torn"), 0o600)
	// The same alert queued by two runs is one alert with the larger count.
	for _, count := range []int{1, 3, 2} {
		if err := ob.put(&Alert{ID: "good", Count: count}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ob.Pending()
	if err == nil || !strings.Contains(err.Error(), "abc.json is damaged") {
		t.Errorf("error %v", err)
	}
	if len(got) != 1 || got[0].Count != 3 {
		t.Errorf("pending %+v, want the merged good alert", got)
	}
	// Once delivered, the ledger keeps it from being queued again.
	if err := ob.delivered(got[0]); err != nil {
		t.Fatal(err)
	}
	ob.put(&Alert{ID: "good", Count: 5})
	if again, _ := ob.Pending(); len(again) != 0 {
		t.Errorf("a delivered alert was queued again: %+v", again)
	}
	if _, err := os.Stat(filepath.Join(dir, "abc.failed")); err != nil {
		t.Error("damaged file not set aside")
	}
}

func TestAlertBounds(t *testing.T) {
	f := finding("r", "PC1", strings.Repeat("é", 2000), rules.LevelHigh)
	for i := range 30 {
		f.Fields = append(f.Fields, rules.DisplayField{Name: fmt.Sprint("f", i), Value: "v"})
		f.Events = append(f.Events, f.Events[0])
	}
	a := newAlert(&f, "t", 1, time.Now(), time.Now(), false)
	if len(a.Product) > maxValueLen+3 || len(a.Fields) != maxFields || len(a.Events) != maxEventsShown || a.MoreEvent != 21 {
		t.Errorf("product %d bytes, %d fields, %d events, %d more", len(a.Product), len(a.Fields), len(a.Events), a.MoreEvent)
	}
	if !strings.Contains(a.Text(), "… and 21 more") {
		t.Error("text does not say how many events were left out")
	}
}
