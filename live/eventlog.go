package live

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
)

// eventLog is the Windows event log as this package needs it. The Windows
// implementation (eventlog_windows.go) is a thin layer over wevtapi; tests
// use a fake. Record ids are EventRecordIDs; after == 0 means "from the
// oldest record".
type eventLog interface {
	// Info returns the channel's oldest and newest record ids (0, 0 when
	// the log is empty) and its creation time.
	Info(channel string) (logInfo, error)
	// Query opens a forward reader over the channel's records that match
	// xpath and come after record id after. The record after itself may
	// come first (EvtSeek past the last record lands on it, as documented)
	// and records before it if it is gone: the caller skips them (see
	// Source.deliver).
	Query(channel, xpath string, after uint64) (recordReader, error)
	// Subscribe is Query that keeps delivering records written later.
	Subscribe(channel, xpath string, after uint64) (subscription, error)
	// Close releases what the log holds (message caches, handles).
	Close() error
}

type logInfo struct {
	Oldest, Newest uint64
	// Created is the log's creation time (0 when the channel has none);
	// clearing the log changes it.
	Created uint64
}

// A recordReader reads records in batches.
type recordReader interface {
	// Next returns up to max records; none and a nil error when there are
	// no more for now. errBatchTooLarge means the batch was refused and
	// the read position is undefined: close and re-open after the last
	// record delivered, with a smaller batch.
	Next(max int) ([]record, error)
	Close() error
}

// A subscription is a recordReader that can wait for new records.
type subscription interface {
	recordReader
	// Wait returns when the service signals new records, after timeout,
	// or when ctx ends (then with ctx.Err()).
	Wait(ctx context.Context, timeout time.Duration) error
}

// A record is one event as the event log hands it over.
type record struct {
	XML     []byte // EvtRender output
	Message string // EvtFormatMessage text, "" when unavailable
	// MessagePartial is true when Windows left inserts it could not fill
	// in Message (15029-15031); only then are they filled from the event.
	MessagePartial bool
	Err            error // rendering failed; XML may be empty
	// RecordID is the record's id in the channel read (from its bookmark),
	// or 0 when unknown; for forwarded events it is not the
	// System/EventRecordID, which is the origin machine's.
	RecordID uint64
}

var (
	// ErrUnsupported is returned by Open on systems without the Windows
	// Event Log.
	ErrUnsupported = errors.New("live mode works only on Windows; offline use: evtxscan scan FILES")

	errStaleBookmark = errors.New("bookmark is stale (log cleared or rolled over)")
	errBatchTooLarge = errors.New("batch refused as too large (RPC_S_INVALID_BOUND)")
)

// bookmarkXML returns the bookmark XML that EvtCreateBookmark accepts for
// the record with id recordID of channel, the form EvtRender writes.
func bookmarkXML(channel string, recordID uint64) string {
	return "<BookmarkList><Bookmark Channel='" + xmlAttrEscape(channel) + "' RecordId='" +
		strconv.FormatUint(recordID, 10) + "' IsCurrent='true'/></BookmarkList>"
}

var attrEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "'", "&apos;", `"`, "&quot;")

func xmlAttrEscape(s string) string { return attrEscaper.Replace(s) }

// bookmarkRecordID reads the RecordId of the first Bookmark in bookmark
// XML as EvtRender writes it.
func bookmarkRecordID(xml string) (uint64, bool) {
	i := strings.Index(xml, "RecordId=")
	if i < 0 || i+len("RecordId=")+1 >= len(xml) {
		return 0, false
	}
	rest := xml[i+len("RecordId="):]
	q := rest[0]
	if q != '\'' && q != '"' {
		return 0, false
	}
	end := strings.IndexByte(rest[1:], q)
	if end < 0 {
		return 0, false
	}
	id, err := strconv.ParseUint(rest[1:1+end], 10, 64)
	return id, err == nil && id != 0
}
