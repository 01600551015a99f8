package live

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/evtxscan/evtxscan/internal/wevtapi"
)

// fakeWindows models the Windows Event Log service behind evtAPI as
// Microsoft documents it; every live test reads through it (via apiLog),
// so the code under test is the code that runs on Windows. What it models:
//   - channels of records whose EventRecordIDs restart at 1 when the log is
//     cleared (wevtutil cl), which changes the log's creation time and
//     sends no notice to open subscriptions: they simply go on;
//   - query result sets that grow while they are read, and EvtNext
//     batches that hold fewer records than asked (partial);
//   - RPC_S_INVALID_BOUND (1734) for batches over a size, after which the
//     position has moved anyway; Query/Subscribe that fail (re-open after
//     1734 failing); ERROR_TIMEOUT from a query's EvtNext whose timeout is
//     not INFINITE while the service is slow;
//   - EvtSeek per EVT_SEEK_FLAGS: past the end, non-strict, lands on the
//     last record; a bookmark inside the range but absent lands on the
//     next record; Strict fails with ERROR_NOT_FOUND;
//   - EvtSubscribe StartAfterBookmark per EVT_SUBSCRIBE_FLAGS: Strict fails
//     with ERROR_NOT_FOUND when the bookmarked record is gone; without it
//     the subscription begins after the record closest to the bookmark;
//   - EvtRender's byte-sized buffer and EvtFormatMessage's character-sized
//     one with their ERROR_INSUFFICIENT_BUFFER protocols (BufferUsed 0
//     after success; a too-small message buffer succeeding truncated);
//   - message formatting that fills inserts itself, partial success
//     (15031), publisher metadata handles that go stale when the service
//     restarts, providers that fail to open once (transient);
//   - channels that do not exist (15007) or deny access (5).
type fakeWindows struct {
	mu       sync.Mutex
	channels map[string]*fakeChannel
	handles  map[wevtapi.Handle]any
	nextH    wevtapi.Handle
	metaGen  int
	queries  []string // "Query channel after" / "Subscribe channel after", in order
	// providers: "" means every provider has metadata; noMeta lists those
	// without; metaFailOnce fail their next open with RPC_S_SERVER_UNAVAILABLE.
	noMeta       map[string]bool
	metaFailOnce map[string]bool
	metaOpens    int
	formats      int
}

type fakeChannel struct {
	recs    []fakeRecord
	nextID  uint64
	seq     uint64 // write counter, never reset: positions of readers
	created uint64 // creation time; changes when cleared
	subs    []*fakeSignal

	refuseOver int  // 1734 for batches larger than this (0: never)
	partial    int  // EvtNext returns at most this many at once (0: no cap)
	slow       bool // a query's EvtNext with a finite timeout fails with ERROR_TIMEOUT
	failOpens  int  // the next n Query/Subscribe fail (RPC_S_SERVER_UNAVAILABLE)
	openLimit  int  // Query/Subscribe fail after this many successful opens (0: never)
	opens      int
	missing    bool // ERROR_EVT_CHANNEL_NOT_FOUND
	denied     bool // ERROR_ACCESS_DENIED
}

type fakeRecord struct {
	id, seq    uint64
	xml        string
	msg        string // the message Windows formats (inserts filled)
	unresolved bool   // EvtFormatMessage returns it with 15031
	err        error  // EvtRender fails
}

type fakeQuery struct {
	ch     *fakeChannel
	name   string
	pos    uint64 // seq of the next record to hand out
	xpath  string
	sub    bool
	closed bool
}

type fakeEvent struct {
	ch  *fakeChannel
	rec fakeRecord
}

type fakeBookmark struct {
	channel string
	id      uint64
}

type fakeMeta struct {
	provider string
	gen      int
}

func newFakeLog() *fakeWindows {
	return &fakeWindows{channels: map[string]*fakeChannel{}, handles: map[wevtapi.Handle]any{},
		noMeta: map[string]bool{}, metaFailOnce: map[string]bool{}}
}

