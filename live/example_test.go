package live_test

import (
	"context"
	"log"

	"github.com/evtxscan/evtxscan/filter"
	"github.com/evtxscan/evtxscan/live"
)

// An incremental run over this machine's logs: read what is new since the
// last run, handle it, then save where it stopped.
func ExampleOpen() {
	ctx := context.Background()
	src, err := live.Open(ctx, live.Config{
		Filter:    filter.Filter{Providers: []string{"MsiInstaller"}},
		StatePath: `C:\ProgramData\evtxscan\state.json`,
		Warn:      func(msg string) { log.Print(msg) }, // log cleared, state file damaged…
	})
	if err != nil {
		log.Fatal(err) // live.ErrUnsupported on systems other than Windows
	}
	defer src.Close()
	for ev, err := range src.Events(ctx) {
		if err != nil {
			log.Print(err) // one record or channel; the rest goes on
			continue
		}
		log.Println(ev.Time(), ev.System.EventID, ev.RenderedMessage)
	}
	if err := src.Commit(); err != nil { // only once the events are handled
		log.Fatal(err)
	}
}
