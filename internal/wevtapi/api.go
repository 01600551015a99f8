package wevtapi

import (
	"errors"
	"strconv"
	"unicode/utf16"
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

	LogCreationTime       = 0
	LogNumberOfLogRecords = 5
	LogOldestRecordNumber = 6
)

// Infinite is the INFINITE timeout of EvtNext: wait until the service has
// the records (Microsoft's query samples use it; a short timeout fails a
// busy query with ERROR_TIMEOUT).
const Infinite uint32 = 0xFFFFFFFF

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

// Errno is a Windows error code as the API returns it (GetLastError).
// Compare with errors.Is against the constants below.
type Errno uint32

func (e Errno) Error() string {
	if s := errnoText(e); s != "" {
		return s + " (" + strconv.FormatUint(uint64(e), 10) + ")"
	}
	if name, ok := errnoNames[e]; ok {
		return name + " (" + strconv.FormatUint(uint64(e), 10) + ")"
	}
	return "Windows error " + strconv.FormatUint(uint64(e), 10)
}

// Errors the API returns that callers act on.
const (
	ErrorFileNotFound                  Errno = 2
	ErrorAccessDenied                  Errno = 5
	ErrorInvalidHandle                 Errno = 6
	ErrorInvalidParameter              Errno = 87
	ErrorInsufficientBuffer            Errno = 122
	ErrorNoMoreItems                   Errno = 259
	ErrorNotFound                      Errno = 1168
	ErrorTimeout                       Errno = 1460
	RPCServerUnavailable               Errno = 1722
	RPCInvalidBound                    Errno = 1734 // batch too large; the read position moved anyway
	RPCCallCancelled                   Errno = 1818
	ErrorInvalidOperation              Errno = 4317
	ErrorEvtPublisherMetadataNotFound  Errno = 15002
	ErrorEvtInvalidEventData           Errno = 15005
	ErrorEvtChannelNotFound            Errno = 15007
	ErrorEvtQueryResultStale           Errno = 15011
	ErrorEvtQueryResultInvalidPosition Errno = 15012
	ErrorEvtMessageNotFound            Errno = 15027
	ErrorEvtMessageIDNotFound          Errno = 15028
	ErrorEvtUnresolvedValueInsert      Errno = 15029
	ErrorEvtUnresolvedParameterInsert  Errno = 15030
	ErrorEvtMaxInsertsReached          Errno = 15031
	ErrorEvtPublisherDisabled          Errno = 15037
)

// errnoNames names the codes above where the system cannot (tests on
// other systems).
var errnoNames = map[Errno]string{
	ErrorFileNotFound: "ERROR_FILE_NOT_FOUND", ErrorAccessDenied: "Access is denied", ErrorInvalidHandle: "ERROR_INVALID_HANDLE",
	ErrorInvalidParameter: "ERROR_INVALID_PARAMETER", ErrorInsufficientBuffer: "ERROR_INSUFFICIENT_BUFFER",
	ErrorNoMoreItems: "ERROR_NO_MORE_ITEMS", ErrorNotFound: "Element not found", ErrorTimeout: "This operation returned because the timeout period expired",
	RPCServerUnavailable: "The RPC server is unavailable", RPCInvalidBound: "The array bounds are invalid",
	RPCCallCancelled: "The remote procedure call was cancelled", ErrorInvalidOperation: "ERROR_INVALID_OPERATION",
	ErrorEvtPublisherMetadataNotFound:  "The publisher metadata cannot be found in the resource",
	ErrorEvtInvalidEventData:           "The event data raised by the publisher is not compatible with the event template definition in the publisher's manifest",
	ErrorEvtChannelNotFound:            "The specified channel could not be found",
	ErrorEvtQueryResultStale:           "The query result is stale or invalid",
	ErrorEvtQueryResultInvalidPosition: "The query result is currently at an invalid position",
	ErrorEvtMessageNotFound:            "The message resource is present but the message was not found in the message table",
	ErrorEvtMessageIDNotFound:          "The message ID for the desired message could not be found",
	ErrorEvtUnresolvedValueInsert:      "The substitution string for insert index could not be found",
	ErrorEvtUnresolvedParameterInsert:  "The description string for parameter reference could not be found",
	ErrorEvtMaxInsertsReached:          "The maximum number of replacements has been reached",
	ErrorEvtPublisherDisabled:          "The publisher has been disabled and its resource is not available",
}

