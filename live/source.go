package live

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"sync"
	"time"

	"github.com/evtxscan/evtxscan/filter"
	"github.com/evtxscan/evtxscan/internal/wevtapi"
	"github.com/evtxscan/evtxscan/parser"
)

// DefaultChannels are the channels live reads when Config.Channels is empty:
// where uninstalls, service failures, crashes and AppX removals are logged.
var DefaultChannels = []string{
	"Application",
	"System",
	"Security",
	"Setup",
	"Microsoft-Windows-AppXDeploymentServer/Operational",
}

// Batch sizes for EvtNext. Winlogbeat defaults to 100 and refuses more
// than 1024; the service may refuse a large batch (error 1734), and then
// the size is halved.
const (
	DefaultBatchSize = 100
	MaxBatchSize     = 1024
)

// DefaultPollInterval is how often Follow drains a subscription even when
// the service has not signalled (a safety net against a lost signal).
const DefaultPollInterval = 5 * time.Second

// Config says what Open reads.
type Config struct {
	// Channels to read; empty means DefaultChannels (Filter.Channels, when
	// set, narrows DefaultChannels or stands in for it).
	Channels []string
	// Filter selects events: its XPath is sent to the service, its Match
	// runs on every event.
	Filter filter.Filter
	// StatePath is the state file; "" reads every channel from its oldest
	// record and remembers nothing.
	StatePath string
	// Follow keeps reading new events until the context ends.
	Follow bool
	// BatchSize is the EvtNext batch (0: DefaultBatchSize).
	BatchSize int
	// PollInterval is Follow's safety-net poll (0: DefaultPollInterval).
	PollInterval time.Duration
	// ReadBudget bounds a single run (not Follow): once it has passed
	// since Events began, no further batch is read; the rest is left for
	// the next run, which goes on from the bookmarks this run commits, so
	// a scheduled run that would be killed for taking too long finishes
	// and commits instead of starting over every time. 0: no bound.
	ReadBudget time.Duration
	// KeepXML stores the rendered XML in Event.XML.
	KeepXML bool
	// Warn receives notices as they happen (log rolled over, state file
	// damaged); nil discards them (they stay in Notices and Stats).
	Warn func(msg string)

	// log replaces the Windows event log (tests).
	log eventLog
	// now replaces time.Now (tests).
	now func() time.Time
}

// A Source yields the events of the configured channels. Its shape is the
// one the analysis pipeline reads (Events and Stats).
type Source struct {
	cfg      Config
	log      eventLog
	channels []string
	defaults bool // channels are DefaultChannels (none named)
	xpath    string
	match    filter.Filter // cfg.Filter without Channels (the query picked them)
	now      func() time.Time

	mu      sync.Mutex
	state   State                   // bookmarks as loaded, advanced by Commit
	pending map[string]ChannelState // bookmarks of events handed out, not yet committed
	created map[string]uint64       // each channel's log creation time, as last read
	stream  map[string]*streamPos   // the open reader of each channel
	stats   map[string]*parser.Stats
	notices []string
	fol     *follower // running pumps (Follow)
}

