package parser

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evtxscan/evtxscan/internal/testenv"
)

// Stale slack copies of live records are counted in Stats.StaleCopies (and
// named in a Problem), never yielded twice.
func TestStatsStaleCopies(t *testing.T) {
	path := filepath.Join(testenv.Corpus(t), "omerbenamram+evtx", "samples", "security.evtx")
	for _, recover := range []bool{false, true} {
		f, err := Open(path, Options{Recover: recover})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[uint64]int{}
		for ev, err := range f.Events(context.Background()) {
			if err == nil {
				seen[ev.Source.RecordID]++
			}
		}
		f.Close()
		st := f.Stats()
		for id, n := range seen {
			if n > 1 {
				t.Errorf("recover=%v: record %d yielded %d times", recover, id, n)
			}
		}
		if !recover {
			if st.StaleCopies != 0 {
				t.Errorf("without Recover StaleCopies = %d, want 0", st.StaleCopies)
			}
			continue
		}
		if st.StaleCopies == 0 {
			t.Fatal("with Recover: StaleCopies = 0, want the slack copies of live records counted")
		}
		named := false
		for _, p := range st.Problems {
			if strings.Contains(p.Reason, "stale copies") {
				named = true
			}
		}
		if !named {
			t.Error("no Problem names the stale copies")
		}
		t.Logf("security.evtx: %d records, %d recovered, %d stale copies", st.Records, st.Recovered, st.StaleCopies)
	}
}

func TestIsZero(t *testing.T) {
	for _, tc := range []struct {
		b    []byte
		want bool
	}{
		{nil, true}, {make([]byte, 13), true}, {make([]byte, 65536), true},
		{append(make([]byte, 12), 1), false}, {append([]byte{1}, make([]byte, 20)...), false},
		{append(make([]byte, 8), 0, 0, 2), false}, {[]byte("ElfChnk\x00"), false},
	} {
		if got := isZero(tc.b); got != tc.want {
			t.Errorf("isZero(% x) = %v, want %v", tc.b, got, tc.want)
		}
	}
}
