package live

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/evtxscan/evtxscan/internal/wevtapi"
)

// evtAPI is the part of wevtapi.dll the live mode calls, one method per
// API function, with wevtapi's signatures. The Windows implementation
// (eventlog_windows.go) forwards to internal/wevtapi; tests use a model of
// the service as Microsoft documents it (fakewindows_test.go), so the
// logic of apiLog runs on every system.
type evtAPI interface {
	Query(channel, xpath string, flags uint32) (wevtapi.Handle, error)
	Seek(resultSet wevtapi.Handle, position int64, bookmark wevtapi.Handle, flags uint32) error
	Subscribe(signal signal, channel, xpath string, bookmark wevtapi.Handle, flags uint32) (wevtapi.Handle, error)
	Next(resultSet wevtapi.Handle, events []wevtapi.Handle, timeoutMillis uint32) (int, error)
	Render(fragment wevtapi.Handle, flags uint32, buf *[]uint16) (string, error)
	CreateBookmark(xml string) (wevtapi.Handle, error)
	UpdateBookmark(bookmark, event wevtapi.Handle) error
	LogInfo(channel string) (count, oldest, created uint64, err error)
	OpenPublisherMetadata(provider string) (wevtapi.Handle, error)
	FormatMessage(meta, event wevtapi.Handle, messageID, flags uint32) (text string, unresolved bool, err error)
	Close(h wevtapi.Handle) error
	// NewSignal creates the event object a pull subscription sets when
	// records arrive (CreateEvent, manual reset, initially set).
	NewSignal() (signal, error)
}

// signal is a Windows event object as a pull subscription uses it.
type signal interface {
	// Reset clears the signal (ResetEvent).
	Reset()
	// Wait returns true when the signal is set, false after timeout
	// (WaitForSingleObject).
	Wait(timeout time.Duration) (bool, error)
	Close() error
}

// apiLog is the eventLog over the Event Log API.
type apiLog struct {
	api      evtAPI
	messages messageCache
	mu       sync.Mutex
	meta     map[string]wevtapi.Handle // publisher metadata by provider
}

func newAPILog(api evtAPI) *apiLog {
	return &apiLog{api: api, meta: map[string]wevtapi.Handle{}}
}

func (l *apiLog) Info(channel string) (logInfo, error) {
	count, oldest, created, err := l.api.LogInfo(channel)
	if err != nil {
		return logInfo{}, describe(err)
	}
	if count == 0 {
		return logInfo{Created: created}, nil
	}
	return logInfo{Oldest: oldest, Newest: oldest + count - 1, Created: created}, nil
}

func (l *apiLog) Query(channel, xpath string, after uint64) (recordReader, error) {
	h, err := l.api.Query(channel, xpath, wevtapi.QueryChannelPath|wevtapi.QueryForwardDirection)
	if err != nil {
		return nil, describe(err)
	}
	if after != 0 {
		bm, err := l.api.CreateBookmark(bookmarkXML(channel, after))
		if err != nil {
			l.api.Close(h)
			return nil, describe(err)
		}
		defer l.api.Close(bm)
		_ = l.api.Seek(h, 1, bm, wevtapi.SeekRelativeToBookmark)
	}
	return &apiReader{log: l, h: h}, nil
}

func (l *apiLog) Subscribe(channel, xpath string, after uint64) (subscription, error) {
	sig, err := l.api.NewSignal()
	if err != nil {
		return nil, err
	}
	var bm wevtapi.Handle
	flags := uint32(wevtapi.SubscribeStartAtOldestRecord)
	if after != 0 {
		if bm, err = l.api.CreateBookmark(bookmarkXML(channel, after)); err != nil {
			sig.Close()
			return nil, describe(err)
		}
		defer l.api.Close(bm)
		// Strict: without it a bookmark whose record is not in the result
		// set starts the subscription after "the event closest to" it,
		// which can skip an event. The caller falls back to the oldest
		// record with the bookmark as its skip point.
		flags = wevtapi.SubscribeStartAfterBookmark | wevtapi.SubscribeStrict
	}
	h, err := l.api.Subscribe(sig, channel, xpath, bm, flags)
	if err != nil {
		sig.Close()
		if isStale(err) {
			return nil, fmt.Errorf("%w: %v", errStaleBookmark, err)
		}
		return nil, describe(err)
	}
	return &apiReader{log: l, h: h, signal: sig}, nil
}

func (l *apiLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for p, h := range l.meta {
		l.api.Close(h)
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
	case errors.Is(err, wevtapi.ErrorAccessDenied):
		return fmt.Errorf("%w: reading this channel needs an elevated administrator, SYSTEM, or an account in the Event Log Readers group (the Security log: administrators or SeSecurityPrivilege only)", err)
	case errors.Is(err, wevtapi.ErrorEvtChannelNotFound):
		return fmt.Errorf("%w (list the channels with: wevtutil el)", err)
	}
	return err
}

// apiReader reads a query or subscription in batches.
type apiReader struct {
	log     *apiLog
	h       wevtapi.Handle
	signal  signal // subscriptions only
	handles []wevtapi.Handle
	buf     []uint16
	bm      wevtapi.Handle // bookmark used to learn each record's channel id
	bmBuf   []uint16
}

