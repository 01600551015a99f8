package uninstall

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/evtxscan/evtxscan/rules"
)

// Kinds of incident: the operation the logs tell of.
const (
	KindInstall          = "install"
	KindRemoval          = "removal"
	KindUpgrade          = "upgrade"
	KindRepair           = "repair"
	KindPatch            = "patch"
	KindAppxRemoval      = "appx_removal"
	KindAppxDeployment   = "appx_deployment"
	KindUpdateRemoval    = "update_removal"
	KindAgentRemoval     = "agent_removal"
	KindServiceFailure   = "service_failure"
	KindUninstallerCrash = "uninstaller_crash"
)

// Outcomes of an incident.
const (
	OutcomeSucceeded      = "succeeded"
	OutcomeFailed         = "failed"
	OutcomeRolledBack     = "rolled back"
	OutcomeRollbackFailed = "rollback failed"
	OutcomeUnterminated   = "unterminated"
	OutcomeSuperseded     = "superseded by upgrade"
	OutcomeCrashed        = "crashed"
	OutcomeRemoved        = "removed"
)

// Reasons an operation never ended (Incident.Reason of an unterminated
// one), as seen on the incident's own computer.
const (
	ReasonCrash     = "crash" // msiexec crashed or hung
	ReasonPowerLoss = "power loss"
	ReasonRestart   = "restart"
	ReasonLogEnds   = "log ends"
	ReasonUnknown   = "unknown"
	// ReasonRestartRequired is the Reason of an operation that succeeded
	// but needs a restart to finish (3010, 1641, 1038, 1029, 1005).
	ReasonRestartRequired = "restart required"
)

// An Incident is one operation the logs tell of — an install, removal,
// upgrade, repair or patch of a Windows Installer product, an AppX
// deployment or removal, an update removal, an agent removal, an
// uninstaller crash, the service of a removed product failing — with its
// outcome, its root cause and every event that supports it. One incident
// that needs attention is one finding.
type Incident struct {
	Kind                                                   string // one of the Kind* constants
	Product, Version, ProductCode, Package, Computer, User string
	Start, End                                             time.Time // End zero = never ended
	Outcome                                                string    // one of the Outcome* constants
	// Reason says why an unterminated operation never ended (Reason*
	// constants), or that a successful one needs a restart.
	Reason        string
	Status        string // msiexec status, e.g. "1603" ("" when none was logged)
	StatusMeaning string // e.g. "ERROR_INSTALL_FAILURE: fatal error during installation"
	// Cause is the root cause: the first error of the operation (the custom
	// action's 1722, not the 1712 that followed it).
	Cause Cause
	// Level says how much the incident needs attention; Attention is false
	// for incidents that need none (a successful install) whatever Level.
	Level     rules.Level
	Attention bool
	// Rule is the rule id its finding carries: its primary signal.
	Rule string
	// Signals lists the rule ids of the findings folded into it (set by
	// Fold).
	Signals []string
	// FixedBy is when the same product was installed fine later on the
	// same computer (zero if not): a failed install that was fixed.
	FixedBy time.Time
	// Services names the services the evidence ties to the product.
	Services []string
	Events   []rules.EventRef
}

// Session is the former name of Incident.
type Session = Incident

// A Cause is the root error of an incident.
type Cause struct {
	Code    string // "1722", "1612", "0x80070005"
	Name    string // "custom action failed", "ERROR_INSTALL_SOURCE_ABSENT"
	Meaning string // what it means, in a few words
	Detail  string // what the event adds: the custom action, the service, the message
}

// String renders the cause on one line ("" when there is none).
func (c Cause) String() string {
	var b strings.Builder
	if c.Code != "" {
		b.WriteString(c.Code)
	}
	if c.Name != "" {
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		b.WriteString(c.Name)
	}
	if c.Meaning != "" && !strings.EqualFold(c.Meaning, c.Name) {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(c.Meaning)
	}
	if c.Detail != "" {
		if b.Len() > 0 {
			b.WriteString(" — ")
		}
		b.WriteString(c.Detail)
	}
	return b.String()
}

// IsZero reports whether no cause is known.
func (c Cause) IsZero() bool { return c == Cause{} }

// removalKinds are the kinds in which a product was (to be) removed.
func isRemoval(kind string) bool {
	switch kind {
	case KindRemoval, KindUpgrade, KindAgentRemoval:
		return true
	}
	return false
}

