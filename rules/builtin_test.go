package rules

import (
	"context"
	"encoding/hex"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/evtxscan/evtxscan/internal/testenv"
	"github.com/evtxscan/evtxscan/parser"
	"github.com/evtxscan/evtxscan/rules/builtin"
)

// Tests of the built-in pack (rules/builtin): every rule has hits and
// near-misses on synthetic events built like the real ones
// (../shared/docs/uninstall-events.md §1.3, §4, §8), and every scenario
// fixture's must_find / must_not_find holds on the generated .evtx files.

var (
	builtinOnce sync.Once
	builtinRS   *Ruleset
	builtinErr  error
)

func builtinRuleset(t *testing.T) *Ruleset {
	t.Helper()
	builtinOnce.Do(func() {
		builtinRS = NewRuleset()
		builtinErr = builtinRS.AddBuiltin()
	})
	if builtinErr != nil {
		t.Fatalf("AddBuiltin: %v", builtinErr)
	}
	return builtinRS
}

// runBuiltin feeds events (in the order given) through a fresh engine of the
// built-in pack and returns every finding, Flush included.
func runBuiltin(t *testing.T, events []*parser.Event) []Finding {
	t.Helper()
	eng, err := builtinRuleset(t).NewEngine()
	if err != nil {
		t.Fatalf("NewEngine: %v", err)
	}
	var out []Finding
	emit := func(f Finding) { out = append(out, f) }
	for _, ev := range events {
		eng.Process(ev, emit)
	}
	eng.Flush(emit)
	return out
}

// atLeastOne as a wanted count means "one or more" (correlations may report a
// window more than once, which is the engine's business, not the pack's).
const atLeastOne = -1

// check runs events through the pack and asserts how many findings ruleID
// made; it returns them for further assertions.
func check(t *testing.T, ruleID string, events []*parser.Event, want int) []Finding {
	t.Helper()
	var got []Finding
	for _, f := range runBuiltin(t, events) {
		if f.RuleID == ruleID {
			got = append(got, f)
		}
	}
	if want == atLeastOne && len(got) == 0 || want != atLeastOne && len(got) != want {
		wantText := "≥1"
		if want != atLeastOne {
			wantText = strconv.Itoa(want)
		}
		t.Errorf("rule %s: got %d findings, want %s%s", ruleID, len(got), wantText, describeFindings(got))
	}
	return got
}

func describeFindings(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString("\n  " + f.Time.Format("15:04:05.000") + " " + f.Level.String())
		for _, d := range f.Fields {
			if d.Value != "" {
				b.WriteString(" " + d.Name + "=" + d.Value)
			}
		}
	}
	return b.String()
}

// ---- synthetic events ----

const testComputer = "PC-TEST.corp.contoso.com"

var channelOf = map[string]string{
	"MsiInstaller":                            "Application",
	"Application Error":                       "Application",
	"Application Hang":                        "Application",
	"Windows Error Reporting":                 "Application",
	"Microsoft-Windows-RestartManager":        "Application",
	"SecurityCenter":                          "Application",
	"Service Control Manager":                 "System",
	"User32":                                  "System",
	"Microsoft-Windows-WindowsUpdateClient":   "System",
	"Microsoft-Windows-Security-Auditing":     "Security",
	"Microsoft-Windows-Servicing":             "Setup",
	"Microsoft-Windows-WUSA":                  "Setup",
	"Microsoft-Windows-AppXDeployment-Server": "Microsoft-Windows-AppXDeploymentServer/Operational",
	"Microsoft-Windows-Sysmon":                "Microsoft-Windows-Sysmon/Operational",
}

type evOpt func(*parser.Event)

var recordSeq uint64

// synth builds one event of provider at "hh:mm:ss[.fff]" UTC on 2026-02-10.
func synth(providerName string, id uint16, at string, opts ...evOpt) *parser.Event {
	ts, err := time.Parse(time.RFC3339Nano, "2026-02-10T"+at+"Z")
	if err != nil {
		panic("bad test time " + at)
	}
	recordSeq++
	ev := &parser.Event{
		Source: parser.Source{File: "synthetic/" + channelOf[providerName] + ".evtx", RecordID: recordSeq, Written: ts},
		System: parser.System{
			Provider: providerName, EventID: id, Level: 4, TimeCreated: ts, EventRecordID: recordSeq,
			Channel: channelOf[providerName], Computer: testComputer,
		},
	}
	if providerName == "MsiInstaller" {
		ev.System.HasQualifiers = true
		ev.System.Keywords = 0x80000000000000
	}
	for _, o := range opts {
		o(ev)
	}
	return ev
}

// posData appends unnamed <Data> values.
func posData(values ...string) evOpt {
	return func(ev *parser.Event) {
		for _, v := range values {
			ev.EventData = append(ev.EventData, parser.Field{Value: v})
		}
	}
}

// namedData appends <Data Name=…> values: name, value, name, value, …
func namedData(kv ...string) evOpt {
	return func(ev *parser.Event) {
		for i := 0; i+1 < len(kv); i += 2 {
			ev.EventData = append(ev.EventData, parser.Field{Name: kv[i], Value: kv[i+1]})
		}
	}
}

func atLevel(l uint8) evOpt          { return func(ev *parser.Event) { ev.System.Level = l } }
func onComputer(c string) evOpt      { return func(ev *parser.Event) { ev.System.Computer = c } }
func withBinary(b []byte) evOpt      { return func(ev *parser.Event) { ev.Binary = b } }
func asUser(sid string) evOpt        { return func(ev *parser.Event) { ev.System.UserID = sid } }
func fromProvider(name string) evOpt { return func(ev *parser.Event) { ev.System.Provider = name } }
func evOpts(o ...evOpt) []evOpt      { return o }

const (
	contosoCode = "{7BE25830-15EE-4797-A25F-DF614ACA9B8E}"
	nimbusCode  = "{A1B2C3D4-0000-4E5F-8A9B-0C1D2E3F4A5B}"
	otherCode   = "{C3D4E5F6-2222-4071-ACBD-2E3F40516C7D}"
	aliceSID    = "S-1-5-21-3623811015-3361044348-30300820-1001"
)

// msiStatus builds a 1033/1034/1035: Data = product, version, language,
// status, manufacturer, (NULL), ""; Binary = ASCII "{GUID}0000" + 32 + 8 hex.
func msiStatus(id uint16, at, product, version, status, code string, opts ...evOpt) *parser.Event {
	bin := []byte(code + "0000" + "942271ef88bacb272a9d8aa9124a1bd9" + "00000904")
	return synth("MsiInstaller", id, at, append(evOpts(
		posData(product, version, "1033", status, "Contoso Ltd.", "(NULL)", ""),
		withBinary(bin), asUser(aliceSID)), opts...)...)
}

// msiUpdate builds a 1036/1037: the update name is Data[4], the status Data[5].
func msiUpdate(id uint16, at, product, update, status string) *parser.Event {
	return synth("MsiInstaller", id, at,
		posData(product, "1.0", "1033", update, status, "Contoso Ltd.", "(NULL)"), withBinary([]byte(contosoCode)))
}

// msiSentence builds an 11NNN / 10005: Data[1] the sentence, (NULL)×5, "",
// Binary = ASCII "{GUID}".
func msiSentence(id uint16, at, sentence, code string, opts ...evOpt) *parser.Event {
	return synth("MsiInstaller", id, at, append(evOpts(
		posData(sentence, "(NULL)", "(NULL)", "(NULL)", "(NULL)", "(NULL)", ""),
		withBinary([]byte(code)), asUser(aliceSID)), opts...)...)
}

// msiSession builds a 1040 / 1042: package, client PID, (NULL)×4, "".
func msiSession(id uint16, at, pkg, pid string, opts ...evOpt) *parser.Event {
	return synth("MsiInstaller", id, at, append(evOpts(
		posData(pkg, pid, "(NULL)", "(NULL)", "(NULL)", "(NULL)", "")), opts...)...)
}

func process4688(at, image, cmdline string) *parser.Event {
	return synth("Microsoft-Windows-Security-Auditing", 4688, at, atLevel(0), namedData(
		"SubjectUserSid", aliceSID, "SubjectUserName", "alice", "SubjectDomainName", "CONTOSO",
		"NewProcessId", "0x1a2c", "NewProcessName", image, "TokenElevationType", "%%1937",
		"ProcessId", "0x1f04", "CommandLine", cmdline, "ParentProcessName", `C:\Windows\System32\cmd.exe`))
}

func scmEvent(id uint16, at string, params ...string) *parser.Event {
	var kv []string
	for i, p := range params {
		kv = append(kv, "param"+strconv.Itoa(i+1), p)
	}
	lvl := uint8(2)
	if id == 7036 || id == 7040 {
		lvl = 4
	}
	return synth("Service Control Manager", id, at, atLevel(lvl), namedData(kv...))
}

// scmWithKey sets the Binary SCM writes: UTF-16LE "<key>" + NUL, or
// "<key>/<state>" + NUL for 7036.
func scmWithKey(ev *parser.Event, keyAndState string) *parser.Event {
	for _, r := range keyAndState + "\x00" {
		ev.Binary = append(ev.Binary, byte(r), 0)
	}
	return ev
}

// contosoRollback is §8 scenario 1: an uninstall failing in a custom action.
func contosoRollback() []*parser.Event {
	pkg := `C:\Users\alice\Downloads\ContosoAgent.msi`
	return []*parser.Event{
		msiSession(1040, "10:00:00.600", pkg, "6700"),
		scmWithKey(scmEvent(7036, "10:00:02.000", "Contoso Agent Service", "stopped"), "ContosoAgentSvc/1"),
		msiSentence(11722, "10:00:03.400", "Product: Contoso Agent -- Error 1722. There is a problem with this Windows Installer package. A program run as part of the setup did not finish as expected. Contact your support personnel or package vendor.  Action CA_UnregisterDriver, location: C:\\Program Files\\Contoso\\Agent\\, command: \"C:\\Program Files\\Contoso\\Agent\\agentctl.exe\" --unregister", contosoCode, atLevel(2)),
		scmWithKey(scmEvent(7036, "10:00:04.100", "Contoso Agent Service", "running"), "ContosoAgentSvc/4"),
		msiSentence(11725, "10:00:04.300", "Product: Contoso Agent -- Removal failed.", contosoCode),
		msiStatus(1034, "10:00:04.301", "Contoso Agent", "4.2.0.17", "1603", contosoCode),
		msiSession(1042, "10:00:04.400", pkg, "6700", asUser("S-1-5-18")),
	}
}

