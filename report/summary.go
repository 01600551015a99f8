package report

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/evtxscan/evtxscan/parser"
	"github.com/evtxscan/evtxscan/rules"
	"github.com/evtxscan/evtxscan/uninstall"
)

// A view is the Summary prepared once for every format at Close: sorted
// findings and sessions, counts per rule and per product.
type view struct {
	s        *Summary
	title    string
	loc      *time.Location
	zone     string // zoneLabel(loc)
	events   int
	first    time.Time
	last     time.Time
	byLevel  map[string]int
	findings []rules.Finding    // by time, then rule id
	sessions []uninstallSession // by start, then product
	perRule  []ruleCount
	attempts []attemptCount
	// findingsByLevel counts findings per rules.Level.
	findingsByLevel [rules.LevelCritical + 1]int
	records         int // parsed + recovered records over all files
	recovered       int
	lost            int
	unreadable      int
	// incomplete lists the files read that lost evidence (records lost,
	// missing by the headers' accounting, truncated, chunks skipped or cut
	// off), with what they lost in words (parser.LossSummary).
	incomplete []incompleteFile
	chart      chart
}

type incompleteFile struct{ File, Lost string }

// A ruleCount is one line of "findings per rule and level".
type ruleCount struct {
	RuleID, Title string
	Level         rules.Level // the highest level this rule reported
	Count         int
	Computers     int
}

// An attemptCount is one line of "uninstall attempts per product and
// computer": how many sessions ended in each outcome.
type attemptCount struct {
	Product, Computer string
	Attempts          int
	Outcomes          []outcomeCount // in outcomeOrder
	LastOutcome       string
	LastStart         time.Time
}

type outcomeCount struct {
	Outcome string
	Count   int
}

// outcomeOrder is the order outcomes are listed in, worst first.
var outcomeOrder = []string{uninstall.OutcomeRollbackFailed, uninstall.OutcomeFailed, uninstall.OutcomeRolledBack, uninstall.OutcomeUnterminated,
	uninstall.OutcomeCrashed, uninstall.OutcomeSuperseded, uninstall.OutcomeRemoved, uninstall.OutcomeSucceeded}

// uninstallSession is the incident type of package uninstall.
type uninstallSession = uninstall.Incident

func (w *Writer) view(s *Summary) *view {
	v := &view{
		s: s, title: w.opts.Title, loc: w.loc, zone: zoneLabel(w.loc),
		events: w.events, first: w.first, last: w.last, byLevel: w.byLevel,
	}
	if v.title == "" {
		v.title = "evtxscan report"
	}
	v.findings = slices.Clone(s.Findings)
	slices.SortStableFunc(v.findings, func(a, b rules.Finding) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.RuleID, b.RuleID), cmp.Compare(a.Computer, b.Computer))
	})
	v.sessions = slices.Clone(s.Incidents)
	slices.SortStableFunc(v.sessions, func(a, b uninstallSession) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.Product, b.Product), cmp.Compare(a.Computer, b.Computer))
	})
	for _, f := range s.Files {
		v.records += f.Records + f.Recovered
		v.recovered += f.Recovered
		v.lost += f.Lost
		if f.Err != nil {
			v.unreadable++
		} else if f.Incomplete() {
			v.incomplete = append(v.incomplete, incompleteFile{f.File, parser.LossSummary(&f)})
		}
	}

	// Per rule id: a rule's title is fixed, the first one seen is shown.
	type ruleKey = string
	rc := map[ruleKey]*ruleCount{}
	computers := map[ruleKey]map[string]bool{}
	for i := range v.findings {
		f := &v.findings[i]
		if f.Level >= 0 && int(f.Level) < len(v.findingsByLevel) {
			v.findingsByLevel[f.Level]++
		}
		k := f.RuleID
		c := rc[k]
		if c == nil {
			c = &ruleCount{RuleID: f.RuleID, Title: f.Title, Level: f.Level}
			rc[k] = c
			computers[k] = map[string]bool{}
		}
		c.Count++
		c.Level = max(c.Level, f.Level)
		computers[k][f.Computer] = true
	}
	for k, c := range rc {
		c.Computers = len(computers[k])
		v.perRule = append(v.perRule, *c)
	}
	slices.SortFunc(v.perRule, func(a, b ruleCount) int {
		return cmp.Or(cmp.Compare(b.Level, a.Level), cmp.Compare(b.Count, a.Count), cmp.Compare(a.RuleID, b.RuleID))
	})

	type prodKey struct{ product, computer string }
	ac := map[prodKey]*attemptCount{}
	outcomes := map[prodKey]map[string]int{}
	for _, se := range v.sessions {
		k := prodKey{se.Product, se.Computer}
		a := ac[k]
		if a == nil {
			a = &attemptCount{Product: se.Product, Computer: se.Computer}
			ac[k] = a
			outcomes[k] = map[string]int{}
		}
		a.Attempts++
		outcomes[k][se.Outcome]++
		if !se.Start.Before(a.LastStart) {
			a.LastStart, a.LastOutcome = se.Start, se.Outcome
		}
	}
	for k, a := range ac {
		seen := map[string]bool{}
		for _, o := range outcomeOrder {
			if n := outcomes[k][o]; n > 0 {
				a.Outcomes = append(a.Outcomes, outcomeCount{o, n})
			}
			seen[o] = true
		}
		var other []string
		for o := range outcomes[k] {
			if !seen[o] {
				other = append(other, o)
			}
		}
		slices.Sort(other)
		for _, o := range other {
			a.Outcomes = append(a.Outcomes, outcomeCount{o, outcomes[k][o]})
		}
		v.attempts = append(v.attempts, *a)
	}
	slices.SortFunc(v.attempts, func(a, b attemptCount) int {
		return cmp.Or(cmp.Compare(outcomeRank(a.LastOutcome), outcomeRank(b.LastOutcome)),
			cmp.Compare(strings.ToLower(a.Product), strings.ToLower(b.Product)), cmp.Compare(a.Computer, b.Computer))
	})

	v.chart = buildChart(&w.eventHist, v.findings)
	return v
}