// needsAttention decides Level, Attention and Rule from what the incident
// is; Fold may raise the level of an agent's removal.
func (in *Incident) judge() {
	failed := in.Outcome != OutcomeSucceeded && in.Outcome != OutcomeRemoved
	in.Attention = failed
	switch in.Kind {
	case KindRemoval, KindAgentRemoval:
		in.Level, in.Rule = rules.LevelHigh, "msi_uninstall_failed_status"
		switch in.Outcome {
		case OutcomeSucceeded:
			in.Level, in.Rule = rules.LevelInformational, ""
			if in.Kind == KindAgentRemoval {
				in.Outcome = OutcomeRemoved
				in.Level, in.Rule, in.Attention = rules.LevelHigh, "security_product_uninstall", true
			}
		case OutcomeRollbackFailed:
			in.Level, in.Rule = rules.LevelCritical, "msi_rollback_failed"
		case OutcomeUnterminated:
			in.Rule = "msi_session_unterminated"
		case OutcomeSuperseded:
			in.Level, in.Rule = rules.LevelLow, "msi_session_unterminated"
		default:
			in.Level = removalStatusLevel(in.Status)
			if in.Status == "" {
				in.Rule = "msi_removal_failed_message"
			}
		}
	case KindUpgrade:
		// The old version stays: needs action, not urgently.
		in.Level, in.Rule = rules.LevelMedium, "msi_upgrade_old_version_not_removed"
		switch in.Outcome {
		case OutcomeSucceeded:
			in.Level, in.Rule = rules.LevelInformational, ""
		case OutcomeRollbackFailed:
			in.Level, in.Rule = rules.LevelCritical, "msi_rollback_failed"
		case OutcomeUnterminated:
			in.Level, in.Rule = rules.LevelHigh, "msi_session_unterminated"
		}
	case KindInstall, KindRepair, KindPatch:
		in.Level, in.Rule = rules.LevelMedium, "msi_operation_failed"
		switch in.Outcome {
		case OutcomeSucceeded:
			in.Level, in.Rule = rules.LevelInformational, ""
		case OutcomeRollbackFailed:
			in.Level, in.Rule = rules.LevelHigh, "msi_rollback_failed"
		case OutcomeUnterminated:
			in.Rule = "msi_session_unterminated"
		case OutcomeSuperseded:
			in.Level, in.Rule = rules.LevelLow, "msi_session_unterminated"
		default:
			switch in.Status {
			case "1602", "1638":
				in.Level = rules.LevelLow
			}
		}
	case KindServiceFailure:
		in.Level, in.Rule, in.Attention = rules.LevelMedium, "uninstall_service_teardown_failure", true
	}
}

// removalStatusLevel is how serious a failed removal's status is.
func removalStatusLevel(status string) rules.Level {
	switch status {
	case "13", "87", "1602", "1614", "1638":
		return rules.LevelLow
	case "1601", "1605", "1618", "1619", "1620", "1624", "1625", "1646", "1647", "1649":
		return rules.LevelMedium
	}
	return rules.LevelHigh
}

