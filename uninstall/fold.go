package uninstall

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/evtxscan/evtxscan/rules"
)

// groupWindow: standalone detections of one rule about the same subject on
// one computer this close together are one incident (Application Error
// 1000 and its WER 1001, two "sysmon -u" a second apart).
const groupWindow = 2 * time.Minute

// commandWindow: a process creation naming a product (wmic … call
// uninstall, msiexec /x) belongs to that product's removal starting this
// soon after.
const commandWindow = 30 * time.Minute

// ruleKinds gives the incident kind of a standalone detection.
var ruleKinds = map[string]string{
	"security_product_uninstall":     KindAgentRemoval,
	"uninstaller_crash_or_hang":      KindUninstallerCrash,
	"appx_removal_failed":            KindAppxRemoval,
	"os_update_uninstall_failed":     KindUpdateRemoval,
	"msi_uninstall_privilege_denied": KindAppxRemoval, // the MSI ones fold into their session
}

type eventKey struct {
	file     string
	recordID uint64
	eventID  uint16
}

func keyOf(e rules.EventRef) eventKey { return eventKey{e.File, e.RecordID, e.EventID} }

// Fold turns the rules' findings and the incidents into the findings a
// report shows: a finding whose events belong to an incident is folded into
// it (its rule id becomes one of the incident's Signals); each incident that
// needs attention, or that signals point at, becomes ONE finding listing
// all its evidence, with a Summary and its Incident; detections that belong
// to no incident stay standalone, those of one rule about the same subject
// on one computer within two minutes merged into one. catalog describes the
// loaded rules: an incident without signals becomes a finding only when its
// rule is loaded (no rules, no findings). incidents get their Signals set.
// The result is sorted by time, then level (highest first), then rule id.
func Fold(findings []rules.Finding, incidents []Incident, catalog []rules.RuleInfo) []rules.Finding {
	info := make(map[string]rules.RuleInfo, len(catalog))
	for _, r := range catalog {
		info[r.ID] = r
	}
	owner := make(map[eventKey]int)
	for i := range incidents {
		for _, e := range incidents[i].Events {
			if _, taken := owner[keyOf(e)]; !taken {
				owner[keyOf(e)] = i
			}
		}
	}
	folded := make([][]*rules.Finding, len(incidents))
	var standalone []*rules.Finding
	for fi := range findings {
		f := &findings[fi]
		if i := bestIncident(f, owner, incidents); i >= 0 {
			folded[i] = append(folded[i], f)
			continue
		}
		if i := commandIncident(f, incidents); i >= 0 {
			folded[i] = append(folded[i], f)
			continue
		}
		standalone = append(standalone, f)
	}

	var out []rules.Finding
	for i := range incidents {
		in := &incidents[i]
		for _, f := range folded[i] {
			if f.RuleID == "security_product_uninstall" && in.Kind == KindRemoval {
				in.Kind = KindAgentRemoval
				in.judge()
			}
		}
		signals := slices.Clone(in.Signals) // the domain's own (a removed product's service failing)
		kept := folded[i][:0]
		for _, f := range folded[i] {
			if contradicts(in, f.RuleID) {
				continue
			}
			kept = append(kept, f)
			signals = append(signals, f.RuleID)
		}
		folded[i] = kept
		slices.Sort(signals)
		in.Signals = slices.Compact(signals)
		if f, ok := incidentFinding(in, folded[i], info); ok {
			out = append(out, f)
		}
	}
	out = append(out, groupStandalone(standalone)...)
	slices.SortStableFunc(out, func(a, b rules.Finding) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(b.Level, a.Level), cmp.Compare(a.RuleID, b.RuleID))
	})
	return out
}

// bestIncident is the incident holding most of f's events (-1: none).
func bestIncident(f *rules.Finding, owner map[eventKey]int, incidents []Incident) int {
	best, n := -1, 0
	counts := map[int]int{}
	for _, e := range f.Events {
		i, ok := owner[keyOf(e)]
		if !ok {
			continue
		}
		counts[i]++
		if c := counts[i]; c > n || c == n && incidents[i].Start.After(incidents[best].Start) {
			best, n = i, c
		}
	}
	return best
}