// Open prepares a Source: it loads the state file and opens the event log.
// A damaged state file is not an error: it is set aside, reported in
// Notices, and every channel is read from its oldest record. On systems
// other than Windows Open returns ErrUnsupported.
func Open(ctx context.Context, cfg Config) (*Source, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	cfg.BatchSize = min(cfg.BatchSize, MaxBatchSize)
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	s := &Source{
		cfg:     cfg,
		now:     cfg.now,
		pending: map[string]ChannelState{},
		created: map[string]uint64{},
		stream:  map[string]*streamPos{},
		stats:   map[string]*parser.Stats{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.channels = pickChannels(cfg.Channels, cfg.Filter.Channels)
	s.defaults = len(cfg.Channels) == 0 && len(cfg.Filter.Channels) == 0
	// Channels are chosen by the query path, not the XPath.
	s.xpath = cfg.Filter.XPath()
	// Forwarded events keep their origin's System/Channel, so the channel
	// read (ForwardedEvents) must not be matched against it again.
	s.match = cfg.Filter
	s.match.Channels = nil
	for _, ch := range s.channels {
		s.stats[ch] = &parser.Stats{File: "live:" + ch}
	}

	s.state = State{Version: stateVersion, Channels: map[string]ChannelState{}}
	if cfg.StatePath != "" {
		st, err := LoadState(cfg.StatePath)
		switch {
		case errors.Is(err, ErrStateDamaged):
			msg := err.Error()
			if to, rerr := quarantineState(cfg.StatePath, s.now()); rerr == nil {
				msg += "; the damaged file was kept as " + to
			}
			s.notice(msg)
		case err != nil:
			return nil, err
		}
		if err == nil {
			s.state = st
		}
	}

	s.log = cfg.log
	if s.log == nil {
		l, err := openEventLog()
		if err != nil {
			return nil, err
		}
		s.log = l
	}
	return s, nil
}

// pickChannels returns the channels to read: the explicit list, or the
// defaults narrowed by the filter's channels, or the filter's channels.
func pickChannels(explicit, filtered []string) []string {
	if len(explicit) > 0 {
		return dedupFold(explicit)
	}
	if len(filtered) > 0 {
		return dedupFold(filtered)
	}
	return append([]string(nil), DefaultChannels...)
}

func dedupFold(list []string) []string {
	var out []string
	for _, c := range list {
		c = strings.TrimSpace(c)
		dup := c == ""
		for _, o := range out {
			dup = dup || strings.EqualFold(o, c)
		}
		if !dup {
			out = append(out, c)
		}
	}
	return out
}

// Channels returns the channels the source reads.
func (s *Source) Channels() []string { return append([]string(nil), s.channels...) }

// XPath returns the query sent to the event log.
func (s *Source) XPath() string { return s.xpath }

// Notices returns what the source reported so far (state file damaged, log
// cleared or rolled over), one sentence each.
func (s *Source) Notices() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.notices...)
}

// Stats returns the accounting of each channel, as "live:<Channel>".
func (s *Source) Stats() []parser.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]parser.Stats, 0, len(s.channels))
	for _, ch := range s.channels {
		st := *s.stats[ch]
		st.Problems = append([]parser.Problem(nil), st.Problems...)
		out = append(out, st)
	}
	return out
}

// Commit writes the bookmarks of every event yielded so far to the state
// file. Call it once the events are durably handled (reports written,
// alerts queued): a crash before Commit repeats events, never loses them.
// Without a state file Commit does nothing. In Follow mode the source
// commits by itself after each drained batch.
func (s *Source) Commit() error {
	if s.cfg.StatePath == "" {
		return nil
	}
	s.mu.Lock()
	for ch, cs := range s.pending {
		s.state.Channels[ch] = cs
	}
	clear(s.pending)
	st := State{Version: stateVersion, Channels: make(map[string]ChannelState, len(s.state.Channels))}
	for k, v := range s.state.Channels {
		st.Channels[k] = v
	}
	s.mu.Unlock()
	return SaveState(s.cfg.StatePath, st)
}

// Close stops following and releases the event log. It does not commit.
func (s *Source) Close() error {
	s.mu.Lock()
	f := s.fol
	s.fol = nil
	s.mu.Unlock()
	if f != nil {
		f.cancel()
		f.wg.Wait()
	}
	if s.log == nil {
		return nil
	}
	err := s.log.Close()
	s.log = nil
	return err
}

func (s *Source) notice(msg string) {
	s.mu.Lock()
	s.notices = append(s.notices, msg)
	s.mu.Unlock()
	if s.cfg.Warn != nil {
		s.cfg.Warn(msg)
	}
}

// problem records a channel-level problem in the channel's Stats and as a
// notice.
func (s *Source) problem(ch string, recordID uint64, reason string) {
	s.mu.Lock()
	st := s.stats[ch]
	st.Problems = append(st.Problems, parser.Problem{Chunk: -1, RecordID: recordID, Reason: reason})
	s.mu.Unlock()
	s.notice("live:" + ch + ": " + reason)
}

