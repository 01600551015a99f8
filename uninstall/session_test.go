package uninstall

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evtxscan/evtxscan/parser"
)

const (
	pc       = "PC-ALICE.corp.contoso.com"
	alice    = "S-1-5-21-3623811015-3361044348-30300820-1001"
	contoso  = "{7BE25830-15EE-4797-A25F-DF614ACA9B8E}"
	agentMSI = `C:\Users\alice\Downloads\ContosoAgent.msi`
)

var day = time.Date(2026, 2, 10, 10, 0, 0, 0, time.UTC)

// at returns day + ms milliseconds.
func at(ms int) time.Time { return day.Add(time.Duration(ms) * time.Millisecond) }

var recordID uint64

func base(channel, provider string, id uint16, t time.Time) *parser.Event {
	recordID++
	return &parser.Event{
		Source: parser.Source{File: channel + ".evtx", RecordID: recordID},
		System: parser.System{Provider: provider, EventID: id, TimeCreated: t, Channel: channel,
			Computer: pc, EventRecordID: recordID, Level: 4, HasQualifiers: true},
	}
}

func msi(id uint16, t time.Time, data ...string) *parser.Event {
	ev := base("Application", "MsiInstaller", id, t)
	for _, d := range data {
		ev.EventData = append(ev.EventData, parser.Field{Value: d})
	}
	ev.System.UserID = alice
	return ev
}

func start(t time.Time, pkg, pid string) *parser.Event {
	return msi(1040, t, pkg, pid, "(NULL)", "(NULL)", "(NULL)", "(NULL)", "")
}

func end(t time.Time, pkg, pid string) *parser.Event {
	ev := msi(1042, t, pkg, pid, "(NULL)", "(NULL)", "(NULL)", "(NULL)", "")
	ev.System.UserID = "S-1-5-18"
	return ev
}

func removed(t time.Time, product, version, status, code string) *parser.Event {
	ev := msi(1034, t, product, version, "1033", status, "Contoso Ltd.", "(NULL)", "")
	ev.Binary = []byte(code + "0000a7630a5d3f65c1e4b7a16bd81a3f0c2a00000904")
	return ev
}

func installed(t time.Time, product, version, status, code string) *parser.Event {
	ev := removed(t, product, version, status, code)
	ev.System.EventID = 1033
	return ev
}

func sentence(id uint16, t time.Time, text, code string, level uint8) *parser.Event {
	ev := msi(id, t, text, "(NULL)", "(NULL)", "(NULL)", "(NULL)", "(NULL)", "")
	ev.Binary = []byte(code)
	ev.System.Level = level
	return ev
}

func scmState(t time.Time, display, key, state string) *parser.Event {
	ev := base("System", "Service Control Manager", 7036, t)
	ev.System.EventSourceName = "Service Control Manager"
	ev.EventData = []parser.Field{{Name: "param1", Value: display}, {Name: "param2", Value: state}}
	digit := map[string]string{"running": "4", "stopped": "1"}[state]
	for _, r := range key + "/" + digit + "\x00" {
		ev.Binary = append(ev.Binary, byte(r), 0)
	}
	return ev
}

func process(t time.Time, pidHex, cmd string) *parser.Event {
	ev := base("Security", "Microsoft-Windows-Security-Auditing", 4688, t)
	ev.System.HasQualifiers = false
	ev.EventData = []parser.Field{
		{Name: "SubjectUserSid", Value: alice}, {Name: "SubjectUserName", Value: "alice"},
		{Name: "SubjectDomainName", Value: "CONTOSO"}, {Name: "NewProcessId", Value: pidHex},
		{Name: "NewProcessName", Value: `C:\Windows\System32\msiexec.exe`}, {Name: "CommandLine", Value: cmd},
	}
	return ev
}