// commandIncident ties a process-creation detection (wmic … call uninstall,
// msiexec /x) to the removal it started: same computer, starting within
// commandWindow after it, whose product name or code the command line names.
func commandIncident(f *rules.Finding, incidents []Incident) int {
	cmdline := strings.ToLower(f.Field("CommandLine"))
	if cmdline == "" {
		return -1
	}
	for i := range incidents {
		in := &incidents[i]
		if !isRemoval(in.Kind) || !strings.EqualFold(in.Computer, f.Computer) {
			continue
		}
		if d := in.Start.Sub(f.Time); d < -time.Minute || d > commandWindow {
			continue
		}
		if in.Product != "" && strings.Contains(cmdline, strings.ToLower(in.Product)) ||
			in.ProductCode != "" && strings.Contains(cmdline, strings.ToLower(in.ProductCode)) {
			return i
		}
	}
	return -1
}

// contradicts reports whether a signal says what the incident's evidence
// denies: an inferred rollback when 11712 says restoring was impossible, a
// removal's failure status in an operation that succeeded.
func contradicts(in *Incident, rule string) bool {
	switch rule {
	case "msi_rollback_inferred", "msi_rollback_service_restored":
		return in.Outcome != OutcomeRolledBack
	case "msi_session_unterminated":
		return !in.End.IsZero() // its 1042 was found (logged by the other msiexec process)
	}
	return false
}

// primaryOrder ranks signals when the incident's own rule is not loaded.
func signalRank(f *rules.Finding) int { return int(f.Level) }

// incidentFinding makes the one finding of an incident, or reports false
// when it needs none.
func incidentFinding(in *Incident, signals []*rules.Finding, info map[string]rules.RuleInfo) (rules.Finding, bool) {
	agentSignal := false
	for _, f := range signals {
		if f.RuleID == "security_product_uninstall" {
			agentSignal = true
		}
	}
	level := in.Level
	if !in.Attention {
		// A successful install, upgrade (an agent's too) or repair, with
		// its restart: not a finding.
		return rules.Finding{}, false
	}
	_ = agentSignal
	rule := in.Rule
	var primary *rules.Finding
	for _, f := range signals {
		if f.RuleID == rule {
			primary = f
			break
		}
	}
	ri, loaded := info[rule]
	if primary == nil && !loaded {
		// The domain's rule is not loaded: the strongest signal speaks, or
		// nothing does.
		for _, f := range signals {
			if primary == nil || signalRank(f) > signalRank(primary) {
				primary = f
			}
		}
		if primary == nil {
			return rules.Finding{}, false
		}
		rule = primary.RuleID
		ri = info[rule]
	}
	f := rules.Finding{RuleID: rule, Title: ri.Title, Description: ri.Description, Tags: ri.Tags, Level: level,
		Computer: in.Computer, Time: in.Start}
	if primary != nil {
		f.Title, f.Description, f.Tags = primary.Title, primary.Description, primary.Tags
	}
	if f.Title == "" {
		f.Title = kindNoun[in.Kind] + " " + in.Outcome
	}
	f.Fields = incidentFields(in)
	// Evidence: the incident's events and every signal's.
	seen := map[eventKey]bool{}
	for _, e := range in.Events {
		if !seen[keyOf(e)] {
			seen[keyOf(e)] = true
			f.Events = append(f.Events, e)
		}
	}
	for _, s := range signals {
		for _, e := range s.Events {
			if !seen[keyOf(e)] {
				seen[keyOf(e)] = true
				f.Events = append(f.Events, e)
			}
		}
	}
	slices.SortStableFunc(f.Events, func(a, b rules.EventRef) int { return a.Time.Compare(b.Time) })
	if len(f.Events) > 0 && (f.Time.IsZero() || f.Events[0].Time.Before(f.Time)) {
		f.Time = f.Events[0].Time
	}
	signalIDs := []string{rule}
	for _, s := range in.Signals {
		if s != rule {
			signalIDs = append(signalIDs, s)
		}
	}
	f.Incident = infoOf(in, signalIDs)
	f.Summary = in.Summary()
	return f, true
}

