package messages

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/evtxscan/evtxscan/parser"
)

// classic builds a classic event with unnamed Data values.
func classic(provider string, id uint16, data ...string) *parser.Event {
	ev := &parser.Event{System: parser.System{Provider: provider, EventID: id, HasQualifiers: true}}
	for _, d := range data {
		ev.EventData = append(ev.EventData, parser.Field{Value: d})
	}
	return ev
}

// tableOf compiles a one-entry table for provider "P", event 1.
func tableOf(t *testing.T, yml string) *Table {
	t.Helper()
	tbl, err := parseTable("test.yml", []byte(yml))
	if err != nil {
		t.Fatalf("parseTable: %v", err)
	}
	return tbl
}

func renderWith(template string, ev *parser.Event, params map[uint32]string) string {
	return compileTemplate(template).render(eventValues{ev}, params)
}

// One case per formatting rule of FormatMessage (and our %{Name}).
func TestRenderFormatting(t *testing.T) {
	ev := classic("P", 1, "alpha", "42", "0x3e7", "(NULL)", "", "%1 not an insert", "-5", "3.5")
	params := map[uint32]string{1842: "Yes", 1843: "No"}
	tests := []struct {
		name, template, want string
	}{
		{"plain inserts", "a=%1 b=%2", "a=alpha b=42"},
		{"two-digit insert", "%1%2%3%4%5%6%7%8 %10", "alpha420x3e7(NULL)%1 not an insert-53.5 %10"},
		{"insert followed by digit text", "%1%n%99", "alpha\n%99"},
		{"missing insert stays literal", "x %9 y", "x %9 y"},
		{"missing insert with format stays literal", "x %9!08x! y", "x %9!08x! y"},
		{"(NULL) value printed as recorded", "[%4]", "[(NULL)]"},
		{"empty value", "[%5]", "[]"},
		{"value is never interpreted", "%6", "%1 not an insert"},
		{"%n newline", "a%nb", "a\nb"},
		{"%t tab", "a%tb", "a\tb"},
		{"%r carriage return", "a%rb", "a\rb"},
		{"%% percent", "100%% sure", "100% sure"},
		{"%%N in the template is a percent then digits", "%%1842", "%1842"},
		{"%. period", "end%.", "end."},
		{"%! exclamation", "hey%!", "hey!"},
		{"% space", "a% b", "a b"},
		{"other %c is c", "a%qb", "aqb"},
		{"lone percent at end", "50%", "50%"},
		{"%0 ends the message", "shown%0hidden %1", "shown"},
		{"CRLF in template becomes LF", "a\r\nb", "a\nb"},
		{"trailing line breaks dropped", "text\r\n\r\n", "text"},
		{"!s! string", "%1!s!", "alpha"},
		{"!S! wide string", "%1!S!", "alpha"},
		{"!10s! width", "[%1!10s!]", "[     alpha]"},
		{"!-10s! left", "[%1!-10s!]", "[alpha     ]"},
		{"!.3s! precision", "[%1!.3s!]", "[alp]"},
		{"!d! decimal", "%2!d!", "42"},
		{"!d! of hex text", "%3!d!", "999"},
		{"!d! negative", "%7!d!", "-5"},
		{"!u! of negative wraps", "%7!u!", "18446744073709551611"},
		{"!08x! zero padded hex", "%2!08x!", "0000002a"},
		{"!X! upper hex of hex text", "0x%3!X!", "0x3E7"},
		{"!#x! prefixed", "%2!#x!", "0x2a"},
		{"!lu! length modifier ignored", "%2!lu!", "42"},
		{"!I64u! length modifier ignored", "%2!I64u!", "42"},
		{"!d! of non-number prints text", "%1!d!", "alpha"},
		{"!f! float", "%8!.2f!", "3.50"},
		{"!*s! unsupported prints text", "%1!*s!", "alpha"},
		{"unterminated format is literal", "%1!d", "alpha!d"},
		{"named insert", "%{Missing} and %{Name}", "%{Missing} and %{Name}"},
		{"brace without name is literal", "%{}", "{}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := renderWith(tt.template, ev, params); got != tt.want {
				t.Errorf("render(%q) = %q, want %q", tt.template, got, tt.want)
			}
		})
	}
}