// Events yields every matching event of every channel, channel by channel
// (or, with Follow, as they arrive, until ctx ends). A record that cannot
// be rendered or parsed is counted as lost in Stats and yielded as an
// error; the sequence goes on. A channel that cannot be opened at all is
// an error in its Stats (Err) and is yielded as an error too; the other
// channels are still read.
func (s *Source) Events(ctx context.Context) iter.Seq2[*parser.Event, error] {
	if s.cfg.Follow {
		return s.follow(ctx)
	}
	return func(yield func(*parser.Event, error) bool) {
		var deadline time.Time
		if s.cfg.ReadBudget > 0 {
			deadline = s.now().Add(s.cfg.ReadBudget)
		}
		for _, ch := range s.channels {
			if err := ctx.Err(); err != nil {
				yield(nil, err)
				return
			}
			if !s.readChannel(ctx, ch, deadline, yield) {
				return
			}
		}
	}
}

// start decides where a channel is read from: after its bookmark, or from
// the oldest record when there is none or it no longer exists.
func (s *Source) start(ch string) uint64 {
	after, _ := s.startAndNewest(ch)
	return after
}

// startAndNewest is start, and the channel's newest record id now (0 when
// unknown).
func (s *Source) startAndNewest(ch string) (after, newest uint64) {
	s.mu.Lock()
	cs, ok := s.pending[ch]
	if !ok {
		cs, ok = s.state.Channels[ch]
	}
	s.mu.Unlock()
	info, err := s.log.Info(ch)
	if err == nil {
		s.mu.Lock()
		s.created[ch] = info.Created
		s.mu.Unlock()
	}
	if err == nil {
		newest = info.Newest
	}
	if !ok || cs.RecordID == 0 {
		return 0, newest
	}
	if err != nil {
		return cs.RecordID, 0 // the query will tell whether the bookmark holds
	}
	switch {
	case info.Oldest == 0 && info.Newest == 0:
		s.problem(ch, cs.RecordID, fmt.Sprintf("log is empty but the last run stopped at record %d: it was cleared since; reading it from its oldest record", cs.RecordID))
		s.resetPosition(ch)
		return 0, newest
	case info.Newest < cs.RecordID:
		s.problem(ch, cs.RecordID, fmt.Sprintf("newest record is %d but the last run stopped at record %d: the log was cleared since; reading it from its oldest record", info.Newest, cs.RecordID))
		s.resetPosition(ch)
		return 0, newest
	case cs.LogCreated != 0 && info.Created != 0 && info.Created != cs.LogCreated:
		// Cleared and refilled past the bookmark: the ids alone cannot
		// tell, the log's creation time does.
		s.problem(ch, cs.RecordID, fmt.Sprintf("log was cleared since the last run (its creation time changed; record ids started again at 1, the last run stopped at record %d); reading it from its oldest record", cs.RecordID))
		s.resetPosition(ch)
		return 0, newest
	case info.Oldest > cs.RecordID+1:
		s.problem(ch, cs.RecordID, fmt.Sprintf("log rolled over or was cleared since the last run: records %d to %d are gone (the last run stopped at %d, the oldest record now is %d); reading it from its oldest record",
			cs.RecordID+1, info.Oldest-1, cs.RecordID, info.Oldest))
		s.resetPosition(ch)
		return 0, newest
	case info.Oldest == cs.RecordID+1:
		// The bookmarked record itself rolled out but nothing after it:
		// no loss, yet the service would call the bookmark stale.
		return 0, newest
	}
	return cs.RecordID, newest
}

// open opens a reader after the channel's bookmark, falling back to the
// oldest record when the service calls the bookmark stale.
func (s *Source) open(ch string, after uint64, subscribe bool) (recordReader, uint64, error) {
	openAt := func(after uint64) (recordReader, error) {
		if subscribe {
			return s.log.Subscribe(ch, s.xpath, after)
		}
		return s.log.Query(ch, s.xpath, after)
	}
	r, err := openAt(after)
	if errors.Is(err, errStaleBookmark) && after != 0 {
		s.problem(ch, after, fmt.Sprintf("record %d of the last run is no longer in the log (cleared or rolled over); reading it from its oldest record", after))
		s.resetPosition(ch)
		after = 0
		r, err = openAt(0)
	}
	return r, after, err
}

