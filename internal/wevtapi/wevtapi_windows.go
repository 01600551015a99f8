//go:build windows

package wevtapi

import (
	"errors"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
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

// lastErr turns the error of a failed call into an Errno, never nil.
func lastErr(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) && errno != 0 {
		return Errno(errno)
	}
	return ErrorInvalidParameter
}

// errnoText is the system's text for a code ("" when it has none).
func errnoText(e Errno) string {
	s := syscall.Errno(e).Error()
	if strings.HasPrefix(s, "winapi error") || strings.HasPrefix(s, "errno ") {
		return ""
	}
	return strings.TrimRight(s, ". \r\n")
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
// (RenderBookmark) as XML text through RenderString's buffer protocol;
// buf is a reusable buffer that grows as needed.
func RenderXML(fragment Handle, flags uint32, buf *[]uint16) (string, error) {
	return RenderString(func(b []uint16) (uint32, error) {
		var used, props uint32
		r, _, e := procEvtRender.Call(0, uintptr(fragment), uintptr(flags), uintptr(len(b)*2),
			uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(&used)), uintptr(unsafe.Pointer(&props)))
		if r == 0 {
			return used, lastErr(e)
		}
		return used, nil
	}, buf)
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

// LogInfo returns a channel's record count, oldest record number and
// creation time (a FILETIME, which changes when the log is cleared).
func LogInfo(channel string) (count, oldest, created uint64, err error) {
	c, err := utf16Ptr(channel)
	if err != nil {
		return 0, 0, 0, err
	}
	r, _, e := procEvtOpenLog.Call(0, uintptr(unsafe.Pointer(c)), OpenChannelPath)
	if r == 0 {
		return 0, 0, 0, lastErr(e)
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
		return 0, 0, 0, err
	}
	if oldest, err = get(LogOldestRecordNumber); err != nil {
		return 0, 0, 0, err
	}
	created, _ = get(LogCreationTime) // not every channel type has one
	return count, oldest, created, nil
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
// event set) or a metadata message by id (FormatMessageID, event 0)
// through FormatString's buffer protocol (sizes in characters). unresolved
// reports text returned with inserts Windows could not fill.
func FormatMessage(publisherMetadata, event Handle, messageID uint32, flags uint32) (text string, unresolved bool, err error) {
	return FormatString(func(b []uint16) (uint32, error) {
		var used uint32
		var p uintptr
		if len(b) > 0 {
			p = uintptr(unsafe.Pointer(&b[0]))
		}
		r, _, e := procEvtFormatMessage.Call(uintptr(publisherMetadata), uintptr(event), uintptr(messageID), 0, 0,
			uintptr(flags), uintptr(len(b)), p, uintptr(unsafe.Pointer(&used)))
		if r == 0 {
			return used, lastErr(e)
		}
		return used, nil
	})
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
