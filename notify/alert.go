package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/evtxscan/evtxscan/rules"
)

// Bounds on what one alert carries (event text is attacker-controlled).
const (
	maxValueLen    = 1000
	maxFields      = 20
	maxEventsShown = 10
)

// An Alert is one message to one target, as stored in the outbox.
type Alert struct {
	// ID is the idempotency key: the same for every delivery attempt.
	ID     string `json:"id"`
	Target string `json:"target"`

	RuleID      string    `json:"rule_id"`
	Title       string    `json:"title"`
	Level       string    `json:"level"`
	Description string    `json:"description,omitempty"`
	Computer    string    `json:"computer,omitempty"`
	Product     string    `json:"product,omitempty"`
	Time        time.Time `json:"time"` // first event of the first finding
	// Count is how many findings the alert stands for; Repeat is true for
	// the end-of-window alert that reports repeats of an earlier one.
	Count     int          `json:"count"`
	Repeat    bool         `json:"repeat,omitempty"`
	Since     time.Time    `json:"since,omitzero"` // start of the suppression window
	Fields    []AlertField `json:"fields,omitempty"`
	Events    []AlertEvent `json:"events,omitempty"`
	MoreEvent int          `json:"more_events,omitempty"` // events not listed

	// Delivery bookkeeping.
	Created     time.Time `json:"created"`
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
}

// AlertField is one display field of the finding.
type AlertField struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// AlertEvent points to one event of the finding.
type AlertEvent struct {
	File     string    `json:"file"`
	RecordID uint64    `json:"record_id"`
	EventID  uint16    `json:"event_id"`
	Provider string    `json:"provider"`
	Time     time.Time `json:"time"`
}

// productFields are the display fields that name what a finding is about,
// in order of preference.
var productFields = []string{"ProductName", "Product", "PackageFullName", "ServiceName", "ProductCode", "updateTitle"}

// productOf returns what the finding is about, for suppression and titles.
func productOf(f *rules.Finding) string {
	for _, want := range productFields {
		for _, d := range f.Fields {
			if strings.EqualFold(d.Name, want) && d.Value != "" {
				return d.Value
			}
		}
	}
	return ""
}

// suppressKey groups findings that count as repeats of each other.
func suppressKey(f *rules.Finding) string {
	return f.RuleID + "\x00" + strings.ToLower(f.Computer) + "\x00" + strings.ToLower(productOf(f))
}

// newAlert builds the alert for a finding.
func newAlert(f *rules.Finding, target string, count int, since, now time.Time, repeat bool) *Alert {
	a := &Alert{
		Target:      target,
		RuleID:      clip(f.RuleID),
		Title:       clip(f.Title),
		Level:       f.Level.String(),
		Description: clip(f.Description),
		Computer:    clip(f.Computer),
		Product:     clip(productOf(f)),
		Time:        f.Time.UTC(),
		Count:       count,
		Repeat:      repeat,
		Since:       since.UTC(),
		Created:     now.UTC(),
	}
	for i, d := range f.Fields {
		if i == maxFields {
			break
		}
		a.Fields = append(a.Fields, AlertField{Name: clip(d.Name), Value: clip(d.Value)})
	}
	for i, e := range f.Events {
		if i == maxEventsShown {
			a.MoreEvent = len(f.Events) - i
			break
		}
		a.Events = append(a.Events, AlertEvent{File: clip(e.File), RecordID: e.RecordID, EventID: e.EventID, Provider: clip(e.Provider), Time: e.Time.UTC()})
	}
	a.ID = alertID(target, f, since, repeat)
	return a
}

// alertID is the alert's idempotency key. It comes from what the alert is
// about — target, rule, computer, product and the finding's first event —
// never from the run, so every run that finds the same thing (two
// concurrent runs, a rerun over the same logs) makes the same id, and the
// outbox sends it once. A repeat alert adds the start of its suppression
// window (kept in the shared outbox, so the same for every run).
func alertID(target string, f *rules.Finding, since time.Time, repeat bool) string {
	s := target + "\x00" + suppressKey(f) + "\x00" + firstEventKey(f)
	if repeat {
		s += "\x00repeat\x00" + since.UTC().Format(time.RFC3339Nano)
	}
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:16])
}

// firstEventKey identifies a finding by its first event: its time and,
// when the finding lists events, the first one's provider, event id and
// record id. The file is left out: the same log read under another path
// (a copy, a live channel) is the same evidence.
func firstEventKey(f *rules.Finding) string {
	k := f.Time.UTC().Format(time.RFC3339Nano)
	if len(f.Events) > 0 {
		e := f.Events[0]
		k += fmt.Sprintf("\x00%s\x00%d\x00%d\x00%s", strings.ToLower(e.Provider), e.EventID, e.RecordID, e.Time.UTC().Format(time.RFC3339Nano))
	}
	return k
}

// clip cuts s to maxValueLen bytes on a rune boundary and makes it valid UTF-8.
func clip(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= maxValueLen {
		return s
	}
	cut := maxValueLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Headline is the one-line summary of an alert.
func (a *Alert) Headline() string {
	var b strings.Builder
	b.WriteString("[" + strings.ToUpper(a.Level) + "] " + a.Title)
	if a.Product != "" {
		b.WriteString(": " + a.Product)
	}
	if a.Computer != "" {
		b.WriteString(" on " + a.Computer)
	}
	switch {
	case a.Repeat:
		fmt.Fprintf(&b, " (repeated %d more times since %s)", a.Count, a.Since.Format(time.RFC3339))
	case a.Count > 1:
		fmt.Fprintf(&b, " (%d times)", a.Count)
	}
	return b.String()
}

// Text is the plain-text body of an alert (e-mail, and fallbacks).
func (a *Alert) Text() string {
	var b strings.Builder
	b.WriteString(a.Headline() + "\n\n")
	if a.Description != "" {
		b.WriteString(a.Description + "\n\n")
	}
	fmt.Fprintf(&b, "Rule:     %s\nLevel:    %s\nTime:     %s\n", a.RuleID, a.Level, a.Time.Format(time.RFC3339))
	if a.Computer != "" {
		fmt.Fprintf(&b, "Computer: %s\n", a.Computer)
	}
	if len(a.Fields) > 0 {
		b.WriteString("\n")
		for _, f := range a.Fields {
			fmt.Fprintf(&b, "%s: %s\n", f.Name, f.Value)
		}
	}
	if len(a.Events) > 0 {
		b.WriteString("\nEvents:\n")
		for _, e := range a.Events {
			fmt.Fprintf(&b, "  %s  %s %d  record %d  %s\n", e.Time.Format(time.RFC3339), e.Provider, e.EventID, e.RecordID, e.File)
		}
		if a.MoreEvent > 0 {
			fmt.Fprintf(&b, "  … and %d more\n", a.MoreEvent)
		}
	}
	b.WriteString("\nAlert id: " + a.ID + " (evtxscan)\n")
	return b.String()
}
