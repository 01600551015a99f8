// Package filter selects events the way PowerShell's
// Get-WinEvent -FilterHashtable does: by channel, provider, event id,
// level, time range, computer and keyword. The same Filter drives the file
// scan (Match) and the live mode (which turns it into an XPath query).
package filter

import (
	"time"
)

// A Filter selects events. The zero value selects everything; within one
// field the values are alternatives (OR), across fields all must hold (AND).
type Filter struct {
	Channels  []string  // case-insensitive exact names
	Providers []string  // case-insensitive exact names
	IDs       []IDRange // event id ranges, inclusive
	Levels    []uint8   // System Level values (1 critical … 5 verbose; 0 and 4 both mean information)
	Since     time.Time // zero: unbounded; inclusive
	Until     time.Time // zero: unbounded; exclusive
	Computers []string  // case-insensitive exact names
	Keywords  []string  // case-insensitive substrings of any value of the event
}

// An IDRange is an inclusive range of event ids; a single id has Lo == Hi.
type IDRange struct{ Lo, Hi uint16 }
