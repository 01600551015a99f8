package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/evtxscan/evtxscan/internal/testenv"
)

// scenarioExpect is the machine-readable part of a testdata/scenarios file.
type scenarioExpect struct {
	Name   string `yaml:"name"`
	Expect struct {
		MustFind    []string `yaml:"must_find"`
		MustNotFind []string `yaml:"must_not_find"`
	} `yaml:"expect"`
}

func loadScenarios(t *testing.T, root string) map[string]scenarioExpect {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(root, "testdata", "scenarios", "*.yaml"))
	out := map[string]scenarioExpect{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var s scenarioExpect
		if err := yaml.Unmarshal(data, &s); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if s.Name == "" {
			s.Name = strings.TrimSuffix(filepath.Base(p), ".yaml")
		}
		out[s.Name] = s
	}
	if len(out) == 0 {
		t.Fatal("no scenarios in testdata/scenarios")
	}
	return out
}

type findingLine struct {
	RuleID   string            `json:"rule_id"`
	Title    string            `json:"title"`
	Level    string            `json:"level"`
	Time     string            `json:"time"`
	Computer string            `json:"computer"`
	Fields   map[string]string `json:"fields"`
	Summary  string            `json:"summary"`
	Incident *struct {
		Kind    string   `json:"kind"`
		Outcome string   `json:"outcome"`
		Signals []string `json:"signals"`
	} `json:"incident"`
	Events []struct {
		File     string `json:"file"`
		RecordID uint64 `json:"record_id"`
		EventID  int    `json:"event_id"`
		Provider string `json:"provider"`
		Time     string `json:"time"`
	} `json:"events"`
}

func readJSONL[T any](t *testing.T, path string) []T {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("%s: bad JSON line: %v\n%s", path, err, sc.Bytes())
		}
		out = append(out, v)
	}
	return out
}

// scan runs the CLI in-process and returns the exit code and stderr.
func scan(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"scan", "--quiet"}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// scenarioOf returns the scenario folder an event file belongs to.
func scenarioOf(file string) string {
	file = filepath.ToSlash(file)
	i := strings.Index(file, "testdata/evtx/")
	if i < 0 {
		return ""
	}
	rest := file[i+len("testdata/evtx/"):]
	dir, _, _ := strings.Cut(rest, "/")
	return dir
}

func TestScanFixturesFindWhatScenariosSay(t *testing.T) {
	root := testenv.RepoRoot(t)
	out := t.TempDir()
	code, _, stderr := scan(t, "--format", "xlsx,html,csv,jsonl", "--out", out, filepath.Join(root, "testdata", "evtx"))
	wantFixturesIncomplete(t, code, stderr)
	for _, name := range []string{"report.xlsx", "report.html", "findings.jsonl", "timeline.jsonl", "findings.csv", "timeline.csv"} {
		if fi, err := os.Stat(filepath.Join(out, name)); err != nil || fi.Size() == 0 {
			t.Errorf("%s not written: %v", name, err)
		}
	}
	findings := readJSONL[findingLine](t, filepath.Join(out, "findings.jsonl"))
	byScenario := map[string]map[string]int{}
	for _, f := range findings {
		seen := map[string]bool{}
		for _, e := range f.Events {
			sc := scenarioOf(e.File)
			if seen[sc] {
				continue
			}
			seen[sc] = true
			if byScenario[sc] == nil {
				byScenario[sc] = map[string]int{}
			}
			// A rule is found when a finding carries its id or lists it
			// among the signals folded into its incident.
			byScenario[sc][f.RuleID]++
			if f.Incident != nil {
				for _, s := range f.Incident.Signals {
					if s != f.RuleID {
						byScenario[sc][s]++
					}
				}
			}
		}
	}
	scenarios := loadScenarios(t, root)
	names := make([]string, 0, len(scenarios))
	for n := range scenarios {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		s := scenarios[name]
		got := byScenario[name]
		for _, id := range s.Expect.MustFind {
			if got[id] == 0 {
				t.Errorf("%s: rule %s must fire and did not (fired: %v)", name, id, got)
			}
		}
		for _, id := range s.Expect.MustNotFind {
			if got[id] > 0 {
				t.Errorf("%s: rule %s must not fire and fired %d times", name, id, got[id])
			}
		}
	}
}