func TestRenderParameters(t *testing.T) {
	params := map[uint32]string{1842: "Yes", 1936: "TokenElevationTypeDefault (1)", 2: "The system cannot find the file specified."}
	tests := []struct{ value, want string }{
		{"%%1842", "Yes"},
		{"%%1936", "TokenElevationTypeDefault (1)"},
		{"%%2", "The system cannot find the file specified."},
		{"%%9999", "%%9999"},                      // unknown stays
		{"%%1842\n\t\t%%1843", "Yes\n\t\t%%1843"}, // inside text, each resolved or kept
		{"50%% done", "50%% done"},                // not a reference
		{"%%", "%%"},
		{"%%99999999999999999999", "%%99999999999999999999"}, // overflow is not a reference
	}
	for _, tt := range tests {
		ev := classic("P", 1, tt.value)
		if got := renderWith("%1", ev, params); got != tt.want {
			t.Errorf("value %q: got %q, want %q", tt.value, got, tt.want)
		}
	}
}

func TestRenderValueSources(t *testing.T) {
	tbl := tableOf(t, `
messages:
  - provider: P
    event_id: 1
    template: "%1|%2|%3"
  - provider: P
    event_id: 2
    template: "%{RmSessionId} at %{UTCStartTime}; %{Name}"
`)
	userData := &parser.Node{Name: "RmSessionEvent", Children: []*parser.Node{
		{Name: "RmSessionId", Text: "0"},
		{Name: "UTCStartTime", Text: "2020-01-01T00:00:00Z"},
	}}
	tests := []struct {
		name string
		ev   *parser.Event
		want string
	}{
		{"insertion strings win over EventData", &parser.Event{
			System:           parser.System{Provider: "P", EventID: 1},
			InsertionStrings: []string{"i1", "i2", "i3"},
			EventData:        []parser.Field{{Name: "a", Value: "d1"}},
		}, "i1|i2|i3"},
		{"classic: Binary substitutions after the strings are no inserts", &parser.Event{
			System:           parser.System{Provider: "P", EventID: 1, HasQualifiers: true},
			InsertionStrings: []string{"a", "b", "82", "7B41"},
			EventData:        []parser.Field{{Value: "a"}, {Value: "b"}},
			Binary:           []byte("{A"),
		}, "a|b|%3"},
		{"EventData in document order", &parser.Event{
			System:    parser.System{Provider: "P", EventID: 1},
			EventData: []parser.Field{{Name: "b", Value: "d1"}, {Name: "a", Value: "d2"}},
		}, "d1|d2|%3"},
		{"UserData leaves", &parser.Event{
			System: parser.System{Provider: "P", EventID: 1}, UserData: userData,
		}, "0|2020-01-01T00:00:00Z|%3"},
		{"UserData root without children is the value", &parser.Event{
			System: parser.System{Provider: "P", EventID: 1}, UserData: &parser.Node{Name: "updatelist", Text: "KB1"},
		}, "KB1|%2|%3"},
		{"named inserts from UserData", &parser.Event{
			System: parser.System{Provider: "P", EventID: 2}, UserData: userData,
		}, "0 at 2020-01-01T00:00:00Z; %{Name}"},
		{"named inserts from EventData", &parser.Event{
			System:    parser.System{Provider: "P", EventID: 2},
			EventData: []parser.Field{{Name: "Name", Value: "n"}, {Name: "RmSessionId", Value: "7"}},
		}, "7 at %{UTCStartTime}; n"},
		{"no values at all", &parser.Event{System: parser.System{Provider: "P", EventID: 1}}, "%1|%2|%3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tbl.Render(tt.ev)
			if !ok || got != tt.want {
				t.Errorf("Render = %q, %v; want %q, true", got, ok, tt.want)
			}
		})
	}
}