// incidentOf turns a closed building into an Incident, or reports false
// when it tells of no operation (a bare 1040/1042 pair, a Win32_Product
// reconfiguration that succeeded). focus, when set, is the removal outcome
// of the product this incident is about (a transaction removing several).
func (b *building) incidentOf(ctx, procs []*record, focus *record) (Incident, bool) {
	var (
		removal, install, reconfig, update *record // 1034/1037, 1033, 1035, 1036
		removalSentence, installSentence   *record // 11724/11725, 11707/11708
		configSentence                     *record // 11728/11729
		upgradeFailed, rollbackFailed      *record // 11714, 11712
		cause                              *record // the first error
		reboot                             bool
	)
	for _, r := range b.members {
		if !about(r, focus) {
			continue
		}
		switch r.kind {
		case kindMsiOutcome:
			switch r.eventID {
			case 1034:
				removal = r
			case 1037:
				if removal == nil {
					update = r
				}
			case 1033:
				install = r
			case 1035:
				reconfig = r
			case 1036:
				update = r
			}
		case kindMsiSentence:
			switch r.eventID {
			case 11724, 11725:
				removalSentence = r
			case 11707, 11708:
				installSentence = r
			case 11728, 11729:
				configSentence = r
			case 11714:
				upgradeFailed = r
			case 11712:
				rollbackFailed = r
			}
			if cause == nil && isCause(r) && r.eventID != 11712 {
				cause = r
			}
		case kindMsiReboot:
			reboot = true
		}
	}
	in := Incident{}
	if b.start != nil {
		in.Start, in.Package, in.Computer, in.User = b.start.time, b.start.pkg, b.start.computer, b.start.user
	} else if len(b.members) > 0 {
		in.Start, in.Computer = b.members[0].time, b.members[0].computer
	}
	if b.end != nil {
		in.End = b.end.time
	}
	var proc *record
	if b.start != nil {
		proc = findProcess(procs, b.start)
		if proc != nil && proc.user != "" {
			in.User = proc.user
		}
	}

	// What operation, and which event tells its status.
	var source, sentence *record
	switch {
	case upgradeFailed != nil || removal != nil && install != nil && !strings.EqualFold(removal.productCode, install.productCode):
		in.Kind, source, sentence = KindUpgrade, install, installSentence
		// The removed product speaks when the transaction removed several
		// (focus), or when its removal failed.
		if source == nil || focus != nil || removal != nil && removal.status != "" && !successStatus(removal.status) {
			source, sentence = removal, removalSentence
		}
	case removal != nil || removalSentence != nil:
		in.Kind, source, sentence = KindRemoval, removal, removalSentence
	case install != nil || installSentence != nil:
		in.Kind, source, sentence = KindInstall, install, installSentence
	case update != nil:
		in.Kind, source, sentence = KindPatch, update, configSentence
	case reconfig != nil || configSentence != nil:
		in.Kind, source, sentence = KindRepair, reconfig, configSentence
		if b.start == nil && cause == nil && (reconfig == nil || reconfig.status == "0") {
			return Incident{}, false // Win32_Product reconfiguration: not an operation anyone ran
		}
	case b.end == nil && (proc != nil && removeCommand.MatchString(proc.commandLine) || isProductCode(in.Package)):
		in.Kind = KindRemoval
	case b.end == nil && b.start != nil:
		in.Kind = KindInstall
		if proc != nil && removeCommand.MatchString(proc.commandLine) {
			in.Kind = KindRemoval
		}
	case cause != nil || rollbackFailed != nil:
		in.Kind = KindInstall
	default:
		return Incident{}, false
	}
	if proc != nil && removeCommand.MatchString(proc.commandLine) && in.Kind == KindInstall && install == nil {
		in.Kind = KindRemoval
	}
	if in.Kind == KindInstall && source == nil && b.end == nil && stoppedOwnService(ctx, b, in.Package) {
		// No command line, no outcome: the operation stopped the product's
		// own service (named like its package or the application Restart
		// Manager closed) and never started it again — a removal.
		in.Kind = KindRemoval
	}

	if source != nil {
		in.Product, in.Version, in.ProductCode = source.product, source.version, source.productCode
		in.Status, in.StatusMeaning = source.status, source.statusMeaning
		if in.Kind == KindPatch && source.pkg != "" {
			in.Package = source.pkg
		}
		if in.User == "" {
			in.User = source.user
		}
	}
	for _, r := range []*record{sentence, removalSentence, upgradeFailed, cause, rollbackFailed} {
		if r == nil {
			continue
		}
		if in.Product == "" {
			in.Product = r.product
		}
		if in.ProductCode == "" {
			in.ProductCode = r.productCode
		}
	}
	if in.User == "" {
		for _, r := range b.members {
			if r.detail != nil && r.user != "" && r.user != "S-1-5-18" {
				in.User = r.user
				break
			}
		}
	}

	// Services stopped and started again inside the window.
	windowEnd := b.last
	if b.end != nil && b.end.time.After(windowEnd) {
		windowEnd = b.end.time
	}
	var inWindow []*record
	restarted := restartedServices(ctx, in.Start, windowEnd, &inWindow)

	// Outcome.
	switch {
	case in.Status != "":
		switch in.Status {
		case "0":
			in.Outcome = OutcomeSucceeded
		case "3010", "1641":
			in.Outcome, in.Reason = OutcomeSucceeded, ReasonRestartRequired
		default:
			// No event says "rolled back": a service the operation stopped
			// running again is the trace a rollback leaves; 11712 says it
			// could not restore.
			in.Outcome = OutcomeFailed
			if (in.Status == "1603" || in.Status == "1602") && len(restarted) > 0 {
				in.Outcome = OutcomeRolledBack
			}
		}
	case sentence != nil && sentence.success:
		in.Outcome = OutcomeSucceeded
	case sentence != nil || upgradeFailed != nil:
		in.Outcome = OutcomeFailed
		if len(restarted) > 0 {
			in.Outcome = OutcomeRolledBack
		}
	case cause != nil && b.end != nil:
		in.Outcome = OutcomeFailed
	default:
		in.Outcome = OutcomeUnterminated
	}
	if in.Kind == KindUpgrade && upgradeFailed != nil && in.Outcome == OutcomeSucceeded {
		in.Outcome = OutcomeFailed
	}
	if rollbackFailed != nil && in.Outcome != OutcomeSucceeded {
		in.Outcome = OutcomeRollbackFailed
	}
	if in.Outcome != OutcomeUnterminated && b.end == nil && b.interruption != nil && source == nil && sentence == nil {
		in.Outcome = OutcomeUnterminated
	}
	if in.Outcome == OutcomeSucceeded && reboot {
		in.Reason = ReasonRestartRequired
	}
	if in.Outcome == OutcomeUnterminated {
		in.Reason = b.reason()
	}
	if in.Product == "" {
		// Nothing named the product (a session cut before its outcome):
		// the application Restart Manager closed for it does.
		for _, r := range inWindow {
			if r.kind == kindContext && r.service != "" {
				in.Product = r.service
				break
			}
		}
	}

	// Root cause.
	switch {
	case upgradeFailed != nil && in.Outcome != OutcomeSucceeded:
		in.Cause = causeOf(upgradeFailed)
		if sys := lastNumber(upgradeFailed.sentence); sys != "" && sys != upgradeFailed.errNum {
			// "… System Error 1612.": the root of the failed removal.
			in.Cause = Cause{Code: sys, Name: statusName(sys), Meaning: "the older version cannot be removed (error 1714)"}
		}
	case in.Status != "" && !successStatus(in.Status) && in.Status != "1603" && in.Status != "1602" && !(cause != nil && cause.errNum == "1706" && in.Status == "1706"):
		// A specific status (1612 source absent, 1605, 1618…) says more than
		// the generic error sentences before it.
		name, meaning, _ := strings.Cut(in.StatusMeaning, ": ")
		in.Cause = Cause{Code: in.Status, Name: name, Meaning: meaning}
		if cause != nil {
			in.Cause.Detail = "error " + cause.errNum + " " + cause.errMeaning
		}
	case cause != nil && in.Outcome != OutcomeSucceeded:
		in.Cause = causeOf(cause)
	case in.Outcome == OutcomeUnterminated && b.interruption != nil:
		in.Cause = Cause{Name: in.Reason, Detail: describeInterruption(b.interruption)}
	case in.Status != "" && in.Outcome != OutcomeSucceeded:
		name, meaning, _ := strings.Cut(in.StatusMeaning, ": ")
		in.Cause = Cause{Code: in.Status, Name: name, Meaning: strings.TrimSuffix(meaning, " (rolled back)")}
	}
	if in.Kind == KindUpgrade && removal != nil && install != nil && in.Outcome == OutcomeSucceeded {
		if source == removal {
			in.Cause.Detail = strings.TrimSpace("replaced by " + install.product + " " + install.version)
		} else {
			in.Cause.Detail = strings.TrimSpace("replaced " + removal.product + " " + removal.version)
		}
	}
	if in.Outcome == OutcomeRolledBack && len(restarted) > 0 {
		in.Services = restarted
	}

	// Events, in time order.
	refs := make([]*record, 0, len(b.members)+len(inWindow)+2)
	if proc != nil {
		refs = append(refs, proc)
	}
	if b.start != nil {
		refs = append(refs, b.start)
	}
	for _, r := range b.members {
		if about(r, focus) {
			refs = append(refs, r)
		}
	}
	refs = append(refs, inWindow...)
	slices.SortStableFunc(refs, func(a, b *record) int { return cmp.Or(a.time.Compare(b.time), cmp.Compare(a.seq, b.seq)) })
	refs = slices.CompactFunc(refs, func(a, b *record) bool { return a == b })
	for _, r := range refs {
		in.Events = append(in.Events, r.ref)
		if r.time.After(in.End) && b.end != nil {
			in.End = r.time
		}
	}
	in.judge()
	return in, true
}

