package uninstall_test

import (
	"fmt"
	"time"

	"github.com/evtxscan/evtxscan/parser"
	"github.com/evtxscan/evtxscan/uninstall"
)

func ExampleTracker() {
	t0 := time.Date(2026, 2, 10, 10, 0, 0, 0, time.UTC)
	msi := func(id uint16, ms int, data ...string) *parser.Event {
		ev := &parser.Event{System: parser.System{Provider: "MsiInstaller", EventID: id, HasQualifiers: true,
			Computer: "PC-01", TimeCreated: t0.Add(time.Duration(ms) * time.Millisecond)}}
		for _, d := range data {
			ev.EventData = append(ev.EventData, parser.Field{Value: d})
		}
		return ev
	}
	tr := uninstall.NewTracker()
	for _, ev := range []*parser.Event{
		msi(1040, 0, `C:\Windows\Installer\4f2a.msi`, "6700"),
		msi(11722, 3400, "Product: Contoso Agent -- Error 1722. There is a problem with this Windows Installer package. Action CA_UnregisterDriver, location: C:\\Agent\\, command: agentctl --unregister"),
		msi(11725, 4300, "Product: Contoso Agent -- Removal failed."),
		msi(1034, 4301, "Contoso Agent", "4.2.0.17", "1033", "1603", "Contoso Ltd."),
		msi(1042, 4400, `C:\Windows\Installer\4f2a.msi`, "6700"),
	} {
		tr.Add(ev)
	}
	for _, s := range tr.Sessions() {
		fmt.Println(s.Product, s.Version, "on", s.Computer)
		fmt.Println(s.Outcome, s.Status)
		fmt.Println(s.Cause)
		fmt.Println(len(s.Events), "events,", s.End.Sub(s.Start))
	}
	// Output:
	// Contoso Agent 4.2.0.17 on PC-01
	// failed 1603
	// 1722 custom action failed: a program run as part of the setup did not finish as expected — custom action CA_UnregisterDriver
	// 5 events, 4.4s
}
