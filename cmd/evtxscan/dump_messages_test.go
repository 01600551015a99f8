package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evtxscan/evtxscan/internal/testenv"
)

type dumpLine struct {
	File      string            `json:"file"`
	RecordID  uint64            `json:"record_id"`
	EventID   int               `json:"event_id"`
	Provider  string            `json:"provider"`
	EventData map[string]string `json:"event_data"`
	Message   *string           `json:"message"`
}

func dumpLines(t *testing.T, args ...string) ([]dumpLine, int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"dump"}, args...), &stdout, &stderr)
	var out []dumpLine
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var d dumpLine
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("bad JSONL line: %v\n%s", err, sc.Bytes())
		}
		out = append(out, d)
	}
	return out, code, stderr.String()
}

// The dump JSONL carries "message", the Event Viewer text, for events whose
// template the table knows.
func TestDumpCarriesMessage(t *testing.T) {
	root := testenv.RepoRoot(t)
	lines, code, stderr := dumpLines(t, filepath.Join(root, "testdata", "evtx", "s1_custom_action_rollback", "Application.evtx"))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	found := false
	for _, d := range lines {
		if d.Provider == "MsiInstaller" && d.EventID == 1034 {
			found = true
			if d.Message == nil {
				t.Fatal("MsiInstaller 1034 has no message")
			}
			want := "Windows Installer removed the product. Product Name: Contoso Agent. Product Version: 4.2.0.17. Product Language: 1033. Manufacturer: Contoso Ltd.. Removal success or error status: 1603."
			if *d.Message != want {
				t.Errorf("message:\n got %q\nwant %q", *d.Message, want)
			}
		}
	}
	if !found {
		t.Fatal("no MsiInstaller 1034 in the S1 fixture")
	}
}

// dump reads zip archives in place, like scan.
func TestDumpZip(t *testing.T) {
	root := testenv.RepoRoot(t)
	dir := filepath.Join(root, "testdata", "evtx", "s2_upgrade_cannot_remove_old")
	zipPath := filepath.Join(t.TempDir(), "c.zip")
	zipFolder(t, dir, zipPath)
	fromDir, code, stderr := dumpLines(t, dir)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	fromZip, code, stderr := dumpLines(t, zipPath)
	if code != exitOK {
		t.Fatalf("zip: exit %d: %s", code, stderr)
	}
	if len(fromZip) != len(fromDir) || len(fromZip) == 0 {
		t.Fatalf("zip gave %d records, folder %d", len(fromZip), len(fromDir))
	}
	if !strings.HasPrefix(fromZip[0].File, zipPath+"!") {
		t.Errorf("zip member name %q should start with %q", fromZip[0].File, zipPath+"!")
	}
}
