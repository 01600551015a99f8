package rules

import "time"

// A Finding is what a rule reports: one detection (a single event) or one
// correlation (every event that made it). Findings are a public interface:
// reports and scripts read them as findings.jsonl.
type Finding struct {
	RuleID      string    // the rule's stable id
	Title       string    // the rule's title
	Level       Level     // informational … critical
	Description string    // the rule's one-line description
	Time        time.Time // time of the first event, UTC
	Computer    string
	// Fields are the rule's display fields (product, version, product code,
	// status and its meaning, user, …) in the order the rule lists them.
	Fields []DisplayField
	// Events lists every event that made the finding, in time order.
	Events []EventRef
	Tags   []string
	// Summary is one line for an admin (what happened to which product on
	// which computer, the root cause, what to do next); set for findings
	// that are incidents.
	Summary string
	// Incident is set when the finding is an incident the uninstall
	// domain assembled from several events and signals.
	Incident *IncidentInfo
}

// IncidentInfo is the incident behind a finding, as findings.jsonl shows it
// (package uninstall builds it).
type IncidentInfo struct {
	Kind         string // install, removal, upgrade, repair, patch, appx_removal, …
	Outcome      string // succeeded, failed, rolled back, rollback failed, unterminated, …
	Reason       string // why it never ended ("power loss", "log ends", "unknown"…) or "restart required"
	Product      string
	Version      string
	ProductCode  string
	CauseCode    string // the root error, e.g. "1722"
	CauseName    string // e.g. "custom action failed"
	CauseMeaning string // e.g. "a program run as part of the setup did not finish as expected"
	Advice       string // what to do next
	// Signals are the rule ids of every finding folded into the incident,
	// the finding's own RuleID first.
	Signals []string
}

// A DisplayField is one named value a finding shows.
type DisplayField struct {
	Name  string
	Value string
}

// Field returns the value of the display field named name.
func (f *Finding) Field(name string) string {
	for _, d := range f.Fields {
		if d.Name == name {
			return d.Value
		}
	}
	return ""
}

// An EventRef points to one event of a finding.
type EventRef struct {
	File     string
	RecordID uint64
	EventID  uint16
	Provider string
	Channel  string
	Time     time.Time
}

// Level is a Sigma rule level.
type Level int

// Sigma levels, lowest first.
const (
	LevelInformational Level = iota
	LevelLow
	LevelMedium
	LevelHigh
	LevelCritical
)

var levelNames = [...]string{"informational", "low", "medium", "high", "critical"}

// String returns the Sigma name of the level.
func (l Level) String() string {
	if l < 0 || int(l) >= len(levelNames) {
		return "unknown"
	}
	return levelNames[l]
}

// ParseLevel parses a Sigma level name (case-sensitive, as Sigma writes it).
func ParseLevel(s string) (Level, bool) {
	for i, n := range levelNames {
		if n == s {
			return Level(i), true
		}
	}
	return 0, false
}