// readChannel reads one channel to the newest record it had when the
// read began: a query's result set grows while it is read, and on a busy
// log a run that reads to the end may never end (and a scheduled run is
// killed before it commits, so the next one starts over). It returns
// false when the consumer stopped.
func (s *Source) readChannel(ctx context.Context, ch string, deadline time.Time, yield func(*parser.Event, error) bool) bool {
	after, newest := s.startAndNewest(ch)
	r, floor, err := s.open(ch, after, false)
	if err != nil {
		return s.channelFailed(ch, err, yield)
	}
	s.opened(ch, floor)
	// r is replaced when a refused batch makes us re-open; a failed re-open
	// leaves it nil (an interface holding a nil pointer would panic here).
	defer func() {
		if r != nil {
			r.Close()
		}
	}()
	batch := s.cfg.BatchSize
	for {
		if err := ctx.Err(); err != nil {
			yield(nil, err)
			return false
		}
		if !deadline.IsZero() && !s.now().Before(deadline) {
			s.notice(fmt.Sprintf("live:%s: the read budget (%s) is spent; the records after %d are left for the next run", ch, s.cfg.ReadBudget, s.position(ch, after)))
			return true
		}
		recs, err := r.Next(batch)
		if errors.Is(err, errBatchTooLarge) && batch > 1 {
			// The read position moved anyway: re-open after the last
			// record handed out, with half the batch.
			batch /= 2
			r.Close()
			r = nil
			nr, nfloor, err := s.open(ch, s.position(ch, floor), false)
			if err != nil {
				return s.channelFailed(ch, err, yield)
			}
			r, floor = nr, nfloor
			s.opened(ch, floor)
			continue
		}
		if err != nil {
			return s.channelFailed(ch, err, yield)
		}
		if len(recs) == 0 {
			return true
		}
		for i := range recs {
			if newest != 0 && recs[i].RecordID > newest {
				return true // written after the run began: the next run's
			}
			if !s.deliver(ch, &recs[i], yield) {
				return false
			}
		}
	}
}

// position returns the record id after which a channel goes on: the last
// record handed out, or where the run started.
func (s *Source) position(ch string, started uint64) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cs, ok := s.pending[ch]; ok {
		return cs.RecordID
	}
	return started
}

// channelAbsent reports whether err says the channel does not exist on
// this machine (the AppX channel on Server Core and some editions, a
// feature not installed). A default channel that is absent is skipped
// with a notice, not failed: it would fail every scheduled run forever.
// A channel the user named is an error in a single run (a typo must not
// pass silently); Follow reports it once and looks again now and then.
func channelAbsent(err error) bool { return errors.Is(err, wevtapi.ErrorEvtChannelNotFound) }

func (s *Source) skipAbsent(ch string) {
	s.notice("live:" + ch + ": channel does not exist on this machine; skipped (list the channels with: wevtutil el)")
}

func (s *Source) channelFailed(ch string, err error, yield func(*parser.Event, error) bool) bool {
	if channelAbsent(err) && s.defaults {
		s.skipAbsent(ch)
		return true
	}
	err = fmt.Errorf("live:%s: %w", ch, err)
	s.mu.Lock()
	if s.stats[ch].Err == nil {
		s.stats[ch].Err = err
	}
	s.mu.Unlock()
	return yield(nil, err)
}

