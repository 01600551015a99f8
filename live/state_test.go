package live

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadState(t *testing.T) {
	tests := []struct {
		name    string
		content string // "" with missing: no file
		missing bool
		wantErr string
		wantID  uint64
	}{
		{name: "first run", missing: true},
		{name: "good", content: `{"version":1,"channels":{"System":{"record_id":42,"time":"2026-01-01T00:00:00Z"}}}`, wantID: 42},
		{name: "truncated", content: `{"version":1,"channels":{"System":{"record_id":4`, wantErr: "is not a state file"},
		{name: "empty file", content: ``, wantErr: "is not a state file"},
		{name: "zeros from a crash", content: "\x00\x00\x00\x00", wantErr: "is not a state file"},
		{name: "other JSON", content: `{"registry":[]}`, wantErr: "is not a state file"},
		{name: "trailing data", content: `{"version":1,"channels":{}} {}`, wantErr: "has data after"},
		{name: "future version", content: `{"version":2,"channels":{}}`, wantErr: "has version 2"},
		{name: "negative id", content: `{"version":1,"channels":{"System":{"record_id":-1}}}`, wantErr: "is not a state file"},
		{name: "empty channel name", content: `{"version":1,"channels":{"":{"record_id":1}}}`, wantErr: "empty channel"},
		{name: "huge", content: `{"version":1,"channels":{}}` + strings.Repeat(" ", maxStateSize), wantErr: "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.json")
			if !tt.missing {
				if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			st, err := LoadState(path)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if st.Channels == nil || st.Channels["System"].RecordID != tt.wantID {
					t.Errorf("state %+v", st)
				}
				return
			}
			if !errors.Is(err, ErrStateDamaged) || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
				t.Fatalf("error %v, want ErrStateDamaged naming %s and containing %q", err, path, tt.wantErr)
			}
			if st.Channels == nil || len(st.Channels) != 0 {
				t.Errorf("state after error %+v, want empty", st)
			}
		})
	}
}

func TestSaveStateIsAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	for i := uint64(1); i <= 3; i++ {
		st := State{Channels: map[string]ChannelState{"System": {RecordID: i, Time: time.Unix(int64(i), 0).UTC()}}}
		if err := SaveState(path, st); err != nil {
			t.Fatal(err)
		}
		got, err := LoadState(path)
		if err != nil || got.Channels["System"].RecordID != i || got.Version != stateVersion {
			t.Fatalf("round %d: %+v %v", i, got, err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("folder holds %v, want only state.json (no temporary files left)", names)
	}
	// A crash between writing the temporary file and the rename leaves
	// the old state intact and readable.
	if err := os.WriteFile(filepath.Join(dir, ".state.json.123.tmp"), []byte("{garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := LoadState(path); err != nil || got.Channels["System"].RecordID != 3 {
		t.Errorf("after a crashed write: %+v %v", got, err)
	}
}

func TestSaveStateErrorNamesFile(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	os.WriteFile(blocker, nil, 0o600)
	path := filepath.Join(blocker, "state.json") // parent is a file
	err := SaveState(path, State{})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "--state") {
		t.Errorf("error %v", err)
	}
}
