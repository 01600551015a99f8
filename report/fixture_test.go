package report

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/evtxscan/evtxscan/parser"
	"github.com/evtxscan/evtxscan/rules"
	"github.com/evtxscan/evtxscan/uninstall"
)

// hostileStrings are event texts an attacker controls, as the hostile
// fixture (testdata/evtx/hostile) carries them.
var hostileStrings = []string{
	`<script>window.__xss=1;document.title='pwned'</script>`,
	`<img src=x onerror="window.__xss=1;document.documentElement.setAttribute('data-pwned','1')">`,
	`</script><script>window.__xss=1</script>`,
	`=HYPERLINK("http://x","y")`,
	`+cmd|' /C calc'!A0`,
	`-2+3`,
	`@SUM(1)`,
	"\tTAB=1+1",
	"\rCR=1+1",
	"bell\x07null\x00esc\x1b del\x7f end",
	"safe\u202Eexe.txt", // right-to-left override
	"isolate\u2066x\u2069 zero\u200bwidth",
	"line1\r\nline2\nline3",
	"bad utf8 \xff\xfe end",
	"\" onmouseover=\"window.__xss=1",
	`{{.Title}} ${alert(1)} javascript:alert(1)`,
}

var fixtureBase = time.Date(2026, 3, 29, 0, 30, 0, 123456700, time.UTC) // spans the CET→CEST switch

// fixtureEvents returns n synthetic events, one second apart, cycling
// through MsiInstaller, Service Control Manager and hostile payloads.
func fixtureEvents(n int) []*parser.Event {
	evs := make([]*parser.Event, 0, n)
	for i := 0; i < n; i++ {
		evs = append(evs, fixtureEvent(i))
	}
	return evs
}

func fixtureEvent(i int) *parser.Event {
	ev := &parser.Event{
		Source: parser.Source{File: `C:\logs\Application.evtx`, Chunk: i / 100, Offset: int64(4096 + i*512), RecordID: uint64(1000 + i)},
		System: parser.System{
			Provider: "MsiInstaller", EventID: 1034, Level: 4, Channel: "Application",
			Computer: "WS01.corp.example", TimeCreated: fixtureBase.Add(time.Duration(i) * time.Second),
			EventRecordID: uint64(1000 + i), UserID: "S-1-5-18",
		},
		EventData: []parser.Field{{Value: "Contoso Agent"}, {Value: "4.2.0"}, {Value: "1033"}, {Value: "1603"}, {Value: "Contoso"}, {Value: "(NULL)"}, {Value: ""}},
		Binary:    []byte("{0D1C2B3A-0000-1111-2222-333344445555}"),
	}
	switch i % 5 {
	case 1:
		ev.System.Provider, ev.System.EventID, ev.System.Channel, ev.System.Level = "Service Control Manager", 7036, "System", 4
		ev.Source.File = `C:\logs\System.evtx`
		ev.EventData = []parser.Field{{Name: "param1", Value: "Contoso Agent Service"}, {Name: "param2", Value: "stopped"}}
		ev.Binary = nil
	case 2:
		ev.System.Level = 2
		ev.System.EventID = 11725
		ev.EventData = []parser.Field{{Value: "Product: Contoso Agent -- Removal failed."}}
	case 3:
		ev.System.Computer = "WS02.corp.example"
		ev.System.Level = 3
		ev.UserData = &parser.Node{Name: "RmSessionEvent", Children: []*parser.Node{{Name: "RmSessionId", Text: "0"}, {Name: "UTCStartTime", Text: "2026-03-29T00:30:00Z"}}}
		ev.EventData = nil
		ev.Binary = nil
	case 4:
		h := hostileStrings[(i/5)%len(hostileStrings)]
		ev.System.Level = 2
		ev.EventData = []parser.Field{{Value: h}, {Value: "1.0"}, {Value: "1033"}, {Value: "1603"}, {Value: h}}
		ev.System.Computer = h
	}
	return ev
}

