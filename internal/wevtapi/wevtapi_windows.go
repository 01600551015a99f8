//go:build windows

package wevtapi

import (
	"errors"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// A Handle is an EVT_HANDLE. Close every handle the API returns.
type Handle uintptr

// EvtQuery flags.
const (
	QueryChannelPath         = 0x1
	QueryFilePath            = 0x2
	QueryForwardDirection    = 0x100
	QueryReverseDirection    = 0x200
	QueryTolerateQueryErrors = 0x1000
)

// EvtSubscribe flags.
const (
	SubscribeToFutureEvents      = 1
	SubscribeStartAtOldestRecord = 2
	SubscribeStartAfterBookmark  = 3
	SubscribeTolerateQueryErrors = 0x1000
	SubscribeStrict              = 0x10000
)

// EvtSeek flags.
const (
	SeekRelativeToFirst    = 1
	SeekRelativeToLast     = 2
	SeekRelativeToCurrent  = 3
	SeekRelativeToBookmark = 4
	SeekStrict             = 0x10000
)

// EvtRender flags.
const (
	RenderEventValues = 0
	RenderEventXML    = 1
	RenderBookmark    = 2
)

// EvtFormatMessage flags.
const (
	FormatMessageEvent    = 1
	FormatMessageLevel    = 2
	FormatMessageTask     = 3
	FormatMessageOpcode   = 4
	FormatMessageKeyword  = 5
	FormatMessageChannel  = 6
	FormatMessageProvider = 7
	FormatMessageID       = 8
	FormatMessageXML      = 9
)

// EvtOpenLog flags and EvtGetLogInfo property ids.
const (
	OpenChannelPath = 1
	OpenFilePath    = 2

	LogNumberOfLogRecords = 5
	LogOldestRecordNumber = 6
)

// EvtGetEventMetadataProperty property ids.
const (
	EventMetadataEventID        = 0
	EventMetadataEventVersion   = 1
	EventMetadataEventChannel   = 2
	EventMetadataEventLevel     = 3
	EventMetadataEventOpcode    = 4
	EventMetadataEventTask      = 5
	EventMetadataEventKeyword   = 6
	EventMetadataEventMessageID = 7
	EventMetadataEventTemplate  = 8
)

// Errors the API returns that callers act on.
const (
	ErrorFileNotFound                  syscall.Errno = 2
	ErrorInvalidHandle                 syscall.Errno = 6
	ErrorInsufficientBuffer            syscall.Errno = 122
	ErrorNoMoreItems                   syscall.Errno = 259
	ErrorNotFound                      syscall.Errno = 1168
	ErrorTimeout                       syscall.Errno = 1460
	RPCServerUnavailable               syscall.Errno = 1722
	RPCInvalidBound                    syscall.Errno = 1734 // batch too large; the read position moved anyway
	RPCCallCancelled                   syscall.Errno = 1818
	ErrorInvalidOperation              syscall.Errno = 4317
	ErrorEvtPublisherMetadataNotFound  syscall.Errno = 15002
	ErrorEvtInvalidEventData           syscall.Errno = 15005
	ErrorEvtChannelNotFound            syscall.Errno = 15007
	ErrorEvtQueryResultStale           syscall.Errno = 15011
	ErrorEvtQueryResultInvalidPosition syscall.Errno = 15012
	ErrorEvtMessageNotFound            syscall.Errno = 15027
	ErrorEvtMessageIDNotFound          syscall.Errno = 15028
	ErrorEvtUnresolvedValueInsert      syscall.Errno = 15029
	ErrorEvtUnresolvedParameterInsert  syscall.Errno = 15030
	ErrorEvtPublisherDisabled          syscall.Errno = 15037
)

var (
	modwevtapi = windows.NewLazySystemDLL("wevtapi.dll")

	procEvtClose                    = modwevtapi.NewProc("EvtClose")
	procEvtQuery                    = modwevtapi.NewProc("EvtQuery")
	procEvtNext                     = modwevtapi.NewProc("EvtNext")
	procEvtSeek                     = modwevtapi.NewProc("EvtSeek")
	procEvtRender                   = modwevtapi.NewProc("EvtRender")
	procEvtCreateBookmark           = modwevtapi.NewProc("EvtCreateBookmark")
	procEvtUpdateBookmark           = modwevtapi.NewProc("EvtUpdateBookmark")
	procEvtSubscribe                = modwevtapi.NewProc("EvtSubscribe")
	procEvtOpenLog                  = modwevtapi.NewProc("EvtOpenLog")
	procEvtGetLogInfo               = modwevtapi.NewProc("EvtGetLogInfo")
	procEvtOpenPublisherMetadata    = modwevtapi.NewProc("EvtOpenPublisherMetadata")
	procEvtFormatMessage            = modwevtapi.NewProc("EvtFormatMessage")
	procEvtOpenPublisherEnum        = modwevtapi.NewProc("EvtOpenPublisherEnum")
	procEvtNextPublisherId          = modwevtapi.NewProc("EvtNextPublisherId")
	procEvtOpenChannelEnum          = modwevtapi.NewProc("EvtOpenChannelEnum")
	procEvtNextChannelPath          = modwevtapi.NewProc("EvtNextChannelPath")
	procEvtOpenEventMetadataEnum    = modwevtapi.NewProc("EvtOpenEventMetadataEnum")
	procEvtNextEventMetadata        = modwevtapi.NewProc("EvtNextEventMetadata")
	procEvtGetEventMetadataProperty = modwevtapi.NewProc("EvtGetEventMetadataProperty")
)

// lastErr turns the error of a failed call into a syscall.Errno, never nil.
func lastErr(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) && errno != 0 {
		return errno
	}
	return syscall.EINVAL
}

