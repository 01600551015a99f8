package messages

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evtxscan/evtxscan/internal/testenv"
	"github.com/evtxscan/evtxscan/parser"
)

// readRecords parses a corpus file and returns the events with the given
// record ids.
func readRecords(t *testing.T, path string, ids ...uint64) map[uint64]*parser.Event {
	t.Helper()
	want := make(map[uint64]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	f, err := parser.Open(path, parser.Options{Workers: 1})
	if err != nil {
		t.Fatalf("parser.Open(%s): %v", path, err)
	}
	defer f.Close()
	got := make(map[uint64]*parser.Event)
	for ev, err := range f.Events(context.Background()) {
		if err != nil {
			continue // damage is the parser's business; the records we need are intact
		}
		if want[ev.System.EventRecordID] {
			got[ev.System.EventRecordID] = ev
		}
	}
	for _, id := range ids {
		if got[id] == nil {
			t.Fatalf("%s: record %d not found", path, id)
		}
	}
	return got
}

// TestCorpus renders real records of the shared corpus to the exact text.
func TestCorpus(t *testing.T) {
	corpus := testenv.Corpus(t)
	tests := []struct {
		file     string
		recordID uint64
		provider string
		eventID  uint16
		want     string
	}{
		// DeepBlueCLI sample: a Windows 7 Application log (IE8Win7 / IE10Win7).
		{"Yamato-Security+hayabusa-sample-evtx/DeepBlueCLI/many-events-application.evtx", 249, "MsiInstaller", 1033,
			"Windows Installer installed the product. Product Name: Microsoft .NET Framework 4 Client Profile. Product Version: 4.0.30319. Product Language: 0. Manufacturer: Microsoft Corporation. Installation success or error status: 0."},
		{"Yamato-Security+hayabusa-sample-evtx/DeepBlueCLI/many-events-application.evtx", 240, "MsiInstaller", 1040,
			`Beginning a Windows Installer transaction: C:\49a00b74f4ac01327865\netfx_Core_x86.msi. Client Process Id: 3472.`},
		{"Yamato-Security+hayabusa-sample-evtx/DeepBlueCLI/many-events-application.evtx", 250, "MsiInstaller", 1042,
			`Ending a Windows Installer transaction: C:\49a00b74f4ac01327865\netfx_Core_x86.msi. Client Process Id: 3472.`},
		{"Yamato-Security+hayabusa-sample-evtx/DeepBlueCLI/many-events-application.evtx", 248, "MsiInstaller", 11707,
			"Product: Microsoft .NET Framework 4 Client Profile -- Installation completed successfully."},
		{"Yamato-Security+hayabusa-sample-evtx/DeepBlueCLI/many-events-application.evtx", 269, "MsiInstaller", 11728,
			"Product: Microsoft .NET Framework 4 Client Profile -- Configuration completed successfully."},
		{"Yamato-Security+hayabusa-sample-evtx/DeepBlueCLI/many-events-application.evtx", 1724, "MsiInstaller", 11708,
			"Product: EMET 5.51 -- Installation failed."},
		{"Yamato-Security+hayabusa-sample-evtx/DeepBlueCLI/many-events-application.evtx", 1723, "MsiInstaller", 10005,
			"Product: EMET 5.51 -- This setup requires the .NET Framework version v4.5 or later.  Please install the .NET Framework and run this setup again."},
		{"Yamato-Security+hayabusa-sample-evtx/DeepBlueCLI/many-events-application.evtx", 1179, "MsiInstaller", 1038,
			"Windows Installer requires a system restart. Product Name: VMware Tools. Product Version: 9.6.2.1688356. Product Language: 1033. Manufacturer: VMware, Inc.. Type of System Restart: 1. Reason for Restart: 2."},
		{"Yamato-Security+hayabusa-sample-evtx/DeepBlueCLI/many-events-application.evtx", 156, "System Restore", 8194,
			`Successfully created restore point (Process = C:\Windows\system32\svchost.exe -k netsvcs; Description = Windows Update).`},
		{"AndrewRathbun+DFIRArtifactMuseum/Windows/EventLogs/Win10/RathbunVM/RathbunVM_W10EventLogs_7z/Application.evtx", 84, "SecurityCenter", 15,
			"Updated Windows Defender status successfully to SECURITY_PRODUCT_STATE_ON."},
		// Windows 10 (RathbunVM): the same texts.
		{"AndrewRathbun+DFIRArtifactMuseum/Windows/EventLogs/Win10/RathbunVM/RathbunVM_W10EventLogs_7z/Application.evtx", 211, "MsiInstaller", 1033,
			"Windows Installer installed the product. Product Name: Microsoft Visual C++ 2019 X86 Minimum Runtime - 14.28.29913. Product Version: 14.28.29913. Product Language: 1033. Manufacturer: Microsoft Corporation. Installation success or error status: 0."},
		{"AndrewRathbun+DFIRArtifactMuseum/Windows/EventLogs/Win10/RathbunVM/RathbunVM_W10EventLogs_7z/Application.evtx", 210, "MsiInstaller", 11707,
			"Product: Microsoft Visual C++ 2019 X86 Minimum Runtime - 14.28.29913 -- Installation completed successfully."},
		// Windows 7's WER report has 21 values: the text ending at Report Status.
		{"Yamato-Security+hayabusa-sample-evtx/DeepBlueCLI/many-events-application.evtx", 153, "Windows Error Reporting", 1001,
			"Fault bucket , type 0\nEvent Name: WindowsUpdateFailure\nResponse: Not available\nCab Id: 0\n\nProblem signature:\n" +
				"P1: 7.3.7600.16385\nP2: 8024001f\nP3: 00000000-0000-0000-0000-000000000000\nP4: Scan\nP5: 101\nP6: Unmanaged\nP7: \nP8: \nP9: \nP10: \n\n" +
				"Attached files:\n\n\nThese files may be available here:\n\n\nAnalysis symbol: \nRechecking for solution: 0\n" +
				"Report Id: a86962e8-3bff-11e3-ad72-00155de6c5e3\nReport Status: 0"},
		// Windows 7 wrote Application Error 1000 with 13 unnamed values:
		// the Windows 7 text (ending at Report Id) is the one chosen.
		{"Yamato-Security+hayabusa-sample-evtx/DeepBlueCLI/many-events-application.evtx", 1590, "Application Error", 1000,
			"Faulting application name: rundll32.exe, version: 6.1.7600.16385, time stamp: 0x4a5bc637\n" +
				"Faulting module name: KERNELBASE.dll, version: 6.1.7601.23392, time stamp: 0x56eb2fb9\n" +
				"Exception code: 0xc0000005\n" +
				"Fault offset: 0x00000003\n" +
				"Faulting process id: 0xffc\n" +
				"Faulting application start time: 0x01d1f98cb1cb25dd\n" +
				`Faulting application path: C:\Windows\system32\rundll32.exe` + "\n" +
				`Faulting module path: C:\Windows\system32\KERNELBASE.dll` + "\n" +
				"Report Id: efc65f51-657f-11e6-8eb4-000c290d8d3a"},
	}
	files := map[string][]uint64{}
	for _, tt := range tests {
		files[tt.file] = append(files[tt.file], tt.recordID)
	}
	events := map[string]map[uint64]*parser.Event{}
	for file, ids := range files {
		events[file] = readRecords(t, filepath.Join(corpus, file), ids...)
	}
	tbl := Builtin()
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file)+"/"+tt.provider, func(t *testing.T) {
			ev := events[tt.file][tt.recordID]
			if ev.System.Provider != tt.provider || ev.System.EventID != tt.eventID {
				t.Fatalf("record %d is %s %d, want %s %d", tt.recordID, ev.System.Provider, ev.System.EventID, tt.provider, tt.eventID)
			}
			got, ok := tbl.Render(ev)
			if !ok || got != tt.want {
				t.Errorf("record %d: Render = %v\n%q\nwant\n%q", tt.recordID, ok, got, tt.want)
			}
		})
	}
}

