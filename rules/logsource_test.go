package rules

import (
	"testing"

	"github.com/evtxscan/evtxscan/parser"
)

func TestLogsourceMapping(t *testing.T) {
	const anyDet = "detection:\n    s:\n        Marker: yes\n    condition: s\n"
	tests := []struct {
		name      string
		logsource string
		channel   string
		id        uint16
		want      bool
	}{
		{"application", "service: application", "Application", 1034, true},
		{"application on system", "service: application", "System", 1034, false},
		{"system", "service: system", "System", 7045, true},
		{"security", "service: security", "Security", 4624, true},
		{"channel case-insensitive", "service: security", "SECURITY", 4624, true},
		{"sysmon", "service: sysmon", "Microsoft-Windows-Sysmon/Operational", 3, true},
		{"powershell", "service: powershell", "Microsoft-Windows-PowerShell/Operational", 4104, true},
		{"powershell-classic", "service: powershell-classic", "Windows PowerShell", 400, true},
		{"setup", "service: setup", "Setup", 2, true},
		{"appxdeployment-server", "service: appxdeployment-server", "Microsoft-Windows-AppXDeploymentServer/Operational", 401, true},
		{"windefend", "service: windefend", "Microsoft-Windows-Windows Defender/Operational", 5001, true},
		{"taskscheduler", "service: taskscheduler", "Microsoft-Windows-TaskScheduler/Operational", 106, true},
		{"process_creation sysmon", "category: process_creation", "Microsoft-Windows-Sysmon/Operational", 1, true},
		{"process_creation sysmon wrong id", "category: process_creation", "Microsoft-Windows-Sysmon/Operational", 3, false},
		{"process_creation 4688", "category: process_creation", "Security", 4688, true},
		{"process_creation other security", "category: process_creation", "Security", 4624, false},
		{"network_connection", "category: network_connection", "Microsoft-Windows-Sysmon/Operational", 3, true},
		{"registry_set", "category: registry_set", "Microsoft-Windows-Sysmon/Operational", 13, true},
		{"registry_event", "category: registry_event", "Microsoft-Windows-Sysmon/Operational", 14, true},
		{"dns_query", "category: dns_query", "Microsoft-Windows-Sysmon/Operational", 22, true},
		{"ps_script", "category: ps_script", "PowerShellCore/Operational", 4104, true},
		{"ps_script wrong id", "category: ps_script", "Microsoft-Windows-PowerShell/Operational", 4103, false},
		{"product only: every channel", "product: windows", "Whatever/Operational", 9, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ls := "    " + tt.logsource + "\n"
			if tt.logsource != "product: windows" {
				ls = "    product: windows\n" + ls
			}
			_, e := engineFor(t, "title: t\nid: r\nlogsource:\n"+ls+anyDet)
			got := len(run(e, mkEvent(tt.channel, "P", tt.id, t0, "Marker=yes"))) > 0
			if got != tt.want {
				t.Errorf("%s on %s/%d: got %v, want %v", tt.logsource, tt.channel, tt.id, got, tt.want)
			}
		})
	}
}

func TestUnknownLogsourceRefused(t *testing.T) {
	for ls, line := range map[string]int{"product: windows\n    service: nosuch": 5, "product: linux\n    service: auth": 4, "product: windows\n    category: file_access": 5} {
		rs := NewRuleset()
		_ = rs.AddBytes("u.yml", []byte("title: t\nid: r\nlogsource:\n    "+ls+"\ndetection:\n    s:\n        A: b\n    condition: s\n"))
		sk := rs.Skipped()
		if len(sk) != 1 || len(rs.Rules()) != 0 {
			t.Errorf("%q: got %d refusals and %d rules, want the rule refused", ls, len(sk), len(rs.Rules()))
			continue
		}
		if p := sk[0].Problems[0]; p.Line != line {
			t.Errorf("%q: refusal at line %d, want %d: %v", ls, p.Line, line, p)
		}
	}
}

// TestProcessCreationOn4688 checks the taxonomy's field names read the
// Security 4688 fields, including the hex process ids.
func TestProcessCreationOn4688(t *testing.T) {
	sec := mkEvent("Security", "Microsoft-Windows-Security-Auditing", 4688, t0,
		"SubjectUserSid=S-1-5-18", "SubjectUserName=HOST1$", "SubjectDomainName=WORKGROUP", "SubjectLogonId=0x3e7",
		"NewProcessId=0x1a2c", `NewProcessName=C:\Windows\System32\msiexec.exe`, "TokenElevationType=%%1936",
		"ProcessId=0x2f0", `CommandLine=msiexec.exe /x {GUID} /qn`, `ParentProcessName=C:\Windows\System32\cmd.exe`,
		"MandatoryLabel=S-1-16-16384")
	sysmon := mkEvent("Microsoft-Windows-Sysmon/Operational", "Microsoft-Windows-Sysmon", 1, t0,
		`Image=C:\Windows\System32\msiexec.exe`, "ProcessId=6700", "ParentProcessId=752", `CommandLine=msiexec.exe /x {GUID} /qn`,
		`ParentImage=C:\Windows\System32\cmd.exe`, `User=WORKGROUP\HOST1$`, "IntegrityLevel=System", "OriginalFileName=msiexec.exe")
	tests := []struct {
		name       string
		sel        string
		sec, sysmn bool
	}{
		{"Image", `Image|endswith: '\msiexec.exe'`, true, true},
		{"ParentImage", `ParentImage|endswith: '\cmd.exe'`, true, true},
		{"CommandLine windash", `CommandLine|windash|contains: ' -x '`, true, true},
		{"ProcessId hex→dec", `ProcessId: 6700`, true, true},
		{"ParentProcessId", `ParentProcessId: 752`, true, true},
		{"User", `User: 'WORKGROUP\HOST1$'`, true, true},
		{"IntegrityLevel", `IntegrityLevel: System`, true, true},
		{"OriginalFileName absent on 4688", `OriginalFileName: msiexec.exe`, false, true},
		{"native 4688 name still works", `NewProcessName|endswith: '\msiexec.exe'`, true, false},
	}
	upper := *sec
	upper.System.Channel = "SECURITY" // channel names compare case-insensitively
	_, e := engineFor(t, "title: t\nid: r\nlogsource:\n    product: windows\n    category: process_creation\ndetection:\n    s:\n        Image|endswith: '\\msiexec.exe'\n    condition: s\n")
	if got := run(e, &upper); len(got) != 1 {
		t.Errorf("4688 in channel SECURITY: %d findings, want 1", len(got))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y := "title: t\nid: r\nlogsource:\n    product: windows\n    category: process_creation\ndetection:\n    s:\n        " + tt.sel + "\n    condition: s\n"
			for _, c := range []struct {
				ev   *parser.Event
				want bool
			}{{sec, tt.sec}, {sysmon, tt.sysmn}} {
				_, e := engineFor(t, y)
				if got := len(run(e, c.ev)) > 0; got != c.want {
					t.Errorf("%s on %s: got %v, want %v", tt.sel, c.ev.System.Channel, got, c.want)
				}
			}
		})
	}
}