// utf16Ptr converts s for a LPCWSTR argument; "" becomes NULL.
func utf16Ptr(s string) (*uint16, error) {
	if s == "" {
		return nil, nil
	}
	return windows.UTF16PtrFromString(s)
}

// Close closes a handle; closing 0 does nothing.
func Close(h Handle) error {
	if h == 0 {
		return nil
	}
	r, _, err := procEvtClose.Call(uintptr(h))
	if r == 0 {
		return lastErr(err)
	}
	return nil
}

// Query runs EvtQuery on the local machine: path is a channel (with
// QueryChannelPath) or a file (QueryFilePath), query an XPath or "*".
func Query(path, query string, flags uint32) (Handle, error) {
	p, err := utf16Ptr(path)
	if err != nil {
		return 0, err
	}
	q, err := utf16Ptr(query)
	if err != nil {
		return 0, err
	}
	r, _, e := procEvtQuery.Call(0, uintptr(unsafe.Pointer(p)), uintptr(unsafe.Pointer(q)), uintptr(flags))
	if r == 0 {
		return 0, lastErr(e)
	}
	return Handle(r), nil
}

// Next fills events with up to len(events) event handles and returns how
// many it filled. When there are none (ERROR_NO_MORE_ITEMS, or the
// ERROR_INVALID_OPERATION an empty poll of a subscription can give) it
// returns 0 and nil. RPC_S_INVALID_BOUND comes back as RPCInvalidBound.
func Next(resultSet Handle, events []Handle, timeoutMillis uint32) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	var returned uint32
	r, _, e := procEvtNext.Call(uintptr(resultSet), uintptr(len(events)), uintptr(unsafe.Pointer(&events[0])),
		uintptr(timeoutMillis), 0, uintptr(unsafe.Pointer(&returned)))
	if r == 0 {
		err := lastErr(e)
		if err == ErrorNoMoreItems || (err == ErrorInvalidOperation && returned == 0) {
			return 0, nil
		}
		return 0, err
	}
	return int(min(returned, uint32(len(events)))), nil
}

// Seek moves a query's position (EvtSeek). On 32-bit x86 the 64-bit
// position is passed as two stack words.
func Seek(resultSet Handle, position int64, bookmark Handle, flags uint32) error {
	var r uintptr
	var e error
	if unsafe.Sizeof(uintptr(0)) == 4 {
		r, _, e = procEvtSeek.Call(uintptr(resultSet), uintptr(uint32(position)), uintptr(uint32(uint64(position)>>32)),
			uintptr(bookmark), 0, uintptr(flags))
	} else {
		r, _, e = procEvtSeek.Call(uintptr(resultSet), uintptr(position), uintptr(bookmark), 0, uintptr(flags))
	}
	if r == 0 {
		return lastErr(e)
	}
	return nil
}

// RenderXML renders an event (RenderEventXML) or a bookmark
// (RenderBookmark) as XML text. buf is a reusable buffer that grows as
// needed. BufferUsed is in bytes and not trusted past sizing: the text
// ends at the first NUL within the buffer.
func RenderXML(fragment Handle, flags uint32, buf *[]uint16) (string, error) {
	if len(*buf) == 0 {
		*buf = make([]uint16, 8192)
	}
	for range 4 {
		var used, props uint32
		r, _, e := procEvtRender.Call(0, uintptr(fragment), uintptr(flags), uintptr(len(*buf)*2),
			uintptr(unsafe.Pointer(&(*buf)[0])), uintptr(unsafe.Pointer(&used)), uintptr(unsafe.Pointer(&props)))
		if r != 0 {
			return windows.UTF16ToString(*buf), nil
		}
		err := lastErr(e)
		if err != ErrorInsufficientBuffer {
			return "", err
		}
		n := int(used/2) + 1
		if n <= len(*buf) {
			n = 2 * len(*buf)
		}
		if n > 64<<20 {
			return "", errors.New("wevtapi: rendered event larger than 128 MiB")
		}
		*buf = make([]uint16, n)
	}
	return "", ErrorInsufficientBuffer
}

