//go:build windows

package live

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sys/windows"

	"github.com/evtxscan/evtxscan/internal/wevtapi"
)

// winLog is the eventLog over wevtapi.dll.
type winLog struct {
	messages messageCache
	mu       sync.Mutex
	meta     map[string]wevtapi.Handle // publisher metadata by provider
}

func openEventLog() (eventLog, error) {
	return &winLog{meta: map[string]wevtapi.Handle{}}, nil
}

func (l *winLog) Info(channel string) (logInfo, error) {
	count, oldest, err := wevtapi.LogInfo(channel)
	if err != nil {
		return logInfo{}, describe(err)
	}
	if count == 0 {
		return logInfo{}, nil
	}
	return logInfo{Oldest: oldest, Newest: oldest + count - 1}, nil
}

func (l *winLog) Query(channel, xpath string, after uint64) (recordReader, error) {
	h, err := wevtapi.Query(channel, xpath, wevtapi.QueryChannelPath|wevtapi.QueryForwardDirection)
	if err != nil {
		return nil, describe(err)
	}
	if after != 0 {
		bm, err := wevtapi.CreateBookmark(bookmarkXML(channel, after))
		if err != nil {
			wevtapi.Close(h)
			return nil, describe(err)
		}
		defer wevtapi.Close(bm)
		// Not Strict: with Strict the seek fails when the bookmarked record
		// is not in this query's result set, which happens without any
		// loss when the filter changed since the last run (a relative
		// --since moves the time window on every run). Loss is detected
		// before the query from the log's record range (Source.start), and
		// the source skips records at or before the bookmark if the
		// service lands on one. The seek does not fail at the end of the
		// log; if it fails anyway, reading from the start with that skip
		// is slower but still sees each record once.
		_ = wevtapi.Seek(h, 1, bm, wevtapi.SeekRelativeToBookmark)
	}
	return &winReader{log: l, h: h}, nil
}

func (l *winLog) Subscribe(channel, xpath string, after uint64) (subscription, error) {
	signal, err := windows.CreateEvent(nil, 1, 1, nil) // manual reset, initially set: drain first
	if err != nil {
		return nil, err
	}
	var bm wevtapi.Handle
	flags := uint32(wevtapi.SubscribeStartAtOldestRecord)
	if after != 0 {
		if bm, err = wevtapi.CreateBookmark(bookmarkXML(channel, after)); err != nil {
			windows.CloseHandle(signal)
			return nil, describe(err)
		}
		defer wevtapi.Close(bm)
		// Not Strict, for the reason given in Query.
		flags = wevtapi.SubscribeStartAfterBookmark
	}
	h, err := wevtapi.Subscribe(signal, channel, xpath, bm, flags)
	if err != nil {
		windows.CloseHandle(signal)
		if isStale(err) {
			return nil, fmt.Errorf("%w: %v", errStaleBookmark, err)
		}
		return nil, describe(err)
	}
	return &winReader{log: l, h: h, signal: signal}, nil
}

func (l *winLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for p, h := range l.meta {
		wevtapi.Close(h)
		delete(l.meta, p)
	}
	return nil
}

// isStale reports the errors that mean "the position is gone": the log
// was cleared or rolled over under the bookmark or the open query.
func isStale(err error) bool {
	return errors.Is(err, wevtapi.ErrorNotFound) || errors.Is(err, wevtapi.ErrorEvtQueryResultStale) ||
		errors.Is(err, wevtapi.ErrorEvtQueryResultInvalidPosition)
}

// describe adds what to do to the errors a user can fix.
func describe(err error) error {
	switch {
	case errors.Is(err, windows.ERROR_ACCESS_DENIED):
		return fmt.Errorf("%w (reading the Security log needs an administrator or a member of Event Log Readers)", err)
	case errors.Is(err, wevtapi.ErrorEvtChannelNotFound):
		return fmt.Errorf("%w (list the channels with: wevtutil el)", err)
	}
	return err
}