// stoppedOwnService reports whether, inside b's window, a service named
// like the package or like an application Restart Manager closed for it
// was stopped and not started again.
func stoppedOwnService(ctx []*record, b *building, pkg string) bool {
	names := []string{strings.TrimSuffix(basename(pkg), ".msi")}
	from := b.first()
	stopped := map[string]bool{}
	for _, r := range ctx {
		if r.time.Before(from) {
			continue
		}
		if r.kind == kindContext && r.service != "" {
			names = append(names, r.service)
		}
		if r.kind == kindScmState && r.service != "" {
			stopped[r.service] = r.state == "stopped"
		}
	}
	for svc, s := range stopped {
		for _, n := range names {
			if s && sharesWord(svc, n) {
				return true
			}
		}
	}
	return false
}

// reason says why a building never ended, from what its own computer
// logged.
func (b *building) reason() string {
	r := b.interruption
	switch {
	case r == nil && b.logEnds:
		return ReasonLogEnds
	case r == nil:
		return ReasonUnknown
	case r.kind == kindCrash:
		return ReasonCrash
	case r.kind == kindShutdown:
		return ReasonPowerLoss
	}
	return ReasonRestart
}

// incidents turns a closed building into its incidents: usually one, but a
// transaction that removed several products (a 1034 each, e.g. an upgrade
// replacing two older versions) gives one per product.
func (b *building) incidents(ctx, procs []*record) []Incident {
	var removals []*record
	for _, r := range b.members {
		if r.kind == kindMsiOutcome && r.eventID == 1034 {
			removals = append(removals, r)
		}
	}
	if len(removals) <= 1 {
		if in, ok := b.incidentOf(ctx, procs, nil); ok {
			return []Incident{in}
		}
		return nil
	}
	var out []Incident
	for _, r := range removals {
		if in, ok := b.incidentOf(ctx, procs, r); ok {
			out = append(out, in)
		}
	}
	return out
}

