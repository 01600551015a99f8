// Package wevtapi is a thin, cgo-free binding of the Windows Event Log API
// (wevtapi.dll) for evtxscan's live mode: queries, pull subscriptions,
// rendering, bookmarks, log information, message formatting and the
// publisher and channel enumerations.
//
// The calls build only on Windows. The constants, the error values and the
// buffer protocols (RenderString, FormatString) build everywhere, so the
// code above them is tested on any system against a model of the service.
//
// Buffer sizes follow the API's own units, which differ by function:
// EvtRender counts bytes, EvtFormatMessage, EvtNextChannelPath and
// EvtNextPublisherId count UTF-16 characters. Every function that fills a
// buffer sizes it first and grows it on ERROR_INSUFFICIENT_BUFFER, and
// never trusts BufferUsed beyond sizing (see ../shared/docs/evtx-format.md
// §6.4 for the bugs behind that rule).
package wevtapi
