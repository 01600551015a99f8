package report

import (
	"strconv"

	"github.com/evtxscan/evtxscan/parser"
)

// appendJSONString appends s as an HTML-safe JSON string: the one quoting
// routine of the JSONL files and the HTML page's data blocks
// (parser.AppendJSONString with htmlSafe).
func appendJSONString(b []byte, s string) []byte { return parser.AppendJSONString(b, s, true) }

// An objectWriter appends a JSON object whose keys keep the order they are
// added in; a repeated key gets a suffix (_2, _3…) so no value is lost to a
// JSON parser that keeps only one.
type objectWriter struct {
	b    []byte
	n    int
	seen map[string]int
}

func (o *objectWriter) begin(b []byte) {
	o.b, o.n = append(b, '{'), 0
	clear(o.seen)
}

func (o *objectWriter) key(k string) {
	if o.n > 0 {
		o.b = append(o.b, ',')
	}
	o.n++
	if o.seen == nil {
		o.seen = map[string]int{}
	}
	if c := o.seen[k]; c > 0 {
		o.seen[k] = c + 1
		k += "_" + strconv.Itoa(c+1)
	} else {
		o.seen[k] = 1
	}
	o.b = appendJSONString(o.b, k)
	o.b = append(o.b, ':')
}

func (o *objectWriter) str(k, v string) {
	o.key(k)
	o.b = appendJSONString(o.b, v)
}

func (o *objectWriter) uint(k string, v uint64) {
	o.key(k)
	o.b = strconv.AppendUint(o.b, v, 10)
}

func (o *objectWriter) int(k string, v int64) {
	o.key(k)
	o.b = strconv.AppendInt(o.b, v, 10)
}

// raw adds a value already encoded as JSON.
func (o *objectWriter) raw(k string, v []byte) {
	o.key(k)
	o.b = append(o.b, v...)
}

func (o *objectWriter) end() []byte {
	return append(o.b, '}')
}
