package messages

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/evtxscan/evtxscan/internal/testenv"
	"github.com/evtxscan/evtxscan/parser"
)

var leftoverInsert = regexp.MustCompile(`%[1-9][0-9]?|%\{[A-Za-z]`)

// TestFixturesRender renders every event of the generated scenario logs
// (testdata/evtx/**): every provider and id the scenarios use that has a
// text gets every insert filled, and nothing panics on the hostile file.
func TestFixturesRender(t *testing.T) {
	root := filepath.Join(testenv.RepoRoot(t), "testdata", "evtx")
	var files []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".evtx") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		t.Skip("no fixtures in testdata/evtx yet")
	}
	tbl := Builtin()
	rendered := 0
	for _, path := range files {
		f, err := parser.Open(path, parser.Options{})
		if err != nil {
			continue // damaged fixtures are the parser's tests
		}
		for ev, err := range f.Events(context.Background()) {
			if err != nil {
				continue
			}
			msg, ok := tbl.Render(ev)
			if !ok {
				continue
			}
			rendered++
			for _, m := range leftoverInsert.FindAllString(msg, -1) {
				if !valuesContain(ev, m) {
					rel, _ := filepath.Rel(root, path)
					t.Errorf("%s record %d (%s %d): %s left unfilled in %q", rel, ev.System.EventRecordID, ev.System.Provider, ev.System.EventID, m, msg)
				}
			}
		}
		f.Close()
	}
	if rendered == 0 {
		t.Error("no fixture event had a text")
	}
	t.Logf("%d events of %d files rendered from a template", rendered, len(files))
}

func valuesContain(ev *parser.Event, s string) bool {
	for _, d := range ev.EventData {
		if strings.Contains(d.Value, s) {
			return true
		}
	}
	for _, v := range ev.InsertionStrings {
		if strings.Contains(v, s) {
			return true
		}
	}
	return false
}
