package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/evtxscan/evtxscan/analysis"
)

func TestProgressBarOnlyOnTerminals(t *testing.T) {
	var buf bytes.Buffer
	p := &analysis.Progress{}
	b := newProgressBar(&buf, p, 3, 3<<20, false)
	if b.on {
		t.Fatal("a bytes.Buffer is not a terminal: the bar must stay off")
	}
	b.start()
	b.stop()
	if buf.Len() != 0 {
		t.Errorf("bar wrote to a pipe: %q", buf.String())
	}
}

func TestProgressBarLine(t *testing.T) {
	var buf bytes.Buffer
	p := &analysis.Progress{}
	p.Phase.Store("reading")
	p.Files.Store(2)
	p.Bytes.Store(2 << 20)
	p.Events.Store(12345)
	p.Findings.Store(7)
	b := &progressBar{w: &buf, p: p, files: 3, total: 3 << 20, on: true, begin: time.Now().Add(-time.Second)}
	b.draw()
	line := buf.String()
	for _, want := range []string{"reading", "2/3 files", "2.0/3.0 MiB", "12345 events", "7 findings", "MiB/s"} {
		if !strings.Contains(line, want) {
			t.Errorf("progress line %q lacks %q", line, want)
		}
	}
	if !strings.HasPrefix(line, "\r") {
		t.Errorf("progress line should redraw in place: %q", line)
	}
}
