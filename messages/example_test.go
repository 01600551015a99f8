package messages_test

import (
	"fmt"

	"github.com/evtxscan/evtxscan/messages"
	"github.com/evtxscan/evtxscan/parser"
)

func ExampleTable_Render() {
	tbl := messages.Builtin()
	// A user table (messages.Load("my-build.yml")) would be merged here:
	// tbl.Merge(user)

	ev := &parser.Event{
		System: parser.System{Provider: "MsiInstaller", EventID: 1034, HasQualifiers: true},
		EventData: []parser.Field{
			{Value: "Contoso Agent"}, {Value: "4.2.0.17"}, {Value: "1033"}, {Value: "1603"},
			{Value: "Contoso Ltd."}, {Value: "(NULL)"}, {Value: ""},
		},
	}
	text, ok := tbl.Render(ev)
	fmt.Println(ok)
	fmt.Println(text)

	unknown := &parser.Event{
		System:    parser.System{Provider: "Contoso-Agent", EventID: 7},
		EventData: []parser.Field{{Name: "Driver", Value: "cad.sys"}, {Value: "(NULL)"}},
	}
	text, ok = tbl.Render(unknown)
	fmt.Println(ok)
	fmt.Println(text)
	// Output:
	// true
	// Windows Installer removed the product. Product Name: Contoso Agent. Product Version: 4.2.0.17. Product Language: 1033. Manufacturer: Contoso Ltd.. Removal success or error status: 1603.
	// false
	// Contoso-Agent event 7: Driver=cad.sys
}