func TestRenderSelection(t *testing.T) {
	tbl := tableOf(t, `
messages:
  - provider: Prov
    event_id: 7
    template: "any"
  - provider: Prov
    event_id: 7
    version: 2
    template: "v2"
  - provider: Prov
    event_id: 7
    qualifiers: 16384
    template: "classic"
  - provider: Prov
    event_id: 7
    event_source: Src
    template: "from Src"
  - provider: Short
    event_id: 9
    template: "short %1 %2"
  - provider: Short
    event_id: 9
    template: "long %1 %2 %3 %4"
  - provider: Classic Name
    event_id: 5
    template: "via event source"
`)
	ev := func(mod func(*parser.Event)) *parser.Event {
		e := &parser.Event{System: parser.System{Provider: "prov", EventID: 7}}
		mod(e)
		return e
	}
	tests := []struct {
		name string
		ev   *parser.Event
		want string
	}{
		{"provider name is case-insensitive", ev(func(*parser.Event) {}), "any"},
		{"version narrows", ev(func(e *parser.Event) { e.System.Version = 2 }), "v2"},
		{"other version falls back", ev(func(e *parser.Event) { e.System.Version = 3 }), "any"},
		{"qualifiers narrow", ev(func(e *parser.Event) { e.System.HasQualifiers, e.System.Qualifiers = true, 16384 }), "classic"},
		{"absent qualifiers do not match qualifiers: 0", ev(func(e *parser.Event) { e.System.Qualifiers = 16384 }), "any"},
		{"event source narrows", ev(func(e *parser.Event) { e.System.EventSourceName = "src" }), "from Src"},
		{"fewer values pick the shorter text", classic("Short", 9, "a", "b"), "short a b"},
		{"more values pick the longer text", classic("Short", 9, "a", "b", "c", "d", "e"), "long a b c d"},
		{"event source name tried when provider unknown", &parser.Event{System: parser.System{
			Provider: "Microsoft-Windows-Something", EventSourceName: "Classic Name", EventID: 5}}, "via event source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tbl.Render(tt.ev)
			if !ok || got != tt.want {
				t.Errorf("Render = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
	if got, ok := tbl.Render(classic("Prov", 8, "x")); ok || got != "Prov event 8: Data[1]=x" {
		t.Errorf("unknown id: Render = %q, %v; want fallback text and false", got, ok)
	}
}

func TestRenderPrefersWindowsText(t *testing.T) {
	ev := classic("Service Control Manager", 7036, "X", "running")
	ev.RenderedMessage = "Windows said this.\r\nSecond line.\r\n"
	got, ok := Builtin().Render(ev)
	if !ok || got != "Windows said this.\nSecond line." {
		t.Errorf("Render = %q, %v", got, ok)
	}
}

func TestRenderBounded(t *testing.T) {
	big := strings.Repeat("é", 40<<10) // 80 KiB of two-byte runes
	tbl := tableOf(t, "messages:\n  - provider: P\n    event_id: 1\n    template: \""+strings.Repeat("%1", 10)+"\"\n")
	got, _ := tbl.Render(classic("P", 1, big))
	if len(got) > MaxMessageBytes+len(truncatedMark) {
		t.Errorf("len = %d, want at most %d", len(got), MaxMessageBytes+len(truncatedMark))
	}
	if !strings.HasSuffix(got, truncatedMark) || !utf8Valid(got) {
		t.Errorf("truncated text must end with the mark and stay valid UTF-8")
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func TestFallback(t *testing.T) {
	long := strings.Repeat("x", 1000)
	tests := []struct {
		name string
		ev   *parser.Event
		want string
	}{
		{"positional, NULL and empty left out", classic("MsiInstaller", 1040, `C:\a.msi`, "3472", "(NULL)", "(NULL)", ""),
			`MsiInstaller event 1040: Data[1]=C:\a.msi; Data[2]=3472`},
		{"named", &parser.Event{System: parser.System{Provider: "P", EventID: 2},
			EventData: []parser.Field{{Name: "param1", Value: "Svc"}, {Name: "param2", Value: "running"}}},
			"P event 2: param1=Svc; param2=running"},
		{"user data and binary", &parser.Event{System: parser.System{Provider: "RM", EventID: 10000},
			UserData: &parser.Node{Name: "RmSessionEvent", Children: []*parser.Node{{Name: "RmSessionId", Text: "0"}}},
			Binary:   []byte("{AB}")},
			"RM event 10000: RmSessionId=0; Binary=7B41427D"},
		{"long binary cut", &parser.Event{System: parser.System{Provider: "P", EventID: 3}, Binary: bytes.Repeat([]byte{0xab}, 40)},
			"P event 3: Binary=" + strings.Repeat("AB", 32) + "… (40 bytes)"},
		{"long value cut", classic("P", 4, long), "P event 4: Data[1]=" + long[:256] + "…"},
		{"no provider, no data", &parser.Event{System: parser.System{EventID: 5}}, "Event 5"},
		{"insertion strings when nothing else", &parser.Event{System: parser.System{Provider: "P", EventID: 6}, InsertionStrings: []string{"a", "b"}},
			"P event 6: %1=a; %2=b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Fallback(tt.ev); got != tt.want {
				t.Errorf("Fallback = %q\nwant       %q", got, tt.want)
			}
		})
	}
	many := classic("P", 7)
	for range 200 {
		many.EventData = append(many.EventData, parser.Field{Value: long})
	}
	if got := Fallback(many); len(got) > fallbackTotalBytes+fallbackValueBytes+64 {
		t.Errorf("Fallback of 200 long values is %d bytes; want it bounded", len(got))
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, yml, want string
	}{
		{"syntax", "messages:\n  - provider: [\n", "test.yml:2:"},
		{"unknown top key", "message:\n  - {}\n", `test.yml:1: unknown key "message"`},
		{"no provider", "messages:\n  - event_id: 1\n    template: x\n", "test.yml:2: entry has no provider:"},
		{"no template", "messages:\n  - provider: P\n    event_id: 1\n", "test.yml:2: entry has no template:"},
		{"bad id", "messages:\n  - provider: P\n    event_id: 70000\n    template: x\n", `test.yml:3: event_id "70000"`},
		{"reversed range", "messages:\n  - provider: P\n    event_id: 9-1\n    template: x\n", `test.yml:3: event_id "9-1"`},
		{"bad version", "messages:\n  - provider: P\n    event_id: 1\n    version: 300\n    template: x\n", "test.yml:4: version:"},
		{"unknown entry key", "messages:\n  - provider: P\n    event_id: 1\n    templat: x\n", `test.yml:4: unknown key "templat"`},
		{"bad parameter", "parameters:\n  - providers: P\n    values:\n      abc: x\n", `test.yml:4: parameter "abc" is not a number`},
		{"parameters without providers", "parameters:\n  - values: {1: x}\n", "test.yml:2: parameters: item has no providers:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseTable("test.yml", []byte(tt.yml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v; want it to contain %q", err, tt.want)
			}
		})
	}
	// Every problem is reported, not just the first.
	_, err := parseTable("test.yml", []byte("messages:\n  - provider: P\n  - event_id: 2\n    template: x\n"))
	var te *TableError
	if !errors.As(err, &te) || strings.Count(err.Error(), "test.yml:") != 2 {
		t.Errorf("want two TableErrors, got %v", err)
	}
}

func TestLoadFileAndMerge(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mine.yml")
	if err := os.WriteFile(path, []byte(`
messages:
  - provider: MsiInstaller
    event_id: 1034
    qualifiers: 0
    source: my own build
    template: "Removed %1 (%4)."
  - provider: MsiInstaller
    event_id: [1040, "1042"]
    template: "txn %1"
  - provider: Mine
    event_id: 5-6
    template: "mine %1"
parameters:
  - providers: ["*"]
    values:
      2: "File gone."
`), 0o644); err != nil {
		t.Fatal(err)
	}
	user, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yml")); err == nil || !strings.Contains(err.Error(), "missing.yml") {
		t.Errorf("Load of a missing file: %v; want an error naming it", err)
	}
	tbl := Builtin()
	before := tbl.Len()
	tbl.Merge(user)
	if tbl.Len() != before+3 { // 1034 with qualifiers: 0 is a new narrowing; 1040, 1042 replace; 5, 6 are new
		t.Errorf("Len after merge = %d, want %d", tbl.Len(), before+3)
	}
	ev := classic("MsiInstaller", 1034, "Contoso Agent", "4.2", "1033", "1603", "Contoso")
	if got, _ := tbl.Render(ev); got != "Removed Contoso Agent (1603)." {
		t.Errorf("user entry should override: got %q", got)
	}
	if got, _ := tbl.Render(classic("MsiInstaller", 1042, "p.msi", "1")); got != "txn p.msi" {
		t.Errorf("user entry for 1042: got %q", got)
	}
	if got, _ := tbl.Render(classic("Mine", 6, "x")); got != "mine x" {
		t.Errorf("range entry: got %q", got)
	}
	scm := classic("Service Control Manager", 7000, "Svc", "%%2")
	if got, _ := tbl.Render(scm); !strings.HasSuffix(got, "\nFile gone.") {
		t.Errorf("user parameter should override: got %q", got)
	}
	// Builtin tables are independent copies.
	if got, _ := Builtin().Render(ev); strings.HasPrefix(got, "Removed Contoso") {
		t.Errorf("merging into one Builtin() changed another: %q", got)
	}
}

