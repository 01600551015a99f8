package uninstall

import (
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/evtxscan/evtxscan/parser"
	"github.com/evtxscan/evtxscan/rules"
)

// Windows update removals and non-MSI uninstallers: the operations the
// MsiInstaller sessions do not cover, assembled from what each step logs.

// updateWindow: steps of one update's removal (WUC 215 started … 24
// failed; Servicing 1 … 3; WUSA 8) this close to the previous step are one
// operation.
const updateWindow = 2 * time.Hour

// crashWindow: how long before its crash an uninstaller's process
// creation may be, and how late WER's 1001 follows the 1000.
const (
	uninstallerWindow = 24 * time.Hour
	werWindow         = 2 * time.Minute
)

// maxUninstallers bounds the uninstaller process creations kept per
// computer.
const maxUninstallers = 1024

var kbNumber = regexp.MustCompile(`(?i)\bKB\d{6,8}\b`)

// update step roles, in detail.status.
const (
	stepStart   = "start"
	stepSuccess = "success"
	stepFailure = "failure"
)

// classifyUpdate fills rec for a step of a Windows update removal, or
// reports false for update events that are no removal (installs, scans).
// Real layouts (testdata/scenarios/LAYOUTS.md): WUC named EventData
// (errorCode, updateTitle, …); Servicing UserData CbsPackageInitiateChanges
// / CbsPackageChangeState (PackageIdentifier, IntendedPackageState 5000 =
// Absent, ErrorCode); WUSA UpdateTitle, ErrorCode (decimal), CommandLine.
func classifyUpdate(r fieldResolver, ev *parser.Event, rec *record) bool {
	id := ev.System.EventID
	d := &detail{user: ev.System.UserID}
	switch p := ev.System.Provider; {
	case strings.EqualFold(p, "Microsoft-Windows-WindowsUpdateClient"):
		switch id {
		case 214, 215:
			d.status = stepStart
		case 23, 212:
			d.status = stepSuccess
		case 24, 213:
			d.status = stepFailure
		default:
			return false
		}
		d.product = get(r, ev, "updateTitle")
		d.errNum = get(r, ev, "ErrorCodeHex")
		d.errMeaning = get(r, ev, "ErrorMeaning")
	case strings.EqualFold(p, "Microsoft-Windows-Servicing"):
		state := get(r, ev, "IntendedPackageState")
		text := get(r, ev, "IntendedPackageStateTextized")
		if state != "5000" && state != "0" && !strings.EqualFold(text, "Absent") {
			return false // not a removal: install, staging, superseding
		}
		switch id {
		case 1:
			d.status = stepStart
		case 2:
			d.status = stepSuccess
		case 3, 6:
			d.status = stepFailure
		default:
			return false // 4: restart needed, the operation goes on
		}
		d.pkg = get(r, ev, "PackageName")
		d.errNum = get(r, ev, "ErrorCodeHex")
		d.errMeaning = get(r, ev, "ErrorMeaning")
	case strings.EqualFold(p, "Microsoft-Windows-WUSA"):
		switch id {
		case 7:
			d.status = stepSuccess
		case 8:
			d.status = stepFailure
		default:
			return false
		}
		d.product = get(r, ev, "UpdateTitle")
		d.errNum = cmp0(get(r, ev, "ErrorCodeHex"), hexCode(get(r, ev, "ErrorCode")))
		d.errMeaning = get(r, ev, "ErrorMeaning")
		d.commandLine = get(r, ev, "CommandLine")
	default:
		return false
	}
	if d.pkg == "" {
		d.pkg = kbNumber.FindString(d.product + " " + d.commandLine)
	}
	d.pkg = strings.ToUpper(kbNumber.FindString(d.pkg)) // "KB5034441" whatever the source wrote around it
	if d.pkg == "" && d.product == "" {
		return false
	}
	rec.kind, rec.detail = kindUpdate, d
	return true
}

