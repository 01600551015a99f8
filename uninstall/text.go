package uninstall

import (
	"strings"
)

// kindNoun names a kind in a sentence ("Removal of …").
var kindNoun = map[string]string{
	KindInstall: "Install", KindRemoval: "Removal", KindUpgrade: "Upgrade", KindRepair: "Repair",
	KindPatch: "Patch", KindAppxRemoval: "AppX package removal", KindAppxDeployment: "AppX package deployment",
	KindUpdateRemoval: "Windows update removal", KindAgentRemoval: "Security agent",
	KindServiceFailure: "Service of removed product", KindUninstallerCrash: "Uninstaller",
}

// Summary is the incident on one line for an admin: what happened to which
// product on which computer, the root cause with its meaning, and what to
// do next. Reports show it as it is.
func (in *Incident) Summary() string {
	var b strings.Builder
	noun := kindNoun[in.Kind]
	if noun == "" {
		noun = "Operation"
	}
	b.WriteString(noun)
	subject := in.Product
	if in.Version != "" && !strings.HasSuffix(in.Product, in.Version) {
		subject = strings.TrimSpace(in.Product + " " + in.Version)
	}
	if subject == "" {
		subject = in.Package
	}
	if subject == "" {
		subject = in.ProductCode
	}
	if subject == "" {
		subject = "an unnamed product"
	}
	switch in.Kind {
	case KindServiceFailure:
		b.WriteString(" " + subject)
	case KindUninstallerCrash, KindAgentRemoval:
		b.WriteString(" " + subject)
	default:
		b.WriteString(" of " + subject)
	}
	if in.Computer != "" {
		b.WriteString(" on " + in.Computer)
	}
	switch in.Outcome {
	case OutcomeUnterminated:
		b.WriteString(" never finished")
		switch in.Reason {
		case "", ReasonUnknown:
			b.WriteString(" (reason unknown: no crash, shutdown or restart logged on this computer)")
		case ReasonLogEnds:
			b.WriteString(" (this computer's log ends first)")
		case ReasonCrash:
			b.WriteString(" (msiexec crashed or hung)")
		case ReasonPowerLoss:
			b.WriteString(" (power loss: the computer went down without shutting down)")
		case ReasonRestart:
			b.WriteString(" (the computer restarted)")
		default:
			b.WriteString(" (" + in.Reason + ")")
		}
	case OutcomeRolledBack:
		b.WriteString(" failed and was rolled back")
	case OutcomeRollbackFailed:
		b.WriteString(" failed and could not be rolled back: the product is left partly changed")
	case OutcomeSuperseded:
		b.WriteString(" never finished and was superseded by a later upgrade")
	case "":
	default:
		if in.Kind == KindAgentRemoval && in.Outcome == OutcomeFailed {
			b.WriteString(" removal") // "Security agent X on Y removal failed"
		}
		b.WriteString(" " + in.Outcome)
		if in.Reason != "" {
			b.WriteString(" (" + in.Reason + ")")
		}
	}
	if c := strings.TrimRight(in.Cause.String(), ". "); c != "" && in.Outcome != OutcomeUnterminated && (in.Outcome != OutcomeSucceeded && in.Outcome != OutcomeRemoved || in.Kind == KindAgentRemoval) {
		if in.Cause.Code != "" {
			b.WriteString("; cause: error " + c)
		} else {
			b.WriteString("; cause: " + c)
		}
	}
	if !in.FixedBy.IsZero() {
		b.WriteString("; installed successfully later (" + in.FixedBy.UTC().Format("2006-01-02 15:04:05") + " UTC)")
	}
	if a := in.Advice(); a != "" && in.FixedBy.IsZero() {
		b.WriteString(". Next: " + a)
	}
	return strings.TrimSuffix(b.String(), ".") + "."
}