// IsPartialFormat reports the EvtFormatMessage errors that still return
// the message, with some inserts left as %n: an insert value or parameter
// that could not be resolved, or too many replacements.
func IsPartialFormat(err error) bool {
	return errors.Is(err, ErrorEvtUnresolvedValueInsert) || errors.Is(err, ErrorEvtUnresolvedParameterInsert) ||
		errors.Is(err, ErrorEvtMaxInsertsReached)
}

// RenderCall is one EvtRender call into buf (whose size it passes in
// bytes, 2*len(buf)); it returns BufferUsed, in bytes.
type RenderCall func(buf []uint16) (usedBytes uint32, err error)

// maxRenderChars bounds a rendered event or bookmark (128 MiB).
const maxRenderChars = 64 << 20

// RenderString runs EvtRender's buffer protocol: call with the reusable
// buffer *buf (8 KiB to start), grow it to BufferUsed (bytes) on
// ERROR_INSUFFICIENT_BUFFER, and read the text up to its NUL within the
// buffer, never trusting BufferUsed after success (it has been seen 0, and
// mistaken for characters).
func RenderString(call RenderCall, buf *[]uint16) (string, error) {
	if len(*buf) == 0 {
		*buf = make([]uint16, 4096)
	}
	for range 4 {
		used, err := call(*buf)
		if err == nil {
			b := *buf
			for i, c := range b {
				if c == 0 {
					b = b[:i]
					break
				}
			}
			return string(utf16.Decode(b)), nil
		}
		if !errors.Is(err, ErrorInsufficientBuffer) {
			return "", err
		}
		n := int(used/2) + 1
		if n <= len(*buf) {
			n = 2 * len(*buf)
		}
		if n > maxRenderChars {
			return "", errors.New("wevtapi: rendered event larger than 128 MiB")
		}
		*buf = make([]uint16, n)
	}
	return "", ErrorInsufficientBuffer
}

// FormatCall is one EvtFormatMessage call: buf nil is the sizing call
// (BufferSize 0, Buffer NULL); it returns BufferUsed, in characters.
type FormatCall func(buf []uint16) (usedChars uint32, err error)

// maxMessageChars bounds a formatted message.
const maxMessageChars = 16 << 20

// FormatString runs EvtFormatMessage's buffer protocol: size first with a
// NULL buffer (a too-small buffer can succeed with truncated text,
// elastic/beats#41245), then call with BufferUsed characters. unresolved
// is true when Windows returned the text with inserts it could not fill
// (ERROR_EVT_UNRESOLVED_VALUE_INSERT, _PARAMETER_INSERT,
// ERROR_EVT_MAX_INSERTS_REACHED): the text is used, and only then may %n
// inserts be filled from the event.
func FormatString(call FormatCall) (text string, unresolved bool, err error) {
	used, err := call(nil)
	if err == nil {
		return "", false, nil // an empty message
	}
	if !errors.Is(err, ErrorInsufficientBuffer) {
		return "", false, err
	}
	for range 4 {
		if used == 0 || used > maxMessageChars {
			return "", false, errors.New("wevtapi: EvtFormatMessage asked for an implausible buffer size")
		}
		buf := make([]uint16, used+1)
		n, err := call(buf)
		switch {
		case err == nil || IsPartialFormat(err):
			for i, c := range buf {
				if c == 0 {
					buf = buf[:i]
					break
				}
			}
			return string(utf16.Decode(buf)), err != nil, nil
		case errors.Is(err, ErrorInsufficientBuffer):
			used = n
			continue
		default:
			return "", false, err
		}
	}
	return "", false, ErrorInsufficientBuffer
}
