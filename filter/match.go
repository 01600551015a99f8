package filter

import (
	"strings"

	"github.com/evtxscan/evtxscan/parser"
)

// Empty reports whether the filter selects every event.
func (f *Filter) Empty() bool {
	return len(f.Channels) == 0 && len(f.Providers) == 0 && len(f.IDs) == 0 &&
		len(f.Levels) == 0 && f.Since.IsZero() && f.Until.IsZero() &&
		len(f.Computers) == 0 && len(f.Keywords) == 0
}

// Match reports whether ev passes the filter.
func (f *Filter) Match(ev *parser.Event) bool {
	s := &ev.System
	if len(f.Channels) > 0 && !equalFoldAny(f.Channels, s.Channel) {
		return false
	}
	if len(f.Providers) > 0 && !equalFoldAny(f.Providers, s.Provider) {
		return false
	}
	if len(f.IDs) > 0 && !f.matchID(s.EventID) {
		return false
	}
	if len(f.Levels) > 0 && !f.matchLevel(s.Level) {
		return false
	}
	if !f.Since.IsZero() || !f.Until.IsZero() {
		t := ev.Time()
		if !f.Since.IsZero() && t.Before(f.Since) {
			return false
		}
		if !f.Until.IsZero() && !t.Before(f.Until) {
			return false
		}
	}
	if len(f.Computers) > 0 && !equalFoldAny(f.Computers, s.Computer) {
		return false
	}
	if len(f.Keywords) > 0 && !f.matchKeyword(ev) {
		return false
	}
	return true
}

func (f *Filter) matchID(id uint16) bool {
	for _, r := range f.IDs {
		if id >= r.Lo && id <= r.Hi {
			return true
		}
	}
	return false
}

// matchLevel treats 0 (LogAlways) as information, as Event Viewer shows it.
func (f *Filter) matchLevel(level uint8) bool {
	if level == 0 {
		level = 4
	}
	for _, l := range f.Levels {
		if l == 0 {
			l = 4
		}
		if l == level {
			return true
		}
	}
	return false
}

func equalFoldAny(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// matchKeyword reports whether any keyword occurs, case-insensitively, in any
// value of the event: System text fields, EventData, UserData, message.
func (f *Filter) matchKeyword(ev *parser.Event) bool {
	for _, k := range f.Keywords {
		k = strings.ToLower(k)
		if k == "" {
			continue
		}
		found := false
		eachValue(ev, func(v string) bool {
			if containsFold(v, k) {
				found = true
				return false
			}
			return true
		})
		if found {
			return true
		}
	}
	return false
}

// eachValue calls fn with every text value of ev until fn returns false.
func eachValue(ev *parser.Event, fn func(string) bool) {
	s := &ev.System
	for _, v := range [...]string{s.Provider, s.Channel, s.Computer, s.UserID, ev.Message, ev.RenderedMessage} {
		if v != "" && !fn(v) {
			return
		}
	}
	for _, d := range ev.EventData {
		if !fn(d.Value) {
			return
		}
	}
	var walk func(n *parser.Node) bool
	walk = func(n *parser.Node) bool {
		if n == nil {
			return true
		}
		if n.Text != "" && !fn(n.Text) {
			return false
		}
		for _, a := range n.Attrs {
			if !fn(a.Value) {
				return false
			}
		}
		for _, c := range n.Children {
			if !walk(c) {
				return false
			}
		}
		return true
	}
	walk(ev.UserData)
}

// containsFold reports whether lowerNeedle (already lower-case) occurs in s,
// ignoring case; ASCII fast path without allocating.
func containsFold(s, lowerNeedle string) bool {
	n := len(lowerNeedle)
	if n > len(s) {
		return false
	}
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if !ascii {
		return strings.Contains(strings.ToLower(s), lowerNeedle)
	}
	for i := 0; i+n <= len(s); i++ {
		j := 0
		for ; j < n; j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != lowerNeedle[j] {
				break
			}
		}
		if j == n {
			return true
		}
	}
	return false
}