// without returns events minus those with the given event ids.
func withoutIDs(events []*parser.Event, ids ...uint16) []*parser.Event {
	var out []*parser.Event
	for _, ev := range events {
		if !slices.Contains(ids, ev.System.EventID) {
			out = append(out, ev)
		}
	}
	return out
}

// ---- the pack loads ----

func TestBuiltinPackLoads(t *testing.T) {
	rs := builtinRuleset(t)
	for _, s := range rs.Skipped() {
		t.Errorf("built-in rule refused: %v", s)
	}
	infos := map[string]RuleInfo{}
	for _, ri := range rs.Rules() {
		infos[ri.ID] = ri
	}
	for _, id := range []string{
		"msi_uninstall_failed_status", "msi_removal_failed_message", "msi_uninstall_error_cause",
		"msi_rollback_inferred", "msi_rollback_failed", "msi_session_unterminated",
		"msi_upgrade_old_version_not_removed", "msi_cached_package_or_source_missing",
		"msi_uninstall_privilege_denied", "uninstall_service_teardown_failure", "uninstaller_crash_or_hang",
		"uninstall_reboot_pending_or_forced", "appx_removal_failed", "os_update_uninstall_failed",
		"security_product_uninstall", "msi_repeated_uninstall_attempts", "msi_win32_product_enumeration",
		"msi_operation_failed",
	} {
		ri, ok := infos[id]
		switch {
		case !ok:
			t.Errorf("rule %s not loaded", id)
		case ri.Hidden:
			t.Errorf("rule %s is hidden", id)
		case ri.Title == "" || ri.Description == "":
			t.Errorf("rule %s: empty title or description", id)
		}
	}
	for id, ri := range infos {
		if strings.HasPrefix(id, "base_") != ri.Hidden {
			t.Errorf("rule %s: hidden=%v; only base_ rules are hidden", id, ri.Hidden)
		}
	}
	wantKind := map[string]string{
		"msi_rollback_inferred": "correlation", "msi_session_unterminated": "correlation",
		"uninstall_service_teardown_failure": "correlation", "msi_repeated_uninstall_attempts": "correlation",
		"msi_win32_product_enumeration": "correlation", "msi_uninstall_failed_status": "detection",
	}
	for id, k := range wantKind {
		if got := infos[id].Kind; got != k {
			t.Errorf("rule %s: kind %q, want %q", id, got, k)
		}
	}
}

// ---- per rule: hits and near-misses ----

type packCase struct {
	name   string
	rule   string
	events []*parser.Event
	want   int               // findings of rule; atLeastOne = at least one
	level  string            // when set, every finding has this level
	fields map[string]string // when set, the first finding shows these values
}

func runPackCases(t *testing.T, cases []packCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := check(t, tc.rule, tc.events, tc.want)
			for _, f := range got {
				if tc.level != "" && f.Level.String() != tc.level {
					t.Errorf("level %s, want %s", f.Level, tc.level)
				}
			}
			if len(got) > 0 {
				for name, want := range tc.fields {
					if v := got[0].Field(name); v != want {
						t.Errorf("field %s = %q, want %q", name, v, want)
					}
				}
			}
		})
	}
}

func TestRuleMsiUninstallFailedStatus(t *testing.T) {
	const rule = "msi_uninstall_failed_status"
	runPackCases(t, []packCase{
		{name: "1603 is high", rule: rule, want: 1, level: "high",
			events: []*parser.Event{msiStatus(1034, "10:00:00", "Contoso Agent", "4.2.0.17", "1603", contosoCode)},
			fields: map[string]string{"ProductName": "Contoso Agent", "ProductVersion": "4.2.0.17", "Status": "1603",
				"ProductCode": contosoCode, "StatusMeaning": "ERROR_INSTALL_FAILURE: fatal error during installation (rolled back)",
				"UserID": aliceSID, "Computer": testComputer}},
		{name: "1612 is high", rule: rule, want: 1, level: "high",
			events: []*parser.Event{msiStatus(1034, "10:00:00", "Nimbus Sync", "3.9.1", "1612", nimbusCode)}},
		{name: "1602 user cancel is low", rule: rule, want: 1, level: "low",
			events: []*parser.Event{msiStatus(1034, "10:00:00", "Contoso Agent", "4.2.0.17", "1602", contosoCode)}},
		{name: "1605 unknown product is medium", rule: rule, want: 1, level: "medium",
			events: []*parser.Event{msiStatus(1034, "10:00:00", "Contoso Agent", "4.2.0.17", "1605", contosoCode)}},
		{name: "unlisted status keeps high", rule: rule, want: 1, level: "high",
			events: []*parser.Event{msiStatus(1034, "10:00:00", "Contoso Agent", "4.2.0.17", "1627", contosoCode)}},
		{name: "failure at Level 4 (Information) still counts", rule: rule, want: 1,
			events: []*parser.Event{msiStatus(1034, "10:00:00", "Contoso Agent", "1", "1603", contosoCode, atLevel(4))}},
		{name: "near-miss: status 0", rule: rule, want: 0,
			events: []*parser.Event{msiStatus(1034, "10:00:00", "Contoso Agent", "1", "0", contosoCode)}},
		{name: "near-miss: 3010 is success with restart", rule: rule, want: 0,
			events: []*parser.Event{msiStatus(1034, "10:00:00", "Contoso Agent", "1", "3010", contosoCode)}},
		{name: "near-miss: 1641 is success, restart initiated", rule: rule, want: 0,
			events: []*parser.Event{msiStatus(1034, "10:00:00", "Contoso Agent", "1", "1641", contosoCode)}},
		{name: "near-miss: status 0 at Level 2", rule: rule, want: 0,
			events: []*parser.Event{msiStatus(1034, "10:00:00", "Contoso Agent", "1", "0", contosoCode, atLevel(2))}},
		{name: "near-miss: install 1033 with 1603", rule: rule, want: 0,
			events: []*parser.Event{msiStatus(1033, "10:00:00", "Contoso Agent", "1", "1603", contosoCode)}},
		{name: "near-miss: status missing", rule: rule, want: 0,
			events: []*parser.Event{synth("MsiInstaller", 1034, "10:00:00", posData("Contoso Agent", "1", "1033"))}},
		{name: "near-miss: status not a number", rule: rule, want: 0,
			events: []*parser.Event{msiStatus(1034, "10:00:00", "Contoso Agent", "1", "(NULL)", contosoCode)}},
		{name: "near-miss: another provider's 1034", rule: rule, want: 0,
			events: []*parser.Event{msiStatus(1034, "10:00:00", "Contoso Agent", "1", "1603", contosoCode, fromProvider("Contoso"))}},
	})
}

func TestRuleMsiRemovalFailedMessage(t *testing.T) {
	const rule = "msi_removal_failed_message"
	removalFailed := func(at, code string) *parser.Event {
		return msiSentence(11725, at, "Product: Contoso Agent -- Removal failed.", code)
	}
	runPackCases(t, []packCase{
		{name: "11725 alone", rule: rule, want: 1, level: "high",
			events: []*parser.Event{removalFailed("10:00:04.300", contosoCode)},
			fields: map[string]string{"ProductName": "Contoso Agent", "ProductCode": contosoCode, "Outcome": "Removal failed."}},
		{name: "localized sentence", rule: rule, want: 1,
			events: []*parser.Event{msiSentence(11725, "10:00:00", "Produit : Contoso Agent -- La suppression a échoué.", contosoCode)},
			fields: map[string]string{"ProductName": "Contoso Agent"}},
		{name: "deduplicated into the 1034 of the same product", rule: rule, want: 0,
			events: []*parser.Event{removalFailed("10:00:04.300", contosoCode),
				msiStatus(1034, "10:00:04.301", "Contoso Agent", "4.2.0.17", "1603", contosoCode)}},
		{name: "kept when the 1034 is another product", rule: rule, want: 1,
			events: []*parser.Event{removalFailed("10:00:04.300", contosoCode),
				msiStatus(1034, "10:00:04.301", "Other", "1", "1603", otherCode)}},
		{name: "kept when the 1034 is far away", rule: rule, want: 1,
			events: []*parser.Event{removalFailed("10:00:04.300", contosoCode),
				msiStatus(1034, "10:05:00", "Contoso Agent", "4.2.0.17", "1603", contosoCode)}},
		{name: "kept when the 1034 is on another computer", rule: rule, want: 1,
			events: []*parser.Event{removalFailed("10:00:04.300", contosoCode),
				msiStatus(1034, "10:00:04.301", "Contoso Agent", "4.2.0.17", "1603", contosoCode, onComputer("PC-OTHER"))}},
		{name: "near-miss: removal completed (11724)", rule: rule, want: 0,
			events: []*parser.Event{msiSentence(11724, "10:00:00", "Product: Contoso Agent -- Removal completed successfully.", contosoCode)}},
	})
	// The 1034 itself still reports when the 11725 is dropped.
	check(t, "msi_uninstall_failed_status", []*parser.Event{removalFailed("10:00:04.300", contosoCode),
		msiStatus(1034, "10:00:04.301", "Contoso Agent", "4.2.0.17", "1603", contosoCode)}, 1)
}

