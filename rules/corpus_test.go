package rules

import (
	"context"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/evtxscan/evtxscan/internal/testenv"
	"github.com/evtxscan/evtxscan/parser"
)

// TestSigmaHQOverCorpus runs SigmaHQ's rules and the built-in pack over the
// attack samples of the shared corpus (real logs, parsed by our parser):
// known attacks must be named by the SigmaHQ rules written for them, and
// the run logs how many rules fire at all.
func TestSigmaHQOverCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("parses ~600 sample logs (~40 s); skipped with -short")
	}
	shared := testenv.Shared(t)
	rs := NewRuleset()
	if err := rs.AddPath(filepath.Join(shared, "sigma", "rules")); err != nil {
		t.Fatal(err)
	}
	if err := rs.AddBuiltin(); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(testenv.Corpus(t), "Yamato-Security+hayabusa-sample-evtx")
	want := map[string][]string{ // file (below root) → rule ids it must fire
		"EVTX-ATTACK-SAMPLES/Execution/rogue_msi_url_1040_1042.evtx":                                                                  {"5594e67a-7f92-4a04-b65d-1a42fd824a60"}, // MSI Installation From Web
		"EVTX-to-MITRE-Attack/TA0008-Lateral Movement/T1550-Use Alternate Authentication Material/ID4624-Mimikatz Pass the hash.evtx": {"8eef149c-bd26-49f2-9e5a-9b00e3af499b"}, // Pass the Hash Activity 2
		"EVTX-to-MITRE-Attack/TA0007-Discovery/T1069-Permission Groups Discovery/ID4688-Group discovery via commandline.evtx":         {"d95de845-b83c-4a9a-8a6a-4fc802ebf6c0"}, // net group recon (4688)
		"EVTX-to-MITRE-Attack/TA0011-Command and Control/T1572-Protocol tunneling/ID4688-netsh RDP port forwarding abuse.evtx":        {"782d6f3e-4c5d-4b8c-92a3-1d05fed72e63"}, // netsh RDP port forwarding
		"DeepBlueCLI/many-events-application.evtx":                                                                                    {"msi_operation_failed", "msi_uninstall_error_cause"},
	}
	var files []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".evtx") {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	if len(files) == 0 {
		t.Fatalf("no .evtx under %s", root)
	}
	fired := map[string]bool{}
	events, findings := 0, 0
	for _, path := range files {
		rel := filepath.ToSlash(strings.TrimPrefix(path, root+string(filepath.Separator)))
		e, err := rs.NewEngine()
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.Open(path, parser.Options{})
		if err != nil {
			t.Logf("%s: %v", rel, err)
			continue
		}
		got := map[string]bool{}
		emit := func(fd Finding) {
			got[fd.RuleID], fired[fd.RuleID] = true, true
			findings++
		}
		for ev, err := range f.Events(context.Background()) {
			if err == nil && ev != nil {
				events++
				e.Process(ev, emit)
			}
		}
		e.Flush(emit)
		f.Close()
		for _, id := range want[rel] {
			if !got[id] {
				t.Errorf("%s: rule %s did not fire", rel, id)
			}
		}
		delete(want, rel)
	}
	for rel := range want {
		t.Errorf("%s: sample not found", rel)
	}
	t.Logf("%d files, %d events, %d findings, %d distinct rules fired", len(files), events, findings, len(fired))
	if len(fired) < 250 {
		t.Errorf("only %d distinct rules fired over the attack samples; want ≥ 250 (334 when written)", len(fired))
	}
}
