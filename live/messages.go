package live

import (
	"strconv"
	"strings"
	"sync"
)

// maxMessageCacheEntries bounds the negative cache; a log full of distinct
// (provider, id) pairs without messages is attacker-reachable.
const maxMessageCacheEntries = 1 << 16

// messageCache remembers which providers have no publisher metadata and
// which (provider, event id) pairs have no message, so EvtFormatMessage is
// not asked again for them (each failed call costs an RPC round trip).
// It is safe for concurrent use.
type messageCache struct {
	mu      sync.Mutex
	noMeta  map[string]bool
	noMsg   map[messageKey]bool
	entries int
}

type messageKey struct {
	provider string
	id       uint16
}

// skip reports whether a message for (provider, id) is known to be
// unavailable.
func (c *messageCache) skip(provider string, id uint16) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.noMeta[provider] || c.noMsg[messageKey{provider, id}]
}

// missingProvider records that provider has no metadata on this machine
// (uninstalled, or a forwarded event's provider).
func (c *messageCache) missingProvider(provider string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.noMeta == nil {
		c.noMeta = map[string]bool{}
	}
	if !c.noMeta[provider] && c.entries < maxMessageCacheEntries {
		c.noMeta[provider] = true
		c.entries++
	}
}

// missingMessage records that (provider, id) has no message.
func (c *messageCache) missingMessage(provider string, id uint16) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.noMsg == nil {
		c.noMsg = map[messageKey]bool{}
	}
	k := messageKey{provider, id}
	if !c.noMsg[k] && c.entries < maxMessageCacheEntries {
		c.noMsg[k] = true
		c.entries++
	}
}

// fillPlaceholders replaces the %1…%99 inserts EvtFormatMessage leaves
// in text it returns as a partial success (15029-15031; seen on Windows 11
// 22H2, elastic/beats#33966) with the event's insertion strings; text
// Windows filled is never passed here. An insert may carry a printf spec
// ("%1!s!"), which is dropped. Inserts without a value and everything else
// ("%%1833", "50%") are left as they are.
func fillPlaceholders(msg string, inserts []string) string {
	if !strings.Contains(msg, "%") || len(inserts) == 0 {
		return msg
	}
	var b strings.Builder
	for i := 0; i < len(msg); {
		c := msg[i]
		if c != '%' || i+1 >= len(msg) {
			b.WriteByte(c)
			i++
			continue
		}
		if msg[i+1] == '%' { // "%%…" is a literal percent or a parameter reference: keep both
			b.WriteString("%%")
			i += 2
			continue
		}
		j := i + 1
		for j < len(msg) && j < i+3 && msg[j] >= '0' && msg[j] <= '9' {
			j++
		}
		n, err := strconv.Atoi(msg[i+1 : j])
		if err != nil || n < 1 || n > len(inserts) {
			b.WriteByte(c)
			i++
			continue
		}
		end := j
		if end < len(msg) && msg[end] == '!' {
			if k := strings.IndexByte(msg[end+1:], '!'); k >= 0 && k < 16 {
				end += k + 2
			}
		}
		b.WriteString(inserts[n-1])
		i = end
	}
	return b.String()
}