// Advice says what to do next, from the root cause and the outcome ("" when
// nothing needs doing).
func (in *Incident) Advice() string {
	code := in.Cause.Code
	if code == "" {
		code = in.Status
	}
	switch in.Kind {
	case KindServiceFailure:
		svc := "the service"
		if len(in.Services) > 0 {
			svc = in.Services[0]
		}
		return "the product is gone but " + svc + " is still configured; delete it (sc.exe delete <key>) if the product is meant to be gone, or reinstall the product"
	case KindAgentRemoval:
		if in.Outcome == OutcomeSucceeded || in.Outcome == OutcomeRemoved {
			return "confirm the removal was authorised (who ran it, from where); reinstall the agent if it was not"
		}
	case KindUninstallerCrash:
		return "check whether the product is still installed; retry the removal, or use the vendor's cleanup tool"
	case KindAppxRemoval, KindAppxDeployment:
		switch strings.ToLower(code) {
		case "0x80070005", "0x80073d28":
			return "run the removal elevated (Remove-AppxPackage -AllUsers as an administrator)"
		case "0x80073d02":
			return "close the app (it is running) and retry"
		}
		if in.Outcome != OutcomeSucceeded {
			return "read the AppXDeploymentServer log around this time; retry Remove-AppxPackage"
		}
	case KindUpdateRemoval:
		return "check the update's state (DISM /Online /Get-Packages); retry, or remove it with DISM /Remove-Package"
	}
	if in.Outcome == OutcomeSucceeded || in.Outcome == OutcomeRemoved {
		if in.Reason == ReasonRestartRequired {
			return "restart the computer to finish"
		}
		return ""
	}
	switch code {
	case "1612", "1706", "1311", "1316":
		return "the cached package (C:\\Windows\\Installer) or the installation source is missing: restore it, or run the operation with the MSI of the same version, or use the vendor's cleanup tool"
	case "1730", "1925", "1303", "1321", "1926", "5":
		return "run it as an administrator (elevated), or as SYSTEM through the deployment tool"
	case "1720", "1721", "1722", "1723":
		what := "the custom action"
		if d := in.Cause.Detail; strings.HasPrefix(d, "custom action ") {
			what = d
		}
		return "read the verbose MSI log (msiexec /l*v) around " + what + ", fix what it needs (a file, a service, a prerequisite) or ask the vendor, then retry"
	case "1712":
		return "the machine is in a partial state: reinstall or repair the same version, then remove it again"
	case "1714":
		return "the old version could not be removed: fix its removal first (often its cached package is missing), then rerun the upgrade"
	case "1618", "1500":
		return "another installation was running: retry when it has finished"
	case "1605", "1614":
		return "the product was not installed (already removed?): nothing changed"
	case "1610":
		return "the product's registration is corrupt: repair it or use the vendor's cleanup tool"
	case "1602":
		return "cancelled by the user: nothing changed; run it again if still wanted"
	case "1638":
		return "another version is already installed: remove it first or use the upgrade package"
	case "1306":
		return "a file was in use: close the program holding it (or restart), then retry"
	case "1920", "1921", "1922", "1923", "1939":
		return "a service of the product could not be started, stopped or deleted: stop it (sc.exe stop), check what holds it, then retry"
	}
	if in.Cause.Name == "internal error" && in.Cause.Detail != "" && in.Outcome != OutcomeUnterminated {
		return "the package stopped with the message above: do what it asks (often a missing prerequisite), then retry"
	}
	switch in.Outcome {
	case OutcomeUnterminated:
		switch in.Reason {
		case ReasonPowerLoss, ReasonRestart, ReasonCrash:
			return "the operation was cut off: check whether the product is half-installed (Programs and Features), repair or reinstall the same version, then retry"
		case ReasonLogEnds:
			return "collect this computer's later logs to see how it ended"
		}
		return "check whether the product is installed as expected; collect the MSI log if it is not"
	case OutcomeRollbackFailed:
		return "the machine is in a partial state: reinstall or repair the same version, then remove it again"
	case OutcomeRolledBack:
		if isRemoval(in.Kind) {
			return "the product is still installed; read the verbose MSI log (msiexec /l*v) for the first 'Return value 3', fix it and retry"
		}
		return "nothing was changed; read the verbose MSI log (msiexec /l*v) for the first 'Return value 3', fix it and retry"
	}
	return "read the verbose MSI log (msiexec /l*v) of this operation, fix the first error and retry"
}