func TestWriteYAMLRoundTrip(t *testing.T) {
	v0, q0 := uint8(0), uint16(0)
	entries := []Entry{
		{Provider: "Zeta", EventID: 2, Template: "second", Source: "s"},
		{Provider: "Alpha", EventID: 10, Version: &v0, Qualifiers: &q0, EventSource: "A",
			Template: "line one\r\n\tTabbed:\t%1  \r\nunicode é ✓ %2!08x!\r\n", Source: "export"},
		{Provider: "Alpha", EventID: 1, Template: "  leading spaces %%1842 \"quoted\" #hash: colon"},
	}
	var buf bytes.Buffer
	if err := WriteYAML(&buf, entries); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "messages:\n  - provider: Alpha\n    event_id: 1\n") {
		t.Errorf("output not sorted or not in the table format:\n%s", buf.String())
	}
	tbl, err := parseTable("export.yml", buf.Bytes())
	if err != nil {
		t.Fatalf("reading back: %v\n%s", err, buf.String())
	}
	if tbl.Len() != 3 {
		t.Fatalf("read back %d entries, want 3", tbl.Len())
	}
	for _, e := range entries {
		ev := &parser.Event{System: parser.System{Provider: e.Provider, EventID: e.EventID, EventSourceName: e.EventSource, HasQualifiers: e.Qualifiers != nil}}
		got, ok := tbl.Template(ev)
		want := strings.ReplaceAll(e.Template, "\r\n", "\n")
		if !ok || got.Template != want || got.Source != e.Source || !ptrEqual(got.Version, e.Version) || !ptrEqual(got.Qualifiers, e.Qualifiers) {
			t.Errorf("round trip of %s/%d: got %+v, want template %q", e.Provider, e.EventID, got, want)
		}
	}
}