func (r *apiReader) Next(max int) ([]record, error) {
	api := r.log.api
	if cap(r.handles) < max {
		r.handles = make([]wevtapi.Handle, max)
	}
	handles := r.handles[:max]
	if r.signal != nil {
		// Reset before draining: a signal that comes while we read stays
		// set, so Wait returns at once instead of missing it.
		r.signal.Reset()
	}
	// A query's result set is read with INFINITE, as Microsoft's query
	// samples do: a finite budget fails a busy service with ERROR_TIMEOUT
	// although the records are there. A subscription is drained with 0
	// (it returns what has arrived) and waits on its signal instead.
	timeout := wevtapi.Infinite
	if r.signal != nil {
		timeout = 0
	}
	n, err := api.Next(r.h, handles, timeout)
	switch {
	case r.signal != nil && errors.Is(err, wevtapi.ErrorTimeout):
		return nil, nil // nothing has arrived yet
	case errors.Is(err, wevtapi.ErrorTimeout):
		return nil, fmt.Errorf("%w (the Event Log service did not answer a query read; is it running? sc query eventlog)", err)
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
		api.Close(h)
	}
	return out, nil
}

// render turns one event handle into a record with its message. The
// record id comes first, so that even a record that cannot be rendered
// moves the position on (a "poison" record is counted lost, not retried
// forever).
func (r *apiReader) render(h wevtapi.Handle) record {
	api := r.log.api
	var rec record
	// The record id in this channel comes from a bookmark: for forwarded
	// events System/EventRecordID is the origin's and useless as a position.
	if r.bm == 0 {
		r.bm, _ = api.CreateBookmark("")
	}
	if r.bm != 0 && api.UpdateBookmark(r.bm, h) == nil {
		if bx, err := api.Render(r.bm, wevtapi.RenderBookmark, &r.bmBuf); err == nil {
			rec.RecordID, _ = bookmarkRecordID(bx)
		}
	}
	xml, err := api.Render(h, wevtapi.RenderEventXML, &r.buf)
	if err != nil {
		rec.Err = fmt.Errorf("EvtRender: %w", err)
		return rec
	}
	rec.XML = []byte(xml)
	// A forwarded event carries the text the origin rendered
	// (RenderingInfo): it is the origin's, with the origin's provider
	// version and language, so it is not formatted again here.
	if bytes.Contains(rec.XML, []byte("<RenderingInfo")) {
		return rec
	}
	if provider, id, ok := providerAndID(rec.XML); ok {
		rec.Message, rec.MessagePartial = r.log.message(provider, id, h)
	}
	return rec
}

// message formats an event's message, remembering providers and events
// without one. partial is true when Windows returned the text with
// inserts it could not fill (15029-15031): only such text may be filled
// from the event's data; text Windows filled is final (a value may hold
// "%2" itself).
func (l *apiLog) message(provider string, id uint16, event wevtapi.Handle) (msg string, partial bool) {
	if l.messages.skip(provider, id) {
		return "", false
	}
	for attempt := 0; attempt < 2; attempt++ {
		meta, ok := l.metadata(provider)
		if !ok {
			return "", false
		}
		msg, partial, err := l.api.FormatMessage(meta, event, 0, wevtapi.FormatMessageEvent)
		switch {
		case err == nil && msg != "":
			return msg, partial
		case err == nil, errors.Is(err, wevtapi.ErrorEvtMessageNotFound), errors.Is(err, wevtapi.ErrorEvtMessageIDNotFound):
			l.messages.missingMessage(provider, id)
			return "", false
		case isStaleHandle(err):
			// The metadata handle went stale (the Event Log service
			// restarted, the provider was reinstalled): open it again.
			l.dropMetadata(provider, meta)
			continue
		default:
			return "", false
		}
	}
	return "", false
}

// isStaleHandle reports the errors of a handle the service no longer
// knows.
func isStaleHandle(err error) bool {
	return errors.Is(err, wevtapi.ErrorInvalidHandle) || errors.Is(err, wevtapi.RPCServerUnavailable) ||
		errors.Is(err, wevtapi.RPCCallCancelled)
}

// metadata returns the provider's publisher metadata handle, opening it
// on first use. Only "not installed here" is remembered as missing; any
// other failure (the service restarting, RPC) is retried with the next
// event.
func (l *apiLog) metadata(provider string) (wevtapi.Handle, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if meta, ok := l.meta[provider]; ok {
		return meta, true
	}
	meta, err := l.api.OpenPublisherMetadata(provider)
	if err != nil {
		if errors.Is(err, wevtapi.ErrorFileNotFound) || errors.Is(err, wevtapi.ErrorEvtPublisherMetadataNotFound) {
			l.messages.missingProvider(provider)
		}
		return 0, false
	}
	l.meta[provider] = meta
	return meta, true
}

// dropMetadata closes and forgets a stale metadata handle.
func (l *apiLog) dropMetadata(provider string, meta wevtapi.Handle) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.meta[provider] == meta {
		delete(l.meta, provider)
		l.api.Close(meta)
	}
}

func (r *apiReader) Wait(ctx context.Context, timeout time.Duration) error {
	if r.signal == nil {
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
		set, err := r.signal.Wait(slice)
		if err != nil {
			return err
		}
		if set {
			return nil
		}
	}
}

func (r *apiReader) Close() error {
	api := r.log.api
	err := api.Close(r.h)
	r.h = 0
	api.Close(r.bm)
	r.bm = 0
	if r.signal != nil {
		r.signal.Close()
		r.signal = nil
	}
	return err
}
