package analysis

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/evtxscan/evtxscan/input"
	"github.com/evtxscan/evtxscan/internal/evtxwriter"
	"github.com/evtxscan/evtxscan/internal/testenv"
	"github.com/evtxscan/evtxscan/rules"
)

// The precision benchmark: the full analysis (built-in pack) on every
// scenario fixture and on the real collections of the shared corpus, its
// findings at medium or above matched to the hand-checked incidents
// (testdata/scenarios expect.incidents, testdata/truth/corpus.yaml). It
// fails on any incident missed, any finding at medium or above that is no
// expected incident, and any incident reported more than once.

// expected is one incident the truth says a scan must report.
type expected struct {
	evtxwriter.ExpectIncident `yaml:",inline"`
	Computer                  string   `yaml:"computer"`
	File                      string   `yaml:"file"`
	Records                   []uint64 `yaml:"records"` // corpus truth: the key events the finding's evidence must list
}

// score counts one benchmark run.
type score struct {
	expected, found, findings, matched, duplicates int
}

func (s *score) add(o score) {
	s.expected += o.expected
	s.found += o.found
	s.findings += o.findings
	s.matched += o.matched
	s.duplicates += o.duplicates
}

func (s score) String() string {
	precision, recall := 1.0, 1.0
	if s.findings > 0 {
		precision = float64(s.matched) / float64(s.findings)
	}
	if s.expected > 0 {
		recall = float64(s.found) / float64(s.expected)
	}
	return fmt.Sprintf("precision %.2f (%d/%d findings at medium+ are expected incidents), recall %.2f (%d/%d incidents found), %d duplicates",
		precision, s.matched, s.findings, recall, s.found, s.expected, s.duplicates)
}