func (f *fakeWindows) ch(name string) *fakeChannel {
	c := f.channels[name]
	if c == nil {
		c = &fakeChannel{nextID: 1, created: 1}
		f.channels[name] = c
	}
	return c
}

// set changes a channel's behaviour under the lock.
func (f *fakeWindows) set(channel string, change func(c *fakeChannel)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f.ch(channel))
}

func (f *fakeWindows) appendLocked(c *fakeChannel, r fakeRecord) {
	r.id = c.nextID
	c.nextID++
	c.seq++
	r.seq = c.seq
	c.recs = append(c.recs, r)
	for _, s := range c.subs {
		s.set()
	}
}

func eventXML(provider string, eventID uint16, id uint64, channel, computer string, data []string, extra string) string {
	t := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(id) * time.Second)
	var d strings.Builder
	for _, v := range data {
		d.WriteString("<Data>" + v + "</Data>")
	}
	return fmt.Sprintf(`<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='%s'/><EventID Qualifiers='0'>%d</EventID><Level>2</Level><TimeCreated SystemTime='%s'/><EventRecordID>%d</EventRecordID><Channel>%s</Channel><Computer>%s</Computer></System><EventData>%s</EventData>%s</Event>`,
		provider, eventID, t.Format(time.RFC3339Nano), id, channel, computer, d.String(), extra)
}

// add appends n MsiInstaller events of the given event id to a channel.
func (f *fakeWindows) add(channel string, eventID uint16, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.ch(channel)
	for range n {
		id := c.nextID
		product := fmt.Sprintf("Product %d", id)
		f.appendLocked(c, fakeRecord{
			xml: eventXML("MsiInstaller", eventID, id, channel, "PC1", []string{product, "1603"}, ""),
			msg: "Product: " + product + " -- status 1603.",
		})
	}
}

// addEvent appends one event with the given provider, data and the
// message Windows formats for it.
func (f *fakeWindows) addEvent(channel, provider string, eventID uint16, data []string, msg string, unresolved bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.ch(channel)
	f.appendLocked(c, fakeRecord{xml: eventXML(provider, eventID, c.nextID, channel, "PC1", data, ""), msg: msg, unresolved: unresolved})
}

// addForwarded appends an event forwarded from another machine: its
// System/EventRecordID is the origin's (originID), its provider is not
// installed here, and it carries RenderingInfo with the origin's text.
func (f *fakeWindows) addForwarded(channel string, originID uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.ch(channel)
	ri := `<RenderingInfo Culture='en-US'><Message>An account was successfully logged on.</Message><Level>Information</Level></RenderingInfo>`
	xml := strings.Replace(eventXML("Microsoft-Windows-Security-Auditing", 4624, originID, "Security", "WKS1", nil, ri), "<EventData></EventData>", "", 1)
	// The collector has the provider too: formatting here would give the
	// local text, not the origin's.
	f.appendLocked(c, fakeRecord{xml: xml, msg: "local text"})
}

// addBroken appends a record that cannot be rendered.
func (f *fakeWindows) addBroken(channel string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.appendLocked(f.ch(channel), fakeRecord{err: wevtapi.ErrorEvtInvalidEventData})
}

// drop removes the oldest n records (roll-over).
func (f *fakeWindows) drop(channel string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.ch(channel)
	c.recs = c.recs[min(n, len(c.recs)):]
}

// clearLog empties a channel as wevtutil cl does: ids start again at 1,
// the creation time changes, subscriptions are not told. Clearing the
// Security log writes 1102 as its first record.
func (f *fakeWindows) clearLog(channel string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.ch(channel)
	c.recs = nil
	c.nextID = 1
	c.created++
	if channel == "Security" {
		f.appendLocked(c, fakeRecord{xml: eventXML("Microsoft-Windows-Eventlog", 1102, 1, channel, "PC1", nil, ""), msg: "The audit log was cleared."})
	}
}

// restartService makes every open publisher metadata handle stale, as a
// restart of the Event Log service or a provider reinstall does.
func (f *fakeWindows) restartService() {
	f.mu.Lock()
	f.metaGen++
	f.mu.Unlock()
}

