// Package uninstall rebuilds Windows Installer uninstall sessions from event
// logs: which product was removed, when, by whom, and how it ended —
// succeeded, failed, rolled back, never finished, or waiting for a reboot —
// with the event that explains why. Reports list them on their "Uninstalls"
// sheet and HTML section.
//
// # What a session is
//
// Windows Installer brackets every operation with MsiInstaller 1040
// ("Beginning a Windows Installer transaction: <package>. Client Process Id:
// <pid>") and 1042 (ending it), both carrying the package (Data[1]) and the
// client process id (Data[2]); a session is the 1040 … 1042 of one package
// and process on one computer. The events in between carry no package, so
// they join the session open on their computer at their time (msiexec runs
// one execute phase at a time, the _MSIExecute mutex):
//
//   - 1034 "removed the product" (status Data[4]) — the removal outcome; 1037
//     (an update removed, status Data[5]); 1033/1035 for other operations;
//   - 11724 / 11725 ("Removal completed successfully." / "Removal failed."),
//     11NNN "Error NNNN" sentences and 10005 — the cause;
//   - 1038 / 1029 / 1005 — a restart is needed;
//   - Service Control Manager 7036 state changes and service errors inside
//     the session window (a service stopped, then running again after a
//     failure, is the trace a rollback leaves: no event says "rollback");
//   - msiexec.exe crashing or hanging (Application Error 1000, Application
//     Hang 1002, Windows Error Reporting 1001), an unexpected shutdown
//     (EventLog 6008, Kernel-Power 41) or a boot (EventLog 6005) — the reason
//     a session never ended;
//   - Security 4688 of msiexec.exe whose new process id is the client pid —
//     the command line (/x means remove) and the user who ran it;
//   - Restart Manager 10000–10010 and User32 1074 inside the session window,
//     shown with the session's events.
//
// A 1034 (or 11724/11725) without a 1040 — the log's older part rotated away
// — is a session of its own. Only uninstalls are listed: sessions holding a
// removal outcome (1034, 1037, 11724, 11725), sessions that never ended whose
// command line or package says remove (msiexec /x, /uninstall, a {ProductCode}
// package), and upgrades whose embedded removal of the old version failed
// (11714). A major upgrade that removed the old version fine is listed too
// (a 1034 was logged), its Cause saying "upgrade: replaced by <new
// product>". A transaction that removed several products gives one session
// per product. Installs, repairs and Win32_Product reconfiguration bursts
// are not listed.
//
// # Order and memory
//
// Events may arrive in any order across files (Application, System and
// Security are separate logs). By default the tracker keeps a compact record
// of each event that matters (about 180 bytes; 400 for MsiInstaller events
// and msiexec process creations) and decides when Sessions is called, after
// sorting each computer's records by time. With [Ordered] — for callers that
// feed events in time order, as analysis.Run does after its sorter — each
// computer's records go through the same state machine as they arrive,
// sessions are finished as they close, and context records no session can
// use any more are dropped: memory is bounded by the sessions open at a time
// (and the last hour of msiexec process creations), not by the log. Both
// modes give the same sessions (tested on every fixture).
//
// Everything else is dropped on arrival. Strings taken from events are cut
// to a few KiB, and context records (SCM, Restart Manager, User32, process
// creations) held at once are capped at MaxContextRecords; MsiInstaller
// records, crashes and shutdowns are always kept.
//
// # Meanings
//
// Status meanings, error categories and all positional fields come from the
// built-in rule pack's field maps (rules/builtin/fieldmaps, through
// [rules.Ruleset.Resolve]), so the Uninstalls sheet and the findings say the
// same thing; a ruleset with user field maps can be passed with WithRuleset.
package uninstall