// An updateOp is one update's removal being assembled.
type updateOp struct {
	key   string // KB number, or the title when none
	steps []*record
}

func (op *updateOp) last() time.Time { return op.steps[len(op.steps)-1].time }

// updateStep adds a removal step to its operation.
func (m *machine) updateStep(r *record) {
	key := r.pkg
	if key == "" {
		key = strings.ToLower(r.product)
	}
	for _, op := range m.updates {
		if op.key == key && r.time.Sub(op.last()) <= updateWindow && !(r.status == stepStart && op.ended()) {
			op.steps = append(op.steps, r)
			return
		}
	}
	m.updates = append(m.updates, &updateOp{key: key, steps: []*record{r}})
}

// ended reports whether an outcome was logged; a WUSA 8 after Servicing 3
// is the same outcome told again.
func (op *updateOp) ended() bool {
	return slices.ContainsFunc(op.steps, func(r *record) bool { return r.status != stepStart })
}

// flushUpdates emits the update removals no later step can join.
func (m *machine) flushUpdates(now time.Time, all bool) {
	kept := m.updates[:0]
	for _, op := range m.updates {
		if all || now.Sub(op.last()) > updateWindow {
			m.out = append(m.out, op.incident())
			continue
		}
		kept = append(kept, op)
	}
	m.updates = kept
}

func (op *updateOp) incident() Incident {
	in := Incident{Kind: KindUpdateRemoval, Package: strings.ToUpper(op.steps[0].pkg), Computer: op.steps[0].computer,
		Start: op.steps[0].time, Outcome: OutcomeUnterminated, Reason: ReasonUnknown}
	var failure *record
	for _, r := range op.steps {
		in.Events = append(in.Events, r.ref)
		if in.Package == "" {
			in.Package = r.pkg
		}
		if r.product != "" && (in.Product == "" || len(r.product) > len(in.Product)) {
			in.Product = r.product // the title says more than the KB number
		}
		if r.user != "" && r.user != "S-1-5-18" {
			in.User = r.user
		}
		switch r.status {
		case stepFailure:
			in.End = r.time
			if failure == nil || failure.errNum == "" {
				failure = r
			}
		case stepSuccess:
			in.End = r.time
		}
	}
	switch {
	case failure != nil:
		in.Outcome, in.Reason = OutcomeFailed, ""
		in.Cause = Cause{Code: failure.errNum}
		in.Cause.Name, in.Cause.Meaning, _ = strings.Cut(failure.errMeaning, ": ")
	case !in.End.IsZero():
		in.Outcome, in.Reason = OutcomeSucceeded, ""
	}
	if in.Product == "" {
		in.Product = in.Package
	}
	in.Level, in.Rule, in.Attention = rules.LevelInformational, "", false
	if in.Outcome == OutcomeFailed {
		in.Level, in.Rule, in.Attention = rules.LevelHigh, "os_update_uninstall_failed", true
	}
	return in
}

// An uninstaller is the process creation of a non-MSI uninstaller.
type uninstaller struct {
	proc    *record
	product string // the folder it removes (NSIS `_?=`) or runs from
}

// uninstallerStarted remembers an uninstaller's process creation.
func (m *machine) uninstallerStarted(r *record) {
	product := nsisFolder(r.commandLine)
	if product == "" {
		product = uninstallerProduct(r.sentence)
	}
	if product == "" || len(m.uninstallers) >= maxUninstallers {
		return
	}
	m.uninstallers = append(m.uninstallers, uninstaller{proc: r, product: product})
}

// nsisFolder is the product folder an NSIS uninstaller's command line
// names ("Au_.exe _?=C:\Program Files\Northwind Studio\" → "Northwind
// Studio").
func nsisFolder(cl string) string {
	_, dir, ok := strings.Cut(cl, "_?=")
	if !ok {
		return ""
	}
	dir = strings.TrimRight(strings.Trim(strings.TrimSpace(dir), `"`), `\/`)
	name := basename(dir)
	if strings.Contains(name, ":") {
		return ""
	}
	return name
}

