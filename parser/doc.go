// Package parser reads Windows event log files (.evtx) in pure Go and
// turns each record into an [Event], the model the rest of evtxscan uses.
//
// See ../shared/docs/evtx-format.md for the format.
package parser