// analyse runs the whole analysis with the built-in pack over paths.
func analyse(t *testing.T, paths ...string) *Result {
	t.Helper()
	rs := rules.NewRuleset()
	if err := rs.AddBuiltin(); err != nil {
		t.Fatal(err)
	}
	items, errs := input.Expand(paths, input.Options{})
	for _, err := range errs {
		t.Fatalf("input: %v", err)
	}
	res, err := Run(context.Background(), &FileSource{Items: items}, Config{Rules: rs, Dedup: true, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// findingProduct is what a finding says it is about.
func findingProduct(f *rules.Finding) string {
	if f.Incident != nil && f.Incident.Product != "" {
		return f.Incident.Product
	}
	for _, n := range []string{"ProductName", "PackageFullName", "PackageMoniker", "AppName", "CommandLine"} {
		if v := f.Field(n); v != "" {
			return v
		}
	}
	return ""
}

func findingKind(f *rules.Finding) string {
	if f.Incident != nil {
		return f.Incident.Kind
	}
	return ""
}

// matches reports whether finding f is the expected incident e.
func matches(f *rules.Finding, e *expected) bool {
	if e.Computer != "" && !strings.EqualFold(f.Computer, e.Computer) {
		return false
	}
	return findingKind(f) == e.Kind && strings.Contains(strings.ToLower(findingProduct(f)), strings.ToLower(e.Product))
}

// judge matches findings at medium or above to the expected incidents and
// reports every miss, extra finding, duplicate and wrong attribute.
func judge(t *testing.T, name string, findings []rules.Finding, want []expected) score {
	t.Helper()
	var s score
	s.expected = len(want)
	hits := make([]int, len(want))
	for i := range findings {
		f := &findings[i]
		if f.Level < rules.LevelMedium {
			continue
		}
		s.findings++
		j := slices.IndexFunc(want, func(e expected) bool { return matches(f, &e) })
		// A second finding of one incident matches it again: prefer an
		// expected incident not yet found (two attempts on one product).
		for k := range want {
			if hits[k] == 0 && matches(f, &want[k]) {
				j = k
				break
			}
		}
		if j < 0 {
			t.Errorf("%s: extra finding at %s: %s %s %q: %s", name, f.Level, f.RuleID, findingKind(f), findingProduct(f), f.Summary)
			continue
		}
		hits[j]++
		if hits[j] > 1 {
			s.duplicates++
			t.Errorf("%s: incident %s %q reported more than once (%s)", name, want[j].Kind, want[j].Product, f.RuleID)
			continue
		}
		s.matched++
		s.found++
		checkAttributes(t, name, f, &want[j])
	}
	for j, e := range want {
		if hits[j] == 0 {
			t.Errorf("%s: missed incident %s %q (%s, %s)", name, e.Kind, e.Product, e.Outcome, e.Level)
		}
	}
	t.Logf("%s: %s", name, s)
	return s
}

func checkAttributes(t *testing.T, name string, f *rules.Finding, e *expected) {
	t.Helper()
	in := f.Incident
	if in == nil {
		t.Errorf("%s: %s %q: finding has no incident", name, e.Kind, e.Product)
		return
	}
	bad := func(what, got, want string) {
		t.Errorf("%s: %s %q: %s %q, want %q (%s)", name, e.Kind, e.Product, what, got, want, f.Summary)
	}
	if in.Outcome != e.Outcome {
		bad("outcome", in.Outcome, e.Outcome)
	}
	if e.Reason != "" && in.Reason != e.Reason {
		bad("reason", in.Reason, e.Reason)
	}
	if e.Cause != "" && !strings.EqualFold(in.CauseCode, e.Cause) {
		bad("cause", in.CauseCode, e.Cause)
	}
	if f.Level.String() != e.Level {
		bad("level", f.Level.String(), e.Level)
	}
	if e.Rule != "" && f.RuleID != e.Rule {
		bad("rule", f.RuleID, e.Rule)
	}
	if e.Events > 0 && len(f.Events) < e.Events {
		bad("events", fmt.Sprint(len(f.Events)), fmt.Sprint(e.Events))
	}
	if f.Summary == "" {
		t.Errorf("%s: %s %q: no summary", name, e.Kind, e.Product)
	}
	for _, id := range e.Records {
		if !slices.ContainsFunc(f.Events, func(ev rules.EventRef) bool {
			return ev.RecordID == id && (e.File == "" || strings.HasSuffix(filepath.ToSlash(ev.File), e.File))
		}) {
			t.Errorf("%s: %s %q: record %d is not in the finding's evidence", name, e.Kind, e.Product, id)
		}
	}
}

// signalled reports whether a finding has rule id as its rule or signal.
func signalled(fs []rules.Finding, id string) bool {
	for _, f := range fs {
		if f.RuleID == id || f.Incident != nil && slices.Contains(f.Incident.Signals, id) {
			return true
		}
	}
	return false
}

func TestPrecisionScenarios(t *testing.T) {
	root := testenv.RepoRoot(t)
	scenarios, err := evtxwriter.LoadScenarios(filepath.Join(root, "testdata", "scenarios"))
	if err != nil {
		t.Fatal(err)
	}
	var total score
	for _, sc := range scenarios {
		dir := filepath.Join(root, "testdata", "evtx", sc.Name)
		if sc.Output.Dir != "" {
			continue // damaged single files: the parser's business
		}
		if _, err := os.Stat(dir); err != nil {
			if testenv.InCI() {
				t.Fatalf("no fixtures in %s: go generate ./internal/evtxwriter", dir)
			}
			t.Logf("%s: no fixtures yet, skipped", sc.Name)
			continue
		}
		res := analyse(t, dir)
		var want []expected
		for _, e := range sc.Expect.Incidents {
			want = append(want, expected{ExpectIncident: e})
		}
		total.add(judge(t, sc.Name, res.Findings, want))
		for _, id := range sc.Expect.MustFind {
			if !signalled(res.Findings, id) {
				t.Errorf("%s: must find %s: no finding has it as rule or signal", sc.Name, id)
			}
		}
		for _, id := range sc.Expect.MustNotFind {
			if signalled(res.Findings, id) {
				t.Errorf("%s: must not find %s, and a finding has it as rule or signal", sc.Name, id)
			}
		}
	}
	t.Logf("scenarios: %s", total)
	fmt.Printf("precision benchmark, scenarios: %s\n", total)
}

// corpusTruth is testdata/truth/corpus.yaml.
type corpusTruth struct {
	Incidents    []expected `yaml:"incidents"`
	NotIncidents []expected `yaml:"not_incidents"`
}

func loadCorpusTruth(t *testing.T) corpusTruth {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "testdata", "truth", "corpus.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var truth corpusTruth
	if err := yaml.Unmarshal(raw, &truth); err != nil {
		t.Fatalf("testdata/truth/corpus.yaml: %v", err)
	}
	return truth
}

func TestPrecisionCorpus(t *testing.T) {
	corpus := testenv.Corpus(t)
	if _, err := os.Stat(corpus); err != nil {
		if testenv.InCI() {
			t.Fatalf("CI=true and the corpus is missing: %v", err)
		}
		t.Skipf("no corpus at %s", corpus)
	}
	truth := loadCorpusTruth(t)
	var files []string
	for _, e := range append(slices.Clone(truth.Incidents), truth.NotIncidents...) {
		if p := filepath.Join(corpus, e.File); !slices.Contains(files, p) {
			files = append(files, p)
		}
	}
	var total score
	t.Run("named files", func(t *testing.T) {
		res := analyse(t, files...)
		total.add(judge(t, "corpus (named files)", res.Findings, truth.Incidents))
	})
	t.Run("whole corpus", func(t *testing.T) {
		if testing.Short() {
			t.Skip("-short")
		}
		res := analyse(t, corpus)
		s := judge(t, "corpus (all files)", res.Findings, truth.Incidents)
		fmt.Printf("precision benchmark, whole corpus: %s\n", s)
	})
	fmt.Printf("precision benchmark, corpus files named in the truth: %s\n", total)
}
