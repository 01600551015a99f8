package messages

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/evtxscan/evtxscan/internal/testenv"
	"github.com/evtxscan/evtxscan/parser"
)

// renderedXML is the part of an event's XML these tests need.
type renderedXML struct {
	System struct {
		Provider struct {
			Name            string `xml:"Name,attr"`
			EventSourceName string `xml:"EventSourceName,attr"`
		}
		EventID struct {
			Qualifiers string `xml:"Qualifiers,attr"`
			Value      uint16 `xml:",chardata"`
		}
		Version uint8
	}
	EventData struct {
		Data []struct {
			Name  string `xml:"Name,attr"`
			Value string `xml:",chardata"`
		}
	}
	RenderingInfo struct {
		Message string
	}
}

// readRenderedXML turns one Windows-rendered event (../shared/data/rendered-xml)
// into an Event and the message Windows rendered for it.
func readRenderedXML(t *testing.T, path string) (*parser.Event, string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var x renderedXML
	if err := xml.Unmarshal(data, &x); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	ev := &parser.Event{System: parser.System{
		Provider: x.System.Provider.Name, EventSourceName: x.System.Provider.EventSourceName,
		EventID: x.System.EventID.Value, Version: x.System.Version,
	}}
	if q, err := strconv.ParseUint(x.System.EventID.Qualifiers, 10, 16); err == nil {
		ev.System.Qualifiers, ev.System.HasQualifiers = uint16(q), true
	}
	for _, d := range x.EventData.Data {
		ev.EventData = append(ev.EventData, parser.Field{Name: d.Name, Value: d.Value})
	}
	msg := strings.ReplaceAll(x.RenderingInfo.Message, "\r\n", "\n")
	return ev, strings.ReplaceAll(msg, "\r", "\n")
}

// TestMatchesWindowsRenderedText renders events whose XML carries the text
// Windows itself rendered (RenderingInfo) and compares, byte for byte.
func TestMatchesWindowsRenderedText(t *testing.T) {
	dir := filepath.Join(testenv.Shared(t), "data", "rendered-xml")
	tests := []struct {
		file string
		// fix adjusts Windows' text where we knowingly differ.
		fix func(string) string
	}{
		{file: "Service_Control_Manager_7036_1.xml"},
		{file: "Service_Control_Manager_7036_5.xml"},
		{file: "Microsoft-Windows-Security-Auditing_4624_2.xml"},
		{file: "Microsoft-Windows-Security-Auditing_4624_4.xml"},
		// The forwarding machine left %%1936 unresolved; Event Viewer
		// (and we) resolve it through msobjs.dll's parameter strings.
		{file: "Microsoft-Windows-Security-Auditing_4688_3.xml", fix: func(s string) string {
			return strings.Replace(s, "%%1936", "TokenElevationTypeDefault (1)", 1)
		}},
	}
	tbl := Builtin()
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			ev, want := readRenderedXML(t, filepath.Join(dir, tt.file))
			if tt.fix != nil {
				want = tt.fix(want)
			}
			got, ok := tbl.Render(ev)
			if !ok || got != want {
				t.Errorf("Render = %v\n%s\nwant (Windows)\n%s", ok, got, want)
				gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
				for i := 0; i < len(gl) && i < len(wl); i++ {
					if gl[i] != wl[i] {
						t.Errorf("first difference on line %d: got %q, want %q", i+1, gl[i], wl[i])
						break
					}
				}
			}
		})
	}
}

// TestRenderedXMLVariants picks the right text for the layouts Windows has
// used for one event (no RenderingInfo to compare with: the expected text
// is the table's, the point is which one is chosen and that every insert
// is filled).
func TestRenderedXMLVariants(t *testing.T) {
	dir := filepath.Join(testenv.Shared(t), "data", "rendered-xml")
	tests := []struct{ file, want string }{
		// Windows Server 2008 R2, classic, 13 unnamed values.
		{"Application_Error_1000_2.xml", "Report Id: "},
		// Windows 11, manifest provider, named values already "0x"-prefixed.
		{"Application_Error_1000_3.xml", "Faulting process id: 0x3560\nFaulting application start time: 0x1dc8b3a7b7f1c4e\n"},
		{"Service_Control_Manager_7000_1.xml", "The SQL Server (MSSQLSERVER) service failed to start due to the following error: \nThe system cannot find the file specified."},
		{"Windows_Error_Reporting_1001_1.xml", "Fault bucket , type 0\nEvent Name: WindowsWcpOtherFailure3\nResponse: Not available\nCab Id: 0\n"},
		{"Microsoft-Windows-WindowsUpdateClient_20_1.xml", "Installation Failure: Windows failed to install the following update with error 0x80073d02: 9MSSGKG348SP-MicrosoftWindows.Client.WebExperience."},
		{"Microsoft-Windows-WindowsUpdateClient_19_2.xml", "Installation Successful: Windows successfully installed the following update: "},
		{"MsiInstaller_1033_1.xml", "Windows Installer installed the product. Product Name: Microsoft Azure Service Fabric SDK. Product Version: 7.0.1816.9590. Product Language: 1033. Manufacturer: Microsoft Corporation. Installation success or error status: 1603."},
		{"MsiInstaller_10005_1.xml", "Product: ZipLock Password Manager -- The installer has encountered an unexpected error installing this package."},
	}
	tbl := Builtin()
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			ev, _ := readRenderedXML(t, filepath.Join(dir, tt.file))
			got, ok := tbl.Render(ev)
			if !ok || !strings.Contains(got, tt.want) {
				t.Errorf("Render = %v\n%s\nwant it to contain\n%s", ok, got, tt.want)
			}
			have := eventValues{ev}.count()
			if c := tbl.lookup(ev); c != nil && c.tmpl.maxInsert > have {
				t.Errorf("chose a text needing %%%d for an event with %d values", c.tmpl.maxInsert, have)
			}
		})
	}
}
