package report

import (
	"encoding/json"
	"time"
)

// RunInfoName is the run record written beside the CSV and JSONL files, whose
// line formats have no place for it: the build that wrote the reports and
// the run's counts. xlsx and HTML show the same in their summaries.
const RunInfoName = "run.json"

// runInfo is the content of run.json (a public interface, see README).
type runInfo struct {
	Tool       string  `json:"tool"`      // Summary.Tool: "evtxscan v1.2.3 (revision …, time, modified)"
	Started    string  `json:"started"`   // RFC 3339 UTC
	ElapsedS   float64 `json:"elapsed_s"` // seconds
	Files      int     `json:"files"`
	Records    int     `json:"records"` // parsed + recovered
	Lost       int     `json:"lost"`
	Events     int     `json:"events"` // in the timeline
	Findings   int     `json:"findings"`
	Rules      int     `json:"rules"`
	First      string  `json:"first,omitempty"` // first event, RFC 3339 UTC
	Last       string  `json:"last,omitempty"`
	TimeZone   string  `json:"display_time_zone"` // of xlsx, HTML and CSV
	Unreadable int     `json:"unreadable_files"`
}

// writeRunInfo writes run.json into the stage.
func writeRunInfo(st *stage, v *view) error {
	ri := runInfo{
		Tool: v.s.Tool, Started: dataTime(v.s.Started), ElapsedS: v.s.Elapsed.Round(time.Millisecond).Seconds(),
		Files: len(v.s.Files), Records: v.records, Lost: v.lost, Events: v.events, Findings: len(v.findings),
		Rules: v.s.Rules, First: dataTime(v.first), Last: dataTime(v.last), TimeZone: v.zone, Unreadable: v.unreadable,
	}
	b, err := json.MarshalIndent(ri, "", "  ")
	if err != nil {
		return err
	}
	ff, err := createFlat(st, RunInfoName)
	if err != nil {
		return err
	}
	if _, err := ff.w.Write(append(b, '\n')); err != nil {
		ff.abort()
		return writeErr(ff.path, err)
	}
	return ff.finish()
}