func TestRuleMsiUninstallErrorCause(t *testing.T) {
	const rule = "msi_uninstall_error_cause"
	runPackCases(t, []packCase{
		{name: "custom action 1722 at Level 2", rule: rule, want: 1, level: "high",
			events: []*parser.Event{contosoRollback()[2]},
			fields: map[string]string{"ProductName": "Contoso Agent", "MsiError": "1722", "MsiErrorCategory": "custom action",
				"ProductCode": contosoCode}},
		{name: "localized 1714 at Level 4", rule: rule, want: 1,
			events: []*parser.Event{msiSentence(11714, "09:10:02.900", "Produit : Nimbus Sync -- Erreur 1714. L'ancienne version de Nimbus Sync ne peut pas être supprimée. Erreur système 1612.", nimbusCode)},
			fields: map[string]string{"MsiError": "1714", "MsiErrorCategory": "upgrade"}},
		{name: "internal error 10005", rule: rule, want: 1,
			events: []*parser.Event{msiSentence(10005, "10:00:00", "Product: ZipLock -- The installer has encountered an unexpected error installing this package. This may indicate a problem with this package. The error code is 2503. The arguments are: , ,", contosoCode, atLevel(2))},
			fields: map[string]string{"MsiError": "2503"}},
		{name: "Level 2 sentence without a number", rule: rule, want: 1,
			events: []*parser.Event{msiSentence(11921, "10:00:00", "Product: Contoso Agent -- service could not be stopped", contosoCode, atLevel(2))}},
		{name: "near-miss: installation failed (11708)", rule: rule, want: 0,
			events: []*parser.Event{msiSentence(11708, "10:00:00", "Product: Contoso Agent -- Installation failed.", contosoCode)}},
		{name: "near-miss: removal failed (11725), even at Level 2", rule: rule, want: 0,
			events: []*parser.Event{msiSentence(11725, "10:00:00", "Product: Contoso Agent -- Removal failed.", contosoCode, atLevel(2))}},
		{name: "near-miss: configuration completed (11728)", rule: rule, want: 0,
			events: []*parser.Event{msiSentence(11728, "10:00:00", "Product: Contoso Agent 2016 -- Configuration completed successfully.", contosoCode)}},
		{name: "near-miss: Level 4 sentence without a number", rule: rule, want: 0,
			events: []*parser.Event{msiSentence(11316, "10:00:00", "Product: Contoso Agent -- see the log", contosoCode)}},
		{name: "near-miss: digits only in the product name", rule: rule, want: 0,
			events: []*parser.Event{msiSentence(11316, "10:00:00", "Product: Office 2016 -- see the log", contosoCode)}},
		{name: "near-miss: 1034 status event", rule: rule, want: 0,
			events: []*parser.Event{msiStatus(1034, "10:00:00", "Contoso Agent", "1", "1603", contosoCode, atLevel(2))}},
	})
}

func TestRuleMsiRollbackInferred(t *testing.T) {
	const rule = "msi_rollback_inferred"
	full := contosoRollback()
	late := contosoRollback()
	late[len(late)-1] = msiSession(1042, "10:40:00", `C:\Users\alice\Downloads\ContosoAgent.msi`, "6700")
	split := contosoRollback()
	split[2] = msiSentence(11722, "10:00:03.400", "Product: Contoso Agent -- Error 1722.", contosoCode, atLevel(2), onComputer("PC-OTHER"))
	cancelled := contosoRollback()
	cancelled[5] = msiStatus(1034, "10:00:04.301", "Contoso Agent", "4.2.0.17", "1602", contosoCode)
	reordered := contosoRollback()
	reordered[2], reordered[4] = reordered[4], reordered[2] // "Removal failed" before the cause
	reordered[2].System.TimeCreated, reordered[4].System.TimeCreated = reordered[4].System.TimeCreated, reordered[2].System.TimeCreated
	runPackCases(t, []packCase{
		{name: "full chain of §8 scenario 1", rule: rule, want: 1, level: "high", events: full},
		{name: "cancelled (1602) rolls back too", rule: rule, want: 1, events: cancelled},
		{name: "near-miss: no error cause", rule: rule, want: 0, events: withoutIDs(contosoRollback(), 11722)},
		{name: "near-miss: no 1034 status", rule: rule, want: 0, events: withoutIDs(contosoRollback(), 1034)},
		{name: "near-miss: successful removal", rule: rule, want: 0, events: []*parser.Event{
			msiSession(1040, "10:00:00", "a.msi", "1"),
			msiSentence(11724, "10:00:01", "Product: A -- Removal completed successfully.", contosoCode),
			msiStatus(1034, "10:00:01.001", "A", "1", "0", contosoCode),
			msiSession(1042, "10:00:02", "a.msi", "1")}},
		{name: "near-miss: session ends after 30 minutes", rule: rule, want: 0, events: late},
		{name: "near-miss: cause on another computer", rule: rule, want: 0, events: split},
		{name: "near-miss: failure sentence before the cause", rule: rule, want: 0, events: reordered},
	})
}

func TestRuleMsiRollbackServiceRestored(t *testing.T) {
	const rule = "msi_rollback_service_restored"
	noBinary := contosoRollback()
	noBinary[1].Binary, noBinary[3].Binary = nil, nil
	otherService := contosoRollback()
	otherService[3].Binary = nil
	scmWithKey(otherService[3], "OtherSvc/4")
	stayedDown := slices.Delete(contosoRollback(), 3, 4) // drop the 7036 "running"
	elsewhere := contosoRollback()
	elsewhere[1].System.Computer, elsewhere[3].System.Computer = "PC-OTHER", "PC-OTHER"
	success := []*parser.Event{
		msiSession(1040, "10:00:00", "a.msi", "1"),
		scmWithKey(scmEvent(7036, "10:00:01", "Contoso Agent Service", "stopped"), "ContosoAgentSvc/1"),
		msiSentence(11724, "10:00:02", "Product: A -- Removal completed successfully.", contosoCode),
		msiStatus(1034, "10:00:02.001", "A", "1", "0", contosoCode),
		scmWithKey(scmEvent(7036, "10:00:03", "Contoso Agent Service", "running"), "ContosoAgentSvc/4"),
		msiSession(1042, "10:00:04", "a.msi", "1")}
	runPackCases(t, []packCase{
		{name: "§8 scenario 1: service stopped, rollback restarts it", rule: rule, want: atLeastOne, level: "medium",
			events: contosoRollback(),
			fields: map[string]string{"ServiceName": "Contoso Agent Service", "ServiceKey": "ContosoAgentSvc",
				"ProductName": "Contoso Agent", "Status": "1603"}},
		{name: "near-miss: no rollback, the service just restarted", rule: rule, want: 0, events: success},
		{name: "near-miss: state only in localized param2 (no Binary)", rule: rule, want: 0, events: noBinary},
		{name: "near-miss: another service came up", rule: rule, want: 0, events: otherService},
		{name: "near-miss: service bounced on another computer", rule: rule, want: 0, events: elsewhere},
		{name: "near-miss: service stopped and stayed down", rule: rule, want: 0, events: stayedDown},
	})
	// The bonus never replaces the rollback finding itself.
	check(t, "msi_rollback_inferred", contosoRollback(), 1)
}

func TestRuleMsiRollbackFailed(t *testing.T) {
	const rule = "msi_rollback_failed"
	runPackCases(t, []packCase{
		{name: "1712 restoration impossible is critical", rule: rule, want: 1, level: "critical",
			events: []*parser.Event{msiSentence(11712, "10:00:00", "Product: Contoso Agent -- Error 1712. One or more of the files required to restore your computer to its previous state could not be found. Restoration will not be possible.", contosoCode, atLevel(2))},
			fields: map[string]string{"MsiError": "1712"}},
		{name: "1705 previous install in progress is high", rule: rule, want: 1, level: "high",
			events: []*parser.Event{msiSentence(11705, "10:00:00", "Product: Contoso Agent -- Error 1705. A previous install for this product is in progress.", contosoCode, atLevel(2))}},
		{name: "near-miss: 11710 (restore question)", rule: rule, want: 0,
			events: []*parser.Event{msiSentence(11710, "10:00:00", "Product: Contoso Agent -- Error 1710.", contosoCode, atLevel(2))}},
		{name: "near-miss: status 1653 is not a rollback failure event", rule: rule, want: 0,
			events: []*parser.Event{msiStatus(1034, "10:00:00", "Contoso Agent", "1", "1653", contosoCode)}},
	})
}

func TestRuleMsiSessionUnterminated(t *testing.T) {
	const rule = "msi_session_unterminated"
	pkg := `C:\Installers\FabrikamVPN.msi`
	runPackCases(t, []packCase{
		{name: "log ends inside the session", rule: rule, want: 1, level: "high",
			events: []*parser.Event{msiSession(1040, "14:00:00.500", pkg, "9120")},
			fields: map[string]string{"Package": pkg, "ClientProcessId": "9120"}},
		{name: "1042 more than 30 minutes later", rule: rule, want: 1, events: []*parser.Event{
			msiSession(1040, "14:00:00", pkg, "9120"), msiSession(1042, "14:31:00", pkg, "9120")}},
		{name: "near-miss: 1042 from the other msiexec process (client and server log it; issue #12)", rule: rule, want: 0, events: []*parser.Event{
			msiSession(1040, "14:00:00", pkg, "9120"), msiSession(1042, "14:00:05", pkg, "9121")}},
		{name: "1042 of another package", rule: rule, want: 1, events: []*parser.Event{
			msiSession(1040, "14:00:00", pkg, "9120"), msiSession(1042, "14:00:05", `C:\other.msi`, "9120")}},
		{name: "near-miss: ended cleanly", rule: rule, want: 0, events: []*parser.Event{
			msiSession(1040, "14:00:00", pkg, "9120"), msiSession(1042, "14:00:05", pkg, "9120")}},
		{name: "near-miss: the whole rollback scenario", rule: rule, want: 0, events: contosoRollback()},
	})
}

