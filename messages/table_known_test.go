package messages

import (
	"testing"

	"github.com/evtxscan/evtxscan/parser"
)

func TestKnown(t *testing.T) {
	tab := Builtin()
	known := &parser.Event{System: parser.System{Provider: "MsiInstaller", EventID: 11725}, EventData: []parser.Field{{Value: "Product: X -- Removal failed."}}}
	if m, ok := tab.Known(known); !ok || m != "Product: X -- Removal failed." {
		t.Errorf("Known(11725) = %q, %v", m, ok)
	}
	unknown := &parser.Event{System: parser.System{Provider: "Nobody", EventID: 1}, EventData: []parser.Field{{Value: "x"}}}
	if m, ok := tab.Known(unknown); ok || m != "" {
		t.Errorf("Known(unknown) = %q, %v; want no text (no fallback)", m, ok)
	}
	forwarded := &parser.Event{System: parser.System{Provider: "Nobody", EventID: 1}, RenderedMessage: "Windows said so.\r\n"}
	if m, ok := tab.Known(forwarded); !ok || m != "Windows said so." {
		t.Errorf("Known(forwarded) = %q, %v", m, ok)
	}
}
