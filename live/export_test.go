package live

import (
	"fmt"
	"testing"
)

func TestEntriesFor(t *testing.T) {
	events := []exportedEvent{
		{ID: 1, Version: 0, Template: "Started %1."},
		{ID: 1, Version: 1, Template: "Started %1."}, // same text: one entry
		{ID: 2, Version: 0, Template: "Failed %1."},
		{ID: 2, Version: 1, Template: "Failed %1 with %2."}, // differs: narrowed
		{ID: 3, Version: 0, Template: ""},
		{ID: 0x10004, Version: 0, Template: "Low id %1."}, // manifest ids above 16 bits keep the low part
	}
	got := entriesFor("P", "src", events)
	var s []string
	for _, e := range got {
		v := "*"
		if e.Version != nil {
			v = fmt.Sprint(*e.Version)
		}
		s = append(s, fmt.Sprintf("%s/%d/v%s=%s", e.Provider, e.EventID, v, e.Template))
	}
	want := "[P/1/v*=Started %1. P/2/v0=Failed %1. P/2/v1=Failed %1 with %2. P/4/v*=Low id %1.]"
	if fmt.Sprint(s) != want {
		t.Errorf("got  %v\nwant %s", s, want)
	}
	if got[0].Source != "src" {
		t.Errorf("source %q", got[0].Source)
	}
}