func TestScanZipGivesTheSameFindings(t *testing.T) {
	root := testenv.RepoRoot(t)
	evtxDir := filepath.Join(root, "testdata", "evtx")
	zipPath := filepath.Join(t.TempDir(), "collection.zip")
	zipFolder(t, evtxDir, zipPath)
	dirOut, zipOut := t.TempDir(), t.TempDir()
	code, _, stderr := scan(t, "--format", "jsonl", "--out", dirOut, evtxDir)
	wantFixturesIncomplete(t, code, stderr)
	code, _, stderr = scan(t, "--format", "jsonl", "--out", zipOut, zipPath)
	wantFixturesIncomplete(t, code, stderr)
	key := func(fs []findingLine) []string {
		var out []string
		for _, f := range fs {
			out = append(out, f.RuleID+"|"+f.Computer+"|"+f.Time)
		}
		sort.Strings(out)
		return out
	}
	a := key(readJSONL[findingLine](t, filepath.Join(dirOut, "findings.jsonl")))
	b := key(readJSONL[findingLine](t, filepath.Join(zipOut, "findings.jsonl")))
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Errorf("zip findings differ from folder findings:\nfolder %v\nzip    %v", a, b)
	}
	if len(a) == 0 {
		t.Error("no findings at all")
	}
}

func zipFolder(t *testing.T, dir, zipPath string) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		w, err := zw.Create("uploads/auto/C%3A/Windows/System32/winevt/Logs/" + filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	zw.Close()
	if err := os.WriteFile(zipPath, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestScanBrokenFileExit3(t *testing.T) {
	root := testenv.RepoRoot(t)
	dir := t.TempDir()
	copyFile(t, filepath.Join(root, "testdata", "evtx", "s1_custom_action_rollback", "Application.evtx"), filepath.Join(dir, "Application.evtx"))
	if err := os.WriteFile(filepath.Join(dir, "Broken.evtx"), []byte("ElfFile\x00 this is not a real log"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	code, _, stderr := scan(t, "--format", "jsonl,html", "--out", out, dir)
	if code != exitUnreadable {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitUnreadable, stderr)
	}
	if !strings.Contains(stderr, "Broken.evtx") {
		t.Errorf("stderr does not name the broken file:\n%s", stderr)
	}
	fs := readJSONL[findingLine](t, filepath.Join(out, "findings.jsonl"))
	if len(fs) == 0 {
		t.Error("the good file's findings are missing")
	}
	html, _ := os.ReadFile(filepath.Join(out, "report.html"))
	if !bytes.Contains(html, []byte("Broken.evtx")) {
		t.Error("report.html does not name the unreadable file")
	}
}

type timelineLine struct {
	Time     string            `json:"time"`
	File     string            `json:"file"`
	EventID  int               `json:"event_id"`
	Provider string            `json:"provider"`
	Channel  string            `json:"channel"`
	Computer string            `json:"computer"`
	Level    int               `json:"level"`
	Data     map[string]string `json:"event_data"`
	Message  string            `json:"message"`
}

func TestScanFilters(t *testing.T) {
	root := testenv.RepoRoot(t)
	evtxDir := filepath.Join(root, "testdata", "evtx")
	tests := []struct {
		name  string
		flags []string
		check func(e timelineLine) bool
	}{
		{"id list and range", []string{"--id", "1034,11000-11999"}, func(e timelineLine) bool {
			return e.EventID == 1034 || (e.EventID >= 11000 && e.EventID <= 11999)
		}},
		{"channel", []string{"--channel", "system"}, func(e timelineLine) bool { return e.Channel == "System" }},
		{"provider", []string{"--provider", "MsiInstaller"}, func(e timelineLine) bool { return e.Provider == "MsiInstaller" }},
		{"level", []string{"--level", "error"}, func(e timelineLine) bool { return e.Level == 2 }},
		{"time range", []string{"--since", "2026-02-10T10:00:00Z", "--until", "2026-02-10T10:00:04Z"}, func(e timelineLine) bool {
			return e.Time >= "2026-02-10T10:00:00" && e.Time < "2026-02-10T10:00:04"
		}},
		{"computer", []string{"--computer", "PC-ALICE.corp.contoso.com"}, func(e timelineLine) bool { return e.Computer == "PC-ALICE.corp.contoso.com" }},
		{"keyword", []string{"--keyword", "contoso agent"}, func(e timelineLine) bool {
			b, _ := json.Marshal(e)
			return strings.Contains(strings.ToLower(string(b)), "contoso agent")
		}},
	}
	all := t.TempDir()
	code, _, stderr := scan(t, "--format", "jsonl", "--out", all, evtxDir)
	wantFixturesIncomplete(t, code, stderr)
	total := len(readJSONL[timelineLine](t, filepath.Join(all, "timeline.jsonl")))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := t.TempDir()
			code, _, stderr := scan(t, append(tt.flags, "--format", "jsonl", "--out", out, evtxDir)...)
			wantFixturesIncomplete(t, code, stderr)
			evs := readJSONL[timelineLine](t, filepath.Join(out, "timeline.jsonl"))
			if len(evs) == 0 || len(evs) >= total {
				t.Fatalf("filter kept %d of %d events", len(evs), total)
			}
			for _, e := range evs {
				if !tt.check(e) {
					t.Errorf("event passed the filter but should not: %+v", e)
					break
				}
			}
		})
	}
}

