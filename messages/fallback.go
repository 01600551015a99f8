package messages

import (
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/evtxscan/evtxscan/parser"
)

// Bounds of the fallback text: enough to read, never a 64 KiB cell.
const (
	fallbackValueBytes  = 256
	fallbackBinaryBytes = 32
	fallbackTotalBytes  = 4096
)

// Fallback describes an event for which no template is known, compactly:
//
//	MsiInstaller event 1040: Data[1]=C:\x.msi; Data[2]=3472
//	Microsoft-Windows-RestartManager event 10000: RmSessionId=0; UTCStartTime=2020-…
//
// Named data print as name=value, unnamed as Data[n]=value, UserData leaves
// as element=value. Empty values and MSI's "(NULL)" padding are left out
// (positions keep their number, so nothing becomes ambiguous); long values
// are cut with "…", Binary shows its first bytes in hex.
func Fallback(ev *parser.Event) string {
	var b strings.Builder
	if ev.System.Provider != "" {
		b.WriteString(ev.System.Provider)
		b.WriteString(" event ")
	} else {
		b.WriteString("Event ")
	}
	b.WriteString(strconv.Itoa(int(ev.System.EventID)))
	n := 0
	field := func(name, value string) {
		if value == "" || value == "(NULL)" || b.Len() > fallbackTotalBytes {
			return
		}
		if n == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		n++
		b.WriteString(name)
		b.WriteByte('=')
		value = strings.TrimSpace(value)
		if len(value) > fallbackValueBytes {
			value = truncate(value, fallbackValueBytes) + "…"
		}
		b.WriteString(value)
	}
	for i := range ev.EventData {
		field(ev.DataKey(i), ev.EventData[i].Value)
	}
	if ev.UserData != nil {
		var walk func(nd *parser.Node, depth int)
		walk = func(nd *parser.Node, depth int) {
			if len(nd.Children) == 0 {
				field(nd.Name, nd.Text)
				return
			}
			if depth > 32 {
				return
			}
			for _, c := range nd.Children {
				walk(c, depth+1)
			}
		}
		walk(ev.UserData, 0)
	}
	if len(ev.Binary) > 0 {
		bin := ev.Binary
		more := ""
		if len(bin) > fallbackBinaryBytes {
			bin = bin[:fallbackBinaryBytes]
			more = "… (" + strconv.Itoa(len(ev.Binary)) + " bytes)"
		}
		field("Binary", strings.ToUpper(hex.EncodeToString(bin))+more)
	}
	if n == 0 && len(ev.InsertionStrings) > 0 {
		for i, s := range ev.InsertionStrings {
			field("%"+strconv.Itoa(i+1), s)
		}
	}
	s := b.String()
	if len(s) > fallbackTotalBytes {
		s = truncate(s, fallbackTotalBytes) + "…"
	}
	return s
}
