package live

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// fakeLog is an in-memory event log: per channel a list of records with
// consecutive ids, which tests append to, clear and roll over.
type fakeLog struct {
	mu       sync.Mutex
	channels map[string]*fakeChannel
	signal   chan struct{} // closed and replaced on every append
	queries  []string      // "Query channel after" / "Subscribe …", in order
	closed   bool
}

type fakeChannel struct {
	recs   []fakeRecord
	nextID uint64
	// refuseOver makes Next fail with errBatchTooLarge for batches larger
	// than this (0: never), advancing the position anyway as Windows does.
	refuseOver int
	// staleOnce makes the next Next of a subscription fail with errStaleBookmark.
	staleOnce bool
	// missing makes Query/Subscribe fail as for an unknown channel.
	missing bool
	// inclusive makes Query start at the bookmarked record, not after it.
	inclusive bool
}

type fakeRecord struct {
	id  uint64
	xml string
	msg string
	err error
}

func newFakeLog() *fakeLog {
	return &fakeLog{channels: map[string]*fakeChannel{}, signal: make(chan struct{})}
}

func (f *fakeLog) ch(name string) *fakeChannel {
	c := f.channels[name]
	if c == nil {
		c = &fakeChannel{nextID: 1}
		f.channels[name] = c
	}
	return c
}

// add appends n events of the given event id to a channel.
func (f *fakeLog) add(channel string, eventID uint16, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.ch(channel)
	for range n {
		id := c.nextID
		c.nextID++
		t := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(id) * time.Second)
		xml := fmt.Sprintf(`<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='MsiInstaller'/><EventID Qualifiers='0'>%d</EventID><Level>2</Level><TimeCreated SystemTime='%s'/><EventRecordID>%d</EventRecordID><Channel>%s</Channel><Computer>PC1</Computer></System><EventData><Data>Product %d</Data><Data>1603</Data></EventData></Event>`,
			eventID, t.Format(time.RFC3339Nano), id, channel, id)
		c.recs = append(c.recs, fakeRecord{id: id, xml: xml, msg: "Product: %1 -- status %2."})
	}
	close(f.signal)
	f.signal = make(chan struct{})
}

// addForwarded appends an event forwarded from another machine: its
// System/EventRecordID is the origin's (originID), not the channel's.
func (f *fakeLog) addForwarded(channel string, originID uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.ch(channel)
	xml := fmt.Sprintf(`<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-Security-Auditing'/><EventID>4624</EventID><EventRecordID>%d</EventRecordID><Channel>Security</Channel><Computer>WKS1</Computer></System></Event>`, originID)
	c.recs = append(c.recs, fakeRecord{id: c.nextID, xml: xml})
	c.nextID++
}

// addBroken appends a record that cannot be rendered.
func (f *fakeLog) addBroken(channel string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.ch(channel)
	c.recs = append(c.recs, fakeRecord{id: c.nextID, err: fmt.Errorf("EvtRender: The data is invalid")})
	c.nextID++
}

// drop removes the oldest n records (roll-over).
func (f *fakeLog) drop(channel string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.ch(channel)
	c.recs = c.recs[min(n, len(c.recs)):]
}

// clearLog empties a channel; ids start again at 1, as after wevtutil cl.
func (f *fakeLog) clearLog(channel string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.ch(channel)
	c.recs = nil
	c.nextID = 1
}

func (f *fakeLog) Info(channel string) (logInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.ch(channel)
	if len(c.recs) == 0 {
		return logInfo{}, nil
	}
	return logInfo{Oldest: c.recs[0].id, Newest: c.recs[len(c.recs)-1].id}, nil
}

func (f *fakeLog) open(kind, channel string, after uint64) (*fakeReader, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, fmt.Sprintf("%s %s %d", kind, channel, after))
	c := f.ch(channel)
	if c.missing {
		return nil, fmt.Errorf("The specified channel could not be found (15007)")
	}
	pos := 0
	if after != 0 {
		found := false
		for i, r := range c.recs {
			if r.id == after {
				pos, found = i+1, true
			}
		}
		if !found {
			return nil, errStaleBookmark
		}
		if c.inclusive {
			pos--
		}
	}
	return &fakeReader{log: f, c: c, nextID: idAt(c, pos)}, nil
}

func idAt(c *fakeChannel, pos int) uint64 {
	if pos < len(c.recs) {
		return c.recs[pos].id
	}
	return c.nextID
}

func (f *fakeLog) Query(channel, xpath string, after uint64) (recordReader, error) {
	return f.open("Query", channel, after)
}

func (f *fakeLog) Subscribe(channel, xpath string, after uint64) (subscription, error) {
	return f.open("Subscribe", channel, after)
}

func (f *fakeLog) Close() error {
	f.closed = true
	return nil
}

// fakeReader reads records with id >= nextID.
type fakeReader struct {
	log    *fakeLog
	c      *fakeChannel
	nextID uint64
}

func (r *fakeReader) Next(max int) ([]record, error) {
	r.log.mu.Lock()
	defer r.log.mu.Unlock()
	if r.c.staleOnce {
		r.c.staleOnce = false
		return nil, errStaleBookmark
	}
	var out []record
	for _, rec := range r.c.recs {
		if rec.id >= r.nextID && len(out) < max {
			out = append(out, record{XML: []byte(rec.xml), Message: rec.msg, Err: rec.err, RecordID: rec.id})
		}
	}
	if len(out) > 0 {
		r.nextID = out[len(out)-1].RecordID + 1
	}
	if r.c.refuseOver > 0 && max > r.c.refuseOver && len(out) > 0 {
		return nil, errBatchTooLarge // position moved anyway
	}
	return out, nil
}

func (r *fakeReader) Close() error { return nil }

func (r *fakeReader) Wait(ctx context.Context, timeout time.Duration) error {
	r.log.mu.Lock()
	sig := r.log.signal
	r.log.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-sig:
	case <-t.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}
