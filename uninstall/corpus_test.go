package uninstall

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/evtxscan/evtxscan/internal/testenv"
	"github.com/evtxscan/evtxscan/parser"
)

// Real logs with Windows Installer activity but no uninstall (the public
// corpus holds no 1034, see its INDEX.md): installs, repairs, failed
// installs and 173 bare 1040/1042 pairs must give no uninstall session.
func TestCorpusNearMisses(t *testing.T) {
	corpus := testenv.Corpus(t)
	for _, file := range []string{
		"Yamato-Security+hayabusa-sample-evtx/DeepBlueCLI/many-events-application.evtx",
		"Yamato-Security+hayabusa-sample-evtx/EVTX-ATTACK-SAMPLES/Execution/rogue_msi_url_1040_1042.evtx",
		"AndrewRathbun+DFIRArtifactMuseum/Windows/EventLogs/Win10/RathbunVM/RathbunVM_W10EventLogs_7z/Application.evtx",
		"4renwald+evtx-python/samples/Application.evtx",
	} {
		t.Run(filepath.Base(filepath.Dir(file))+"/"+filepath.Base(file), func(t *testing.T) {
			f, err := parser.Open(filepath.Join(corpus, file), parser.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			buffered, ordered := NewTracker(), NewTracker(Ordered())
			msi := 0
			for ev, err := range f.Events(context.Background()) {
				if err != nil {
					continue
				}
				if ev.System.Provider == "MsiInstaller" {
					msi++
				}
				buffered.Add(ev)
				ordered.Add(ev)
			}
			if msi == 0 {
				t.Fatal("no MsiInstaller events read")
			}
			for name, tr := range map[string]*Tracker{"buffered": buffered, "ordered": ordered} {
				if got := tr.Sessions(); len(got) != 0 {
					t.Errorf("%s: %d sessions from a log without uninstalls, first %+v", name, len(got), got[0])
				}
			}
		})
	}
}