func TestRuleMsiUpgradeOldVersionNotRemoved(t *testing.T) {
	const rule = "msi_upgrade_old_version_not_removed"
	runPackCases(t, []packCase{
		{name: "11714 with System Error 1612", rule: rule, want: 1, level: "high",
			events: []*parser.Event{msiSentence(11714, "09:10:02.900", "Product: Nimbus Sync -- Error 1714. The older version of Nimbus Sync cannot be removed. Contact your technical support group. System Error 1612.", nimbusCode, atLevel(2))},
			fields: map[string]string{"ProductName": "Nimbus Sync", "SystemError": "1612",
				"SystemErrorMeaning": "ERROR_INSTALL_SOURCE_ABSENT: the installation source for this product is not available (cached package or source missing)"}},
		{name: "near-miss: installation failed alone", rule: rule, want: 0,
			events: []*parser.Event{msiSentence(11708, "09:10:03", "Product: Nimbus Sync -- Installation failed.", nimbusCode),
				msiStatus(1033, "09:10:03.001", "Nimbus Sync", "4.0.1", "1603", nimbusCode)}},
	})
}

func TestRuleMsiCachedPackageOrSourceMissing(t *testing.T) {
	const rule = "msi_cached_package_or_source_missing"
	runPackCases(t, []packCase{
		{name: "1034 status 1612", rule: rule, want: 1, level: "medium",
			events: []*parser.Event{msiStatus(1034, "10:05:01.101", "Nimbus Sync", "3.9.1", "1612", nimbusCode)}},
		{name: "11706 no valid source", rule: rule, want: 1,
			events: []*parser.Event{msiSentence(11706, "10:05:01", "Product: Nimbus Sync -- Error 1706. No valid source could be found for product Nimbus Sync.", nimbusCode, atLevel(2))}},
		{name: "11714 with System Error 1612", rule: rule, want: 1,
			events: []*parser.Event{msiSentence(11714, "09:10:02.900", "Product: Nimbus Sync -- Error 1714. The older version of Nimbus Sync cannot be removed. System Error 1612.", nimbusCode, atLevel(2))}},
		{name: "near-miss: 11714 with System Error 1610", rule: rule, want: 0,
			events: []*parser.Event{msiSentence(11714, "09:10:02.900", "Product: Nimbus Sync -- Error 1714. The older version of Nimbus Sync cannot be removed. System Error 1610.", nimbusCode, atLevel(2))}},
		{name: "near-miss: 1034 status 1603", rule: rule, want: 0,
			events: []*parser.Event{msiStatus(1034, "10:00:00", "Nimbus Sync", "3.9.1", "1603", nimbusCode)}},
		{name: "near-miss: 1035 status 1612 (repair)", rule: rule, want: 0,
			events: []*parser.Event{msiStatus(1035, "10:00:00", "Nimbus Sync", "3.9.1", "1612", nimbusCode)}},
	})
}

func appxEvent(id uint16, at, errorCode string) *parser.Event {
	return synth("Microsoft-Windows-AppXDeployment-Server", id, at, atLevel(2), namedData(
		"SummaryError", "", "PackageFullName", "Microsoft.Todos_0.143.2921.0_x64__8wekyb3d8bbwe",
		"ErrorCode", errorCode, "CallingProcess", `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`))
}

func TestRuleMsiUninstallPrivilegeDenied(t *testing.T) {
	const rule = "msi_uninstall_privilege_denied"
	runPackCases(t, []packCase{
		{name: "11730 must be an Administrator", rule: rule, want: 1, level: "medium",
			events: []*parser.Event{msiSentence(11730, "10:00:00", "Product: Contoso Agent -- Error 1730. You must be an Administrator to remove this application.", contosoCode, atLevel(2))},
			fields: map[string]string{"MsiError": "1730"}},
		{name: "AppX 404 access denied", rule: rule, want: 1,
			events: []*parser.Event{appxEvent(404, "10:00:00", "0x80070005")},
			fields: map[string]string{"ErrorMeaning": "E_ACCESSDENIED: access denied"}},
		{name: "AppX 401 admin required, lower-case hex", rule: rule, want: 1,
			events: []*parser.Event{appxEvent(401, "10:00:00", "0x80073d28")}},
		{name: "near-miss: AppX 404 packages in use", rule: rule, want: 0,
			events: []*parser.Event{appxEvent(404, "10:00:00", "0x80073D02")}},
		{name: "near-miss: custom action error", rule: rule, want: 0,
			events: []*parser.Event{contosoRollback()[2]}},
	})
}

// domainReported are the rule ids the uninstall domain reports on evidence
// the rules alone do not see (see uninstall.Fold).
var domainReported = map[string]bool{"uninstall_service_teardown_failure": true}

func TestRuleUninstallServiceTeardownFailure(t *testing.T) {
	const rule = "uninstall_service_teardown_failure"
	start := msiSession(1040, "14:00:00.500", `C:\Installers\FabrikamVPN.msi`, "9120")
	runPackCases(t, []packCase{
		// An SCM failure near a session is not blamed on it by time: the
		// uninstall domain ties a removed product's service by evidence.
		{name: "near-miss: SCM failure near a session (no evidence it is the product's)", rule: rule, want: 0,
			events: []*parser.Event{start, scmWithKey(scmEvent(7000, "14:07:20", "Fabrikam VPN Service", "%%2"), "FabVpnSvc")}},
		{name: "MSI could not stop a service", rule: rule, want: atLeastOne, level: "high", events: []*parser.Event{
			start, msiSentence(11921, "14:00:30", "Product: Fabrikam VPN -- Error 1921. Service 'Fabrikam VPN Service' (FabVpnSvc) could not be stopped.", otherCode, atLevel(2))}},
		{name: "near-miss: service failure without an MSI session", rule: rule, want: 0,
			events: []*parser.Event{scmEvent(7000, "14:07:20", "Fabrikam VPN Service", "%%2")}},
		{name: "near-miss: failure 20 minutes after the session began", rule: rule, want: 0,
			events: []*parser.Event{start, scmEvent(7000, "14:20:40", "Fabrikam VPN Service", "%%2")}},
		{name: "near-miss: stop/start state changes are not failures", rule: rule, want: 0,
			events: []*parser.Event{start, scmEvent(7036, "14:00:01", "Fabrikam VPN Service", "stopped")}},
		{name: "near-miss: failure on another computer", rule: rule, want: 0,
			events: []*parser.Event{start, synth("Service Control Manager", 7000, "14:01:00", atLevel(2), onComputer("PC-OTHER"),
				namedData("param1", "Fabrikam VPN Service", "param2", "%%2"))}},
	})
}

func appError(at string, fields ...string) *parser.Event {
	// Windows 10/11 name the fields; the map reads positions, so names do not matter.
	return synth("Application Error", 1000, at, atLevel(2), namedData(fields...))
}

func appErrorFor(at, name, path string) *parser.Event {
	return appError(at, "AppName", name, "AppVersion", "51.52.0.0", "AppTimeStamp", "5a0f0c8e",
		"ModuleName", "KERNELBASE.dll", "ModuleVersion", "10.0.19041.3636", "ModuleTimeStamp", "8f2e3c1d",
		"ExceptionCode", "c0000005", "FaultingOffset", "000000000003a388", "ProcessId", "0x1f2c",
		"ProcessCreationTime", "0x1da5c0b5a1c2d3e", "AppPath", path, "ModulePath", `C:\Windows\System32\KERNELBASE.dll`,
		"IntegratorReportId", "6220b181-a7a0-4c44-9046-d8ce090d3a86", "PackageFullName", "", "PackageRelativeAppId", "")
}

func werEvent(at, eventName, p1 string) *parser.Event {
	return synth("Windows Error Reporting", 1001, at, posData("", "0", eventName, "Not available", "0", p1,
		"51.52.0.0", "5a0f0c8e", "KERNELBASE.dll", "10.0.19041.3636", "8f2e3c1d", "c0000005", "000000000003a388", "", ""))
}

func TestRuleUninstallerCrashOrHang(t *testing.T) {
	const rule = "uninstaller_crash_or_hang"
	runPackCases(t, []packCase{
		{name: "Inno Setup uninstaller crash (named fields)", rule: rule, want: 1, level: "high",
			events: []*parser.Event{appErrorFor("12:00:00", "unins000.exe", `C:\Program Files\Contoso\unins000.exe`)},
			fields: map[string]string{"AppName": "unins000.exe", "ExceptionMeaning": "access violation"}},
		{name: "crash on an older Windows (unnamed fields)", rule: rule, want: 1,
			events: []*parser.Event{synth("Application Error", 1000, "12:00:00", atLevel(2), posData("Uninstall.exe", "1.0", "5a0f0c8e",
				"ntdll.dll", "10.0", "1", "c0000409", "00", "1f2c", "01d4", `C:\Program Files\Contoso\Uninstall.exe`, "x", "y"))}},
		{name: "program running from a Temp folder", rule: rule, want: 1,
			events: []*parser.Event{appErrorFor("12:00:00", "_iu14D2N.tmp", `C:\Users\alice\AppData\Local\Temp\_iu14D2N.tmp`)}},
		{name: "msiexec hang (positional 1002, §8 scenario 3)", rule: rule, want: 1,
			events: []*parser.Event{synth("Application Hang", 1002, "14:00:09", atLevel(2), posData("msiexec.exe", "5.0.19041.1",
				"2d4c", "01dab0c0d0e0f000", "5000", `C:\Windows\System32\msiexec.exe`, "9a1b2c3d-0000-4000-8000-000000000000", "", "", "Unknown"))}},
		{name: "WER APPCRASH report for an uninstaller", rule: rule, want: 1,
			events: []*parser.Event{werEvent("12:00:01", "APPCRASH", "unins000.exe")},
			fields: map[string]string{"EventName": "APPCRASH"}},
		{name: "near-miss: ordinary program crash", rule: rule, want: 0,
			events: []*parser.Event{appErrorFor("12:00:00", "notepad.exe", `C:\Windows\System32\notepad.exe`)}},
		{name: "near-miss: WER APPCRASH of another program", rule: rule, want: 0,
			events: []*parser.Event{werEvent("12:00:01", "APPCRASH", "chrome.exe")}},
		{name: "near-miss: WER report of another kind", rule: rule, want: 0,
			events: []*parser.Event{werEvent("12:00:01", "WindowsUpdateFailure3", "setup.exe")}},
		{name: "near-miss: name only similar", rule: rule, want: 0,
			events: []*parser.Event{appErrorFor("12:00:00", "myuninstaller-helper.dll.exe", `C:\Program Files\x\y.exe`)}},
	})
}