func TestBuiltinTable(t *testing.T) {
	tbl := Builtin()
	for _, list := range tbl.entries {
		for _, c := range list {
			if strings.TrimSpace(c.Source) == "" {
				t.Errorf("%s/%d has no source:", c.Provider, c.EventID)
			}
		}
	}
	// Every provider and event id the built-in rule pack uses has a text.
	required := map[string][]uint16{
		"MsiInstaller":                            {1001, 1004, 1005, 1013, 1022, 1029, 1033, 1034, 1035, 1036, 1037, 1038, 1040, 1042, 10005, 11707, 11708, 11714, 11722, 11724, 11725, 11728, 11729},
		"Microsoft-Windows-RestartManager":        {10000, 10001, 10002, 10005, 10006, 10010},
		"Application Error":                       {1000},
		"Application Hang":                        {1002},
		"Windows Error Reporting":                 {1001},
		"Service Control Manager":                 {7000, 7009, 7011, 7022, 7023, 7024, 7031, 7034, 7036, 7040, 7045},
		"EventLog":                                {6005, 6006, 6008},
		"Microsoft-Windows-Kernel-Power":          {41},
		"User32":                                  {1074},
		"Microsoft-Windows-WindowsUpdateClient":   {19, 20, 24, 43, 44, 213},
		"Microsoft-Windows-Servicing":             {1, 2, 3, 4, 6},
		"Microsoft-Windows-WUSA":                  {7, 8},
		"Microsoft-Windows-AppXDeployment-Server": {400, 401, 404, 419, 603},
		"Microsoft-Windows-Security-Auditing":     {4688, 4624},
	}
	for provider, ids := range required {
		for _, id := range ids {
			if len(tbl.entries[entryKey{strings.ToLower(provider), id}]) == 0 {
				t.Errorf("no built-in text for %s %d", provider, id)
			}
		}
	}
}