func infoOf(in *Incident, signals []string) *rules.IncidentInfo {
	return &rules.IncidentInfo{Kind: in.Kind, Outcome: in.Outcome, Reason: in.Reason, Product: in.Product,
		Version: in.Version, ProductCode: in.ProductCode, CauseCode: in.Cause.Code, CauseName: in.Cause.Name,
		CauseMeaning: joinNonEmpty(" — ", in.Cause.Meaning, in.Cause.Detail),
		Advice:       in.Advice(), Signals: signals}
}

// joinNonEmpty joins the non-empty parts with sep.
func joinNonEmpty(sep string, parts ...string) string {
	var kept []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, sep)
}

// incidentFields are the display fields of an incident's finding.
func incidentFields(in *Incident) []rules.DisplayField {
	var fs []rules.DisplayField
	add := func(name, value string) {
		if value != "" {
			fs = append(fs, rules.DisplayField{Name: name, Value: value})
		}
	}
	add("ProductName", in.Product)
	add("ProductVersion", in.Version)
	add("ProductCode", in.ProductCode)
	add("Kind", in.Kind)
	add("Outcome", in.Outcome)
	add("Reason", in.Reason)
	add("Status", in.Status)
	add("StatusMeaning", strings.TrimSuffix(in.StatusMeaning, " (rolled back)"))
	add("Cause", in.Cause.String())
	add("Package", in.Package)
	add("User", in.User)
	add("Services", strings.Join(in.Services, ", "))
	return fs
}

// subjectFields name what a standalone detection is about, most specific
// first.
var subjectFields = []string{"ProductName", "PackageFullName", "PackageMoniker", "AppName", "updateTitle", "UpdateTitle",
	"PackageName", "ServiceName", "CommandLine"}

func subjectOf(f *rules.Finding) string {
	for _, n := range subjectFields {
		if v := f.Field(n); v != "" {
			return v
		}
	}
	return ""
}

// groupStandalone merges the detections of one rule about one subject on
// one computer within groupWindow of each other, and describes the kinds
// it knows as incidents.
func groupStandalone(fs []*rules.Finding) []rules.Finding {
	type groupKey struct{ what, computer, subject string }
	last := map[groupKey]int{}
	var out []rules.Finding
	var signals [][]string
	slices.SortStableFunc(fs, func(a, b *rules.Finding) int { return a.Time.Compare(b.Time) })
	for _, f := range fs {
		// One rule's repeats, or detections of one kind of incident (an
		// AppX removal refused: appx_removal_failed and its access-denied
		// twin msi_uninstall_privilege_denied) about one subject.
		what := f.RuleID
		if k := detectionKind(f); k != "" {
			what = k
		}
		k := groupKey{what, strings.ToLower(f.Computer), strings.ToLower(subjectOf(f))}
		if i, ok := last[k]; ok && k.subject != "" && f.Time.Sub(lastEventTime(&out[i])) <= groupWindow {
			g := &out[i]
			seen := map[eventKey]bool{}
			for _, e := range g.Events {
				seen[keyOf(e)] = true
			}
			for _, e := range f.Events {
				if !seen[keyOf(e)] {
					g.Events = append(g.Events, e)
				}
			}
			if f.Level > g.Level {
				// The stronger detection names the incident.
				g.RuleID, g.Title, g.Description, g.Tags = f.RuleID, f.Title, f.Description, f.Tags
			}
			g.Level = max(g.Level, f.Level)
			for j, d := range g.Fields {
				if d.Value == "" {
					if v := f.Field(d.Name); v != "" {
						g.Fields[j].Value = v
					}
				}
			}
			signals[i] = append(signals[i], f.RuleID)
			describeDetection(g, signals[i])
			continue
		}
		g := *f
		g.Events = slices.Clone(f.Events)
		g.Fields = slices.Clone(f.Fields)
		describeDetection(&g, []string{g.RuleID})
		last[k] = len(out)
		out = append(out, g)
		signals = append(signals, []string{g.RuleID})
	}
	return out
}