func TestRuleUninstallRebootPendingOrForced(t *testing.T) {
	const rule = "uninstall_reboot_pending_or_forced"
	user32 := func(reason string) *parser.Event {
		return synth("User32", 1074, "10:10:00", namedData("param1", `C:\Windows\system32\msiexec.exe (PC-TEST)`,
			"param2", "PC-TEST", "param3", "Application: Installation (Planned)", "param4", reason, "param5", "restart",
			"param6", "The Windows Installer initiated a system restart to complete or continue the configuration of 'Contoso Agent'.",
			"param7", `NT AUTHORITY\SYSTEM`))
	}
	runPackCases(t, []packCase{
		{name: "removal needs a restart (3010) is low", rule: rule, want: 1, level: "low",
			events: []*parser.Event{msiStatus(1034, "10:00:00", "Contoso Agent", "1", "3010", contosoCode)}},
		{name: "1038 restart required", rule: rule, want: 1, level: "low",
			events: []*parser.Event{synth("MsiInstaller", 1038, "10:00:00", posData("Contoso Agent", "1", "1033", "2", "1", "Contoso Ltd.", "(NULL)"))},
			fields: map[string]string{"RestartTypeMeaning": "restart deferred to a later time"}},
		{name: "installer forced a restart (1005) is medium", rule: rule, want: 1, level: "medium",
			events: []*parser.Event{synth("MsiInstaller", 1005, "10:00:00", posData("Contoso Agent", "(NULL)"))}},
		{name: "User32 1074 for Windows Installer is low (a planned restart)", rule: rule, want: 1, level: "low",
			events: []*parser.Event{user32("0x80030002")}},
		{name: "Restart Manager could not shut an app down", rule: rule, want: 1,
			events: []*parser.Event{synth("Microsoft-Windows-RestartManager", 10006, "10:00:00", atLevel(3))}},
		{name: "near-miss: User32 1074 of another reason", rule: rule, want: 0,
			events: []*parser.Event{user32("0x800000ff")}},
		{name: "near-miss: clean removal", rule: rule, want: 0,
			events: []*parser.Event{msiStatus(1034, "10:00:00", "Contoso Agent", "1", "0", contosoCode)}},
		{name: "near-miss: Restart Manager restart required (repeats the 1038)", rule: rule, want: 0,
			events: []*parser.Event{synth("Microsoft-Windows-RestartManager", 10005, "10:00:00")}},
		{name: "near-miss: Restart Manager session start", rule: rule, want: 0,
			events: []*parser.Event{synth("Microsoft-Windows-RestartManager", 10000, "10:00:00")}},
	})
}

func TestRuleAppxRemovalFailed(t *testing.T) {
	const rule = "appx_removal_failed"
	runPackCases(t, []packCase{
		{name: "401 deployment failed", rule: rule, want: 1, level: "medium",
			events: []*parser.Event{appxEvent(401, "10:00:00", "0x80070002")},
			fields: map[string]string{"PackageFullName": "Microsoft.Todos_0.143.2921.0_x64__8wekyb3d8bbwe",
				"ErrorMeaning": "ERROR_FILE_NOT_FOUND: a file was not found"}},
		{name: "404 deployment failed", rule: rule, want: 1, events: []*parser.Event{appxEvent(404, "10:00:00", "0x80070005")}},
		{name: "424 framework still depended on", rule: rule, want: 1, events: []*parser.Event{appxEvent(424, "10:00:00", "")}},
		{name: "near-miss: 627, a verbose step of a removal that succeeds", rule: rule, want: 0,
			events: []*parser.Event{synth("Microsoft-Windows-AppXDeployment-Server", 627, "20:47:06", atLevel(5),
				namedData("PackageMoniker", "Microsoft.YourPhone_1.21121.256.0_neutral_~_8wekyb3d8bbwe"))}},
		{name: "near-miss: Store update failing under Windows Update", rule: rule, want: 0,
			events: []*parser.Event{synth("Microsoft-Windows-AppXDeployment-Server", 401, "04:05:42", atLevel(2), namedData(
				"DeploymentOperation", "4", "PackageFullName", "Microsoft.BingWeather_4.7.20002.0_neutral_~_8wekyb3d8bbwe",
				"ErrorCode", "0x80004004", "CallingProcess", "svchost.exe,wuauserv"))}},
		{name: "near-miss: 419 (Windows 11) app running: blocked, not a removal failure", rule: rule, want: 0,
			events: []*parser.Event{synth("Microsoft-Windows-AppXDeployment-Server", 419, "09:02:11", atLevel(3),
				namedData("filename", "MSTeams_8wekyb3d8bbwe!MSTeams", "Error", "0x80073D02"))}},
		{name: "near-miss: 400 finished successfully", rule: rule, want: 0,
			events: []*parser.Event{synth("Microsoft-Windows-AppXDeployment-Server", 400, "10:00:00", namedData("PackageFullName", "x"))}},
		{name: "near-miss: 603 started", rule: rule, want: 0,
			events: []*parser.Event{synth("Microsoft-Windows-AppXDeployment-Server", 603, "10:00:00", namedData("PackageFullName", "x"))}},
	})
}

func TestRuleOsUpdateUninstallFailed(t *testing.T) {
	const rule = "os_update_uninstall_failed"
	wuc := func(id uint16) *parser.Event {
		return synth("Microsoft-Windows-WindowsUpdateClient", id, "10:00:00", atLevel(2), namedData(
			"errorCode", "0x80070005", "updateTitle", "2026-01 Cumulative Update for Windows 11 (KB5050001)",
			"updateGuid", "{6cfae217-28ff-4d71-9d9b-ebbc16a3041c}", "updateRevisionNumber", "1"))
	}
	servicing := func(id uint16, target string) *parser.Event {
		return synth("Microsoft-Windows-Servicing", id, "10:00:00", atLevel(2), namedData(
			"PackageIdentifier", "KB5050001", "IntendedPackageState", target,
			"ErrorCode", "0x800f0825", "Client", "DISM Manager Provider"))
	}
	wusa := func(id uint16) *parser.Event {
		return synth("Microsoft-Windows-WUSA", id, "10:00:00", atLevel(2), namedData(
			"UpdateTitle", "KB5050001", "ErrorCode", "2149842967", "ErrorString", "x", "CommandLine", `wusa.exe /uninstall /kb:5050001 /quiet`))
	}
	runPackCases(t, []packCase{
		{name: "WindowsUpdateClient 24 uninstall failure", rule: rule, want: 1, level: "high", events: []*parser.Event{wuc(24)},
			fields: map[string]string{"ErrorMeaning": "E_ACCESSDENIED: access denied"}},
		{name: "WindowsUpdateClient 213 revert failure", rule: rule, want: 1, events: []*parser.Event{wuc(213)}},
		{name: "Servicing 3 with target Absent", rule: rule, want: 1, events: []*parser.Event{servicing(3, "5000")},
			fields: map[string]string{"ErrorMeaning": "CBS_E_CANNOT_UNINSTALL: the package cannot be uninstalled"}},
		{name: "WUSA 8 could not uninstall", rule: rule, want: 1, events: []*parser.Event{wusa(8)}},
		{name: "near-miss: WindowsUpdateClient 20 install failure", rule: rule, want: 0, events: []*parser.Event{wuc(20)}},
		{name: "near-miss: Servicing 3 installing (target Installed)", rule: rule, want: 0, events: []*parser.Event{servicing(3, "5112")}},
		{name: "near-miss: WUSA 7 uninstalled fine", rule: rule, want: 0, events: []*parser.Event{wusa(7)}},
	})
}

