package parser

import (
	"encoding/xml"
	"strings"
	"testing"
)

// Every non-ASCII rune our XML writer keeps in a name must be one that
// encoding/xml (which ParseEventXML and most Go consumers use) accepts, as
// a first character and inside a name (fuzz finding F5: U+0149).
func TestNameCharsReadableByEncodingXML(t *testing.T) {
	for r := rune(0x80); r < 0xA000; r++ {
		for _, first := range []bool{true, false} {
			if !isNameChar(r, first) {
				continue
			}
			name := "a" + string(r)
			if first {
				name = string(r) + "a"
			}
			doc := "<" + name + "></" + name + ">"
			d := xml.NewDecoder(strings.NewReader(doc))
			for {
				_, err := d.Token()
				if err != nil {
					if err.Error() != "EOF" {
						t.Errorf("U+%04X (first=%v) is kept in names but encoding/xml rejects %q: %v", r, first, doc, err)
					}
					break
				}
			}
		}
	}
}
