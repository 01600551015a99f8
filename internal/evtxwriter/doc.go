// Package evtxwriter writes Windows event log files (.evtx) from a list of
// events, so that tests can hold exactly the stories the analyzer must detect.
// Windows cannot run here, so the fixtures in testdata/evtx are written by this
// package from the scenarios in testdata/scenarios (see [LoadScenario] and the
// evtxgen command).
//
// # What it writes
//
// The layout of ../shared/docs/evtx-format.md §1–§2, the way Windows writes it:
//
//   - a 4096-byte file header with its CRC32 (version 3.1, clean flags);
//   - 64 KiB chunks: a 512-byte header with the header CRC and the event
//     records CRC, the 64 string hash buckets and the 32 template buckets
//     (chains linked through each entry's first u32);
//   - records with signature, size, record id, written FILETIME, BinXML
//     payload, zero padding to a multiple of 8 and the trailing size copy;
//   - BinXML where every record is one template instance. Template definitions
//     are written inline at their first use in a chunk and referenced by chunk
//     offset afterwards; element and attribute names likewise (inline at first
//     use, by offset later). Template bodies carry dependency ids (0xFFFF).
//
// Every record is an instance of a System template whose last value is a
// nested BinXML value (type 0x21) holding the payload's own template
// instance, as in every Windows log of the corpus. Two payload shapes:
//
//   - classic events (ReportEvent, e.g. MsiInstaller): the EventData template
//     Windows uses for all of them, <Data> bound to a string array (type
//     0x81, one <Data> per item) and <Binary> (type 0x0E), each element
//     carrying a dependency id on its value so a NULL value drops it;
//     EventID carries Qualifiers;
//   - manifest events: <EventData> with <Data Name=…> children (optionally
//     followed by <Binary>, as Service Control Manager writes it), or
//     <UserData>. The nested value starts with a fragment header, except in
//     the Security log, which writes the bare instance (both as Windows does).
//
// System values are optional substitutions (0x0E) at Windows' indexes with
// Windows' types: UInt8
// Level/Opcode/Version, UInt16 EventID/Qualifiers/Task, HexInt64 Keywords,
// FILETIME TimeCreated, UInt64 EventRecordID, GUID ActivityID, UInt32
// ProcessID/ThreadID and a SID UserID (NULL, so the attribute is dropped, when
// the event has none; likewise Qualifiers for manifest events). Payload strings end with a NUL and an empty string is
// that NUL alone, as in real Windows logs (never a zero-size value). Provider, Channel and Computer are literal text in the
// template, which is why a chunk holds one template per provider and computer.
//
// # Guarantees
//
// Output is deterministic: the same events give the same bytes (template GUIDs
// are hashes of the template bodies). Events keep their order; record ids are
// assigned from [Options.FirstRecordID]. A record never spans chunks: when one
// does not fit, a new chunk starts. An event too large for an empty chunk is an
// error, never a truncated record.
//
// This is test support, not a general-purpose EVTX writer: it writes what our
// fixtures need and refuses (with an error) what it cannot write faithfully.
package evtxwriter
