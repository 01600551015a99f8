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
// delivered record with half the batch size. A query's result set is read
// with EvtNext INFINITE, as Microsoft's samples do, and only up to the
// newest record the channel had when the run began (the set grows while
// it is read); Config.ReadBudget bounds a run further. A default channel
// absent on this edition is skipped with a notice; access denied names
// the right needed.
//
// Message text Windows formatted is used as is; only a partial result
// (15029-15031) has its %n inserts filled from the event. Forwarded
// events keep the origin's RenderingInfo text. Publisher metadata handles
// are reopened when they go stale (service restart), and only "not
// installed" marks a provider as without messages.
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
// A query is positioned after the bookmark without "strict" seeking
// (EvtSeek past the end lands on the last record, which is skipped); a
// subscription starts strictly after it and, when the record is not in
// the result set (the filter changed, a relative --since moves on every
// run), at the oldest record with the bookmark as the skip point. Loss
// is found by comparing the bookmark with the log's record range and
// creation time (EvtGetLogInfo). Until a reader hands out a record past
// its bookmark, records at or before it are skipped; after that a record
// id at or below the previous one means the log was cleared while it was
// read (Windows sends no notice, ids restart at 1): it is reported and
// every new record delivered. Detected and reported in Stats (as a
// Problem of the channel, with the record id) and in Notices:
//   - a log rolled over since the last run (records after the bookmark are
//     gone) or cleared (the log is empty, its newest record is older than
//     the bookmark, or its creation time changed): the channel is read
//     again from its oldest record;
//   - a bookmark the service calls stale: the same;
//   - a damaged state file: it is renamed to *.damaged-<time> for
//     inspection, and every channel is read from its oldest record.
//
// # Follow
//
// With Config.Follow the source does not end: each channel has a pull
// subscription (EvtSubscribe with a signal event) that is drained whenever
// the service signals new events, and at least every PollInterval as a
// safety net. A channel that cannot be opened is retried with a growing
// delay and reported once. [Source.Events] commits after each drained batch;
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