// CreateBookmark creates a bookmark, from its XML or empty for "".
func CreateBookmark(xml string) (Handle, error) {
	p, err := utf16Ptr(xml)
	if err != nil {
		return 0, err
	}
	r, _, e := procEvtCreateBookmark.Call(uintptr(unsafe.Pointer(p)))
	if r == 0 {
		return 0, lastErr(e)
	}
	return Handle(r), nil
}

// UpdateBookmark moves a bookmark to an event.
func UpdateBookmark(bookmark, event Handle) error {
	r, _, e := procEvtUpdateBookmark.Call(uintptr(bookmark), uintptr(event))
	if r == 0 {
		return lastErr(e)
	}
	return nil
}

// Subscribe opens a pull subscription (no callback): the service sets
// signalEvent when records arrive; read them with Next.
func Subscribe(signalEvent windows.Handle, channel, query string, bookmark Handle, flags uint32) (Handle, error) {
	c, err := utf16Ptr(channel)
	if err != nil {
		return 0, err
	}
	q, err := utf16Ptr(query)
	if err != nil {
		return 0, err
	}
	r, _, e := procEvtSubscribe.Call(0, uintptr(signalEvent), uintptr(unsafe.Pointer(c)), uintptr(unsafe.Pointer(q)),
		uintptr(bookmark), 0, 0, uintptr(flags))
	if r == 0 {
		return 0, lastErr(e)
	}
	return Handle(r), nil
}

// variant is EVT_VARIANT: an 8-byte value, a count and a type.
type variant struct {
	Value uint64
	Count uint32
	Type  uint32
}

// Variant types used here.
const (
	varTypeNull   = 0
	varTypeString = 1
	varTypeUInt16 = 6
	varTypeUInt32 = 8
	varTypeUInt64 = 10
)

// LogInfo returns a channel's record count and oldest record number.
func LogInfo(channel string) (count, oldest uint64, err error) {
	c, err := utf16Ptr(channel)
	if err != nil {
		return 0, 0, err
	}
	r, _, e := procEvtOpenLog.Call(0, uintptr(unsafe.Pointer(c)), OpenChannelPath)
	if r == 0 {
		return 0, 0, lastErr(e)
	}
	h := Handle(r)
	defer Close(h)
	get := func(id uint32) (uint64, error) {
		var v variant
		var used uint32
		r, _, e := procEvtGetLogInfo.Call(uintptr(h), uintptr(id), unsafe.Sizeof(v), uintptr(unsafe.Pointer(&v)), uintptr(unsafe.Pointer(&used)))
		if r == 0 {
			return 0, lastErr(e)
		}
		if v.Type == varTypeNull {
			return 0, nil
		}
		return v.Value, nil
	}
	if count, err = get(LogNumberOfLogRecords); err != nil {
		return 0, 0, err
	}
	if oldest, err = get(LogOldestRecordNumber); err != nil {
		return 0, 0, err
	}
	return count, oldest, nil
}

// OpenPublisherMetadata opens a provider's metadata for message
// formatting, in the default locale.
func OpenPublisherMetadata(publisher string) (Handle, error) {
	p, err := utf16Ptr(publisher)
	if err != nil {
		return 0, err
	}
	r, _, e := procEvtOpenPublisherMetadata.Call(0, uintptr(unsafe.Pointer(p)), 0, 0, 0)
	if r == 0 {
		return 0, lastErr(e)
	}
	return Handle(r), nil
}

