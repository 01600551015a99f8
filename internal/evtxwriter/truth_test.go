package evtxwriter

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/evtxscan/evtxscan/internal/testenv"
)

// truthEntry is one entry of testdata/truth/corpus.yaml (format at the top
// of that file): an incident of a real collection, or a near miss that must
// stay below medium.
type truthEntry struct {
	File     string   `yaml:"file"`
	Computer string   `yaml:"computer"`
	Kind     string   `yaml:"kind"`
	Product  string   `yaml:"product"`
	Outcome  string   `yaml:"outcome"`
	Cause    string   `yaml:"cause"`
	Level    string   `yaml:"level"`
	Rule     string   `yaml:"rule"`
	Records  []uint64 `yaml:"records"`
	Note     string   `yaml:"note"`
	Reason   string   `yaml:"reason"`
}

// TestCorpusTruth checks the corpus truth file: known keys and values, every
// entry explained and pointing at records of a corpus file that exists.
func TestCorpusTruth(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "testdata", "truth", "corpus.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var truth struct {
		Incidents    []truthEntry `yaml:"incidents"`
		NotIncidents []truthEntry `yaml:"not_incidents"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&truth); err != nil {
		t.Fatalf("testdata/truth/corpus.yaml: %v", err)
	}
	if len(truth.Incidents) == 0 || len(truth.NotIncidents) == 0 {
		t.Fatalf("truth has %d incidents and %d not_incidents; both lists are expected", len(truth.Incidents), len(truth.NotIncidents))
	}
	corpus := testenv.Corpus(t)
	check := func(list string, i int, e truthEntry, why string) {
		if e.File == "" || e.Computer == "" || len(e.Records) == 0 || why == "" {
			t.Errorf("%s[%d] %q: needs file, computer, records and its note/reason", list, i, e.Product)
		}
		if _, err := os.Stat(filepath.Join(corpus, filepath.FromSlash(e.File))); err != nil {
			t.Errorf("%s[%d]: %v", list, i, err)
		}
	}
	for i, e := range truth.Incidents {
		inc := ExpectIncident{Kind: e.Kind, Product: e.Product, Outcome: e.Outcome, Cause: e.Cause, Level: e.Level, Rule: e.Rule}
		if err := inc.Check(); err != nil {
			t.Errorf("incidents[%d]: %v", i, err)
		}
		check("incidents", i, e, e.Note)
	}
	for i, e := range truth.NotIncidents {
		if e.Level != "" {
			t.Errorf("not_incidents[%d] %q: has a level; it must stay below medium", i, e.Product)
		}
		check("not_incidents", i, e, e.Reason)
	}
}