func successStatus(s string) bool { return s == "0" || s == "3010" || s == "1641" }

// causeOf describes an error sentence as a root cause.
func causeOf(r *record) Cause {
	c := Cause{Code: r.errNum, Meaning: r.errMeaning}
	if rest, ok := strings.CutPrefix(r.errCat, "internal"); ok {
		c.Name = strings.TrimSpace("internal error " + strings.TrimSpace(rest))
	} else {
		c.Name = errorName(r.errNum, r.errCat)
	}
	if r.eventID == 10005 && r.errNum == "" {
		c.Name = "internal error"
	}
	if m := customAction.FindStringSubmatch(r.sentence); m != nil {
		c.Detail = "custom action " + m[1]
		return c
	}
	text := r.sentence
	if _, after, ok := strings.Cut(text, " -- "); ok {
		text = after
	}
	if i := strings.Index(text, r.errNum+"."); r.errNum != "" && i >= 0 && i < 16 {
		text = strings.TrimSpace(text[i+len(r.errNum)+1:])
	}
	const maxCause = 300
	if len(text) > maxCause {
		text = clip(text[:maxCause]) + "…"
	}
	if c.Meaning == "" || r.eventID == 10005 || r.errNum == "1714" {
		c.Detail = text
	}
	return c
}

// errorName names an MSI error number by what failed.
func errorName(num, category string) string {
	switch num {
	case "1720", "1721", "1722", "1723":
		return "custom action failed"
	case "1712":
		return "rollback impossible"
	case "1714":
		return "old version not removed"
	case "1706", "1311", "1316":
		return "source or cached package missing"
	case "1730", "1925", "1303", "1321", "1926":
		return "insufficient privileges"
	case "1920", "1921", "1922", "1923", "1939":
		return "service error"
	case "1618", "1500":
		return "another installation in progress"
	}
	if category != "" {
		return category + " error"
	}
	return ""
}

// statusName is the ERROR_… name of an msiexec status the incident
// knows without the rule pack (the pack's labels are richer).
func statusName(code string) string {
	switch code {
	case "1603":
		return "ERROR_INSTALL_FAILURE"
	case "1605":
		return "ERROR_UNKNOWN_PRODUCT"
	case "1610":
		return "ERROR_BAD_CONFIGURATION"
	case "1612":
		return "ERROR_INSTALL_SOURCE_ABSENT"
	case "1618":
		return "ERROR_INSTALL_ALREADY_RUNNING"
	}
	return ""
}

// lastNumber is the last run of digits in s ("… System Error 1612.").
func lastNumber(s string) string {
	end := -1
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] >= '0' && s[i] <= '9' {
			if end < 0 {
				end = i + 1
			}
			continue
		}
		if end >= 0 {
			return s[i+1 : end]
		}
	}
	if end >= 0 {
		return s[:end]
	}
	return ""
}
