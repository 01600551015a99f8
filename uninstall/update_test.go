package uninstall

import (
	"testing"
	"time"

	"github.com/evtxscan/evtxscan/parser"
)

// servicing builds a Servicing event in the real Windows 10/11 layout:
// UserData CbsPackageChangeState (RathbunVM Setup.evtx #2/#3).
func servicing(id uint16, t time.Time, kb, intended, errorCode string) *parser.Event {
	ev := base("Setup", "Microsoft-Windows-Servicing", id, t)
	leaf := func(name, text string) *parser.Node { return &parser.Node{Name: name, Text: text} }
	ev.UserData = &parser.Node{Name: "CbsPackageChangeState", Children: []*parser.Node{
		leaf("PackageIdentifier", kb), leaf("IntendedPackageState", intended), leaf("ErrorCode", errorCode),
		leaf("Client", "WindowsUpdateStandaloneInstaller")}}
	return ev
}

func wusa8(t time.Time, title string) *parser.Event {
	ev := base("Setup", "Microsoft-Windows-WUSA", 8, t)
	ev.EventData = []parser.Field{{Name: "UpdateTitle", Value: title}, {Name: "ErrorCode", Value: "2147942405"},
		{Name: "ErrorString", Value: "Access is denied."}, {Name: "CommandLine", Value: `wusa.exe /uninstall /kb:5034441`}}
	return ev
}

func TestUpdateRemovals(t *testing.T) {
	tests := []struct {
		name    string
		events  []*parser.Event
		want    int // incidents
		outcome string
		events0 int
		cause   string
	}{
		{"Servicing 1 → 3 to Absent and WUSA 8: one failed removal", []*parser.Event{
			servicing(1, at(0), "KB5034441", "5000", "0x0"), servicing(3, at(6000), "KB5034441", "5000", "0x80070005"),
			wusa8(at(7000), "Security Update for Microsoft Windows (KB5034441)")}, 1, OutcomeFailed, 3, "0x80070005"},
		{"installing (target Installed) is no removal", []*parser.Event{
			servicing(1, at(0), "KB5005716", "5112", "0x0"), servicing(2, at(6000), "KB5005716", "5112", "0x0")}, 0, "", 0, ""},
		{"a removal that succeeded needs no attention", []*parser.Event{
			servicing(1, at(0), "KB5034441", "5000", "0x0"), servicing(2, at(6000), "KB5034441", "5000", "0x0")}, 1, OutcomeSucceeded, 2, ""},
		{"two KBs are two removals", []*parser.Event{
			servicing(3, at(0), "KB5034441", "5000", "0x80070005"), servicing(3, at(1000), "KB5034765", "5000", "0x800f0825")}, 2, OutcomeFailed, 1, "0x80070005"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := track(tt.events)
			if len(got) != tt.want {
				t.Fatalf("%d incidents, want %d: %+v", len(got), tt.want, got)
			}
			if tt.want == 0 {
				return
			}
			in := got[0]
			if in.Kind != KindUpdateRemoval || in.Outcome != tt.outcome || len(in.Events) != tt.events0 || in.Cause.Code != tt.cause {
				t.Errorf("got %s %s, %d events, cause %q; want update_removal %s, %d events, cause %q", in.Kind, in.Outcome, len(in.Events), in.Cause.Code, tt.outcome, tt.events0, tt.cause)
			}
			if in.Attention != (tt.outcome == OutcomeFailed) {
				t.Errorf("attention %v for outcome %s", in.Attention, in.Outcome)
			}
		})
	}
}

func TestNsisFolder(t *testing.T) {
	tests := []struct{ cl, want string }{
		{`"C:\Users\gina\AppData\Local\Temp\~nsu.tmp\Au_.exe" _?=C:\Program Files\Northwind Studio\`, "Northwind Studio"},
		{`Au_.exe _?="C:\Program Files (x86)\Acme Notes"`, "Acme Notes"},
		{`Au_.exe _?=C:\`, ""},
		{`uninst.exe /S`, ""},
	}
	for _, tt := range tests {
		if got := nsisFolder(tt.cl); got != tt.want {
			t.Errorf("nsisFolder(%q) = %q, want %q", tt.cl, got, tt.want)
		}
	}
}

func TestProgramFolder(t *testing.T) {
	tests := []struct{ path, want string }{
		{`"C:\Program Files\Fabrikam\Backup\fbagent.exe" -service`, `c:\program files\fabrikam\backup`},
		{`C:\Program Files\Tailspin\SyncClient\tshost.exe /service`, `c:\program files\tailspin\syncclient`},
		{`\??\C:\Program Files\Contoso\drv.sys`, `c:\program files\contoso`},
		{`C:\Windows\explorer.exe`, ""},                    // Restart Manager closes it for every product
		{`C:\Windows\system32\svchost.exe -k netsvcs`, ""}, // shared host
		{`C:\Program Files\tool.exe`, ""},                  // a drive's first level ties everything
		{`tsync.exe`, ""},                                  // AppType 3: the exe name alone
	}
	for _, tt := range tests {
		if got := programFolder(tt.path); got != tt.want {
			t.Errorf("programFolder(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}
