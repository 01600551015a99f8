package evtxwriter_test

import (
	"fmt"
	"time"

	"github.com/evtxscan/evtxscan/internal/evtxwriter"
)

// Write a classic MsiInstaller 1034 (removal failed with status 1603) into
// an .evtx image: one 4 KiB file header and one 64 KiB chunk.
func ExampleWrite() {
	ev := evtxwriter.Event{
		System: evtxwriter.System{
			Provider: "MsiInstaller", EventID: 1034, HasQualifiers: true, Level: 4,
			Keywords: 0x80000000000000, TimeCreated: time.Date(2026, 2, 10, 10, 0, 4, 301e6, time.UTC),
			Channel: "Application", Computer: "PC-ALICE", UserID: "S-1-5-18",
		},
		Classic: true,
		Data: []evtxwriter.Value{{Text: "Contoso Agent"}, {Text: "4.2.0.17"}, {Text: "1033"},
			{Text: "1603"}, {Text: "Contoso Ltd."}, {Text: "(NULL)"}, {Text: ""}},
		Binary: []byte("{7BE25830-15EE-4797-A25F-DF614ACA9B8E}"),
	}
	b, err := evtxwriter.Write([]evtxwriter.Event{ev}, evtxwriter.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(b), string(b[:7]), string(b[4096:4103]))
	// Output: 69632 ElfFile ElfChnk
}