// appCrashed ties the crash of an uninstaller to its process creation (the
// same process id and program) and makes it an incident; WER's 1001 of the
// same program moments later joins it.
func (m *machine) appCrashed(r *record) {
	if r.eventID == 1001 {
		if m.lastCrash > 0 && m.lastCrash <= len(m.out) {
			in := &m.out[m.lastCrash-1]
			if r.time.Sub(in.End) <= werWindow && strings.EqualFold(in.Package, r.product) {
				in.Events = append(in.Events, r.ref)
				in.End = r.time
			}
		}
		return
	}
	if r.pid == "" {
		return
	}
	for i := len(m.uninstallers) - 1; i >= 0; i-- {
		u := m.uninstallers[i]
		if u.proc.pid != r.pid || r.time.Before(u.proc.time) || r.time.Sub(u.proc.time) > uninstallerWindow ||
			!strings.EqualFold(basename(u.proc.sentence), r.product) {
			continue
		}
		in := Incident{Kind: KindUninstallerCrash, Product: u.product, Version: "", Package: r.product, Computer: r.computer,
			User: u.proc.user, Start: r.time, End: r.time, Outcome: OutcomeCrashed,
			Cause: Cause{Code: r.errNum, Meaning: r.errMeaning, Detail: "command line: " + u.proc.commandLine},
			Level: rules.LevelHigh, Rule: "uninstaller_crash_or_hang", Attention: true,
			Events: []rules.EventRef{u.proc.ref, r.ref}}
		if r.eventID == 1002 {
			in.Cause = Cause{Name: "hang", Detail: "command line: " + u.proc.commandLine}
		}
		m.out = append(m.out, in)
		m.lastCrash = len(m.out) // index+1
		m.uninstallers = slices.Delete(m.uninstallers, i, i+1)
		return
	}
}