// deliver turns one record into an event, advances the channel's pending
// bookmark, and yields the event if it passes the filter. Until the reader
// has handed out a record past its floor (the record it was opened
// after), records at or before the floor are skipped: the service may
// position a query on the bookmarked record itself (EvtSeek past the end
// lands on the last record), or start a fallback reader at the oldest.
// After that, record ids only grow; an id at or below the previous one
// means the log was cleared while it was read (Windows sends no notice
// and the reader simply goes on with ids from 1): it is reported and the
// records are delivered.
func (s *Source) deliver(ch string, rec *record, yield func(*parser.Event, error) bool) bool {
	var ev *parser.Event
	err := rec.Err
	if err == nil {
		ev, err = parser.ParseEventXML(rec.XML)
		if err != nil && ev != nil {
			// A usable event with a note (say a bad Binary): keep it, and
			// record the note.
			s.mu.Lock()
			st := s.stats[ch]
			st.Problems = append(st.Problems, parser.Problem{Chunk: -1, RecordID: ev.System.EventRecordID, Reason: err.Error()})
			s.mu.Unlock()
			err = nil
		}
	}
	// The position in the channel: the record id the event log reports
	// (for ForwardedEvents it differs from System/EventRecordID, which is
	// the origin's), else the event's own.
	id := rec.RecordID
	if id == 0 && ev != nil {
		id = ev.System.EventRecordID
	}
	if id != 0 && !s.advance(ch, id, rec.RecordID != 0) {
		return true
	}
	s.mu.Lock()
	st := s.stats[ch]
	if id != 0 {
		cs := ChannelState{RecordID: id, Saved: s.now().UTC(), LogCreated: s.created[ch]}
		if ev != nil {
			cs.Time = ev.System.TimeCreated
		}
		s.pending[ch] = cs
	}
	if err != nil {
		st.Lost++
		st.Problems = append(st.Problems, parser.Problem{Chunk: -1, RecordID: id, Reason: "record not readable: " + err.Error()})
		s.mu.Unlock()
		return yield(nil, fmt.Errorf("live:%s: record %d: %w", ch, id, err))
	}
	st.Records++
	s.mu.Unlock()

	ev.Source.File = "live:" + ch
	// record_id is the EventRecordID the event shows (for forwarded
	// events, the origin's); the channel's own id is the header's number.
	ev.Source.HeaderRecordID = id
	if ev.Source.RecordID = ev.System.EventRecordID; ev.Source.RecordID == 0 {
		ev.Source.RecordID = id
	}
	if ev.System.Channel == "" {
		ev.System.Channel = ch
	}
	// The text the origin rendered (RenderingInfo of forwarded events)
	// wins; text Windows formatted completely is used as is.
	switch {
	case ev.RenderedMessage != "" || rec.Message == "":
	case rec.MessagePartial:
		ev.RenderedMessage = fillPlaceholders(rec.Message, ev.InsertionStrings)
	default:
		ev.RenderedMessage = rec.Message
	}
	if s.cfg.KeepXML {
		ev.XML = string(rec.XML)
	}
	if !s.match.Match(ev) {
		return true
	}
	return yield(ev, nil)
}

// follow reads every channel through a subscription until ctx ends. One
// goroutine per channel waits for the service and reads batches (see
// pump); the consumer's goroutine turns them into events, so the consumer
// sees one stream. A channel's next batch is read only after the consumer
// has handled the previous one, and the state is committed after each
// batch.
func (s *Source) follow(ctx context.Context) iter.Seq2[*parser.Event, error] {
	return func(yield func(*parser.Event, error) bool) {
		f := s.follower()
		for {
			b, ok := f.next(ctx, 0)
			if !ok || !s.consume(f, b, yield, true) {
				return
			}
		}
	}
}

// A Cycle is one slice of a followed stream: the events that arrive
// until the logs have been quiet for a while. It has the shape of a
// source for the analysis (Events, Stats), so `live --follow` can analyse,
// report and alert cycle after cycle.
type Cycle struct {
	src        *Source
	quiet, max time.Duration
}

// Cycle returns the next slice of a Follow source: its Events wait for
// the first batch (until ctx ends), then yield events until no batch has
// come for quiet, or max has passed since the first one. Unlike Events,
// a cycle does not commit: call Commit once its events are handled. It
// panics if the source does not follow.
func (s *Source) Cycle(quiet, max time.Duration) *Cycle {
	if !s.cfg.Follow {
		panic("live: Cycle on a source without Follow")
	}
	return &Cycle{src: s, quiet: quiet, max: max}
}

// Events yields the cycle's events.
func (c *Cycle) Events(ctx context.Context) iter.Seq2[*parser.Event, error] {
	return func(yield func(*parser.Event, error) bool) {
		f := c.src.follower()
		b, ok := f.next(ctx, 0)
		if !ok || !c.src.consume(f, b, yield, false) {
			return
		}
		end := c.src.now().Add(c.max)
		for {
			wait := min(c.quiet, end.Sub(c.src.now()))
			if wait <= 0 {
				return
			}
			b, ok := f.next(ctx, wait)
			if !ok || !c.src.consume(f, b, yield, false) {
				return
			}
		}
	}
}