func TestRuleSecurityProductUninstall(t *testing.T) {
	const rule = "security_product_uninstall"
	runPackCases(t, []packCase{
		{name: "EDR removed (1034 status 0) is high", rule: rule, want: 1, level: "high",
			events: []*parser.Event{msiStatus(1034, "10:00:00", "CrowdStrike Falcon Sensor", "7.10.18110.0", "0", otherCode)},
			fields: map[string]string{"ProductName": "CrowdStrike Falcon Sensor", "Result": "success"}},
		{name: "log forwarder removed: one finding for the 11724 + 1034 pair", rule: rule, want: 1,
			events: []*parser.Event{
				msiSentence(11724, "10:00:00", "Product: UniversalForwarder -- Removal completed successfully.", otherCode),
				msiStatus(1034, "10:00:00.001", "UniversalForwarder", "9.1.0.0", "0", otherCode)},
			fields: map[string]string{"ProductName": "UniversalForwarder"}},
		{name: "failed attempt (1034 status 1603) is medium", rule: rule, want: 1, level: "medium",
			events: []*parser.Event{msiStatus(1034, "10:00:00", "SentinelOne Agent", "23.1", "1603", otherCode)}},
		{name: "short vendor name as a word", rule: rule, want: 1,
			events: []*parser.Event{msiStatus(1034, "10:00:00", "ESET Endpoint Security", "10.1", "0", otherCode)}},
		{name: "wmic product uninstall of a vendor", rule: rule, want: 1, level: "high", events: []*parser.Event{process4688("10:00:00",
			`C:\Windows\System32\wbem\WMIC.exe`, `wmic product where "name like '%Sophos%'" call uninstall /nointeractive`)},
			fields: map[string]string{"SubjectUserName": "alice"}},
		{name: "quiet msiexec uninstall naming the product", rule: rule, want: 1, events: []*parser.Event{process4688("10:00:00",
			`C:\Windows\System32\msiexec.exe`, `msiexec.exe /x "C:\Temp\SplunkUniversalForwarder-9.1.msi" /qn`)}},
		{name: "Sysmon uninstall", rule: rule, want: 1, events: []*parser.Event{process4688("10:00:00",
			`C:\Windows\Sysmon64.exe`, `"C:\Windows\Sysmon64.exe" -u force`)}},
		{name: "product category name (SigmaHQ list)", rule: rule, want: 1,
			events: []*parser.Event{msiStatus(1034, "10:00:00", "Microsoft Security Client", "4.10", "0", otherCode)}},
		{name: "near-miss: endpoint management is not endpoint protection", rule: rule, want: 0,
			events: []*parser.Event{msiStatus(1034, "10:00:00", "Contoso Endpoint Manager", "2.0", "0", otherCode)}},
		{name: "near-miss: ordinary product removed", rule: rule, want: 0,
			events: []*parser.Event{msiStatus(1034, "10:00:00", "Contoso Agent", "4.2", "0", contosoCode)}},
		{name: "near-miss: short vendor name inside a word", rule: rule, want: 0,
			events: []*parser.Event{msiStatus(1034, "10:00:00", "Preset Manager", "1.0", "0", contosoCode)}},
		{name: "near-miss: security product installed, not removed", rule: rule, want: 0,
			events: []*parser.Event{msiStatus(1033, "10:00:00", "CrowdStrike Falcon Sensor", "7.10", "0", otherCode)}},
		{name: "near-miss: quiet uninstall by GUID only", rule: rule, want: 0, events: []*parser.Event{process4688("10:00:00",
			`C:\Windows\System32\msiexec.exe`, `MsiExec.exe /X{7BE25830-15EE-4797-A25F-DF614ACA9B8E} /qn`)}},
		{name: "near-miss: quiet install of a forwarder", rule: rule, want: 0, events: []*parser.Event{process4688("10:00:00",
			`C:\Windows\System32\msiexec.exe`, `msiexec.exe /i "C:\Temp\SplunkUniversalForwarder-9.1.msi" /qn`)}},
		{name: "near-miss: interactive uninstall of a forwarder", rule: rule, want: 0, events: []*parser.Event{process4688("10:00:00",
			`C:\Windows\System32\msiexec.exe`, `msiexec.exe /x "C:\Temp\SplunkUniversalForwarder-9.1.msi"`)}},
	})
}

func TestRuleMsiRepeatedUninstallAttempts(t *testing.T) {
	const rule = "msi_repeated_uninstall_attempts"
	newCode := "{B2C3D4E5-1111-4F60-9BAC-1D2E3F405B6C}"
	s2 := []*parser.Event{
		msiStatus(1033, "09:10:03.201", "Nimbus Sync", "4.0.1", "1603", newCode),
		msiStatus(1033, "09:40:03.201", "Nimbus Sync", "4.0.1", "1603", newCode),
		msiStatus(1034, "10:05:01.101", "Nimbus Sync", "3.9.1", "1612", nimbusCode),
	}
	spread := []*parser.Event{
		msiStatus(1034, "08:00:00", "Nimbus Sync", "3.9.1", "1603", nimbusCode),
		msiStatus(1034, "08:45:00", "Nimbus Sync", "3.9.1", "1603", nimbusCode),
		msiStatus(1034, "09:30:00", "Nimbus Sync", "3.9.1", "1603", nimbusCode),
	}
	mixed := []*parser.Event{
		msiStatus(1034, "10:00:00", "Nimbus Sync", "3.9.1", "1603", nimbusCode),
		msiStatus(1034, "10:10:00", "Contoso Agent", "4.2", "1603", contosoCode),
		msiStatus(1034, "10:20:00", "Other", "1", "1603", otherCode),
	}
	succeeded := []*parser.Event{
		msiStatus(1034, "10:00:00", "Nimbus Sync", "3.9.1", "1603", nimbusCode),
		msiStatus(1033, "10:10:00", "Nimbus Sync", "3.9.1", "0", nimbusCode),
		msiStatus(1034, "10:20:00", "Nimbus Sync", "3.9.1", "3010", nimbusCode),
	}
	runPackCases(t, []packCase{
		{name: "three failures within an hour (§8 scenario 2)", rule: rule, want: atLeastOne, level: "medium", events: s2,
			fields: map[string]string{"ProductName": "Nimbus Sync"}},
		{name: "near-miss: two failures", rule: rule, want: 0, events: s2[:2]},
		{name: "near-miss: spread over 90 minutes", rule: rule, want: 0, events: spread},
		{name: "near-miss: three different products", rule: rule, want: 0, events: mixed},
		{name: "near-miss: only one failed", rule: rule, want: 0, events: succeeded},
	})
}

func TestRuleMsiWin32ProductEnumeration(t *testing.T) {
	const rule = "msi_win32_product_enumeration"
	codes := []string{contosoCode, nimbusCode, otherCode,
		"{11111111-2222-4333-8444-555555555555}", "{66666666-7777-4888-9999-AAAAAAAAAAAA}", "{BBBBBBBB-CCCC-4DDD-8EEE-FFFFFFFFFFFF}"}
	burst := func(step time.Duration, codes []string) []*parser.Event {
		var out []*parser.Event
		at := time.Date(2026, 2, 10, 11, 0, 0, 0, time.UTC)
		for i, c := range codes {
			ts := at.Add(time.Duration(i) * step).Format("15:04:05.000")
			out = append(out, msiStatus(1035, ts, "Product "+strconv.Itoa(i), "1.0", "0", c))
		}
		return out
	}
	same := make([]string, 6)
	for i := range same {
		same[i] = contosoCode
	}
	failed := burst(time.Second, codes)
	for _, ev := range failed {
		ev.EventData[3].Value = "1603"
	}
	runPackCases(t, []packCase{
		{name: "six products reconfigured in 6 s", rule: rule, want: atLeastOne, level: "informational", events: burst(time.Second, codes)},
		{name: "near-miss: one product six times", rule: rule, want: 0, events: burst(time.Second, same)},
		{name: "near-miss: four products", rule: rule, want: 0, events: burst(time.Second, codes[:4])},
		{name: "near-miss: one every two minutes", rule: rule, want: 0, events: burst(2*time.Minute, codes)},
		{name: "near-miss: failed reconfigurations", rule: rule, want: 0, events: failed},
	})
}

func TestRuleMsiOperationFailed(t *testing.T) {
	const rule = "msi_operation_failed"
	runPackCases(t, []packCase{
		{name: "installation 1603", rule: rule, want: 1, level: "medium",
			events: []*parser.Event{msiStatus(1033, "10:00:00", "Microsoft Azure Service Fabric SDK", "7.0.1816.9590", "1603", contosoCode)},
			fields: map[string]string{"ProductName": "Microsoft Azure Service Fabric SDK", "Status": "1603"}},
		{name: "reconfiguration 1638 is low", rule: rule, want: 1, level: "low",
			events: []*parser.Event{msiStatus(1035, "10:00:00", "Google Update Helper", "1.3.36", "1638", contosoCode)}},
		{name: "update removal 1646 (status in Data[5])", rule: rule, want: 1,
			events: []*parser.Event{msiUpdate(1037, "10:00:00", "Contoso Agent", "Hotfix 1", "1646")},
			fields: map[string]string{"UpdateName": "Hotfix 1", "Status": "1646"}},
		{name: "installation failed sentence", rule: rule, want: 1,
			events: []*parser.Event{msiSentence(11708, "10:00:00", "Product: Zoom VDI Plugin Management(64bit) -- Installation failed.", contosoCode)}},
		{name: "configuration failed sentence", rule: rule, want: 1,
			events: []*parser.Event{msiSentence(11729, "10:00:00", "Product: Google Update Helper -- Configuration failed.", contosoCode)}},
		{name: "near-miss: installation succeeded", rule: rule, want: 0,
			events: []*parser.Event{msiStatus(1033, "10:00:00", "A", "1", "0", contosoCode)}},
		{name: "near-miss: installation needs restart (3010)", rule: rule, want: 0,
			events: []*parser.Event{msiStatus(1033, "10:00:00", "A", "1", "3010", contosoCode)}},
		{name: "near-miss: removal failure belongs to msi_uninstall_failed_status", rule: rule, want: 0,
			events: []*parser.Event{msiStatus(1034, "10:00:00", "A", "1", "1603", contosoCode)}},
		{name: "near-miss: update with 1603 as its name but status 0", rule: rule, want: 0,
			events: []*parser.Event{msiUpdate(1036, "10:00:00", "A", "1603", "0")}},
		{name: "near-miss: installation completed sentence", rule: rule, want: 0,
			events: []*parser.Event{msiSentence(11707, "10:00:00", "Product: A -- Installation completed successfully.", contosoCode)}},
	})
}

// TestBuiltinSilentOnCleanActivity runs ordinary, successful activity
// through the whole pack: only the informational and low rules may speak.
func TestBuiltinSilentOnCleanActivity(t *testing.T) {
	pkg := `C:\Installers\a.msi`
	events := []*parser.Event{
		process4688("09:00:00", `C:\Windows\System32\msiexec.exe`, `msiexec.exe /i C:\Installers\a.msi /qn`),
		msiSession(1040, "09:00:01", pkg, "100"),
		msiSentence(11707, "09:00:05", "Product: A -- Installation completed successfully.", contosoCode),
		msiStatus(1033, "09:00:05.001", "A", "1.0", "0", contosoCode),
		msiSession(1042, "09:00:06", pkg, "100"),
		msiSession(1040, "09:30:00", pkg, "200"),
		msiSentence(11724, "09:30:04", "Product: A -- Removal completed successfully.", contosoCode),
		msiStatus(1034, "09:30:04.001", "A", "1.0", "0", contosoCode),
		msiSession(1042, "09:30:05", pkg, "200"),
		scmEvent(7036, "09:30:02", "A Service", "stopped"),
		appErrorFor("09:45:00", "notepad.exe", `C:\Windows\System32\notepad.exe`),
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].Time().Before(events[j].Time()) })
	for _, f := range runBuiltin(t, events) {
		t.Errorf("clean activity produced %s (%s)%s", f.RuleID, f.Level, describeFindings([]Finding{f}))
	}
}

