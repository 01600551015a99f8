package parser_test

import (
	"context"
	"fmt"
	"log"

	"github.com/evtxscan/evtxscan/parser"
)

// Reading every event of a log, reporting damage and the accounting.
func ExampleOpen() {
	f, err := parser.Open("Application.evtx", parser.Options{Recover: true})
	if err != nil {
		log.Fatal(err) // names the file; errors.Is(err, parser.ErrNotEVTX) for non-logs
	}
	defer f.Close()
	for ev, err := range f.Events(context.Background()) {
		if err != nil {
			log.Print(err) // *parser.ChunkError or *parser.RecordError, with offsets
			continue
		}
		status, _ := ev.Positional(4) // MsiInstaller 1033/1035: Data[4] is the status
		fmt.Println(ev.Time(), ev.System.Provider, ev.System.EventID, status)
	}
	st := f.Stats()
	fmt.Printf("%d records, %d recovered, %d lost\n", st.Records, st.Recovered, st.Lost)
}

// Writing the dump JSONL of each event.
func ExampleAppendJSON() {
	ev := &parser.Event{
		Source:    parser.Source{File: "Application.evtx", RecordID: 42},
		System:    parser.System{EventID: 11724, Provider: "MsiInstaller", Channel: "Application", Level: 4},
		EventData: []parser.Field{{Value: "Product: Contoso Agent -- Removal completed successfully."}},
	}
	fmt.Println(string(parser.AppendJSON(nil, ev)))
	// Output:
	// {"file":"Application.evtx","record_id":42,"time":"0001-01-01T00:00:00.0000000Z","event_id":11724,"provider":"MsiInstaller","channel":"Application","computer":"","level":4,"user_sid":"","event_data":{"Data[1]":"Product: Contoso Agent -- Removal completed successfully."},"recovered":false}
}
