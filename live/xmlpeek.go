package live

import (
	"bytes"
	"html"
	"strconv"
)

// providerAndID finds Provider/@Name and EventID in rendered event XML
// without a full parse, to pick the message before the event is mapped.
func providerAndID(xml []byte) (string, uint16, bool) {
	i := bytes.Index(xml, []byte("<Provider "))
	if i < 0 {
		return "", 0, false
	}
	rest := xml[i:]
	end := bytes.IndexByte(rest, '>')
	if end < 0 {
		return "", 0, false
	}
	tag := rest[:end]
	j := bytes.Index(tag, []byte(" Name="))
	if j < 0 || j+7 > len(tag) {
		return "", 0, false
	}
	quote := tag[j+6]
	val := tag[j+7:]
	k := bytes.IndexByte(val, quote)
	if (quote != '\'' && quote != '"') || k < 0 {
		return "", 0, false
	}
	name := html.UnescapeString(string(val[:k]))

	e := bytes.Index(xml, []byte("<EventID"))
	if e < 0 {
		return "", 0, false
	}
	rest = xml[e:]
	gt := bytes.IndexByte(rest, '>')
	lt := bytes.IndexByte(rest[max(gt, 0):], '<')
	if gt < 0 || lt < 0 {
		return "", 0, false
	}
	id, err := strconv.ParseUint(string(bytes.TrimSpace(rest[gt+1:gt+lt])), 10, 16)
	if err != nil {
		return "", 0, false
	}
	return name, uint16(id), true
}
