// Package messages renders the human text of Windows events offline, the
// text Event Viewer shows in its General tab.
//
// An .evtx record holds only the insertion strings of an event; the message
// text lives in resource DLLs on the machine that wrote the log. This package
// carries a small table of message templates for the providers and event ids
// evtxscan's rules care about, and fills them the way FormatMessage /
// EvtFormatMessage do. The table is written as YAML in table/*.yml, each
// entry with its source; the binary carries it as Go literals generated from
// those files (builtin_gen.go; after editing them run
// "go test ./messages -run TestBuiltinGenerated -update"), so start-up does
// not parse YAML. The texts are filled in like this:
//
//   - %1 … %99 are insertion strings; %n!format! applies a printf-like format
//     (%1!s!, %2!d!, %3!08x!, %4!I64u!, …) to the value;
//   - %n, %t, %r are a line break, a tab and a carriage return; %% is a
//     percent sign; %. %! and "% " are a literal period, exclamation mark and
//     space; %0 ends the message; any other %c is c;
//   - an insert that does not exist stays as written ("%7"), as Event Viewer
//     leaves it;
//   - %{Name} (an evtxscan extension; FormatMessage has no named inserts) is
//     the EventData field or UserData leaf of that name, for hand-written
//     texts whose field positions differ between Windows versions;
//   - %%N inside an insertion string (e.g. %%1936 in Security 4688, %%2 in
//     Service Control Manager 7000) is resolved from the table's parameter
//     strings for that provider, or left as is when unknown.
//
// Line breaks come out as "\n" (Windows writes "\r\n"): the text goes into
// report cells, JSONL and rule matching, where a lone LF is what readers
// expect. Trailing line breaks of a template are dropped.
//
// # Which values fill %1…%n
//
// Event.InsertionStrings when the parser set them (the substitution values
// in index order, what Windows hands to FormatMessage; for classic events
// only as many as there are <Data> strings, since the Binary's
// substitutions follow them); otherwise the EventData values in document
// order; otherwise the UserData leaves in document order. For manifest
// events with named data, document order is the template's order, which is
// the order of %1…%n in every manifest we know; where a field's position
// changed between Windows versions, an entry names it with %{Name}.
//
// # Choosing a template
//
// Entries are keyed by provider name (case-insensitive; the event's
// EventSourceName is tried when the provider name has no entry) and event id.
// An entry may be narrowed to an event version, to classic events with given
// qualifiers, or to an event source name; the most specific entry that fits
// wins. Among equally specific texts, the one with the most inserts the
// event can fill is chosen (Windows grew some texts: Application Error 1000
// has 13 values on Windows 7 and 15 later). Entries merged from a user table
// ([Table.Merge]) replace built-in ones with the same narrowing.
//
// # Security
//
// Insertion strings are attacker-controlled text. Rendering never
// interprets them (a value containing "%1" stays "%1"), only %%N parameter
// references inside them are resolved, and the output is capped at
// [MaxMessageBytes]. Callers still escape the text for their output format.
package messages