func (f *fakeWindows) newHandle(v any) wevtapi.Handle {
	f.nextH++
	f.handles[f.nextH] = v
	return f.nextH
}

// openCheck is the access check of Query, Subscribe and EvtOpenLog.
func (c *fakeChannel) openCheck() error {
	switch {
	case c.missing:
		return wevtapi.ErrorEvtChannelNotFound
	case c.denied:
		return wevtapi.ErrorAccessDenied
	}
	return nil
}

func (f *fakeWindows) Query(channel, xpath string, flags uint32) (wevtapi.Handle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.ch(channel)
	f.queries = append(f.queries, "Query "+channel)
	if err := c.openCheck(); err != nil {
		return 0, err
	}
	if c.failOpens > 0 || (c.openLimit > 0 && c.opens >= c.openLimit) {
		c.failOpens = max(c.failOpens-1, 0)
		return 0, wevtapi.RPCServerUnavailable
	}
	c.opens++
	return f.newHandle(&fakeQuery{ch: c, name: channel, pos: c.firstSeq(), xpath: xpath}), nil
}

func (c *fakeChannel) firstSeq() uint64 {
	if len(c.recs) > 0 {
		return c.recs[0].seq
	}
	return c.seq + 1
}

// index returns the position of the record with id, or -1.
func (c *fakeChannel) index(id uint64) int {
	for i, r := range c.recs {
		if r.id == id {
			return i
		}
	}
	return -1
}

func (f *fakeWindows) Seek(rs wevtapi.Handle, position int64, bookmark wevtapi.Handle, flags uint32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	q, ok := f.handles[rs].(*fakeQuery)
	bm, ok2 := f.handles[bookmark].(*fakeBookmark)
	if !ok || q.sub || !ok2 || flags&7 != wevtapi.SeekRelativeToBookmark {
		return wevtapi.ErrorInvalidParameter
	}
	c := q.ch
	strict := flags&wevtapi.SeekStrict != 0
	f.queries[len(f.queries)-1] += fmt.Sprintf(" %d", bm.id)
	i := c.index(bm.id)
	if i < 0 && strict {
		return wevtapi.ErrorNotFound
	}
	if len(c.recs) == 0 {
		return nil
	}
	var target int
	if i >= 0 {
		target = i + int(position)
	} else {
		// Inside the range but absent: offsets 0 and 1 both land on the
		// next record; outside, on the boundary.
		next := len(c.recs)
		for j, r := range c.recs {
			if r.id > bm.id {
				next = j
				break
			}
		}
		target = next + max(int(position)-1, 0)
	}
	if target >= len(c.recs) {
		if strict {
			return wevtapi.ErrorNotFound
		}
		target = len(c.recs) - 1 // "the last record within the boundary"
	}
	q.pos = c.recs[max(target, 0)].seq
	return nil
}

func (f *fakeWindows) Subscribe(sig signal, channel, xpath string, bookmark wevtapi.Handle, flags uint32) (wevtapi.Handle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.ch(channel)
	entry := "Subscribe " + channel
	if flags&wevtapi.SubscribeStrict != 0 {
		entry += " strict"
	}
	f.queries = append(f.queries, entry)
	if err := c.openCheck(); err != nil {
		return 0, err
	}
	if c.failOpens > 0 || (c.openLimit > 0 && c.opens >= c.openLimit) {
		c.failOpens = max(c.failOpens-1, 0)
		return 0, wevtapi.RPCServerUnavailable
	}
	c.opens++
	q := &fakeQuery{ch: c, name: channel, sub: true, pos: c.firstSeq(), xpath: xpath}
	switch flags & 3 {
	case wevtapi.SubscribeToFutureEvents:
		q.pos = c.seq + 1
	case wevtapi.SubscribeStartAfterBookmark:
		bm, ok := f.handles[bookmark].(*fakeBookmark)
		if !ok {
			return 0, wevtapi.ErrorInvalidParameter
		}
		f.queries[len(f.queries)-1] += fmt.Sprintf(" %d", bm.id)
		i := c.indexIn(bm.id, xpath)
		if i < 0 && flags&wevtapi.SubscribeStrict != 0 {
			return 0, wevtapi.ErrorNotFound
		}
		if i < 0 && len(c.recs) > 0 {
			// "begins with the event that is after the event that is
			// closest to the bookmarked event"
			best := 0
			for j, r := range c.recs {
				if xpathMatches(xpath, r.xml) && absDiff(r.id, bm.id) <= absDiff(c.recs[best].id, bm.id) {
					best = j
				}
			}
			i = best
		}
		if i >= 0 {
			q.pos = c.recs[i].seq + 1
		}
	}
	if s, ok := sig.(*fakeSignal); ok {
		c.subs = append(c.subs, s)
	}
	return f.newHandle(q), nil
}

