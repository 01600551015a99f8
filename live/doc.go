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
// record the previous run finished: one bookmark per channel in a small
// JSON file, written atomically (temporary file in the same folder, fsync,
// rename) by [Source.Commit] once the caller has durably handled the
// events — so a crash repeats events rather than losing them. The
// bookmark is the record's id in the channel read (taken from an
// EvtRender'd bookmark: for ForwardedEvents, System/EventRecordID is the
// origin machine's id and no position at all).
//
// The service is asked to continue after the bookmark without "strict"
// seeking: strict fails whenever the bookmarked record is not in the
// query's result set, which happens with no loss at all when the filter
// changed (a relative --since moves on every run). Loss is found instead
// by comparing the bookmark with the log's record range (EvtGetLogInfo),
// and records at or before the bookmark are skipped should the service
// hand them out again. Detected and reported in Stats (as a Problem of
// the channel, with the record id) and in Notices:
//   - a log rolled over since the last run (records after the bookmark are
//     gone) or cleared (the log is empty, or its newest record is older
//     than the bookmark): the channel is read again from its oldest record;
//   - a bookmark the service calls stale: the same;
//   - a damaged state file: it is renamed to *.damaged-<time> for
//     inspection, and every channel is read from its oldest record.
//
// A log cleared and then refilled beyond the bookmark's record id before
// the next run cannot be told from a log that merely grew; the records
// up to that id are then not read (a known gap; schedule runs often
// enough that a log does not refill between two).
//
// # Follow
//
// With Config.Follow the source does not end: each channel has a pull
// subscription (EvtSubscribe with a signal event) that is drained whenever
// the service signals new events, and at least every PollInterval as a
// safety net. [Source.Events] commits after each drained batch;
// [Source.Cycle] cuts the stream into slices at quiet moments, so the
// caller can analyse, report and alert slice by slice and commit after
// each one.
//
// # Platforms
//
// The Windows calls live in internal/wevtapi and eventlog_windows.go; all
// other logic sits behind the small eventLog interface and is tested on
// every platform with a fake. On other systems [Open] returns
// [ErrUnsupported].
package live