// ---- scenario fixtures (testdata/scenarios + testdata/evtx) ----

type scenarioExpect struct {
	Name string `yaml:"name"`
	// Output, when set, puts the scenario in one named file instead of
	// testdata/evtx/<name>/<channel>.evtx (the damaged fixtures).
	Output struct {
		Dir  string `yaml:"dir"`
		File string `yaml:"file"`
	} `yaml:"output"`
	Expect struct {
		MustFind    []string `yaml:"must_find"`
		MustNotFind []string `yaml:"must_not_find"`
	} `yaml:"expect"`
}

// TestBuiltinScenarioFixtures reads every generated scenario (one .evtx per
// channel) with the parser and asserts the scenario's must_find and
// must_not_find lists against the built-in pack.
func TestBuiltinScenarioFixtures(t *testing.T) {
	root := testenv.RepoRoot(t)
	scenarios, _ := filepath.Glob(filepath.Join(root, "testdata", "scenarios", "*.yaml"))
	if len(scenarios) == 0 {
		if testenv.InCI() {
			t.Fatal("CI=true and no testdata/scenarios/*.yaml")
		}
		t.Skip("no testdata/scenarios/*.yaml yet (the writer makes them)")
	}
	known := map[string]bool{}
	for _, ri := range builtinRuleset(t).Rules() {
		known[ri.ID] = true
	}
	for _, path := range scenarios {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var sc scenarioExpect
		if err := yaml.Unmarshal(raw, &sc); err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if sc.Name == "" {
			sc.Name = strings.TrimSuffix(filepath.Base(path), ".yaml")
		}
		if len(sc.Expect.MustFind)+len(sc.Expect.MustNotFind) == 0 {
			continue // a fixture for other engineers (damaged, hostile)
		}
		t.Run(sc.Name, func(t *testing.T) {
			for _, id := range append(slices.Clone(sc.Expect.MustFind), sc.Expect.MustNotFind...) {
				if !known[id] {
					t.Errorf("%s names rule %q, which the pack does not have", filepath.Base(path), id)
				}
			}
			pattern := filepath.Join(root, "testdata", "evtx", sc.Name, "*.evtx")
			if sc.Output.File != "" {
				pattern = filepath.Join(root, "testdata", "evtx", sc.Output.Dir, sc.Output.File)
			}
			files, _ := filepath.Glob(pattern)
			if len(files) == 0 {
				if testenv.InCI() {
					t.Fatalf("no %s: run go generate ./internal/evtxwriter", pattern)
				}
				t.Skipf("no %s yet: run go generate ./internal/evtxwriter", pattern)
			}
			events := readFixtureEvents(t, files, parser.Options{})
			found := map[string][]Finding{}
			for _, f := range runBuiltin(t, events) {
				found[f.RuleID] = append(found[f.RuleID], f)
			}
			for _, id := range slices.Sorted(maps.Keys(found)) {
				t.Logf("%s: %d finding(s)%s", id, len(found[id]), describeFindings(found[id][:1]))
			}
			for _, id := range sc.Expect.MustFind {
				if len(found[id]) > 0 {
					continue
				}
				// A rule deduplicated into another (evtxscan.suppressed_by)
				// has been found when the one it yields to reported.
				if by := suppressorOf(t, id); by != "" && len(found[by]) > 0 {
					t.Logf("must find %s: deduplicated into %s, as the rule says", id, by)
					continue
				}
				// A removed product's service failing later is tied to it by
				// the uninstall domain (evidence, not time): the analysis
				// benchmark checks it, the rules alone cannot.
				if domainReported[id] {
					t.Logf("must find %s: reported by the uninstall domain, checked in package analysis", id)
					continue
				}
				t.Errorf("must find %s: no finding (%d events read from %d files)", id, len(events), len(files))
			}
			// must_not_find is about the analysis' findings, after the
			// uninstall domain folded the signals into incidents (a restart
			// belongs to a successful install, an agent's 1034 to its
			// upgrade): analysis.TestPrecisionScenarios checks it.
		})
	}
}

// suppressorOf returns the rule a built-in rule yields to
// (evtxscan.suppressed_by.rule), or "".
func suppressorOf(t *testing.T, id string) string {
	t.Helper()
	raw, err := builtin.FS.ReadFile(id + ".yml")
	if err != nil {
		return ""
	}
	var r struct {
		Evtxscan struct {
			SuppressedBy struct {
				Rule string `yaml:"rule"`
			} `yaml:"suppressed_by"`
		} `yaml:"evtxscan"`
	}
	if err := yaml.Unmarshal(raw, &r); err != nil {
		t.Fatalf("builtin %s.yml: %v", id, err)
	}
	return r.Evtxscan.SuppressedBy.Rule
}

// readFixtureEvents reads every event of files and puts them in time order,
// as the scan pipeline does before the rules.
func readFixtureEvents(t *testing.T, files []string, opts parser.Options) []*parser.Event {
	t.Helper()
	var events []*parser.Event
	for _, file := range files {
		f, err := parser.Open(file, opts)
		if err != nil {
			t.Fatalf("parser.Open(%s): %v", file, err)
		}
		for ev, err := range f.Events(context.Background()) {
			if err != nil {
				t.Errorf("%s: %v", file, err)
				continue
			}
			events = append(events, ev)
		}
		f.Close()
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].Time().Before(events[j].Time()) })
	return events
}

// BenchmarkBuiltinPackSessions measures events/s through the built-in pack on a
// mix shaped like an Application+System log: mostly unrelated events, atLeastOne
// MsiInstaller sessions.
func BenchmarkBuiltinPackSessions(b *testing.B) {
	rs := NewRuleset()
	if err := rs.AddBuiltin(); err != nil {
		b.Fatal(err)
	}
	var mix []*parser.Event
	for i := range 100 {
		at := time.Date(2026, 2, 10, 8, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second).Format("15:04:05")
		switch i % 10 {
		case 0:
			mix = append(mix, msiSession(1040, at, `C:\x.msi`, strconv.Itoa(i)))
		case 1:
			mix = append(mix, msiStatus(1034, at, "Contoso Agent", "1", "0", contosoCode))
		case 2:
			mix = append(mix, msiSession(1042, at, `C:\x.msi`, strconv.Itoa(i-2)))
		case 3:
			mix = append(mix, scmEvent(7036, at, "Some Service", "running"))
		default:
			mix = append(mix, synth("Microsoft-Windows-Security-SPP", 16384, at, posData("2026-02-10T08:00:00Z", "RulesEngine")))
		}
	}
	// A sorted scan promises the engine a reorder window, so correlation
	// memory stays bounded by the open windows whatever b.N is.
	eng, err := rs.NewEngine(WithReorderWindow(time.Minute))
	if err != nil {
		b.Fatal(err)
	}
	emit := func(Finding) {}
	b.ReportAllocs()
	b.ResetTimer()
	// Time moves forward as in a sorted scan: each pass over the mix is
	// shifted by the span of the mix, so correlation windows close.
	base := make([]time.Time, len(mix))
	for i, ev := range mix {
		base[i] = ev.System.TimeCreated
	}
	for i := 0; i < b.N; i++ {
		ev := mix[i%len(mix)]
		ev.System.TimeCreated = base[i%len(mix)].Add(time.Duration(i/len(mix)) * 100 * time.Second)
		eng.Process(ev, emit)
	}
	b.StopTimer()
	eng.Flush(emit)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// TestBuiltinOnRealLogs runs the pack over real Application logs of the
// shared corpus whose MsiInstaller content is known (INDEX.md): EMET 5.51
// failing to install twice (10005, 11708, 1033 status 1603) and Google
// Update Helper failing to configure (11729, 1035 status 1638), beside
// dozens of clean sessions that must stay silent.
func TestBuiltinOnRealLogs(t *testing.T) {
	corpus := testenv.Corpus(t)
	tests := []struct {
		file     string
		want     map[string]int // rule → findings; atLeastOne = at least one
		dontWant []string
	}{
		{
			file: "Yamato-Security+hayabusa-sample-evtx/DeepBlueCLI/many-events-application.evtx",
			// 11708 + 1033 (1603) twice for EMET, 11729 + 1035 (1638) for
			// Google Update Helper; the two 10005 launch-condition errors.
			want: map[string]int{"msi_operation_failed": 6, "msi_uninstall_error_cause": 2,
				"uninstall_reboot_pending_or_forced": atLeastOne},
			dontWant: []string{"msi_uninstall_failed_status", "msi_removal_failed_message", "security_product_uninstall",
				"msi_rollback_failed", "appx_removal_failed"},
		},
		{
			file: "4renwald+evtx-python/samples/Application.evtx",
			dontWant: []string{"msi_uninstall_failed_status", "msi_operation_failed", "msi_uninstall_error_cause",
				"msi_session_unterminated", "msi_rollback_inferred", "security_product_uninstall"},
		},
		{
			// Store updates failing under wuauserv (401/404 Stage, E_ABORT) are not
			// removals; what remains is one 425, low (627 is a verbose step of a removal that succeeds).
			file:     "AndrewRathbun+DFIRArtifactMuseum/Windows/EventLogs/Win10/RathbunVM/RathbunVM_W10EventLogs_7z/Microsoft-Windows-AppXDeploymentServer%4Operational.evtx",
			want:     map[string]int{"appx_removal_failed": 1},
			dontWant: []string{"msi_uninstall_privilege_denied"},
		},
		{
			file: "AndrewRathbun+DFIRArtifactMuseum/Windows/EventLogs/Win10/RathbunVM/RathbunVM_W10EventLogs_7z/Application.evtx",
			dontWant: []string{"msi_uninstall_failed_status", "msi_operation_failed", "msi_uninstall_error_cause",
				"msi_session_unterminated", "msi_rollback_inferred", "security_product_uninstall"},
		},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(filepath.Dir(tc.file))+"/"+filepath.Base(tc.file), func(t *testing.T) {
			path := filepath.Join(corpus, filepath.FromSlash(tc.file))
			if _, err := os.Stat(path); err != nil {
				t.Skipf("corpus file missing: %v", err)
			}
			events := readFixtureEvents(t, []string{path}, parser.Options{})
			found := map[string][]Finding{}
			for _, f := range runBuiltin(t, events) {
				found[f.RuleID] = append(found[f.RuleID], f)
			}
			for id, fs := range found {
				t.Logf("%s: %d%s", id, len(fs), describeFindings(fs[:min(len(fs), 3)]))
				if os.Getenv("PACK_DEBUG") != "" {
					for _, f := range fs {
						t.Logf("  %s %d %s", f.RuleID, f.Events[0].EventID, f.Events[0].Provider)
					}
				}
			}
			for id, n := range tc.want {
				if got := len(found[id]); n == atLeastOne && got == 0 || n != atLeastOne && got != n {
					t.Errorf("%s: got %d findings, want %d (atLeastOne = -1)", id, got, n)
				}
			}
			for _, id := range tc.dontWant {
				if fs := found[id]; len(fs) > 0 {
					t.Errorf("%s: got %d findings, want none%s", id, len(fs), describeFindings(fs))
				}
			}
		})
	}
}

