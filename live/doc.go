// Package live reads a Windows machine's own event logs through the
// Windows Event Log API (wevtapi.dll) and yields the same [parser.Event]s
// the file parser makes, so `evtxscan live` runs exactly the analysis of
// `evtxscan scan`.
//
// # Reading
//
// Each channel (default: Application, System, Security, Setup and
// Microsoft-Windows-AppXDeploymentServer/Operational) is queried with an
// XPath built from the filter ([filter.Filter.XPath]); the filter's Match
// still runs on every event, because XPath cannot express keywords or
// case-insensitive computer names. Events are read in batches (EvtNext),
// rendered to XML (EvtRender) and mapped by [parser.ParseEventXML]; the
// message text comes from EvtFormatMessage, with providers and
// (provider, event id) pairs that have no message remembered so they are
// not asked again. A batch the service refuses as too large (RPC error
// 1734, which still moves the read position) is re-read from the last
// delivered record with half the batch size.
//
// # Incremental runs
//
// With a state file (Config.StatePath) every run continues after the last
// record the previous run finished: one bookmark (record id) per channel in
// a small JSON file, written atomically (temporary file in the same folder,
// fsync, rename) by [Source.Commit] once the caller has durably handled the
// events — so a crash repeats events rather than losing them. Detected and
// reported in Stats (as a Problem of the channel) and in Notices:
//   - a log cleared or rolled over since the last run (the bookmarked record
//     is older than the oldest record, the log's newest record is older than
//     the bookmark, or the service says the bookmark is stale): the channel
//     is read again from its oldest record;
//   - a damaged state file: it is renamed to *.damaged-<time> for
//     inspection, and every channel is read from its oldest record.
//
// # Follow
//
// With Config.Follow the source does not end: each channel has a pull
// subscription (EvtSubscribe with a signal event) that is drained whenever
// the service signals new events, and at least every PollInterval as a
// safety net; the state is committed after each drained batch.
//
// # Platforms
//
// The Windows calls live in internal/wevtapi and eventlog_windows.go; all
// other logic sits behind the small eventLog interface and is tested on
// every platform with a fake. On other systems [Open] returns
// [ErrUnsupported].
package live
