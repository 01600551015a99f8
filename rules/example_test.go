package rules_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/evtxscan/evtxscan/parser"
	"github.com/evtxscan/evtxscan/rules"
)

// A field map names MsiInstaller's positional data; a Sigma rule uses the
// names, and the finding shows them.
func Example() {
	const yml = `fieldmap: msi-product
provider: MsiInstaller
event_ids: [1034]
fields:
  ProductName: Data[1]
  Status: Data[4]
  StatusMeaning: label(Status, msi_status)
labels:
  msi_status: {"1603": fatal error during installation}
---
title: Windows Installer removal failed
id: msi_uninstall_failed_status
level: high
logsource: {product: windows, service: application}
detection:
  removal: {Provider_Name: MsiInstaller, EventID: 1034}
  success: {Status: ['0', '1641', '3010']}
  condition: removal and not success
fields: [ProductName, Status, StatusMeaning]
`
	rs := rules.NewRuleset()
	if err := rs.AddBytes("example.yml", []byte(yml)); err != nil {
		panic(err)
	}
	engine, err := rs.NewEngine()
	if err != nil {
		panic(err)
	}
	ev := &parser.Event{EventData: []parser.Field{{Value: "Contoso Agent"}, {Value: "4.2"}, {Value: "1033"}, {Value: "1603"}}}
	ev.System.Provider, ev.System.Channel, ev.System.EventID = "MsiInstaller", "Application", 1034
	ev.System.Computer = "HOST1"
	ev.System.TimeCreated = time.Date(2026, 3, 14, 10, 0, 4, 0, time.UTC)

	print := func(f rules.Finding) { fmt.Println(f.RuleID, f.Level, f.Computer, f.Fields) }
	engine.Process(ev, print)
	engine.Flush(print)
	// Output:
	// msi_uninstall_failed_status high HOST1 [{ProductName Contoso Agent} {Status 1603} {StatusMeaning fatal error during installation}]
}

// Lint reports every problem of a rule file with its position.
func ExampleLint() {
	dir, err := os.MkdirTemp("", "lint")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	bad := `title: Bad rule
id: bad
logsource: {product: windows, service: securty}
detection:
  sel: {Image|endswithh: '\\x.exe'}
  condition: sel or missing
`
	path := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		panic(err)
	}
	for _, p := range rules.Lint(path) {
		p.File = filepath.Base(p.File)
		fmt.Println(p)
	}
	// Output:
	// bad.yml:3:40: error: rule bad: unknown logsource service "securty" (did you mean security?)
	// bad.yml:5:9: error: rule bad: unknown modifier "endswithh" (did you mean endswith?) (see the Sigma modifiers appendix for the names)
	// bad.yml:6:21: error: rule bad: condition: unknown search identifier "missing" (define it under detection)
}
