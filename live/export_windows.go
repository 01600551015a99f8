//go:build windows

package live

import (
	"fmt"
	"os"

	"github.com/evtxscan/evtxscan/internal/wevtapi"
	"github.com/evtxscan/evtxscan/messages"
)

// ExportMessages reads the message template of every event of every
// provider registered on this machine (EvtOpenPublisherEnum,
// EvtOpenPublisherMetadata, EvtFormatMessage with EvtFormatMessageId, which
// leaves %1… in place) as message table entries. Providers that cannot be
// opened are reported through progress and skipped. Classic event sources
// without a manifest are not publishers and are not exported.
func ExportMessages(progress ExportProgress) ([]messages.Entry, error) {
	pubs, err := wevtapi.Publishers()
	if err != nil {
		return nil, fmt.Errorf("live: cannot list the event providers: %w", err)
	}
	host, _ := os.Hostname()
	source := "EvtFormatMessage (EvtFormatMessageId) on " + host
	var out []messages.Entry
	for _, p := range pubs {
		entries, err := exportPublisher(p, source)
		if progress != nil {
			progress(p, len(entries), err)
		}
		out = append(out, entries...)
	}
	return out, nil
}

func exportPublisher(provider, source string) ([]messages.Entry, error) {
	meta, err := wevtapi.OpenPublisherMetadata(provider)
	if err != nil {
		return nil, err
	}
	defer wevtapi.Close(meta)
	defs, err := wevtapi.PublisherEvents(meta)
	if err != nil && len(defs) == 0 {
		return nil, err
	}
	var events []exportedEvent
	for _, d := range defs {
		if d.MessageID == noMessageID || d.MessageID == 0 {
			continue
		}
		text, _, ferr := wevtapi.FormatMessage(meta, 0, d.MessageID, wevtapi.FormatMessageID)
		if ferr != nil || text == "" {
			continue
		}
		events = append(events, exportedEvent{ID: d.ID, Version: d.Version, Template: text})
	}
	return entriesFor(provider, source, events), err
}