// TestCorpusRendersEverything renders every record of a whole Windows 10
// Application log: no panic, and every event of a known provider and id
// gets its text with no insert left unfilled.
func TestCorpusRendersEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("reads a whole log")
	}
	path := filepath.Join(testenv.Corpus(t), "AndrewRathbun+DFIRArtifactMuseum/Windows/EventLogs/Win10/RathbunVM/RathbunVM_W10EventLogs_7z/Application.evtx")
	f, err := parser.Open(path, parser.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tbl := Builtin()
	rendered, msi := 0, 0
	for ev, err := range f.Events(context.Background()) {
		if err != nil {
			continue
		}
		text, ok := tbl.Render(ev)
		if text == "" {
			t.Errorf("record %d (%s %d): empty text", ev.System.EventRecordID, ev.System.Provider, ev.System.EventID)
		}
		if !ok {
			continue
		}
		rendered++
		if ev.System.Provider == "MsiInstaller" {
			msi++
			if c := tbl.lookup(ev); c.tmpl.maxInsert > len(ev.InsertionStrings) && c.tmpl.maxInsert > len(ev.EventData) {
				t.Errorf("record %d (MsiInstaller %d): text needs %%%d, event has %d values: %q",
					ev.System.EventRecordID, ev.System.EventID, c.tmpl.maxInsert, len(ev.EventData), text)
			}
		}
	}
	if msi < 31 { // INDEX.md: 1029, 1033×7, 1038×2, 1040×7, 1042×7, 11707×7
		t.Errorf("rendered %d MsiInstaller events, want the 31 the file holds", msi)
	}
	t.Logf("rendered %d events with a template", rendered)
}

// TestCorpusAppX401MatchesWindows: AppX 404 quotes, in SummaryError, the
// text Windows rendered for the 401 just before it. Our 401 must say the
// same, except that Windows names the operation through a value map
// ("Stage") where we print its number.
func TestCorpusAppX401MatchesWindows(t *testing.T) {
	path := filepath.Join(testenv.Corpus(t), "AndrewRathbun+DFIRArtifactMuseum/Windows/EventLogs/Win10/RathbunVM/RathbunVM_W10EventLogs_7z/Microsoft-Windows-AppXDeploymentServer%4Operational.evtx")
	f, err := parser.Open(path, parser.Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tbl := Builtin()
	var last401 *parser.Event
	compared := 0
	for ev, err := range f.Events(context.Background()) {
		if err != nil || ev.System.Provider != "Microsoft-Windows-AppXDeployment-Server" {
			continue
		}
		switch ev.System.EventID {
		case 401:
			last401 = ev
		case 404:
			summary, _ := ev.Data("SummaryError")
			pkg404, _ := ev.Data("PackageFullName")
			if last401 == nil || !strings.HasPrefix(summary, "Deployment ") {
				continue // a 404 about another failure (e.g. "error 0x80240007: Opening the package …")
			}
			if pkg401, _ := last401.Data("PackageFullName"); pkg401 != pkg404 {
				continue
			}
			got, _ := tbl.Render(last401)
			op, _ := last401.Data("DeploymentOperation")
			want := strings.Replace(summary, "Deployment Stage operation", "Deployment "+op+" operation", 1)
			if got != want {
				t.Errorf("record %d:\n got %q\nwant %q", last401.System.EventRecordID, got, want)
			}
			compared++
		}
	}
	if compared == 0 {
		t.Fatal("no 401/404 pair found")
	}
}
