package rules

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/evtxscan/evtxscan/internal/testenv"
	"github.com/evtxscan/evtxscan/parser"
)

// corpusEventFields reads every log of the shared corpus and returns, per
// channel, the EventData names and UserData leaf element names seen.
func corpusEventFields(t *testing.T) map[string]map[string]bool {
	root := testenv.Corpus(t)
	var files []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(strings.ToLower(p), ".evtx") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		t.Fatalf("no .evtx under %s", root)
	}
	out := map[string]map[string]bool{}
	for _, p := range files {
		f, err := parser.Open(p, parser.Options{})
		if err != nil {
			continue
		}
		for ev, err := range f.Events(context.Background()) {
			if err != nil || ev == nil || ev.System.Channel == "" {
				continue
			}
			m := out[ev.System.Channel]
			if m == nil {
				m = map[string]bool{}
				out[ev.System.Channel] = m
			}
			for _, d := range ev.EventData {
				if isFieldName(d.Name) {
					m[d.Name] = true
				}
			}
			if ev.UserData != nil {
				var walk func(n *parser.Node, depth int)
				walk = func(n *parser.Node, depth int) {
					for _, c := range n.Children {
						if len(c.Children) == 0 && isFieldName(c.Name) {
							m[c.Name] = true
						}
						if depth < 16 {
							walk(c, depth+1)
						}
					}
				}
				walk(ev.UserData, 0)
			}
		}
		f.Close()
	}
	return out
}

// isFieldName keeps names a rule could write as a field (no spaces, tabs or
// separators the embedded list uses).
func isFieldName(s string) bool {
	return s != "" && len(s) <= 128 && !strings.ContainsAny(s, "\t\r\n")
}

// TestEventFieldsCoverCorpus: the embedded list of event field names
// (eventfields.txt, which rules lint trusts) holds every name the corpus
// shows. Regenerate it with EVTXSCAN_UPDATE_EVENTFIELDS=1.
func TestEventFieldsCoverCorpus(t *testing.T) {
	seen := corpusEventFields(t)
	if os.Getenv("EVTXSCAN_UPDATE_EVENTFIELDS") == "1" {
		chans := make([]string, 0, len(seen))
		for c := range seen {
			chans = append(chans, c)
		}
		sort.Strings(chans)
		var b strings.Builder
		b.WriteString("# Event field names seen per channel in real logs (EventData Name attributes and\n")
		b.WriteString("# UserData leaf elements), one channel a line: channel<TAB>name<TAB>name…. rules lint trusts\n")
		b.WriteString("# these. Generated from ../shared/evtx-corpus by\n")
		b.WriteString("#   EVTXSCAN_UPDATE_EVENTFIELDS=1 go test ./rules -run TestEventFieldsCoverCorpus\n")
		for _, c := range chans {
			names := make([]string, 0, len(seen[c]))
			for n := range seen[c] {
				names = append(names, n)
			}
			sort.Strings(names)
			b.WriteString(c + "\t" + strings.Join(names, "\t") + "\n")
		}
		if err := os.WriteFile("eventfields.txt", []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote eventfields.txt: %d channels", len(chans))
		return
	}
	known := channelFields()
	missing := 0
	for c, names := range seen {
		for n := range names {
			if !known[c][n] {
				missing++
				if missing <= 10 {
					t.Errorf("%s: field %q is not in eventfields.txt", c, n)
				}
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d names missing: run EVTXSCAN_UPDATE_EVENTFIELDS=1 go test ./rules -run TestEventFieldsCoverCorpus", missing)
	}
}