// indexIn is index within the result set of xpath.
func (c *fakeChannel) indexIn(id uint64, xpath string) int {
	i := c.index(id)
	if i >= 0 && !xpathMatches(xpath, c.recs[i].xml) {
		return -1
	}
	return i
}

// xpathMatches understands the "EventID=n" terms of the queries the
// filter builds; anything else matches every record.
func xpathMatches(xpath, xml string) bool {
	terms := regexp.MustCompile(`EventID=(\d+)`).FindAllStringSubmatch(xpath, -1)
	if len(terms) == 0 {
		return true
	}
	for _, t := range terms {
		if strings.Contains(xml, ">"+t[1]+"</EventID>") {
			return true
		}
	}
	return false
}

func absDiff(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}

func (f *fakeWindows) Next(rs wevtapi.Handle, events []wevtapi.Handle, timeoutMillis uint32) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q, ok := f.handles[rs].(*fakeQuery)
	if !ok {
		return 0, wevtapi.ErrorInvalidHandle
	}
	c := q.ch
	if !q.sub && c.slow && timeoutMillis != wevtapi.Infinite {
		return 0, wevtapi.ErrorTimeout
	}
	var avail []fakeRecord
	for _, r := range c.recs {
		if r.seq >= q.pos && xpathMatches(q.xpath, r.xml) {
			avail = append(avail, r)
		}
	}
	if c.refuseOver > 0 && len(events) > c.refuseOver && len(avail) > 0 {
		q.pos = avail[min(len(events), len(avail))-1].seq + 1 // moved anyway
		return 0, wevtapi.RPCInvalidBound
	}
	n := min(len(events), len(avail))
	if c.partial > 0 {
		n = min(n, c.partial)
	}
	for i := range n {
		events[i] = f.newHandle(&fakeEvent{ch: c, rec: avail[i]})
	}
	if n > 0 {
		q.pos = avail[n-1].seq + 1
	}
	return n, nil
}

// rawRender is one EvtRender call as Windows makes it: sizes in bytes,
// ERROR_INSUFFICIENT_BUFFER with BufferUsed, BufferUsed 0 after success
// (seen in the wild, so nothing may rely on it).
func rawRender(text string, buf []uint16) (uint32, error) {
	u := utf16.Encode([]rune(text))
	need := uint32(2 * (len(u) + 1))
	if uint32(2*len(buf)) < need {
		return need, wevtapi.ErrorInsufficientBuffer
	}
	copy(buf, u)
	buf[len(u)] = 0
	return 0, nil
}

func (f *fakeWindows) Render(fragment wevtapi.Handle, flags uint32, buf *[]uint16) (string, error) {
	f.mu.Lock()
	v := f.handles[fragment]
	f.mu.Unlock()
	var text string
	switch x := v.(type) {
	case *fakeEvent:
		if flags != wevtapi.RenderEventXML {
			return "", wevtapi.ErrorInvalidParameter
		}
		if x.rec.err != nil {
			return "", x.rec.err
		}
		text = x.rec.xml
	case *fakeBookmark:
		if flags != wevtapi.RenderBookmark {
			return "", wevtapi.ErrorInvalidParameter
		}
		text = bookmarkXML(x.channel, x.id)
	default:
		return "", wevtapi.ErrorInvalidHandle
	}
	return wevtapi.RenderString(func(b []uint16) (uint32, error) { return rawRender(text, b) }, buf)
}