// Hand-built events with the values of real records (the corpus files are
// read by TestCorpus once the parser can).
func TestBuiltinRendersKnownEvents(t *testing.T) {
	tbl := Builtin()
	scm7000 := &parser.Event{System: parser.System{Provider: "Service Control Manager", EventSourceName: "Service Control Manager", EventID: 7000, HasQualifiers: true, Qualifiers: 49152},
		EventData: []parser.Field{{Name: "param1", Value: "SQL Server (MSSQLSERVER)"}, {Name: "param2", Value: "%%2"}}}
	rm10000 := &parser.Event{System: parser.System{Provider: "Microsoft-Windows-RestartManager", EventID: 10000},
		UserData: &parser.Node{Name: "RmSessionEvent", Children: []*parser.Node{{Name: "RmSessionId", Text: "0"}, {Name: "UTCStartTime", Text: "2026-05-28T02:32:07.4965010Z"}}}}
	appx401 := &parser.Event{System: parser.System{Provider: "Microsoft-Windows-AppXDeployment-Server", EventID: 401},
		EventData: []parser.Field{{Name: "DeploymentOperation", Value: "2"}, {Name: "PackageFullName", Value: "Microsoft.Todos_0.143.2921.0_x64__8wekyb3d8bbwe"},
			{Name: "Path", Value: ""}, {Name: "MountPoint", Value: "C:"}, {Name: "CallingProcess", Value: "x"}, {Name: "ErrorCode", Value: "0x80070005"}}}
	tests := []struct {
		name string
		ev   *parser.Event
		want string
	}{
		{"MSI 1034 failure", classic("MsiInstaller", 1034, "Contoso Agent", "4.2.0.17", "1033", "1603", "Contoso Ltd.", "(NULL)", ""),
			"Windows Installer removed the product. Product Name: Contoso Agent. Product Version: 4.2.0.17. Product Language: 1033. Manufacturer: Contoso Ltd.. Removal success or error status: 1603."},
		{"MSI 11725 one-string form", classic("MsiInstaller", 11725, "Product: Contoso Agent -- Removal failed.", "(NULL)", "(NULL)", "(NULL)", "(NULL)", "(NULL)", ""),
			"Product: Contoso Agent -- Removal failed."},
		{"MSI 1038", classic("MsiInstaller", 1038, "VMware Tools", "9.6.2.1688356", "1033", "1", "2", "VMware, Inc.", ""),
			"Windows Installer requires a system restart. Product Name: VMware Tools. Product Version: 9.6.2.1688356. Product Language: 1033. Manufacturer: VMware, Inc.. Type of System Restart: 1. Reason for Restart: 2."},
		{"SCM 7000 resolves %%2", scm7000, "The SQL Server (MSSQLSERVER) service failed to start due to the following error: \nThe system cannot find the file specified."},
		{"RestartManager UserData", rm10000, "Starting session 0 - 2026-05-28T02:32:07.4965010Z."},
		{"AppX 401 by name", appx401, "Deployment 2 operation with target volume C: on Package Microsoft.Todos_0.143.2921.0_x64__8wekyb3d8bbwe from:  failed with error 0x80070005. See http://go.microsoft.com/fwlink/?LinkId=235160 for help diagnosing app deployment issues."},
		{"MSI 1021 patch removal failed", classic("MsiInstaller", 1021, "Office 16", "KB5002112", "1603", "(NULL)", "(NULL)", "(NULL)", ""),
			"Product: Office 16 - Update 'KB5002112' could not be removed. Error code 1603."},
		{"MSI 1026 keeps its backslash", classic("MsiInstaller", 1026, "(NULL)"),
			`Windows Installer has determined that its configuration data registry key was not secured properly. The owner of the key must be either Local System or Builtin\Administrators. The existing key will be deleted and re-created with the appropriate security settings.`},
		{"EventLog 6008", classic("EventLog", 6008, "10:23:28 AM", "11/25/2025", "", "", "12", "", ""),
			"The previous system shutdown at 10:23:28 AM on 11/25/2025 was unexpected."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tbl.Render(tt.ev)
			if !ok || got != tt.want {
				t.Errorf("Render =\n%q, %v\nwant\n%q", got, ok, tt.want)
			}
		})
	}
}