// FormatMessage formats an event's message (FormatMessageEvent, with
// event set) or a metadata message by id (FormatMessageID, event 0). The
// buffer is sized first with a NULL call, since a too-small buffer can
// succeed with truncated text (elastic/beats#41245); sizes are in
// characters. Unresolved inserts (15029, 15030) still return the text.
func FormatMessage(publisherMetadata, event Handle, messageID uint32, flags uint32) (string, error) {
	var used uint32
	r, _, e := procEvtFormatMessage.Call(uintptr(publisherMetadata), uintptr(event), uintptr(messageID), 0, 0,
		uintptr(flags), 0, 0, uintptr(unsafe.Pointer(&used)))
	if r != 0 {
		return "", nil // empty message
	}
	if err := lastErr(e); err != ErrorInsufficientBuffer {
		return "", err
	}
	for range 4 {
		if used == 0 || used > 16<<20 {
			return "", errors.New("wevtapi: EvtFormatMessage asked for an implausible buffer size")
		}
		buf := make([]uint16, used+1)
		r, _, e = procEvtFormatMessage.Call(uintptr(publisherMetadata), uintptr(event), uintptr(messageID), 0, 0,
			uintptr(flags), uintptr(len(buf)), uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&used)))
		if r != 0 {
			return windows.UTF16ToString(buf), nil
		}
		switch err := lastErr(e); err {
		case ErrorInsufficientBuffer:
			continue
		case ErrorEvtUnresolvedValueInsert, ErrorEvtUnresolvedParameterInsert:
			return windows.UTF16ToString(buf), nil
		default:
			return "", err
		}
	}
	return "", ErrorInsufficientBuffer
}

// nextString calls an enumeration function of the EvtNextChannelPath shape
// (character-sized buffer), growing the buffer as needed. It returns
// ok=false at the end of the enumeration.
func nextString(proc *windows.LazyProc, enum Handle, buf *[]uint16) (string, bool, error) {
	if len(*buf) == 0 {
		*buf = make([]uint16, 512)
	}
	for range 4 {
		var used uint32
		r, _, e := proc.Call(uintptr(enum), uintptr(len(*buf)), uintptr(unsafe.Pointer(&(*buf)[0])), uintptr(unsafe.Pointer(&used)))
		if r != 0 {
			return windows.UTF16ToString(*buf), true, nil
		}
		switch err := lastErr(e); err {
		case ErrorNoMoreItems:
			return "", false, nil
		case ErrorInsufficientBuffer:
			*buf = make([]uint16, max(int(used), 2*len(*buf)))
		default:
			return "", false, err
		}
	}
	return "", false, ErrorInsufficientBuffer
}

// Channels lists every channel registered on the machine.
func Channels() ([]string, error) {
	r, _, e := procEvtOpenChannelEnum.Call(0, 0)
	if r == 0 {
		return nil, lastErr(e)
	}
	defer Close(Handle(r))
	return collectStrings(procEvtNextChannelPath, Handle(r))
}

// Publishers lists every provider registered on the machine.
func Publishers() ([]string, error) {
	r, _, e := procEvtOpenPublisherEnum.Call(0, 0)
	if r == 0 {
		return nil, lastErr(e)
	}
	defer Close(Handle(r))
	return collectStrings(procEvtNextPublisherId, Handle(r))
}

func collectStrings(proc *windows.LazyProc, enum Handle) ([]string, error) {
	var out []string
	var buf []uint16
	for {
		s, ok, err := nextString(proc, enum, &buf)
		if err != nil || !ok {
			return out, err
		}
		out = append(out, s)
	}
}

// EventMetadata is what a provider's manifest says about one event.
type EventMetadata struct {
	ID        uint32 // the event id as the manifest defines it
	Version   uint32
	Level     uint32
	MessageID uint32 // 0xFFFFFFFF when the event has no message
}

// PublisherEvents lists the events a provider's metadata defines.
func PublisherEvents(publisherMetadata Handle) ([]EventMetadata, error) {
	r, _, e := procEvtOpenEventMetadataEnum.Call(uintptr(publisherMetadata), 0)
	if r == 0 {
		return nil, lastErr(e)
	}
	enum := Handle(r)
	defer Close(enum)
	var out []EventMetadata
	for {
		r, _, e := procEvtNextEventMetadata.Call(uintptr(enum), 0)
		if r == 0 {
			if err := lastErr(e); err != ErrorNoMoreItems {
				return out, err
			}
			return out, nil
		}
		h := Handle(r)
		get := func(id uint32) uint32 {
			var v variant
			var used uint32
			r, _, _ := procEvtGetEventMetadataProperty.Call(uintptr(h), uintptr(id), 0, unsafe.Sizeof(v), uintptr(unsafe.Pointer(&v)), uintptr(unsafe.Pointer(&used)))
			if r == 0 || v.Type == varTypeNull {
				return 0
			}
			return uint32(v.Value)
		}
		out = append(out, EventMetadata{
			ID:        get(EventMetadataEventID),
			Version:   get(EventMetadataEventVersion),
			Level:     get(EventMetadataEventLevel),
			MessageID: get(EventMetadataEventMessageID),
		})
		Close(h)
	}
}