func TestScanDedupTwoCopies(t *testing.T) {
	root := testenv.RepoRoot(t)
	dir := t.TempDir()
	src := filepath.Join(root, "testdata", "evtx", "s2_upgrade_cannot_remove_old", "Application.evtx")
	copyFile(t, src, filepath.Join(dir, "live", "Application.evtx"))
	copyFile(t, src, filepath.Join(dir, "vss1", "Application.evtx"))
	one, two, dedup := t.TempDir(), t.TempDir(), t.TempDir()
	scan(t, "--format", "jsonl", "--out", one, src)
	scan(t, "--format", "jsonl", "--out", two, dir)
	code, _, stderr := scan(t, "--format", "jsonl", "--out", dedup, "--dedup", dir)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	n1 := len(readJSONL[timelineLine](t, filepath.Join(one, "timeline.jsonl")))
	n2 := len(readJSONL[timelineLine](t, filepath.Join(two, "timeline.jsonl")))
	nd := len(readJSONL[timelineLine](t, filepath.Join(dedup, "timeline.jsonl")))
	if n2 != 2*n1 || nd != n1 {
		t.Errorf("events: one copy %d, two copies %d, deduplicated %d; want %d, %d, %d", n1, n2, nd, n1, 2*n1, n1)
	}
	f1 := len(readJSONL[findingLine](t, filepath.Join(one, "findings.jsonl")))
	fd := len(readJSONL[findingLine](t, filepath.Join(dedup, "findings.jsonl")))
	if f1 != fd {
		t.Errorf("findings: one copy %d, deduplicated copies %d", f1, fd)
	}
	var stderr2 bytes.Buffer
	run([]string{"scan", "--format", "jsonl", "--out", t.TempDir(), "--dedup", dir}, io.Discard, &stderr2)
	if !strings.Contains(stderr2.String(), "duplicates dropped") {
		t.Errorf("summary does not say how many duplicates were dropped:\n%s", stderr2.String())
	}
}

func TestScanFailLevel(t *testing.T) {
	root := testenv.RepoRoot(t)
	s1 := filepath.Join(root, "testdata", "evtx", "s1_custom_action_rollback")
	if code, _, stderr := scan(t, "--format", "jsonl", "--out", t.TempDir(), "--fail-level", "high", s1); code != exitFindings {
		t.Errorf("--fail-level high on S1: exit %d, want %d; %s", code, exitFindings, stderr)
	}
	noise := filepath.Join(root, "testdata", "evtx", "noise_quiet")
	if code, _, stderr := scan(t, "--format", "jsonl", "--out", t.TempDir(), "--fail-level", "high", noise); code != exitOK {
		t.Errorf("--fail-level high on the quiet noise: exit %d, want 0; %s", code, stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := [][]string{
		{"scan"},
		{"scan", "--format", "pdf", "x"},
		{"scan", "--tz", "Mars/Olympus", "x"},
		{"scan", "--id", "abc", "x"},
		{"scan", "--since", "yesterday", "x"},
		{"scan", "--min-level", "severe", "x"},
		{"scan", "--no-such-flag", "x"},
		{"nosuchcommand"},
	}
	for _, args := range tests {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
		if stderr.Len() == 0 {
			t.Errorf("%v: no message on stderr", args)
		}
	}
}

func TestHelpForEveryCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--help"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("--help exit %d", code)
	}
	for name := range commands {
		if !strings.Contains(stdout.String(), name) {
			t.Errorf("--help does not list %s", name)
		}
		var out, errb bytes.Buffer
		code := run([]string{name, "--help"}, &out, &errb)
		if code != exitOK {
			t.Errorf("%s --help: exit %d (%s)", name, code, errb.String())
		}
		if out.Len()+errb.Len() < 100 || !strings.Contains(strings.ToLower(out.String()+errb.String()), "usage") {
			t.Errorf("%s --help says too little:\n%s%s", name, out.String(), errb.String())
		}
	}
	var v bytes.Buffer
	if run([]string{"--version"}, &v, io.Discard) != exitOK || !strings.HasPrefix(v.String(), "evtxscan ") {
		t.Errorf("--version: %q", v.String())
	}
}

