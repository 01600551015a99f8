package live

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/evtxscan/evtxscan/internal/atomicfile"
	"io"
	"os"
	"time"
)

// stateVersion is the format version of the state file.
const stateVersion = 1

// maxStateSize bounds what LoadState reads: a state file holds a few
// channels, so anything larger is not ours.
const maxStateSize = 1 << 20

// State is the content of the state file: where each channel was left.
type State struct {
	Version  int                     `json:"version"`
	Channels map[string]ChannelState `json:"channels"`
}

// ChannelState is one channel's bookmark.
type ChannelState struct {
	// RecordID is the EventRecordID of the last record handled.
	RecordID uint64 `json:"record_id"`
	// Time is that record's TimeCreated (for people reading the file).
	Time time.Time `json:"time,omitzero"`
	// Saved is when the bookmark was written.
	Saved time.Time `json:"saved,omitzero"`
	// LogCreated is the log's creation time (EvtLogCreationTime, a
	// FILETIME) when the record was read: clearing a log changes it, so a
	// log cleared and refilled past RecordID is told apart.
	LogCreated uint64 `json:"log_created,omitempty"`
}

// ErrStateDamaged is the class of errors LoadState returns for a state file
// that exists but cannot be used.
var ErrStateDamaged = errors.New("live: state file damaged")

// LoadState reads the state file at path. A missing file is a first run: an
// empty State and no error. A file that cannot be decoded returns an empty
// State and an error wrapping ErrStateDamaged that names the file and says
// what happens next.
func LoadState(path string) (State, error) {
	empty := State{Version: stateVersion, Channels: map[string]ChannelState{}}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return empty, nil
	}
	if err != nil {
		return empty, fmt.Errorf("live: cannot read state file %s: %w (check its permissions, or pass --state with another path)", path, err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, maxStateSize+1)); err != nil {
		return empty, fmt.Errorf("live: cannot read state file %s: %w", path, err)
	}
	damaged := func(why string) (State, error) {
		return empty, fmt.Errorf("%w: %s %s; every channel will be read again from its oldest record and the file rewritten after this run", ErrStateDamaged, path, why)
	}
	if buf.Len() > maxStateSize {
		return damaged(fmt.Sprintf("is larger than %d bytes", maxStateSize))
	}
	var st State
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return damaged("is not a state file (" + err.Error() + ")")
	}
	if dec.More() {
		return damaged("has data after the state object")
	}
	if st.Version != stateVersion {
		return damaged(fmt.Sprintf("has version %d, want %d", st.Version, stateVersion))
	}
	if st.Channels == nil {
		st.Channels = map[string]ChannelState{}
	}
	for name := range st.Channels {
		if name == "" {
			return damaged("names an empty channel")
		}
	}
	return st, nil
}

// SaveState writes st to path atomically: a temporary file in the same
// folder is written, synced and renamed over path, so a crash leaves either
// the old or the new state, never a torn one. The folder is created.
func SaveState(path string, st State) error {
	st.Version = stateVersion
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("live: encode state: %w", err)
	}
	data = append(data, '\n')
	if err := atomicfile.WriteFile(path, data); err != nil {
		return fmt.Errorf("live: cannot write state file %s: %w (check the folder's permissions, or pass --state with another path)", path, err)
	}
	return nil
}

// quarantineState renames a damaged state file out of the way (kept for
// inspection) and returns its new name.
func quarantineState(path string, now time.Time) (string, error) {
	to := path + ".damaged-" + now.UTC().Format("20060102T150405Z")
	return to, os.Rename(path, to)
}
