package live

import (
	"github.com/evtxscan/evtxscan/messages"
)

// ExportProgress reports one provider of an export: how many messages it
// gave, or why it gave none.
type ExportProgress func(provider string, messages int, err error)

// noMessageID is the message id of events defined without a message.
const noMessageID = 0xFFFFFFFF

// exportedEvent is one event definition of a provider's manifest.
type exportedEvent struct {
	ID, Version uint32
	Template    string
}

// entriesFor turns one provider's event definitions into message table
// entries. The version narrows an entry only when the provider defines
// the same event id with different texts in several versions.
func entriesFor(provider, source string, events []exportedEvent) []messages.Entry {
	texts := map[uint16]map[string]bool{}
	for _, e := range events {
		id := uint16(e.ID)
		if texts[id] == nil {
			texts[id] = map[string]bool{}
		}
		texts[id][e.Template] = true
	}
	var out []messages.Entry
	seen := map[[2]uint32]bool{}
	for _, e := range events {
		id := uint16(e.ID)
		key := [2]uint32{uint32(id), e.Version}
		if e.Template == "" || seen[key] {
			continue
		}
		seen[key] = true
		en := messages.Entry{Provider: provider, EventID: id, Template: e.Template, Source: source}
		if len(texts[id]) > 1 {
			v := uint8(e.Version)
			en.Version = &v
		} else if seen[[2]uint32{uint32(id), 1 << 31}] {
			continue // one text for every version: one entry
		}
		seen[[2]uint32{uint32(id), 1 << 31}] = true
		out = append(out, en)
	}
	return out
}