func TestScanNotifyWebhook(t *testing.T) {
	root := testenv.RepoRoot(t)
	var got []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, string(b))
		mu.Unlock()
	}))
	defer srv.Close()
	t.Setenv("EVTXSCAN_WEBHOOK_URL", srv.URL)
	s1 := filepath.Join(root, "testdata", "evtx", "s1_custom_action_rollback")
	code, _, stderr := scan(t, "--format", "jsonl", "--out", t.TempDir(), "--notify", "webhook", "--notify-min-level", "high", "--notify-outbox", t.TempDir(), s1)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) == 0 {
		t.Fatal("no alert reached the webhook")
	}
	all := strings.Join(got, "\n")
	if !strings.Contains(all, "msi_uninstall_failed_status") || !strings.Contains(all, "Contoso Agent") {
		t.Errorf("alerts do not carry the finding:\n%s", all)
	}
	// A URL on the command line is refused: other users can read it.
	if code, _, _ := scan(t, "--format", "jsonl", "--out", t.TempDir(), "--notify", srv.URL, s1); code != exitUsage {
		t.Errorf("--notify URL: exit %d, want %d", code, exitUsage)
	}
}

// TestScanLyingZipMemberExit3: a member whose header claims less than it
// holds is named (archive and member) and makes exit 3; the other member
// and the file next to the archive are scanned.
func TestScanLyingZipMemberExit3(t *testing.T) {
	root := testenv.RepoRoot(t)
	dir := t.TempDir()
	app, err := os.ReadFile(filepath.Join(root, "testdata", "evtx", "s1_custom_action_rollback", "Application.evtx"))
	if err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(root, "testdata", "evtx", "s1_custom_action_rollback", "System.evtx"), filepath.Join(dir, "System.evtx"))
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range []string{"Lying.evtx", "Application.evtx"} {
		w, _ := zw.Create(name)
		w.Write(app)
	}
	zw.Close()
	b := buf.Bytes()
	// Lying.evtx's central directory entry claims 4,096 bytes.
	i := bytes.Index(b, []byte("PK\x01\x02"))
	if string(b[i+46:i+46+len("Lying.evtx")]) != "Lying.evtx" {
		t.Fatal("the first central directory entry is not Lying.evtx")
	}
	binary.LittleEndian.PutUint32(b[i+24:], 4096)
	archive := filepath.Join(dir, "collection.zip")
	if err := os.WriteFile(archive, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	code, _, stderr := scan(t, "--format", "jsonl", "--out", out, dir)
	if code != exitUnreadable {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitUnreadable, stderr)
	}
	if want := archive + "!Lying.evtx: cannot read it: member Lying.evtx claims 4096 bytes, holds more"; !strings.Contains(stderr, want) {
		t.Errorf("stderr does not say %q:\n%s", want, stderr)
	}
	files := map[string]bool{}
	for _, l := range readJSONL[timelineLine](t, filepath.Join(out, "timeline.jsonl")) {
		files[l.File] = true
	}
	if !files[archive+"!Application.evtx"] || !files[filepath.Join(dir, "System.evtx")] || len(files) != 2 {
		t.Errorf("timeline files = %v, want the honest member and System.evtx", files)
	}
}

// wantFixturesIncomplete checks the exit of a scan of testdata/evtx: 3,
// because the damaged scenario's corrupt_chunk.evtx loses a record on
// purpose, and stderr says which file lost what (also with --quiet).
func wantFixturesIncomplete(t *testing.T, code int, stderr string) {
	t.Helper()
	if code != exitUnreadable || !strings.Contains(stderr, "corrupt_chunk.evtx: 1 lost (not decodable)") {
		t.Fatalf("exit %d, want %d naming corrupt_chunk.evtx's lost record; stderr:\n%s", code, exitUnreadable, stderr)
	}
}
