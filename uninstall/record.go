package uninstall

import (
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/evtxscan/evtxscan/parser"
	"github.com/evtxscan/evtxscan/rules"
)

// kind says what an event means to a session.
type kind uint8

const (
	kindIgnore      kind = iota
	kindMsiStart         // 1040
	kindMsiEnd           // 1042
	kindMsiOutcome       // 1033, 1034, 1035, 1037
	kindMsiSentence      // 11000–11999, 10005
	kindMsiReboot        // 1038, 1029, 1005
	kindScmState         // 7036
	kindScmError         // 7000, 7009, 7011, 7022, 7023, 7024, 7031, 7034
	kindScmInstall       // 7045: a service was installed (its ImagePath)
	kindCrash            // msiexec.exe in Application Error / Application Hang / WER
	kindShutdown         // EventLog 6008, Kernel-Power 41: the system went down hard
	kindBoot             // EventLog 6005 (the system started), 6006 (clean shutdown)
	kindProcess          // Security 4688 of msiexec.exe
	kindContext          // Restart Manager 10000–10010, User32 1074: shown when inside a session
	kindRestart          // User32 1074 started by msiexec: belongs to the operation it ends
	kindAppCrash         // Application Error 1000, Application Hang 1002, WER 1001 of another program than msiexec
	kindAgentCmd         // Sysmon 1 / Security 4688 of "sysmon -u": an agent's uninstall command
	kindAgentState       // Sysmon 4: the Sysmon service state changed (Stopped / Started)
	kindUpdate           // a Windows update removal step: WUC 23/24/212–215, Servicing 1–6 to Absent, WUSA 7/8
)

// maxField bounds every string a record keeps from an event.
const maxField = 4096

// A record is the compact part of one event the tracker needs. Context
// records (SCM, crashes, shutdowns, Restart Manager) are about 180 bytes;
// MsiInstaller records and msiexec process creations carry a detail.
type record struct {
	kind     kind
	level    uint8
	eventID  uint16
	time     time.Time
	seq      uint64 // arrival order: ties in time keep log order
	computer string
	ref      rules.EventRef
	service  string // SCM display name
	svcKey   string // SCM service key (Binary), 7045 ImagePath
	state    string // 7036: "running", "stopped" or ""
	// *detail is set for MsiInstaller records and process creations only;
	// the session code reads its fields on those kinds alone.
	*detail
}

// detail holds what MsiInstaller records and process creations add.
type detail struct {
	user                       string // Security UserID (SID), or DOMAIN\user of a 4688
	pkg, pid                   string // 1040/1042 package and client pid; 4688 pid (decimal)
	product, version, status   string
	statusMeaning, productCode string
	sentence, errNum, errCat   string
	errMeaning                 string
	commandLine                string
	removal, success, reboot   bool // outcome kinds
	upgradeRemovalFailed       bool // 11714
	rollbackFailed             bool // 11712
}

func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) <= maxField {
		return s
	}
	n := maxField
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// fieldResolver looks a field up the way the rules do (field maps included).
type fieldResolver interface {
	Resolve(ev *parser.Event, field string) (string, bool)
}

func get(r fieldResolver, ev *parser.Event, field string) string {
	v, _ := r.Resolve(ev, field)
	return clip(v)
}

// Outcome error numbers of 11NNN sentences: they report the result, they do
// not explain it (Error-table 1707/1708 installed/failed, 1715-1717 restore
// point texts, 1724/1725 removal, 1726/1727 advertisement, 1728/1729
// configuration).
var outcomeNumbers = map[string]bool{
	"1707": true, "1708": true, "1715": true, "1716": true, "1717": true,
	"1724": true, "1725": true, "1726": true, "1727": true, "1728": true, "1729": true,
}