// outcomeRank orders outcomes worst first; unknown outcomes sort before
// "succeeded" since they deserve a look.
func outcomeRank(o string) int {
	if i := slices.Index(outcomeOrder, o); i >= 0 {
		if o == uninstall.OutcomeSucceeded {
			return len(outcomeOrder) + 1
		}
		return i
	}
	return len(outcomeOrder)
}

// Finding columns. Rules name their display fields freely; the report puts
// the common ones in their own columns and everything else in "details".
var (
	productFields = []string{"ProductName", "Product", "product", "AppName", "PackageFullName", "updateTitle", "ServiceName", "param1"}
	versionFields = []string{"ProductVersion", "Version", "version", "AppVersion"}
	statusFields  = []string{"Status", "status", "ErrorCode", "errorCode", "ExitCode", "HResult"}
	meaningFields = []string{"StatusMeaning", "ErrorMeaning", "status_meaning"}
	userFields    = []string{"User", "UserName", "UserID", "SubjectUserName", "TargetUserName", "user"}
)

// findingRow is a finding laid out in report columns.
type findingRow struct {
	Product, Version, Status, Meaning, User string
	Details                                 string // other display fields, "name=value; …"
	File                                    string // of the first event
	RecordID                                uint64 // of the first event
}

func layoutFinding(f *rules.Finding) findingRow {
	var r findingRow
	if in := f.Incident; in != nil {
		// An incident says what it is about: no guessing from field names.
		r.Product, r.Version, r.Status, r.Meaning = in.Product, in.Version, in.CauseCode, strings.TrimPrefix(in.CauseName+": "+in.CauseMeaning, ": ")
		r.User = f.Field("User")
		r.Details = f.Summary
		if n := len(f.Events); n > 1 {
			r.Details += " (" + itoa(n) + " events)"
		}
		if len(f.Events) > 0 {
			r.File, r.RecordID = f.Events[0].File, f.Events[0].RecordID
		}
		return r
	}
	used := map[int]bool{}
	pick := func(names []string) string {
		for _, n := range names {
			for i, d := range f.Fields {
				if d.Name == n && !used[i] && d.Value != "" {
					used[i] = true
					return d.Value
				}
			}
		}
		return ""
	}
	r.Product = pick(productFields)
	r.Version = pick(versionFields)
	r.Status = pick(statusFields)
	r.Meaning = pick(meaningFields)
	r.User = pick(userFields)
	var b strings.Builder
	for i, d := range f.Fields {
		if used[i] || d.Value == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(d.Name + "=" + d.Value)
	}
	if n := len(f.Events); n > 1 {
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(itoa(n) + " events")
	}
	r.Details = b.String()
	if len(f.Events) > 0 {
		r.File, r.RecordID = f.Events[0].File, f.Events[0].RecordID
	}
	return r
}

// sessionDuration says how long a session ran, or that it never ended.
func sessionDuration(se *uninstallSession) string {
	if se.End.IsZero() {
		return "never ended"
	}
	if se.Start.IsZero() {
		return ""
	}
	return se.End.Sub(se.Start).Round(time.Millisecond).String()
}

// displayTime formats t for xlsx and CSV; zero times are empty.
func (v *view) displayTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return displayTime(t, v.loc, 7)
}