// TestBuiltinFieldMapsResolve checks what the built-in field maps make of
// real event shapes: positions, decoders and labels.
func TestBuiltinFieldMapsResolve(t *testing.T) {
	rs := builtinRuleset(t)
	scm7036 := scmWithKey(scmEvent(7036, "10:00:00", "Software Protection", "running"), "sppsvc/4")
	hang := synth("Application Hang", 1002, "14:00:09", posData("msiexec.exe", "5.0.19041.1", "2d4c", "01dab0c0d0e0f000",
		"5000", `C:\Windows\System32\msiexec.exe`, "9a1b2c3d", "", "", "Unknown"))
	restart := synth("MsiInstaller", 1038, "10:00:00", posData("VMware Tools", "12.1", "1033", "1", "2", "VMware, Inc.", "(NULL)"))
	servicing := synth("Microsoft-Windows-Servicing", 1, "10:00:00", namedData("PackageIdentifier", "KB5050001",
		"InitialPackageState", "5112", "IntendedPackageState", "5000", "Client", "DISM Manager Provider"))
	wusa := synth("Microsoft-Windows-WUSA", 8, "10:00:00", namedData("UpdateTitle", "KB5050001", "ErrorCode", "2147942405"))
	session := msiSession(1040, "10:00:00", `C:\Users\alice\Downloads\ContosoAgent.msi`, "6700")
	session.System.ProcessID = 17924 // Execution/@ProcessID (msiexec service) differs from the client
	tests := []struct {
		name  string
		ev    *parser.Event
		field string
		want  string
		ok    bool
	}{
		{"1034 product", msiStatus(1034, "10:00:00", "Contoso Agent", "4.2", "1603", contosoCode), "ProductName", "Contoso Agent", true},
		{"1034 product code from Binary", msiStatus(1034, "10:00:00", "Contoso Agent", "4.2", "1603", contosoCode), "ProductCode", contosoCode, true},
		{"1034 language name", msiStatus(1034, "10:00:00", "Contoso Agent", "4.2", "1603", contosoCode), "ProductLanguageName", "English (United States)", true},
		{"1034 result", msiStatus(1034, "10:00:00", "Contoso Agent", "4.2", "1603", contosoCode), "Result", "failure", true},
		{"11725 product from sentence", msiSentence(11725, "10:00:00", "Product: Contoso Agent -- Removal failed.", contosoCode), "ProductName", "Contoso Agent", true},
		{"11725 result", msiSentence(11725, "10:00:00", "Product: Contoso Agent -- Removal failed.", contosoCode), "Result", "failure", true},
		{"11722 error meaning", contosoRollback()[2], "MsiErrorMeaning", "a program run as part of the setup did not finish as expected", true},
		{"1040 package", session, "Package", `C:\Users\alice\Downloads\ContosoAgent.msi`, true},
		{"1040 client pid", session, "ClientProcessId", "6700", true},
		{"1040 package file", session, "PackageFile", "ContosoAgent.msi", true},
		{"1040 ProcessID stays the System field", session, "ProcessID", "17924", true},
		{"1038 restart reason", restart, "RestartReasonMeaning", "ScheduleReboot action", true},
		{"1038 manufacturer is Data[6]", restart, "Manufacturer", "VMware, Inc.", true},
		{"1037 status is Data[5]", msiUpdate(1037, "10:00:00", "Contoso Agent", "Hotfix 1", "1646"), "Status", "1646", true},
		{"1002 path is Data[6]", hang, "AppPath", `C:\Windows\System32\msiexec.exe`, true},
		{"7036 key from Binary", scm7036, "ServiceKey", "sppsvc", true},
		{"7036 state from Binary, not the localized text", scm7036, "StateMeaning", "running", true},
		{"servicing target state", servicing, "TargetState", "Absent", true},
		{"WUSA decimal error code", wusa, "ErrorMeaning", "E_ACCESSDENIED: access denied", true},
		{"unknown label gives no text", msiStatus(1034, "10:00:00", "A", "1", "1234", contosoCode), "StatusMeaning", "", false},
		{"map does not leak to other ids", synth("MsiInstaller", 1040, "10:00:00", posData("x", "1")), "Status", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := rs.Resolve(tt.ev, tt.field)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Resolve(%s) = %q, %v; want %q, %v", tt.field, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestPackSourceLintsClean runs the linter users run (evtxscan rules lint)
// over the pack's source folder: not a single problem.
func TestPackSourceLintsClean(t *testing.T) {
	dir := filepath.Join(testenv.RepoRoot(t), "rules", "builtin")
	for _, p := range Lint(dir) {
		t.Errorf("%v", p)
	}
}

// TestBuiltinFindsFailureInChunkSlack: the failed uninstall of "Contoso
// Remote Agent" survives only in the slack of a reused chunk
// (testdata/scenarios/damaged_slack_records.yaml). A scan with recovery
// finds it; the live view does not (the fixture test checks that side).
func TestBuiltinFindsFailureInChunkSlack(t *testing.T) {
	path := filepath.Join(testenv.RepoRoot(t), "testdata", "evtx", "damaged", "slack_records.evtx")
	if _, err := os.Stat(path); err != nil {
		if testenv.InCI() {
			t.Fatalf("CI=true and %v: run go generate ./internal/evtxwriter", err)
		}
		t.Skipf("%v: run go generate ./internal/evtxwriter", err)
	}
	events := readFixtureEvents(t, []string{path}, parser.Options{Recover: true})
	got := check(t, "msi_uninstall_failed_status", events, 1)
	if len(got) == 1 {
		if name := got[0].Field("ProductName"); name != "Contoso Remote Agent" {
			t.Errorf("ProductName %q, want Contoso Remote Agent", name)
		}
		if len(got[0].Events) == 0 || got[0].Events[0].File != path {
			t.Errorf("events %+v, want the record in %s", got[0].Events, path)
		}
	}
}

// FuzzBuiltinPack feeds hostile events through every rule, field map and
// decoder of the pack: whatever the values, nothing panics and Flush ends.
func FuzzBuiltinPack(f *testing.F) {
	f.Add("MsiInstaller", uint16(1034), "Contoso", "1603", "7B41", uint8(4))
	f.Add("MsiInstaller", uint16(11725), "Product: A -- Error 1722.", "", "7B37424532353833302D313545452D343739372D413235462D4446363134414341394238457D", uint8(2))
	f.Add("Service Control Manager", uint16(7036), "x", "stopped", "7300700070007300760063002F0034000000", uint8(4))
	f.Add("Microsoft-Windows-Security-Auditing", uint16(4688), "msiexec /x sophos /qn", "", "", uint8(0))
	f.Add("Application Error", uint16(1000), "unins000.exe", "\x00\u202e", "zz", uint8(2))
	f.Fuzz(func(t *testing.T, provider string, id uint16, d1, d2, binHex string, lvl uint8) {
		rs := builtinRuleset(t)
		eng, err := rs.NewEngine()
		if err != nil {
			t.Fatal(err)
		}
		bin, _ := hex.DecodeString(binHex)
		ts := time.Date(2026, 2, 10, 10, 0, 0, 0, time.UTC)
		for i := range 3 {
			ev := &parser.Event{
				Source: parser.Source{File: "fuzz.evtx", RecordID: uint64(i + 1)},
				System: parser.System{Provider: provider, EventID: id + uint16(i), Level: lvl, TimeCreated: ts.Add(time.Duration(i) * time.Second),
					Channel: channelOf[provider], Computer: "FUZZ"},
				EventData: []parser.Field{{Value: d1}, {Value: d2}, {Name: "CommandLine", Value: d1}, {Name: "param2", Value: d2}},
				Binary:    bin,
			}
			eng.Process(ev, func(Finding) {})
			for _, name := range []string{"ProductCode", "MsiError", "Result", "StateMeaning", "ErrorMeaning", "AppName"} {
				rs.Resolve(ev, name)
			}
		}
		eng.Flush(func(Finding) {})
	})
}
