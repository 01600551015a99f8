package report_test

import (
	"fmt"
	"os"
	"time"

	"github.com/evtxscan/evtxscan/parser"
	"github.com/evtxscan/evtxscan/report"
)

func ExampleParseLocation() {
	for _, tz := range []string{"UTC", "Europe/Berlin", "+05:30", "Mars/Olympus"} {
		loc, err := report.ParseLocation(tz)
		if err != nil {
			fmt.Println(err)
			continue
		}
		t := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC).In(loc)
		fmt.Println(t.Format("2006-01-02 15:04 -07:00"))
	}
	// Output:
	// 2026-07-01 12:00 +00:00
	// 2026-07-01 14:00 +02:00
	// 2026-07-01 17:30 +05:30
	// time zone "Mars/Olympus" is not known: write an IANA name such as Europe/Berlin or America/New_York, UTC, or an offset such as +02:00
}

func ExampleWriter() {
	dir, _ := os.MkdirTemp("", "evtxscan-report")
	defer os.RemoveAll(dir)
	w, err := report.New(report.Options{Dir: dir, Formats: []string{"csv", "jsonl"}, Title: "example"})
	if err != nil {
		fmt.Println(err)
		return
	}
	ev := &parser.Event{System: parser.System{Provider: "MsiInstaller", EventID: 1034, Channel: "Application",
		TimeCreated: time.Date(2026, 2, 10, 10, 0, 0, 0, time.UTC)}}
	_ = w.AddEvent(ev) // in time order
	if err := w.Close(report.Summary{Tool: "evtxscan example"}); err != nil {
		fmt.Println(err)
		return
	}
	names, _ := os.ReadDir(dir)
	for _, n := range names {
		fmt.Println(n.Name())
	}
	// Output:
	// findings.csv
	// findings.jsonl
	// run.json
	// timeline.csv
	// timeline.jsonl
}