func hang(t time.Time, app string) *parser.Event {
	ev := base("Application", "Application Hang", 1002, t)
	ev.System.Level = 2
	for _, d := range []string{app, "5.0.19041.1", "2d4c", "01dab0", "5000", `C:\Windows\System32\` + app, "9a1b", "", "", "Unknown"} {
		ev.EventData = append(ev.EventData, parser.Field{Value: d})
	}
	return ev
}

func kernelPower(t time.Time) *parser.Event {
	return base("System", "Microsoft-Windows-Kernel-Power", 41, t)
}

func eventlog(id uint16, t time.Time) *parser.Event {
	ev := base("System", "EventLog", id, t)
	return ev
}

// s1 is uninstall-events.md §8 scenario 1: custom action fails, rollback.
func s1() []*parser.Event {
	return []*parser.Event{
		process(at(100), "0x1a2c", `msiexec.exe /x C:\Users\alice\Downloads\ContosoAgent.msi /qn /norestart /l*v C:\Temp\u.log`),
		start(at(600), agentMSI, "6700"),
		scmState(at(2000), "Contoso Agent Service", "ContosoAgentSvc", "stopped"),
		sentence(11722, at(3400), `Product: Contoso Agent -- Error 1722. There is a problem with this Windows Installer package. A program run as part of the setup did not finish as expected. Contact your support personnel or package vendor.  Action CA_UnregisterDriver, location: C:\Program Files\Contoso\Agent\, command: "C:\Program Files\Contoso\Agent\agentctl.exe" --unregister`, contoso, 2),
		scmState(at(4100), "Contoso Agent Service", "ContosoAgentSvc", "running"),
		sentence(11725, at(4300), "Product: Contoso Agent -- Removal failed.", contoso, 4),
		removed(at(4301), "Contoso Agent", "4.2.0.17", "1603", contoso),
		end(at(4400), agentMSI, "6700"),
	}
}

// track runs events through a buffering Tracker, and through an Ordered
// one after sorting them by time; both must agree.
func track(events []*parser.Event) []Session {
	tr := NewTracker()
	for _, ev := range events {
		tr.Add(ev)
	}
	got := tr.Incidents()
	sorted := slices.Clone(events)
	slices.SortStableFunc(sorted, func(a, b *parser.Event) int { return a.Time().Compare(b.Time()) })
	ordered := NewTracker(Ordered())
	for _, ev := range sorted {
		ordered.Add(ev)
	}
	if o := ordered.Incidents(); !reflect.DeepEqual(o, got) {
		panic(fmt.Sprintf("Ordered tracker disagrees:\n ordered %+v\nbuffered %+v", o, got))
	}
	return got
}

func TestOutcomes(t *testing.T) {
	const nimbusOld = "{A1B2C3D4-0000-4E5F-8A9B-0C1D2E3F4A5B}"
	const nimbusNew = "{B2C3D4E5-1111-4F60-9BAC-1D2E3F405B6C}"
	tests := []struct {
		name   string
		events []*parser.Event
		want   []Session // only the fields set are compared, plus len(Events)
		nEv    []int
	}{
		{"succeeded", []*parser.Event{
			start(at(0), `C:\Windows\Installer\1a2b3c.msi`, "4100"),
			sentence(11724, at(2000), "Product: Contoso Agent -- Removal completed successfully.", contoso, 4),
			removed(at(2001), "Contoso Agent", "4.2.0.17", "0", contoso),
			end(at(2100), `C:\Windows\Installer\1a2b3c.msi`, "4100"),
		}, []Session{{Product: "Contoso Agent", Version: "4.2.0.17", ProductCode: contoso, Package: `C:\Windows\Installer\1a2b3c.msi`,
			Kind: KindRemoval, Outcome: OutcomeSucceeded, Status: "0", Start: at(0), End: at(2100), User: alice}}, []int{4}},
		{"failed without a cause", []*parser.Event{
			start(at(0), "p.msi", "1"),
			sentence(11725, at(500), "Product: Contoso Agent -- Removal failed.", contoso, 4),
			removed(at(501), "Contoso Agent", "4.2", "1605", contoso),
			end(at(600), "p.msi", "1"),
		}, []Session{{Product: "Contoso Agent", Outcome: OutcomeFailed, Status: "1605", Cause: Cause{Code: "1605", Name: "ERROR_UNKNOWN_PRODUCT"}}}, []int{4}},
		{"rolled back (S1)", s1(), []Session{{Product: "Contoso Agent", Version: "4.2.0.17", ProductCode: contoso, Package: agentMSI,
			Computer: pc, User: `CONTOSO\alice`, Start: at(600), End: at(4400), Kind: KindRemoval, Outcome: OutcomeRolledBack, Status: "1603",
			Cause: Cause{Code: "1722", Name: "custom action failed", Detail: "custom action CA_UnregisterDriver"}, Services: []string{"Contoso Agent Service"}}}, []int{8}},
		{"reboot required", []*parser.Event{
			start(at(0), "p.msi", "1"),
			sentence(11724, at(500), "Product: Viewer -- Removal completed successfully.", contoso, 4),
			removed(at(501), "Viewer", "1.0", "3010", contoso),
			end(at(600), "p.msi", "1"),
		}, []Session{{Product: "Viewer", Outcome: OutcomeSucceeded, Reason: ReasonRestartRequired, Status: "3010"}}, []int{4}},
		{"unterminated (S3): hang, then unexpected shutdown", []*parser.Event{
			process(at(0), "0x23a0", `msiexec.exe /x "C:\Installers\FabrikamVPN.msi" /quiet`),
			start(at(500), `C:\Installers\FabrikamVPN.msi`, "9120"),
			scmState(at(1500), "Fabrikam VPN Service", "FabVpnSvc", "stopped"),
			hang(at(9000), "msiexec.exe"),
			eventlog(6008, at(432000)),
			msi(1004, at(445000), "{C3D4E5F6-2222-4071-ACBD-2E3F40516C7D}", "MainFeature", "{X}", `C:\Program Files\Fabrikam\VPN\fabvpn.exe`),
		}, []Session{{Package: `C:\Installers\FabrikamVPN.msi`, Kind: KindRemoval, Outcome: OutcomeUnterminated, Reason: ReasonPowerLoss, End: time.Time{},
			Cause: Cause{Name: ReasonPowerLoss, Detail: "the previous system shutdown was unexpected (EventLog 6008 logged at 2026-02-10 10:07:12)"}}}, []int{5}},
		{"an install that never ended, its computer's log ending", []*parser.Event{
			process(at(0), "0x10", `msiexec.exe /i setup.msi`),
			start(at(500), `setup.msi`, "16"),
		}, []Session{{Package: "setup.msi", Kind: KindInstall, Outcome: OutcomeUnterminated, Reason: ReasonLogEnds}}, []int{2}},
		{"unterminated with a {ProductCode} package is a removal", []*parser.Event{
			start(at(500), contoso, "16"),
		}, []Session{{Package: contoso, Kind: KindRemoval, Outcome: OutcomeUnterminated, Reason: ReasonLogEnds}}, []int{1}},
		{"never ended, the computer's log going on for hours: reason unknown", []*parser.Event{
			start(at(500), contoso, "16"),
			scmState(at(5*3600*1000), "Print Spooler", "Spooler", "running"),
		}, []Session{{Package: contoso, Kind: KindRemoval, Outcome: OutcomeUnterminated, Reason: ReasonUnknown}}, []int{1}},
		{"never ended: power loss on this computer (Kernel-Power 41)", []*parser.Event{
			start(at(500), contoso, "16"),
			kernelPower(at(600000)),
		}, []Session{{Package: contoso, Kind: KindRemoval, Outcome: OutcomeUnterminated, Reason: ReasonPowerLoss}}, []int{2}},
		{"1042 logged by the other msiexec process ends the session", []*parser.Event{
			start(at(0), "p.msi", "4100"),
			sentence(11707, at(500), "Product: Viewer -- Installation completed successfully.", contoso, 4),
			installed(at(501), "Viewer", "1.0", "0", contoso),
			end(at(600), "p.msi", "5200"),
		}, []Session{{Product: "Viewer", Kind: KindInstall, Outcome: OutcomeSucceeded, Start: at(0), End: at(600)}}, []int{4}},
		{"outcome logged after the 1042 (server msiexec) joins the session", []*parser.Event{
			start(at(0), "p.msi", "4100"),
			end(at(400), "p.msi", "4100"),
			sentence(11707, at(3000), "Product: Viewer -- Installation completed successfully.", contoso, 4),
			installed(at(3001), "Viewer", "1.0", "0", contoso),
			msi(1038, at(3002), "Viewer", "1.0", "1033", "1", "0", "Contoso Ltd."),
		}, []Session{{Product: "Viewer", Kind: KindInstall, Outcome: OutcomeSucceeded, Reason: ReasonRestartRequired}}, []int{5}},
		{"install is an install", []*parser.Event{
			start(at(0), "p.msi", "1"),
			sentence(11707, at(500), "Product: Viewer -- Installation completed successfully.", contoso, 4),
			installed(at(501), "Viewer", "1.0", "0", contoso),
			end(at(600), "p.msi", "1"),
		}, []Session{{Product: "Viewer", Kind: KindInstall, Outcome: OutcomeSucceeded}}, []int{4}},
		{"1034 without 1040 is a session of its own", []*parser.Event{
			sentence(11725, at(500), "Product: Old Tool -- Removal failed.", contoso, 4),
			removed(at(501), "Old Tool", "2.0", "1603", contoso),
			end(at(600), "old.msi", "77"),
		}, []Session{{Product: "Old Tool", Outcome: OutcomeFailed, Status: "1603", Start: at(500), End: at(600)}}, []int{3}},
		{"upgrade whose embedded removal failed (S2)", []*parser.Event{
			start(at(0), `C:\ProgramData\Nimbus\Updates\NimbusSync-4.0.1.msi`, "4412"),
			sentence(11714, at(2900), "Product: Nimbus Sync -- Error 1714. The older version of Nimbus Sync cannot be removed. Contact your technical support group. System Error 1612.", nimbusNew, 2),
			sentence(11708, at(3200), "Product: Nimbus Sync -- Installation failed.", nimbusNew, 4),
			installed(at(3201), "Nimbus Sync", "4.0.1", "1603", nimbusNew),
			end(at(3300), `C:\ProgramData\Nimbus\Updates\NimbusSync-4.0.1.msi`, "4412"),
		}, []Session{{Product: "Nimbus Sync", Version: "4.0.1", ProductCode: nimbusNew, Kind: KindUpgrade, Outcome: OutcomeFailed, Status: "1603",
			Cause: Cause{Code: "1612", Name: "ERROR_INSTALL_SOURCE_ABSENT"}}}, []int{5}},
		{"cached package missing (S2 manual uninstall)", []*parser.Event{
			start(at(0), nimbusOld, "5120"),
			sentence(11706, at(500), "Product: Nimbus Sync -- Error 1706. No valid source could be found for product Nimbus Sync.", nimbusOld, 2),
			sentence(11725, at(600), "Product: Nimbus Sync -- Removal failed.", nimbusOld, 4),
			removed(at(601), "Nimbus Sync", "3.9.1", "1612", nimbusOld),
			end(at(700), nimbusOld, "5120"),
		}, []Session{{Product: "Nimbus Sync", Version: "3.9.1", Outcome: OutcomeFailed, Status: "1612",
			Cause: Cause{Code: "1612", Name: "ERROR_INSTALL_SOURCE_ABSENT", Detail: "error 1706 no valid source could be found for the product"}}}, []int{5}},
		{"rollback impossible (11712): the root cause stays the custom action's 1722", []*parser.Event{
			start(at(0), "p.msi", "1"),
			sentence(11722, at(300), `Product: Contoso Agent -- Error 1722. There is a problem with this Windows Installer package. Action CA_X, location: C:\x\, command: x`, contoso, 2),
			sentence(11712, at(400), "Product: Contoso Agent -- Error 1712. One or more of the files required to restore your computer to its previous state could not be found. Restoration will not be possible.", contoso, 2),
			sentence(11725, at(500), "Product: Contoso Agent -- Removal failed.", contoso, 4),
			removed(at(501), "Contoso Agent", "4.2", "1603", contoso),
			end(at(600), "p.msi", "1"),
		}, []Session{{Product: "Contoso Agent", Kind: KindRemoval, Outcome: OutcomeRollbackFailed, Status: "1603",
			Cause: Cause{Code: "1722", Detail: "custom action CA_X"}}}, []int{6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := track(tt.events)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d sessions, want %d: %+v", len(got), len(tt.want), got)
			}
			for i, w := range tt.want {
				compareSession(t, got[i], w)
				if len(got[i].Events) != tt.nEv[i] {
					t.Errorf("Events: got %d, want %d: %+v", len(got[i].Events), tt.nEv[i], got[i].Events)
				}
			}
		})
	}
}

// compareSession compares the fields want sets (times when non-zero; End
// only when Start is set, so zero can be asserted).
func compareSession(t *testing.T, got, want Session) {
	t.Helper()
	check := func(name, g, w string) {
		if w != "" && g != w {
			t.Errorf("%s: got %q, want %q", name, g, w)
		}
	}
	check("Product", got.Product, want.Product)
	check("Version", got.Version, want.Version)
	check("ProductCode", got.ProductCode, want.ProductCode)
	check("Package", got.Package, want.Package)
	check("Computer", got.Computer, want.Computer)
	check("User", got.User, want.User)
	check("Outcome", got.Outcome, want.Outcome)
	check("Status", got.Status, want.Status)
	check("Kind", got.Kind, want.Kind)
	check("Reason", got.Reason, want.Reason)
	check("Cause.Code", got.Cause.Code, want.Cause.Code)
	check("Cause.Name", got.Cause.Name, want.Cause.Name)
	check("Cause.Meaning", got.Cause.Meaning, want.Cause.Meaning)
	check("Cause.Detail", got.Cause.Detail, want.Cause.Detail)
	if want.Services != nil && !slices.Equal(got.Services, want.Services) {
		t.Errorf("Services: got %q, want %q", got.Services, want.Services)
	}
	if !want.Start.IsZero() {
		if !got.Start.Equal(want.Start) {
			t.Errorf("Start: got %v, want %v", got.Start, want.Start)
		}
		if !got.End.Equal(want.End) {
			t.Errorf("End: got %v, want %v", got.End, want.End)
		}
	}
	if want.Outcome == OutcomeUnterminated && !got.End.IsZero() {
		t.Errorf("End: got %v, want zero (never ended)", got.End)
	}
	if want.Status != "" && got.StatusMeaning == "" {
		t.Errorf("StatusMeaning empty for status %s", got.Status)
	}
	for i := 1; i < len(got.Events); i++ {
		if got.Events[i].Time.Before(got.Events[i-1].Time) {
			t.Errorf("Events not in time order at %d: %v", i, got.Events)
		}
	}
}

func TestStatusMeaningFromRulePack(t *testing.T) {
	got := track(s1())
	if len(got) != 1 || !strings.Contains(got[0].StatusMeaning, "fatal error during installation") {
		t.Fatalf("StatusMeaning = %+v; want the rule pack's label for 1603", got)
	}
}

// Application, System and Security arrive as separate files in any order;
// the result must not depend on it.
func TestArrivalOrderDoesNotMatter(t *testing.T) {
	want := track(s1())
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		evs := s1()
		rng.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
		got := track(evs)
		if len(got) != 1 || got[0].Outcome != want[0].Outcome || got[0].Cause != want[0].Cause || len(got[0].Events) != len(want[0].Events) {
			t.Fatalf("shuffled input gave %+v, want %+v", got, want)
		}
	}
	// System file first, then Application, then Security.
	evs := s1()
	var bySource []*parser.Event
	for _, ch := range []string{"System", "Application", "Security"} {
		for _, ev := range evs {
			if ev.System.Channel == ch {
				bySource = append(bySource, ev)
			}
		}
	}
	if got := track(bySource); len(got) != 1 || got[0].Cause != want[0].Cause {
		t.Fatalf("file-by-file input gave %+v", got)
	}
}

func TestComputersAreSeparate(t *testing.T) {
	a := s1()
	b := s1()
	for _, ev := range b {
		ev.System.Computer = "PC-BOB"
		ev.System.TimeCreated = ev.System.TimeCreated.Add(time.Second) // interleaved with a
	}
	// PC-BOB's session ends without a 1042 on PC-ALICE being mistaken for it.
	got := track(append(a, b...))
	if len(got) != 2 || got[0].Computer != pc || got[1].Computer != "PC-BOB" {
		t.Fatalf("got %+v", got)
	}
	for _, s := range got {
		if s.Outcome != OutcomeRolledBack || len(s.Events) != 8 {
			t.Errorf("%s: outcome %q with %d events", s.Computer, s.Outcome, len(s.Events))
		}
	}
}

func TestIrrelevantEventsAreNotKept(t *testing.T) {
	tr := NewTracker()
	for i := range 1000 {
		ev := base("System", "Microsoft-Windows-Kernel-General", 1, at(i))
		tr.Add(ev)
		tr.Add(hang(at(i), "notepad.exe")) // a crash of something else
	}
	tr.Add(nil)
	if len(tr.records) != 0 {
		t.Errorf("kept %d records of unrelated events", len(tr.records))
	}
}

func TestHostileStringsAreBounded(t *testing.T) {
	huge := strings.Repeat("A", 64<<10)
	evs := []*parser.Event{
		start(at(0), huge, "1"),
		sentence(11722, at(10), "Product: "+huge+" -- Error 1722. "+huge, contoso, 2),
		removed(at(20), huge, huge, "1603", contoso),
		end(at(30), huge, "1"),
	}
	got := track(evs)
	if len(got) != 1 {
		t.Fatalf("got %d sessions", len(got))
	}
	s := got[0]
	for name, v := range map[string]string{"Product": s.Product, "Version": s.Version, "Package": s.Package, "Cause": s.Cause.String()} {
		if len(v) > maxField+8 {
			t.Errorf("%s is %d bytes, want at most %d", name, len(v), maxField+8)
		}
	}
}

func TestServiceStateFromBinary(t *testing.T) {
	tests := []struct {
		binaryKey, param2, want string
	}{
		{"Svc/4", "en cours d'exécution", "running"}, // localized word, binary decides
		{"Svc/1", "arrêté", "stopped"},
		{"", "running", "running"},
		{"", "paused", ""},
	}
	for _, tt := range tests {
		ev := &parser.Event{EventData: []parser.Field{{Name: "param2", Value: tt.param2}}}
		for _, r := range tt.binaryKey {
			ev.Binary = append(ev.Binary, byte(r), 0)
		}
		if got := serviceState(ev); got != tt.want {
			t.Errorf("binary %q, param2 %q: got %q, want %q", tt.binaryKey, tt.param2, got, tt.want)
		}
	}
}

func TestRemoveCommand(t *testing.T) {
	for cmd, want := range map[string]bool{
		`msiexec.exe /x C:\a.msi /qn`:                          true,
		`MsiExec.exe /X{A1B2C3D4-0000-4E5F-8A9B-0C1D2E3F4A5B}`: true,
		`msiexec -uninstall "C:\a.msi"`:                        true,
		`msiexec /i C:\x\setup.msi`:                            false,
		`msiexec /i C:\x\setup.msi TARGETDIR=C:\x`:             false,
		`msiexec /qn /i "C:\fix.msi" /log x.log`:               false,
	} {
		if got := removeCommand.MatchString(cmd); got != want {
			t.Errorf("%q: got %v, want %v", cmd, got, want)
		}
	}
}

func BenchmarkAddUnrelated(b *testing.B) {
	tr := NewTracker()
	ev := base("System", "Microsoft-Windows-Kernel-General", 1, at(0))
	b.ReportAllocs()
	for b.Loop() {
		tr.Add(ev)
	}
}

func TestContextEventsOnlyInsideTheWindow(t *testing.T) {
	rm := func(id uint16, ms int) *parser.Event {
		ev := base("Application", "Microsoft-Windows-RestartManager", id, at(ms))
		ev.System.HasQualifiers = false
		return ev
	}
	evs := append(s1(),
		rm(10000, 700), rm(10006, 2500), rm(10001, 4350), // inside 600…4400
		rm(10000, 90000), // after the session
		scmState(at(100), "Other Service", "Other", "stopped"), // before it
	)
	got := track(evs)
	if len(got) != 1 {
		t.Fatalf("got %d sessions", len(got))
	}
	ids := []uint16{}
	for _, r := range got[0].Events {
		ids = append(ids, r.EventID)
	}
	want := []uint16{4688, 1040, 10000, 7036, 10006, 11722, 7036, 11725, 1034, 10001, 1042}
	if len(ids) != len(want) {
		t.Fatalf("events %v, want %v", ids, want)
	}
	for i := range want {
		if ids[i] != want[i] {
			t.Fatalf("events %v, want %v", ids, want)
		}
	}
}

func BenchmarkAddMsiOutcome(b *testing.B) {
	tr := NewTracker()
	ev := removed(at(0), "Contoso Agent", "4.2.0.17", "1603", contoso)
	b.ReportAllocs()
	for b.Loop() {
		tr.Add(ev)
		tr.records = tr.records[:0]
	}
}

func TestInternalErrorCause(t *testing.T) {
	evs := []*parser.Event{
		start(at(0), "p.msi", "9"),
		sentence(10005, at(100), "Product: ZipLock -- The installer has encountered an unexpected error installing this package. This may indicate a problem with this package. The error code is 2503. The arguments are: , ,", contoso, 2),
		sentence(11725, at(200), "Product: ZipLock -- Removal failed.", contoso, 4),
		removed(at(201), "ZipLock", "1.0", "1603", contoso),
		end(at(300), "p.msi", "9"),
	}
	got := track(evs)
	want := "2503 internal error (often %TEMP% permissions): RunScript called when not marked in progress — The installer has encountered an unexpected error installing this package."
	if len(got) != 1 || !strings.HasPrefix(got[0].Cause.String(), want) || got[0].Outcome != OutcomeFailed {
		t.Fatalf("got %+v\nwant cause starting %q, rolled back", got, want)
	}
}

// In ordered mode, context that no session can use is dropped as time
// passes: a month of service noise around one uninstall keeps a handful of
// records, and the session still gets its own.
func TestOrderedPrunesContext(t *testing.T) {
	tr := NewTracker(Ordered())
	noise := func(from time.Time, n int) {
		for i := range n {
			tr.Add(scmState(from.Add(time.Duration(i)*time.Minute), "Noise", "Noise", []string{"running", "stopped"}[i%2]))
		}
	}
	noise(day.Add(-30*24*time.Hour), 20000)
	for _, ev := range s1() {
		tr.Add(ev)
	}
	noise(day.Add(time.Hour), 20000)
	if tr.context > 4096 {
		t.Errorf("holding %d context records after 40000 ordered SCM events; want them pruned", tr.context)
	}
	got := tr.Sessions()
	if len(got) != 1 || got[0].Outcome != OutcomeRolledBack || len(got[0].Events) != 8 {
		t.Fatalf("got %+v", got)
	}
	if tr.Late != 0 {
		t.Errorf("Late = %d for ordered input", tr.Late)
	}
}

func TestOneTransactionRemovingTwoProducts(t *testing.T) {
	const a, b, n = "{AAAAAAAA-0000-0000-0000-000000000001}", "{BBBBBBBB-0000-0000-0000-000000000002}", "{CCCCCCCC-0000-0000-0000-000000000003}"
	evs := []*parser.Event{
		start(at(0), "suite-5.0.msi", "300"),
		sentence(11724, at(1000), "Product: Suite Core 4 -- Removal completed successfully.", a, 4),
		removed(at(1001), "Suite Core 4", "4.0", "0", a),
		sentence(11921, at(2000), "Product: Suite Agent 4 -- Error 1921. Service 'Suite Agent' (SuiteAgent) could not be stopped.  Verify that you have sufficient privileges to stop system services.", b, 2),
		sentence(11725, at(2100), "Product: Suite Agent 4 -- Removal failed.", b, 4),
		removed(at(2101), "Suite Agent 4", "4.0", "1603", b),
		sentence(11707, at(3000), "Product: Suite 5 -- Installation completed successfully.", n, 4),
		installed(at(3001), "Suite 5", "5.0", "0", n),
		end(at(3100), "suite-5.0.msi", "300"),
	}
	got := track(evs)
	if len(got) != 2 {
		t.Fatalf("got %d sessions, want one per removed product: %+v", len(got), got)
	}
	byProduct := map[string]Session{}
	for _, s := range got {
		byProduct[s.Product] = s
	}
	core, agent := byProduct["Suite Core 4"], byProduct["Suite Agent 4"]
	if core.Kind != KindUpgrade || core.Outcome != OutcomeSucceeded || core.Cause.Detail != "replaced by Suite 5 5.0" || core.ProductCode != a {
		t.Errorf("Suite Core 4: %+v", core)
	}
	if agent.Outcome != OutcomeFailed || agent.Cause.Code != "1921" || agent.Cause.Name != "service error" || agent.ProductCode != b {
		t.Errorf("Suite Agent 4: %+v", agent)
	}
	for _, s := range got {
		for _, r := range s.Events {
			if r.EventID == 1034 && !r.Time.Equal(at(1001)) && s.Product == "Suite Core 4" {
				t.Errorf("Suite Core 4 lists the other product's 1034: %+v", s.Events)
			}
		}
	}
}