// Stats returns the source's accounting so far.
func (c *Cycle) Stats() []parser.Stats { return c.src.Stats() }

// follower is the running set of channel pumps of a Follow source.
type follower struct {
	out chan followBatch
	// left is the rest of a batch whose consumer stopped in the middle:
	// the next Events or Cycle yields it first (its pump waits for it).
	left   *followBatch
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// follower starts the channel pumps on first use; Close stops them.
func (s *Source) follower() *follower {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fol != nil {
		return s.fol
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &follower{out: make(chan followBatch), cancel: cancel}
	for _, ch := range s.channels {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			s.pump(ctx, ch, f.out)
		}()
	}
	s.fol = f
	return f
}

// next returns the next batch; ok is false when ctx ends or, with a
// timeout, when none came in time.
func (f *follower) next(ctx context.Context, timeout time.Duration) (followBatch, bool) {
	if b := f.left; b != nil {
		f.left = nil
		return *b, true
	}
	var tc <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		tc = t.C
	}
	select {
	case b := <-f.out:
		return b, true
	case <-ctx.Done():
	case <-tc:
	}
	return followBatch{}, false
}

// consume yields a batch's events (or its error), lets its pump go on and,
// with commit, saves the state; false when the consumer stopped.
func (s *Source) consume(f *follower, b followBatch, yield func(*parser.Event, error) bool, commit bool) bool {
	if b.err != nil {
		close(b.done)
		return yield(nil, fmt.Errorf("live:%s: %w", b.ch, b.err))
	}
	for i := range b.recs {
		if !s.deliver(b.ch, &b.recs[i], yield) {
			// The consumer stopped: keep the rest for the next read, or
			// the channel's pump would wait for this batch forever.
			if rest := b.recs[i+1:]; len(rest) > 0 {
				b.recs = rest
				f.left = &b
			} else {
				close(b.done)
			}
			return false
		}
	}
	close(b.done)
	if !commit {
		return true
	}
	if err := s.Commit(); err != nil {
		return yield(nil, err)
	}
	return true
}

// followBatch is what a channel's pump hands to the consumer: records or
// an error; done is closed once they are handled.
type followBatch struct {
	ch   string
	recs []record
	err  error
	done chan struct{}
}

// pump subscribes to one channel and sends its batches until ctx ends. A
// failing subscription is reported and re-opened after PollInterval from
// the last record handed out, so a restart of the event log service does
// not end following.
func (s *Source) pump(ctx context.Context, ch string, out chan<- followBatch) {
	send := func(b followBatch) bool {
		b.ch, b.done = ch, make(chan struct{})
		select {
		case out <- b:
		case <-ctx.Done():
			return false
		}
		select {
		case <-b.done:
			return true
		case <-ctx.Done():
			return false
		}
	}
	// A channel that cannot be opened is retried with a growing delay
	// (PollInterval doubling up to maxOpenBackoff), its error yielded
	// once while it stays the same: a denied or stopped channel must not
	// make a report cycle of errors every poll. An absent channel is
	// reported once and looked for again every absentChannelRetry.
	backoff := s.cfg.PollInterval
	var lastErr string
	absent := false
	failed := func(err error) bool {
		if channelAbsent(err) {
			if !absent {
				s.skipAbsent(ch)
			}
			absent = true
			return sleepFor(ctx, max(absentChannelRetry, s.cfg.PollInterval))
		}
		absent = false
		if err.Error() != lastErr {
			lastErr = err.Error()
			if !send(followBatch{err: err}) {
				return false
			}
		}
		d := backoff
		backoff = min(2*backoff, max(maxOpenBackoff, s.cfg.PollInterval))
		return sleepFor(ctx, d)
	}
	opened := func() { backoff, lastErr, absent = s.cfg.PollInterval, "", false }
	started := s.start(ch)
	batch := s.cfg.BatchSize
	var sub subscription
	var floor uint64
	defer func() {
		if sub != nil {
			sub.Close()
		}
	}()
	for ctx.Err() == nil {
		if sub == nil {
			var err error
			sub, floor, err = s.subscribe(ch, s.position(ch, started))
			if err != nil {
				sub = nil
				if !failed(err) {
					return
				}
				continue
			}
			s.opened(ch, floor)
		}
		recs, err := sub.Next(batch)
		switch {
		case errors.Is(err, errBatchTooLarge) && batch > 1:
			batch /= 2
			sub.Close()
			sub = nil
			continue
		case errors.Is(err, errStaleBookmark):
			s.problem(ch, s.position(ch, started), "log was cleared or rolled over while following; reading it from its oldest record")
			sub.Close()
			sub = nil
			s.resetPosition(ch)
			started = 0
			continue
		case err != nil:
			sub.Close()
			sub = nil
			if !failed(err) {
				return
			}
			continue
		}
		opened()
		if len(recs) == 0 {
			if err := sub.Wait(ctx, s.cfg.PollInterval); err != nil && ctx.Err() != nil {
				return
			}
			continue
		}
		if !send(followBatch{recs: recs}) {
			return
		}
	}
}