func BenchmarkRender(b *testing.B) {
	tbl := Builtin()
	ev := classic("MsiInstaller", 1034, "Contoso Agent", "4.2.0.17", "1033", "1603", "Contoso Ltd.", "(NULL)", "")
	b.ReportAllocs()
	for b.Loop() {
		tbl.Render(ev)
	}
}

func BenchmarkRender4688(b *testing.B) {
	tbl := Builtin()
	ev := &parser.Event{System: parser.System{Provider: "Microsoft-Windows-Security-Auditing", EventID: 4688, Version: 2}}
	for i := range 15 {
		ev.EventData = append(ev.EventData, parser.Field{Name: "f", Value: "value number " + string(rune('a'+i))})
	}
	ev.EventData[3].Value = "0x3e7"
	ev.EventData[6].Value = "%%1936"
	b.ReportAllocs()
	for b.Loop() {
		tbl.Render(ev)
	}
}

func TestFormatPaddingBounded(t *testing.T) {
	ev := classic("P", 1, "7")
	for _, tmpl := range []string{"%1!9999999d!", "%1!.9999999s!", "%1!300x!"} {
		if got := renderWith(tmpl, ev, nil); got != "7" {
			t.Errorf("%s: got %d bytes, want the value unformatted", tmpl, len(got))
		}
	}
	if got := renderWith("%1!256d!", ev, nil); len(got) != 256 {
		t.Errorf("width 256: got %d bytes", len(got))
	}
}

func TestFill(t *testing.T) {
	tbl := Builtin()
	ev := classic("MsiInstaller", 1040, `C:\a.msi`, "12")
	if !tbl.Fill(ev) || ev.Message != `Beginning a Windows Installer transaction: C:\a.msi. Client Process Id: 12.` {
		t.Errorf("Fill: Message = %q", ev.Message)
	}
	ev = classic("Nobody", 1, "x")
	if tbl.Fill(ev) || ev.Message != "Nobody event 1: Data[1]=x" {
		t.Errorf("Fill without template: Message = %q", ev.Message)
	}
}

func TestZeroTable(t *testing.T) {
	var zero Table
	ev := classic("MsiInstaller", 1040, "a.msi", "1")
	if _, ok := zero.Render(ev); ok {
		t.Error("a zero Table has no templates")
	}
	zero.Merge(Builtin())
	if _, ok := zero.Render(ev); !ok {
		t.Error("a zero Table merged with Builtin should render 1040")
	}
	var nilTable *Table
	if got, ok := nilTable.Render(ev); ok || got == "" {
		t.Errorf("nil Table: %q, %v; want the fallback", got, ok)
	}
}

func TestRenderConcurrently(t *testing.T) {
	tbl := Builtin()
	done := make(chan string)
	for i := range 8 {
		go func() {
			ev := classic("MsiInstaller", 1034, "P", "1", "1033", strconv.Itoa(i), "M")
			var last string
			for range 200 {
				last, _ = tbl.Render(ev)
			}
			done <- last
		}()
	}
	for range 8 {
		if got := <-done; !strings.HasPrefix(got, "Windows Installer removed the product. Product Name: P.") {
			t.Errorf("got %q", got)
		}
	}
}