func lastEventTime(f *rules.Finding) time.Time {
	t := f.Time
	for _, e := range f.Events {
		if e.Time.After(t) {
			t = e.Time
		}
	}
	return t
}

// describeDetection gives a standalone detection of a known kind its
// Incident and Summary.
func detectionKind(f *rules.Finding) string {
	kind := ruleKinds[f.RuleID]
	if f.RuleID == "msi_uninstall_privilege_denied" && f.Field("PackageFullName") == "" {
		kind = KindRemoval
	}
	return kind
}

func describeDetection(f *rules.Finding, ruleIDs []string) {
	kind := detectionKind(f)
	if kind == "" {
		if f.Summary == "" {
			// A detection of no known incident kind still says on one line
			// what was seen where.
			f.Summary = joinNonEmpty(": ", f.Title+" on "+f.Computer, subjectOf(f))
		}
		return
	}
	in := Incident{Kind: kind, Computer: f.Computer, Start: f.Time}
	in.Product = cmp.Or(f.Field("ProductName"), f.Field("PackageFullName"), f.Field("PackageMoniker"), uninstallerProduct(f.Field("AppPath")), f.Field("AppName"),
		f.Field("updateTitle"), f.Field("UpdateTitle"), f.Field("PackageName"), commandProgram(f.Field("CommandLine")))
	in.Version = cmp.Or(f.Field("ProductVersion"), f.Field("AppVersion"))
	in.ProductCode = f.Field("ProductCode")
	code := cmp.Or(f.Field("ErrorCodeHex"), hexCode(f.Field("ErrorCode")), hexCode(f.Field("errorCode")), f.Field("ExceptionCode"), f.Field("Status"))
	in.Cause = Cause{Code: code, Meaning: cmp.Or(f.Field("ErrorMeaning"), f.Field("ExceptionMeaning"), f.Field("StatusMeaning"))}
	switch kind {
	case KindAgentRemoval:
		in.Outcome = OutcomeRemoved
		if f.Field("Result") == "failure" {
			in.Outcome = OutcomeFailed
		}
		in.Cause = Cause{}
		if cl := f.Field("CommandLine"); cl != "" {
			in.Cause.Detail = "command line: " + cl
		}
	case KindUninstallerCrash:
		in.Outcome = OutcomeCrashed
	default:
		in.Outcome = OutcomeFailed
	}
	signals := []string{f.RuleID}
	for _, id := range ruleIDs {
		if !slices.Contains(signals, id) {
			signals = append(signals, id)
		}
	}
	f.Incident = infoOf(&in, signals)
	f.Summary = in.Summary()
}

// uninstallerProduct names the product an uninstaller belongs to: the
// folder it runs from (C:\Program Files (x86)\Acme Notes\unins000.exe),
// unless that is a Temp or system folder.
func uninstallerProduct(path string) string {
	dir := path
	if i := strings.LastIndexAny(dir, `\/`); i >= 0 {
		dir = dir[:i]
	} else {
		return ""
	}
	name := basename(dir)
	low := strings.ToLower(path)
	if name == "" || strings.Contains(low, `\temp\`) || strings.Contains(low, `\windows\`) || strings.HasPrefix(name, "~") {
		return ""
	}
	return name
}

// hexCode writes a decimal HRESULT ("2147942405") as Windows documents it
// ("0x80070005"); other values stay as they are.
func hexCode(s string) string {
	if n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32); err == nil && n >= 0x80000000 {
		return fmt.Sprintf("0x%08X", n)
	}
	return s
}

// commandProgram is the program a command line runs ("Sysmon.exe").
func commandProgram(cl string) string {
	cl = strings.TrimSpace(cl)
	if cl == "" {
		return ""
	}
	var prog string
	if strings.HasPrefix(cl, `"`) {
		prog, _, _ = strings.Cut(cl[1:], `"`)
	} else {
		prog, _, _ = strings.Cut(cl, " ")
	}
	return basename(prog)
}