func (f *fakeWindows) CreateBookmark(xml string) (wevtapi.Handle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	bm := &fakeBookmark{}
	if xml != "" {
		id, ok := bookmarkRecordID(xml)
		if !ok {
			return 0, wevtapi.ErrorInvalidParameter
		}
		_, rest, _ := strings.Cut(xml, "Channel='")
		bm.channel, _, _ = strings.Cut(rest, "'")
		bm.id = id
	}
	return f.newHandle(bm), nil
}

func (f *fakeWindows) UpdateBookmark(bookmark, event wevtapi.Handle) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	bm, ok := f.handles[bookmark].(*fakeBookmark)
	ev, ok2 := f.handles[event].(*fakeEvent)
	if !ok || !ok2 {
		return wevtapi.ErrorInvalidHandle
	}
	for name, c := range f.channels {
		if c == ev.ch {
			bm.channel = name
		}
	}
	bm.id = ev.rec.id
	return nil
}

func (f *fakeWindows) LogInfo(channel string) (count, oldest, created uint64, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.ch(channel)
	if err := c.openCheck(); err != nil {
		return 0, 0, 0, err
	}
	if len(c.recs) == 0 {
		return 0, 0, c.created, nil
	}
	return uint64(len(c.recs)), c.recs[0].id, c.created, nil
}

func (f *fakeWindows) OpenPublisherMetadata(provider string) (wevtapi.Handle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.metaOpens++
	if f.metaFailOnce[provider] {
		delete(f.metaFailOnce, provider)
		return 0, wevtapi.RPCServerUnavailable
	}
	if f.noMeta[provider] {
		return 0, wevtapi.ErrorFileNotFound
	}
	return f.newHandle(&fakeMeta{provider: provider, gen: f.metaGen}), nil
}

func (f *fakeWindows) FormatMessage(meta, event wevtapi.Handle, messageID, flags uint32) (string, bool, error) {
	f.mu.Lock()
	m, ok := f.handles[meta].(*fakeMeta)
	ev, ok2 := f.handles[event].(*fakeEvent)
	stale := ok && m.gen != f.metaGen
	f.formats++
	f.mu.Unlock()
	if !ok || stale {
		return "", false, wevtapi.ErrorInvalidHandle
	}
	if !ok2 || flags != wevtapi.FormatMessageEvent {
		return "", false, wevtapi.ErrorInvalidParameter
	}
	if ev.rec.msg == "" {
		return "", false, wevtapi.ErrorEvtMessageNotFound
	}
	u := utf16.Encode([]rune(ev.rec.msg))
	return wevtapi.FormatString(func(b []uint16) (uint32, error) {
		need := uint32(len(u) + 1)
		if b == nil {
			return need, wevtapi.ErrorInsufficientBuffer
		}
		// A too-small buffer succeeds with truncated text (beats#41245).
		n := copy(b[:len(b)-1], u)
		b[n] = 0
		if ev.rec.unresolved {
			return need, wevtapi.ErrorEvtMaxInsertsReached
		}
		return need, nil
	})
}

func (f *fakeWindows) Close(h wevtapi.Handle) error {
	if h == 0 {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.handles[h]; !ok {
		return wevtapi.ErrorInvalidHandle
	}
	delete(f.handles, h)
	return nil
}

func (f *fakeWindows) NewSignal() (signal, error) {
	s := &fakeSignal{c: make(chan struct{}, 1)}
	s.set() // initially set
	return s, nil
}

// openHandles counts handles not closed (leak check).
func (f *fakeWindows) openHandles() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.handles)
}

// fakeSignal is a manual-reset event object.
type fakeSignal struct{ c chan struct{} }

func (s *fakeSignal) set() {
	select {
	case s.c <- struct{}{}:
	default:
	}
}

func (s *fakeSignal) Reset() {
	select {
	case <-s.c:
	default:
	}
}

func (s *fakeSignal) Wait(timeout time.Duration) (bool, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-s.c:
		s.set() // manual reset: stays set
		return true, nil
	case <-t.C:
		return false, nil
	}
}

func (s *fakeSignal) Close() error { return nil }