// servicesUnderProduct finds the services whose program lies in the
// removed product's folder: the folder of an application Restart Manager
// shut down for the removal (10002/10010 FullPath), or a folder path that
// holds every significant word of the product's name ("C:\Program
// Files\Fabrikam\Backup\fbagent.exe" for "Fabrikam Backup Agent"). The
// service's 7045 (and the Restart Manager event) are returned as the
// evidence, by lower-case service name. Programs under the Windows folder
// never tie: every product's Restart Manager closes explorer.exe.
func (m *machine) servicesUnderProduct(in *Incident, product string) ([]string, map[string][]rules.EventRef) {
	if len(m.serviceImages) == 0 {
		return nil, nil
	}
	type folder struct {
		dir string
		ref rules.EventRef
	}
	var folders []folder
	end := in.End
	if end.IsZero() {
		end = in.Start.Add(logEndWindow)
	}
	for _, r := range m.context {
		if r.kind != kindContext || r.eventID != 10002 && r.eventID != 10010 || r.time.Before(in.Start) || r.time.After(end) {
			continue
		}
		if dir := programFolder(r.svcKey); dir != "" {
			folders = append(folders, folder{dir, r.ref})
		}
	}
	words := significantWords(product)
	var names []string
	evidence := map[string][]rules.EventRef{}
	for key, svc := range m.serviceImages {
		if svc.time.After(end) {
			continue // installed after the removal: another product's
		}
		dir := programFolder(svc.svcKey)
		if dir == "" {
			continue
		}
		var refs []rules.EventRef
		for _, f := range folders {
			if dir == f.dir || strings.HasPrefix(dir, f.dir+`\`) {
				refs = append(refs, f.ref)
			}
		}
		if len(refs) == 0 && !allWordsIn(dir, words) {
			continue
		}
		names = append(names, svc.service)
		evidence[key] = append([]rules.EventRef{svc.ref}, refs...)
	}
	slices.Sort(names)
	return names, evidence
}

// programFolder is the lower-case folder of a program path (an ImagePath
// may be quoted, carry arguments or a \??\ prefix), "" when it is none or
// lies under the Windows folder.
func programFolder(path string) string {
	p := strings.ToLower(strings.TrimSpace(path))
	p = strings.TrimPrefix(p, `\??\`)
	if strings.HasPrefix(p, `"`) {
		p, _, _ = strings.Cut(p[1:], `"`)
	} else if i := strings.Index(p, ".exe"); i >= 0 {
		p = p[:i+4]
	}
	i := strings.LastIndexByte(p, '\\')
	if i < 0 || len(p) < 3 || p[1] != ':' {
		return ""
	}
	dir := p[:i]
	if strings.Contains(dir+`\`, `:\windows\`) || strings.Count(dir, `\`) < 2 {
		return "" // C:\Windows\…, or a drive's first level (C:\Program Files)
	}
	return dir
}

// significantWords are the words of a product name that can tie it to a
// folder: 3 letters or more, not a version, not a word every vendor uses.
func significantWords(name string) []string {
	var words []string
	for _, w := range strings.FieldsFunc(strings.ToLower(name), func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') }) {
		if len(w) < 3 || commonWord[w] || strings.Trim(w, "0123456789") == "" {
			continue
		}
		words = append(words, w)
	}
	return words
}

// allWordsIn reports whether every word occurs in the folder path (and
// there is at least one).
func allWordsIn(dir string, words []string) bool {
	if len(words) == 0 {
		return false
	}
	for _, w := range words {
		if !strings.Contains(dir, w) {
			return false
		}
	}
	return true
}

// agentCommandWindow: how long before Sysmon reports itself stopped its
// uninstall command may run; agentBackWindow how long after a removal a
// Sysmon that starts again is told as its return.
const (
	agentCommandWindow = time.Minute
	agentBackWindow    = 24 * time.Hour
	maxAgentCommands   = 16
)

// agentEvent follows a monitoring agent's removal: the uninstall command
// (sysmon -u, as Sysmon 1 or 4688 records it — twice when Sysmon re-runs
// itself from %TEMP%), the agent's own "Stopped" moments later (Sysmon 4),
// and its "Started" if it comes back.
func (m *machine) agentEvent(r *record) {
	switch {
	case r.kind == kindAgentCmd:
		if len(m.agentCmds) >= maxAgentCommands {
			m.agentCmds = m.agentCmds[1:]
		}
		m.agentCmds = append(m.agentCmds, r)
	case r.status == "stopped":
		var cmds []*record
		for _, c := range m.agentCmds {
			if !c.time.After(r.time) && r.time.Sub(c.time) <= agentCommandWindow {
				cmds = append(cmds, c)
			}
		}
		m.agentCmds = nil
		if len(cmds) == 0 {
			return // stopped without an uninstall command: a shutdown, a service restart
		}
		in := Incident{Kind: KindAgentRemoval, Product: r.product, Version: r.version, Computer: r.computer, User: cmds[0].user,
			Start: cmds[0].time, End: r.time, Outcome: OutcomeRemoved, Level: rules.LevelHigh, Attention: true,
			Rule: "security_product_uninstall", Cause: Cause{Detail: "command line: " + cmds[0].commandLine}}
		for _, c := range cmds {
			in.Events = append(in.Events, c.ref)
		}
		in.Events = append(in.Events, r.ref)
		m.out = append(m.out, in)
		m.agentStop = len(m.out)
	case r.status == "started":
		if m.agentStop == 0 || m.agentStop > len(m.out) {
			return
		}
		in := &m.out[m.agentStop-1]
		m.agentStop = 0
		if d := r.time.Sub(in.End); d >= 0 && d <= agentBackWindow {
			in.Events = append(in.Events, r.ref)
			in.Reason = "running again " + d.Round(time.Second).String() + " later"
			if r.version != "" {
				in.Reason += ", version " + r.version
			}
		}
	}
}