// classify turns an event into a record, or reports false for events no
// session needs.
func classify(r fieldResolver, ev *parser.Event) (record, bool) {
	rec := record{
		time:     ev.Time(),
		computer: ev.System.Computer,
		eventID:  ev.System.EventID,
		level:    ev.System.Level,
	}
	id := ev.System.EventID
	switch provider := ev.System.Provider; {
	case strings.EqualFold(provider, "MsiInstaller"):
		rec.detail = &detail{user: ev.System.UserID}
		switch {
		case id == 1040 || id == 1042:
			rec.kind = kindMsiStart
			if id == 1042 {
				rec.kind = kindMsiEnd
			}
			rec.pkg = get(r, ev, "Package")
			rec.pid = get(r, ev, "ClientProcessId")
		case id == 1033 || id == 1034 || id == 1035 || id == 1036 || id == 1037:
			rec.kind = kindMsiOutcome
			rec.product = get(r, ev, "ProductName")
			rec.version = get(r, ev, "ProductVersion")
			rec.status = get(r, ev, "Status")
			rec.statusMeaning = get(r, ev, "StatusMeaning")
			rec.productCode = get(r, ev, "ProductCode")
			rec.removal = id == 1034 || id == 1037
			if id == 1036 || id == 1037 {
				rec.pkg = get(r, ev, "UpdateName")
			}
		case id >= 11000 && id <= 11999 || id == 10005:
			rec.kind = kindMsiSentence
			rec.sentence = get(r, ev, "Sentence")
			if rec.sentence == "" {
				rec.sentence = clip(positional(ev, 1))
			}
			rec.product = get(r, ev, "ProductName")
			rec.productCode = get(r, ev, "ProductCode")
			rec.errNum = get(r, ev, "MsiError")
			if rec.errNum == "" && id != 10005 {
				rec.errNum = strconv.Itoa(int(id) - 10000)
			}
			rec.errCat = get(r, ev, "MsiErrorCategory")
			rec.errMeaning = get(r, ev, "MsiErrorMeaning")
			switch id {
			case 11707, 11728:
				rec.success = true
			case 11724:
				rec.removal, rec.success = true, true
			case 11725:
				rec.removal = true
			case 11714:
				rec.upgradeRemovalFailed = true
			case 11712:
				rec.rollbackFailed = true
			}
		case id == 1038 || id == 1029 || id == 1005:
			rec.kind = kindMsiReboot
			rec.reboot = true
		default:
			return rec, false
		}
	case strings.EqualFold(provider, "Service Control Manager"):
		switch id {
		case 7036:
			rec.kind = kindScmState
			rec.service = clip(serviceName(ev))
			rec.state = serviceState(ev)
		case 7000, 7009, 7011, 7022, 7023, 7024, 7031, 7034:
			rec.kind = kindScmError
			rec.service = clip(serviceName(ev))
			rec.svcKey = clip(get(r, ev, "ServiceKey"))
			rec.state = clip(get(r, ev, "ErrorCode")) // the Win32 error, e.g. 2 (file not found)
		case 7045:
			rec.kind = kindScmInstall
			name, _ := ev.Data("ServiceName")
			rec.service = clip(name)
			image, _ := ev.Data("ImagePath")
			rec.svcKey = clip(image)
		default:
			return rec, false
		}
	case strings.EqualFold(provider, "Application Error") && id == 1000,
		strings.EqualFold(provider, "Application Hang") && id == 1002,
		strings.EqualFold(provider, "Windows Error Reporting") && id == 1001:
		app := get(r, ev, "AppName")
		rec.kind = kindCrash
		if !strings.EqualFold(app, "msiexec.exe") {
			if !nsisUninstaller(app) {
				return rec, false
			}
			// Kept only to tie an uninstaller's crash to the process
			// creation that names its product (machine.appCrashed).
			rec.kind = kindAppCrash
			rec.detail = &detail{product: app, version: get(r, ev, "AppVersion"), errNum: get(r, ev, "ExceptionCode"),
				errMeaning: get(r, ev, "ExceptionMeaning"), user: ev.System.UserID}
			if pid, ok := parseHexPid(cmp0(get(r, ev, "AppProcessId"), get(r, ev, "ProcessId"))); ok {
				rec.pid = pid
			}
		}
	case strings.EqualFold(provider, "EventLog") && id == 6008,
		strings.EqualFold(provider, "Microsoft-Windows-Kernel-Power") && id == 41:
		rec.kind = kindShutdown
	case strings.EqualFold(provider, "EventLog") && (id == 6005 || id == 6006):
		rec.kind = kindBoot
	case strings.EqualFold(provider, "User32") && id == 1074:
		rec.kind = kindContext
		if proc, _ := ev.Data("param1"); strings.Contains(strings.ToLower(proc), "msiexec") {
			rec.kind = kindRestart
		} else if code := get(r, ev, "ReasonCodeHex"); strings.EqualFold(code, "0x80030002") {
			rec.kind = kindRestart
		}
	case strings.EqualFold(provider, "Microsoft-Windows-RestartManager") && id >= 10000 && id <= 10010:
		rec.kind = kindContext
		if id == 10002 || id == 10010 {
			// The application Restart Manager shut down: names what the
			// operation is about when nothing else does.
			rec.service = get(r, ev, "DisplayName")
			rec.svcKey = get(r, ev, "FullPath") // the program: its folder ties services to the product
		}
	case strings.EqualFold(provider, "Microsoft-Windows-WindowsUpdateClient"),
		strings.EqualFold(provider, "Microsoft-Windows-Servicing"),
		strings.EqualFold(provider, "Microsoft-Windows-WUSA"):
		if !classifyUpdate(r, ev, &rec) {
			return rec, false
		}
	case strings.EqualFold(provider, "Microsoft-Windows-Sysmon") && id == 4:
		state, _ := ev.Data("State")
		version, _ := ev.Data("Version")
		rec.kind, rec.detail = kindAgentState, &detail{product: "Sysmon", version: clip(version), status: strings.ToLower(clip(state))}
	case strings.EqualFold(provider, "Microsoft-Windows-Sysmon") && id == 1,
		strings.EqualFold(provider, "Microsoft-Windows-Security-Auditing") && id == 4688 && agentUninstall(ev):
		if !agentUninstall(ev) {
			return rec, false
		}
		cl, _ := ev.Data("CommandLine")
		user, _ := ev.Data("User")
		if user == "" {
			user, _ = ev.Data("SubjectUserName")
		}
		rec.kind, rec.detail = kindAgentCmd, &detail{product: "Sysmon", commandLine: clip(cl), user: clip(user)}
	case strings.EqualFold(provider, "Microsoft-Windows-Security-Auditing") && id == 4688:
		name, _ := ev.Data("NewProcessName")
		if !strings.EqualFold(basename(name), "msiexec.exe") && !nsisUninstaller(name) {
			return rec, false
		}
		rec.kind = kindProcess
		rec.detail = &detail{}
		pidHex, _ := ev.Data("NewProcessId")
		pid, ok := parseHexPid(pidHex)
		if !ok {
			return rec, false
		}
		rec.pid = pid
		rec.sentence = clip(name) // the program's path
		rec.commandLine, _ = ev.Data("CommandLine")
		rec.commandLine = clip(rec.commandLine)
		user, _ := ev.Data("SubjectUserName")
		if domain, _ := ev.Data("SubjectDomainName"); domain != "" && domain != "-" && user != "" {
			user = domain + `\` + user
		}
		rec.user = clip(user)
	default:
		return rec, false
	}
	id64 := ev.System.EventRecordID
	if id64 == 0 {
		id64 = ev.Source.RecordID
	}
	rec.ref = rules.EventRef{File: ev.Source.File, RecordID: id64, EventID: id,
		Provider: ev.System.Provider, Channel: ev.System.Channel, Time: rec.time}
	return rec, true
}

// sysmonUninstall matches Sysmon's uninstall switch: -u (also "-u force").
var sysmonUninstall = regexp.MustCompile(`(?i)(^|\s)[-/]u(\s|$)`)

// agentUninstall reports whether a process creation (Sysmon 1, Security
// 4688) runs Sysmon's uninstall: sysmon.exe / sysmon64.exe -u.
func agentUninstall(ev *parser.Event) bool {
	image, ok := ev.Data("Image")
	if !ok {
		image, _ = ev.Data("NewProcessName")
	}
	name := strings.ToLower(basename(image))
	if name != "sysmon.exe" && name != "sysmon64.exe" {
		return false
	}
	cl, _ := ev.Data("CommandLine")
	return sysmonUninstall.MatchString(cl)
}

// parseHexPid reads a process id written in hex ("0x2c44", "2c44") and
// returns it in decimal, the form 1040's ClientProcessId uses.
func parseHexPid(s string) (string, bool) {
	n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "0x"), 16, 32)
	if err != nil {
		return "", false
	}
	return strconv.FormatUint(n, 10), true
}

// nsisUninstaller reports whether a process path is a non-MSI uninstaller
// whose crash names no product by itself: NSIS's temporary copy Au_.exe,
// Inno Setup's unins000.exe, uninst.exe, uninstall.exe.
func nsisUninstaller(path string) bool {
	name := strings.ToLower(basename(path))
	return name == "au_.exe" || strings.HasPrefix(name, "unins") && strings.HasSuffix(name, ".exe")
}

func positional(ev *parser.Event, n int) string {
	v, _ := ev.Positional(n)
	return v
}

func basename(p string) string {
	if i := strings.LastIndexAny(p, `\/`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// serviceName is the display name of a 7036 / 7000… event (param1).
func serviceName(ev *parser.Event) string {
	if v, ok := ev.Data("param1"); ok {
		return v
	}
	return positional(ev, 1)
}

// serviceState reads the new state of a 7036 event: "running", "stopped" or
// "" for others. The Binary ends in the state number (UTF-16 "Key/4": 4
// running, 1 stopped), which survives localization; param2 is the English
// word as a fallback.
func serviceState(ev *parser.Event) string {
	if b := ev.Binary; len(b) >= 4 && len(b)%2 == 0 && len(b) <= 1024 {
		u := make([]uint16, len(b)/2)
		for i := range u {
			u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
		}
		s := strings.TrimRight(string(utf16.Decode(u)), "\x00")
		if i := strings.LastIndexByte(s, '/'); i >= 0 {
			switch s[i+1:] {
			case "4":
				return "running"
			case "1":
				return "stopped"
			}
		}
	}
	state, _ := ev.Data("param2")
	switch strings.ToLower(strings.TrimSpace(state)) {
	case "running":
		return "running"
	case "stopped":
		return "stopped"
	}
	return ""
}