// Follow's retry delays for channels that cannot be opened.
const (
	maxOpenBackoff     = 5 * time.Minute
	absentChannelRetry = 10 * time.Minute
)

func sleepFor(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// subscribe opens a subscription after record after (strictly: the
// service fails when that record is not in the result set). When it is
// not, the subscription starts at the oldest record and after stays the
// skip point, so nothing after it is skipped; records between after and
// the oldest one may have rolled out of the log, which is said.
func (s *Source) subscribe(ch string, after uint64) (subscription, uint64, error) {
	sub, err := s.log.Subscribe(ch, s.xpath, after)
	if errors.Is(err, errStaleBookmark) && after != 0 {
		s.notice(fmt.Sprintf("live:%s: record %d of the last run is not in the log's matching records (filter changed, or the log rolled over or was cleared); reading from its oldest record and skipping records up to %d; events may have been lost if the log rolled over", ch, after, after))
		sub, err = s.log.Subscribe(ch, s.xpath, 0)
	}
	return sub, after, err
}

// resetPosition records that a channel is read from its oldest record
// again (its log was cleared or rolled over); Commit saves that, so the
// next run does not report the same reset again.
func (s *Source) resetPosition(ch string) {
	s.mu.Lock()
	s.pending[ch] = ChannelState{Saved: s.now().UTC(), LogCreated: s.created[ch]}
	s.mu.Unlock()
}

// streamPos is where a channel's open reader is: the record it was opened
// after (floor) and the last record it handed out.
type streamPos struct {
	floor, last uint64
}

// opened records that a channel's reader was (re)opened after floor.
func (s *Source) opened(ch string, floor uint64) {
	s.mu.Lock()
	s.stream[ch] = &streamPos{floor: floor}
	s.mu.Unlock()
}

// advance moves a channel's reader position to record id; false means
// the record is at or before the floor and is skipped (see deliver).
// Only the channel's own ids (inChannel) tell a cleared log: an event's
// System/EventRecordID, the fallback, is its origin's when forwarded.
func (s *Source) advance(ch string, id uint64, inChannel bool) bool {
	s.mu.Lock()
	sp := s.stream[ch]
	if sp == nil {
		sp = &streamPos{}
		s.stream[ch] = sp
	}
	var cleared bool
	var last uint64
	switch {
	case sp.last == 0 && sp.floor != 0 && id <= sp.floor:
		s.mu.Unlock()
		return false
	case inChannel && sp.last != 0 && id <= sp.last:
		cleared, last = true, sp.last
		sp.floor = 0
	}
	sp.last = id
	s.mu.Unlock()
	if cleared {
		if info, err := s.log.Info(ch); err == nil {
			s.mu.Lock()
			s.created[ch] = info.Created
			s.mu.Unlock()
		}
		s.problem(ch, id, fmt.Sprintf("log was cleared while it was read: record %d came after record %d (Windows sends no notice; record ids started again); whoever cleared it removed the records before", id, last))
	}
	return true
}
