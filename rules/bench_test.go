package rules

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/evtxscan/evtxscan/internal/testenv"
	"github.com/evtxscan/evtxscan/parser"
)

// eventMix is a synthetic day of a busy Windows host: mostly noise
// (logons, service state changes, Sysmon network and process events,
// PowerShell), some Windows Installer sessions, a few failures.
func eventMix() []*parser.Event {
	var evs []*parser.Event
	at := t0
	add := func(ev *parser.Event) {
		ev.System.EventRecordID = uint64(len(evs) + 1)
		evs = append(evs, ev)
	}
	for i := 0; i < 1000; i++ {
		at = at.Add(700 * time.Millisecond)
		switch i % 20 {
		case 0, 1, 2, 3:
			add(mkEvent("Security", "Microsoft-Windows-Security-Auditing", 4624, at, "SubjectUserSid=S-1-5-18",
				"TargetUserName=alice", "TargetDomainName=CORP", "LogonType=3", "IpAddress=10.1.2.3", "WorkstationName=WS1"))
		case 4, 5:
			add(mkEvent("Security", "Microsoft-Windows-Security-Auditing", 4688, at, "SubjectUserName=alice", "SubjectDomainName=CORP",
				"NewProcessId=0x1a2c", `NewProcessName=C:\Windows\System32\svchost.exe`, "ProcessId=0x2f0",
				`CommandLine=C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule`, `ParentProcessName=C:\Windows\System32\services.exe`,
				"MandatoryLabel=S-1-16-16384"))
		case 6, 7, 8:
			add(mkEvent("System", "Service Control Manager", 7036, at, "param1=Windows Update", "param2=running"))
		case 9, 10:
			add(mkEvent("Microsoft-Windows-Sysmon/Operational", "Microsoft-Windows-Sysmon", 3, at, `Image=C:\Program Files\App\app.exe`,
				"DestinationIp=93.184.216.34", "DestinationPort=443", "Protocol=tcp", "User=CORP\\alice"))
		case 11:
			add(mkEvent("Microsoft-Windows-Sysmon/Operational", "Microsoft-Windows-Sysmon", 1, at, `Image=C:\Windows\System32\cmd.exe`,
				`CommandLine=cmd.exe /c echo hello > C:\Temp\x.txt`, `ParentImage=C:\Windows\explorer.exe`, "User=CORP\\alice",
				"IntegrityLevel=Medium", "OriginalFileName=Cmd.Exe", "Hashes=SHA256=ABCDEF", `CurrentDirectory=C:\Users\alice\`))
		case 12:
			add(mkEvent("Microsoft-Windows-PowerShell/Operational", "Microsoft-Windows-PowerShell", 4104, at, "MessageNumber=1",
				"MessageTotal=1", "ScriptBlockText=Get-ChildItem -Path C:\\Users | Select-Object Name", "ScriptBlockId={1}"))
		case 13:
			add(mkEvent("Application", "MsiInstaller", 1040, at, `=C:\Windows\Installer\1a2b.msi`, "=6700", "=(NULL)", "=(NULL)"))
		case 14:
			ev := mkEvent("Application", "MsiInstaller", 11707+uint16(i%7), at, "=Product: Contoso Agent -- Installation completed successfully.", "=(NULL)")
			ev.Binary = []byte("{7BE25830-15EE-4797-A25F-DF614ACA9B8E}")
			add(ev)
		case 15:
			status := "0"
			if i%100 == 15 {
				status = "1603"
			}
			ev := mkEvent("Application", "MsiInstaller", 1033+uint16(i%3), at, "=Contoso Agent", "=4.2.0.17", "=1033", "="+status, "=Contoso Ltd.", "=(NULL)", "=")
			ev.Binary = []byte("{7BE25830-15EE-4797-A25F-DF614ACA9B8E}0000")
			add(ev)
		case 16:
			add(mkEvent("Application", "MsiInstaller", 1042, at, `=C:\Windows\Installer\1a2b.msi`, "=6700"))
		case 17:
			add(mkEvent("Application", "Application Error", 1000, at, "=app.exe", "=1.0.0.0", "=5f000000", "=ntdll.dll",
				"=10.0.19041.1", "=a0000000", "=c0000005", "=0x1234", "=1a2c", "=01d9", `=C:\App\app.exe`, `=C:\Windows\SYSTEM32\ntdll.dll`, "=id"))
		case 18:
			add(mkEvent("Application", "Microsoft-Windows-RestartManager", 10000, at, "RmSessionId=0", "UTCStartTime=2026-03-14T10:00:00Z"))
		default:
			add(mkEvent("System", "Microsoft-Windows-Kernel-General", 16, at, "Key=x", "Name=y"))
		}
	}
	return evs
}

func benchEngine(b *testing.B, rs *Ruleset) {
	for _, le := range rs.Skipped() {
		b.Logf("refused: %v", le)
	}
	e, err := rs.NewEngine()
	if err != nil {
		b.Fatal(err)
	}
	evs := eventMix()
	findings := 0
	emit := func(Finding) { findings++ }
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := testenv.CPUTime()
	n := 0
	for i := 0; i < b.N; i++ {
		e.Process(evs[n], emit)
		n++
		if n == len(evs) {
			e.Flush(emit)
			n = 0
		}
	}
	b.StopTimer()
	cpu := testenv.CPUTime() - cpu0
	e.Flush(emit)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	if cpu > 0 {
		// on a shared machine wall time overstates the cost: report
		// events per second of this process's CPU time as well
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "events/cpu-s")
	}
	b.ReportMetric(float64(findings)/float64(b.N)*1000, "findings/1k-events")
}

// BenchmarkBuiltinPack measures events/s through the built-in uninstall
// pack on one core (the target is ≥ 1 M events/s).
func BenchmarkBuiltinPack(b *testing.B) {
	rs := NewRuleset()
	if err := rs.AddBuiltin(); err != nil {
		b.Fatal(err)
	}
	benchEngine(b, rs)
}

// BenchmarkSigmaHQ measures events/s through SigmaHQ's Windows builtin and
// process_creation rules (about 1,500).
func BenchmarkSigmaHQ(b *testing.B) {
	rs := NewRuleset()
	if err := rs.AddPath(filepath.Join(testenv.Shared(b), "sigma", "rules")); err != nil {
		b.Fatal(err)
	}
	benchEngine(b, rs)
}

// BenchmarkBuiltinPlusSigmaHQ is a scan with the pack and SigmaHQ together.
func BenchmarkBuiltinPlusSigmaHQ(b *testing.B) {
	rs := NewRuleset()
	if err := rs.AddBuiltin(); err != nil {
		b.Fatal(err)
	}
	if err := rs.AddPath(filepath.Join(testenv.Shared(b), "sigma", "rules")); err != nil {
		b.Fatal(err)
	}
	benchEngine(b, rs)
}

func BenchmarkMatchers(b *testing.B) {
	v := `"C:\Program Files\Contoso\Agent\agentctl.exe" --unregister --force --log C:\Temp\u.log`
	for _, p := range []string{`*\agentctl.exe*`, `"c:\program files\\*`, `*--log*`, `*contoso*agent*--force*`, `*ag?ntctl*`} {
		m, err := compilePattern(parseWildcards(p), false)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%d-%s", m.op, p), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if !m.match(nil, v, true) {
					b.Fatal("no match")
				}
			}
		})
	}
}

// BenchmarkCorrelationOutOfOrder feeds base-rule hits whose times cycle
// (as when several files are read one after another) and flushes at the
// end: buffering must stay linear, not insertion-sort quadratic.
func BenchmarkCorrelationOutOfOrder(b *testing.B) {
	y := corrRule("    type: event_count\n    rules: [base_a, base_b]\n    group-by: [User]\n    timespan: 10s\n    condition: {gte: 3}\n")
	rs := NewRuleset()
	if err := rs.AddBytes("c.yml", []byte(y)); err != nil {
		b.Fatal(err)
	}
	e, err := rs.NewEngine()
	if err != nil {
		b.Fatal(err)
	}
	var evs []*parser.Event
	for i := 0; i < 100; i++ {
		if i%2 == 0 {
			evs = append(evs, evA(float64(i), "User=u"))
		} else {
			evs = append(evs, evB(float64(i), "User=u"))
		}
	}
	findings := 0
	emit := func(Finding) { findings++ }
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.Process(evs[i%len(evs)], emit)
	}
	e.Flush(emit)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