// winReader reads a query or subscription in batches.
type winReader struct {
	log     *winLog
	h       wevtapi.Handle
	signal  windows.Handle // subscriptions only
	handles []wevtapi.Handle
	buf     []uint16
	bm      wevtapi.Handle // bookmark used to learn each record's channel id
	bmBuf   []uint16
}

func (r *winReader) Next(max int) ([]record, error) {
	if cap(r.handles) < max {
		r.handles = make([]wevtapi.Handle, max)
	}
	handles := r.handles[:max]
	if r.signal != 0 {
		// Reset before draining: a signal that comes while we read stays
		// set, so Wait returns at once instead of missing it.
		windows.ResetEvent(r.signal)
	}
	n, err := wevtapi.Next(r.h, handles, 0)
	switch {
	case errors.Is(err, wevtapi.RPCInvalidBound):
		return nil, errBatchTooLarge
	case err != nil && isStale(err):
		return nil, fmt.Errorf("%w: %v", errStaleBookmark, err)
	case err != nil:
		return nil, describe(err)
	}
	out := make([]record, n)
	for i, h := range handles[:n] {
		out[i] = r.render(h)
		wevtapi.Close(h)
	}
	return out, nil
}

// render turns one event handle into a record with its message. The
// record id comes first, so that even a record that cannot be rendered
// moves the position on (a "poison" record is counted lost, not retried
// forever).
func (r *winReader) render(h wevtapi.Handle) record {
	var rec record
	// The record id in this channel comes from a bookmark: for forwarded
	// events System/EventRecordID is the origin's and useless as a position.
	if r.bm == 0 {
		r.bm, _ = wevtapi.CreateBookmark("")
	}
	if r.bm != 0 && wevtapi.UpdateBookmark(r.bm, h) == nil {
		if bx, err := wevtapi.RenderXML(r.bm, wevtapi.RenderBookmark, &r.bmBuf); err == nil {
			rec.RecordID, _ = bookmarkRecordID(bx)
		}
	}
	xml, err := wevtapi.RenderXML(h, wevtapi.RenderEventXML, &r.buf)
	if err != nil {
		rec.Err = fmt.Errorf("EvtRender: %w", err)
		return rec
	}
	rec.XML = []byte(xml)
	if provider, id, ok := providerAndID(rec.XML); ok {
		rec.Message = r.log.message(provider, id, h)
	}
	return rec
}

// message formats an event's message, remembering providers and events
// without one.
func (l *winLog) message(provider string, id uint16, event wevtapi.Handle) string {
	if l.messages.skip(provider, id) {
		return ""
	}
	l.mu.Lock()
	meta, ok := l.meta[provider]
	if !ok {
		var err error
		meta, err = wevtapi.OpenPublisherMetadata(provider)
		if err != nil {
			l.mu.Unlock()
			l.messages.missingProvider(provider)
			return ""
		}
		l.meta[provider] = meta
	}
	l.mu.Unlock()
	msg, err := wevtapi.FormatMessage(meta, event, 0, wevtapi.FormatMessageEvent)
	if err != nil || msg == "" {
		if errors.Is(err, wevtapi.ErrorEvtMessageNotFound) || errors.Is(err, wevtapi.ErrorEvtMessageIDNotFound) || err == nil {
			l.messages.missingMessage(provider, id)
		}
		return ""
	}
	return msg
}

func (r *winReader) Wait(ctx context.Context, timeout time.Duration) error {
	if r.signal == 0 {
		return nil
	}
	deadline := time.Now().Add(timeout)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		slice := min(time.Until(deadline), 250*time.Millisecond)
		if slice <= 0 {
			return nil
		}
		ev, err := windows.WaitForSingleObject(r.signal, uint32(slice/time.Millisecond))
		if err != nil {
			return err
		}
		if ev == windows.WAIT_OBJECT_0 {
			return nil
		}
	}
}

func (r *winReader) Close() error {
	err := wevtapi.Close(r.h)
	r.h = 0
	wevtapi.Close(r.bm)
	r.bm = 0
	if r.signal != 0 {
		windows.CloseHandle(r.signal)
		r.signal = 0
	}
	return err
}