// fixtureFindings returns findings that point at fixture events: one per
// hostile string, plus ordinary ones.
func fixtureFindings(events int) []rules.Finding {
	var fs []rules.Finding
	levels := []rules.Level{rules.LevelCritical, rules.LevelHigh, rules.LevelMedium, rules.LevelLow, rules.LevelInformational}
	for i := 4; i < events && len(fs) < 40; i += 5 {
		ev := fixtureEvent(i)
		h, _ := ev.Positional(1)
		fs = append(fs, rules.Finding{
			RuleID: "msi_uninstall_failed_status", Title: "MSI uninstall failed: " + h, Level: levels[len(fs)%len(levels)],
			Description: "Windows Installer removed a product with a non-zero status.", Time: ev.Time(), Computer: ev.System.Computer,
			Fields: []rules.DisplayField{{Name: "ProductName", Value: h}, {Name: "ProductVersion", Value: "1.0"}, {Name: "Status", Value: "1603"},
				{Name: "StatusMeaning", Value: "fatal error during installation"}, {Name: "ProductCode", Value: "{0D1C2B3A-0000-1111-2222-333344445555}"}},
			Events: []rules.EventRef{{File: ev.Source.File, RecordID: ev.Source.RecordID, EventID: ev.System.EventID, Provider: ev.System.Provider, Channel: ev.System.Channel, Time: ev.Time()}},
			Tags:   []string{"attack.t1562.001"},
		})
	}
	// A correlation finding over several events, with no time-sorted input.
	var refs []rules.EventRef
	for i := 0; i < 4 && i < events; i++ {
		ev := fixtureEvent(i)
		refs = append(refs, rules.EventRef{File: ev.Source.File, RecordID: ev.Source.RecordID, EventID: ev.System.EventID, Provider: ev.System.Provider, Channel: ev.System.Channel, Time: ev.Time()})
	}
	fs = append([]rules.Finding{{RuleID: "msi_rollback_inferred", Title: "Uninstall rolled back", Level: rules.LevelHigh,
		Time: fixtureBase, Computer: "WS01.corp.example", Events: refs,
		Fields: []rules.DisplayField{{Name: "ProductName", Value: "Contoso Agent"}, {Name: "User", Value: "CORP\\admin"}, {Name: "Cause", Value: "Error 1722"}}}}, fs...)
	return fs
}

func fixtureSessions() []uninstallSession {
	return []uninstallSession{
		{Product: "Contoso Agent", Version: "4.2.0", ProductCode: "{0D1C2B3A-0000-1111-2222-333344445555}", Computer: "WS01.corp.example",
			User: "S-1-5-21-1-2-3-500", Start: fixtureBase, End: fixtureBase.Add(95 * time.Second), Outcome: "rolled back",
			Status: "1603", StatusMeaning: "fatal error during installation", Kind: "removal", Cause: uninstall.Cause{Code: "1722", Name: "custom action failed", Detail: "custom action CA_UnregisterDriver"},
			Events: []rules.EventRef{{File: `C:\logs\Application.evtx`, RecordID: 1000, EventID: 1040, Provider: "MsiInstaller", Channel: "Application", Time: fixtureBase}}},
		{Product: "Contoso Agent", Version: "4.2.0", Computer: "WS02.corp.example", Start: fixtureBase.Add(time.Hour), Outcome: "unterminated"},
		{Product: hostileStrings[0], Computer: hostileStrings[3], Start: fixtureBase.Add(2 * time.Hour), End: fixtureBase.Add(2*time.Hour + time.Second), Outcome: "succeeded", Status: "0"},
	}
}

func fixtureStats() []parser.Stats {
	return []parser.Stats{
		{File: `C:\logs\Application.evtx`, Size: 1 << 20, Chunks: 16, Records: 900, Recovered: 3, Lost: 2,
			Problems: []parser.Problem{{Offset: 0x11000, Chunk: 1, RecordID: 77, Reason: "record checksum mismatch"}, {Offset: 0x21000, Chunk: 2, Reason: "chunk header: bad magic " + hostileStrings[1]}}},
		{File: `C:\logs\System.evtx`, Size: 69632, Chunks: 1, Records: 100},
		{File: `C:\logs\broken.evtx`, Size: 12, Err: errors.New("not an EVTX file: file header magic is \"MZ\\x90\\x00\", want \"ElfFile\\x00\"")},
	}
}

func fixtureSummary(events int) Summary {
	return Summary{
		Files: fixtureStats(), Findings: fixtureFindings(events), Incidents: fixtureSessions(),
		Started: fixtureBase.Add(48 * time.Hour), Elapsed: 1234 * time.Millisecond, Duplicates: 5, Rules: 17, Tool: "evtxscan v0.0.0-test",
	}
}

// writeFixture writes a report of n fixture events into dir.
func writeFixture(dir string, n int, opts Options) (Summary, error) {
	opts.Dir = dir
	if opts.Title == "" {
		opts.Title = fmt.Sprintf("evtxscan report — %d files", 3)
	}
	w, err := New(opts)
	if err != nil {
		return Summary{}, err
	}
	for i := 0; i < n; i++ {
		if err := w.AddEvent(fixtureEvent(i)); err != nil {
			return Summary{}, err
		}
	}
	s := fixtureSummary(n)
	return s, w.Close(s)
}

// formulaStart reports whether a cell value starts like a formula.
func formulaStart(s string) bool {
	return s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0]))
}
