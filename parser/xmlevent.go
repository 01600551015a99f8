package parser

import (
	"bytes"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits for ParseEventXML. Event XML is attacker-controlled (any process
// can write events with arbitrary text), so sizes and depth are bounded.
const (
	maxEventXMLSize  = 16 << 20 // bytes of XML accepted for one event
	maxEventXMLDepth = 64       // element nesting accepted below <Event>
)

// ErrEventXML is the class of errors ParseEventXML returns; test with errors.Is.
var ErrEventXML = errors.New("parser: event XML")

// ParseEventXML turns one event rendered as XML — the output of EvtRender
// (EvtRenderEventXml), EvtFormatMessage (EvtFormatMessageXml, which adds
// RenderingInfo), a forwarded event, or an Event Viewer copy ("Copy details
// as text" or the XML view with its "- " fold markers) — into the same
// [Event] the file parser makes.
//
// Mapping:
//   - System elements and attributes go through [System.SetField], as in
//     the file parser; unknown ones and unparsable values land in
//     System.Extra by path.
//   - EventData/Data (named or unnamed) and ComplexData become EventData in
//     document order; EventData/Binary is hex-decoded into Binary.
//   - UserData's single child becomes the UserData tree.
//   - RenderingInfo and any other payload section go to Other;
//     RenderingInfo/Message becomes RenderedMessage.
//   - InsertionStrings are the EventData values in order, or for UserData
//     the attribute values (except namespace declarations) and leaf texts
//     in document order.
//   - In a pretty-printed document (elements separated by whitespace: an
//     Event Viewer copy, never raw EvtRender output), a value that is only
//     whitespace containing a line break is Event Viewer's rendering of an
//     empty value ("<Data>" newline spaces "</Data>") and becomes "". Other
//     values are kept as they are: "User32 ", or a real "\n" in EvtRender
//     output.
//
// Source.Chunk is -1 and Source.RecordID is System.EventRecordID; the
// caller fills in Source.File and, if it wants it, XML.
//
// A document that is not well-formed XML, has no <Event> root, is larger
// than 16 MiB or nests deeper than 64 elements is an error wrapping
// [ErrEventXML] and no Event is returned. A Binary that is not hex, a
// second UserData child or an unknown EventData child is left out, and the
// Event comes back together with an error listing what was left out.
func ParseEventXML(data []byte) (*Event, error) {
	if len(data) > maxEventXMLSize {
		return nil, fmt.Errorf("%w: %d bytes is more than the %d accepted for one event", ErrEventXML, len(data), maxEventXMLSize)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if bytes.Contains(data, []byte("- <")) {
		data = stripFoldMarkers(data)
	}
	if bytes.IndexByte(data, '\r') >= 0 {
		data = escapeTextCR(data)
	}
	restore := false
	if hasXMLInvalid(data) {
		data, restore = protectXMLInvalid(data)
	}
	root, err := readXMLTree(data)
	if err != nil {
		return nil, err
	}
	if restore {
		restoreXMLInvalid(root)
	}
	if root.Name != "Event" {
		return nil, fmt.Errorf("%w: root element is <%s>, want <Event>", ErrEventXML, root.Name)
	}

	ev := &Event{Source: Source{Chunk: -1}}
	var problems []error
	for _, section := range root.Children {
		switch section.Name {
		case "System":
			mapSystem(&ev.System, section)
		case "EventData":
			problems = append(problems, mapEventData(ev, section)...)
		case "UserData":
			if len(section.Children) > 0 {
				ev.UserData = section.Children[0]
				ev.InsertionStrings = appendTreeValues(ev.InsertionStrings, ev.UserData)
			}
			if len(section.Children) > 1 {
				problems = append(problems, fmt.Errorf("UserData has %d children, kept the first", len(section.Children)))
			}
		case "RenderingInfo":
			ev.Other = append(ev.Other, section)
			for _, c := range section.Children {
				if c.Name == "Message" {
					ev.RenderedMessage = c.Text
				}
			}
		default:
			ev.Other = append(ev.Other, section)
		}
	}
	ev.Source.RecordID = ev.System.EventRecordID
	if len(problems) > 0 {
		return ev, fmt.Errorf("%w: %w", ErrEventXML, errors.Join(problems...))
	}
	return ev, nil
}

// mapSystem fills sys from the <System> element through [System.SetField],
// the setter the file parser uses, so both sources agree on every value.
// An element with neither text nor attributes (<Correlation />,
// <Security />) records nothing, as in a binary record.
func mapSystem(sys *System, section *Node) {
	for _, el := range section.Children {
		for _, a := range el.Attrs {
			if !isNamespaceDecl(a.Name) {
				sys.SetField(el.Name+"/@"+a.Name, a.Value)
			}
		}
		// No System element of the schema has children; keep the text of
		// unexpected ones (in Extra) so nothing is silently dropped.
		for _, c := range el.Children {
			sys.SetField(el.Name+"/"+c.Name, c.Text)
		}
		if len(el.Children) == 0 && el.Text != "" {
			sys.SetField(el.Name, el.Text)
		}
	}
}

// mapEventData fills EventData, EventDataName, Binary and the insertion
// strings from the <EventData> element.
func mapEventData(ev *Event, section *Node) []error {
	var problems []error
	for _, a := range section.Attrs {
		if a.Name == "Name" {
			ev.EventDataName = a.Value
		}
	}
	for _, c := range section.Children {
		switch c.Name {
		case "Data", "ComplexData":
			f := Field{Value: c.Text}
			for _, a := range c.Attrs {
				if a.Name == "Name" {
					f.Name = a.Value
				}
			}
			ev.EventData = append(ev.EventData, f)
			ev.InsertionStrings = append(ev.InsertionStrings, f.Value)
		case "Binary":
			b, err := hex.DecodeString(c.Text)
			if err != nil {
				problems = append(problems, fmt.Errorf("EventData/Binary is not hex: %v", err))
				continue
			}
			ev.Binary = b
		default:
			problems = append(problems, fmt.Errorf("EventData has an unexpected <%s>, ignored", c.Name))
		}
	}
	return problems
}

// appendTreeValues appends the attribute values (except namespace
// declarations) and leaf texts of a UserData tree in document order.
func appendTreeValues(dst []string, n *Node) []string {
	for _, a := range n.Attrs {
		if !isNamespaceDecl(a.Name) {
			dst = append(dst, a.Value)
		}
	}
	if len(n.Children) == 0 {
		return append(dst, n.Text)
	}
	for _, c := range n.Children {
		dst = appendTreeValues(dst, c)
	}
	return dst
}

func isNamespaceDecl(name string) bool {
	return name == "xmlns" || strings.HasPrefix(name, "xmlns:")
}

// readXMLTree reads the document's root element as a Node tree. Names keep
// their prefix ("ns:Name") and namespace declarations stay in Attrs, as
// they appear in the document.
func readXMLTree(data []byte) (*Node, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	var root *Node
	var stack []*Node
	var text [][]byte // character data of each open element
	// pretty is set when elements are separated by whitespace (an Event
	// Viewer copy or a re-indented document, never raw EvtRender output);
	// only then is a whitespace-only value with a line break taken for
	// Event Viewer's rendering of an empty one.
	pretty := false
	var blankLeaves []*Node
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: not well-formed at byte %d: %v", ErrEventXML, dec.InputOffset(), err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil && len(stack) == 0 {
				return nil, fmt.Errorf("%w: a second root element <%s> at byte %d", ErrEventXML, qualifiedName(t.Name), dec.InputOffset())
			}
			if len(stack) > maxEventXMLDepth {
				return nil, fmt.Errorf("%w: elements nest deeper than %d at byte %d", ErrEventXML, maxEventXMLDepth, dec.InputOffset())
			}
			n := &Node{Name: qualifiedName(t.Name)}
			for _, a := range t.Attr {
				n.Attrs = append(n.Attrs, Field{Name: qualifiedName(a.Name), Value: a.Value})
			}
			if len(stack) == 0 {
				root = n
			} else {
				parent := stack[len(stack)-1]
				parent.Children = append(parent.Children, n)
			}
			stack = append(stack, n)
			text = append(text, nil)
		case xml.EndElement:
			if len(stack) == 0 || stack[len(stack)-1].Name != qualifiedName(t.Name) {
				return nil, fmt.Errorf("%w: unexpected </%s> at byte %d", ErrEventXML, qualifiedName(t.Name), dec.InputOffset())
			}
			n := stack[len(stack)-1]
			raw := text[len(text)-1]
			if len(n.Children) > 0 {
				pretty = pretty || len(raw) > 0
				n.Text = strings.TrimSpace(string(raw))
			} else {
				n.Text = string(raw)
				if len(raw) > 0 && len(bytes.TrimSpace(raw)) == 0 && bytes.ContainsAny(raw, "\r\n") {
					blankLeaves = append(blankLeaves, n)
				}
			}
			stack = stack[:len(stack)-1]
			text = text[:len(text)-1]
		case xml.CharData:
			if len(stack) > 0 {
				text[len(text)-1] = append(text[len(text)-1], t...)
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, fmt.Errorf("%w: text outside the root element at byte %d", ErrEventXML, dec.InputOffset())
			}
		}
	}
	if root == nil {
		return nil, fmt.Errorf("%w: no element found", ErrEventXML)
	}
	if len(stack) > 0 {
		return nil, fmt.Errorf("%w: <%s> is not closed", ErrEventXML, stack[len(stack)-1].Name)
	}
	if pretty {
		for _, n := range blankLeaves {
			n.Text = ""
		}
	}
	return root, nil
}

// stripFoldMarkers removes the "- " that Event Viewer's XML view puts
// before a collapsible element at the start of a line ("- <Event",
// "  - <System>"): the whitespace before it is kept, the "- " dropped. A
// line can only start with "- <" when the "<" is markup, since a "<" in
// text or in an attribute value is always escaped as &lt;; so stripping
// cannot change a value.
func stripFoldMarkers(data []byte) []byte {
	out := make([]byte, 0, len(data))
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line = data[:i+1]
		}
		data = data[len(line):]
		indent := len(line) - len(bytes.TrimLeft(line, " \t"))
		if bytes.HasPrefix(line[indent:], []byte("- <")) {
			out = append(out, line[:indent]...)
			out = append(out, line[indent+2:]...)
			continue
		}
		out = append(out, line...)
	}
	return out
}

// Characters XML 1.0 cannot carry (C0 controls other than tab, LF, CR)
// still occur in event values: any program can log them, and the file
// parser keeps them. EvtRender passes them through raw or as character
// references, both of which encoding/xml rejects. So before decoding they
// are swapped for private-use code points (U+10FF00 + the control's
// value), and swapped back in the tree afterwards. An input that already
// holds such code points gets U+FFFD instead (lossy, never wrong).
const invalidBase = 0x10FF00

// hasXMLInvalid reports whether data holds a C0 control that XML forbids,
// raw or as a character reference.
func hasXMLInvalid(data []byte) bool {
	for _, c := range data {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			return true
		}
	}
	return bytes.Contains(data, []byte("&#"))
}

// protectXMLInvalid swaps forbidden controls, raw or as &#N; / &#xN;, for
// their placeholders; restore is false when placeholders would be
// ambiguous and U+FFFD was used instead.
func protectXMLInvalid(data []byte) ([]byte, bool) {
	restore := !bytes.ContainsRune(data, invalidBase) && !containsPlaceholder(data)
	out := make([]byte, 0, len(data)+16)
	for i := 0; i < len(data); {
		c := data[i]
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			out = appendPlaceholder(out, c, restore)
			i++
			continue
		}
		if c == '&' && i+2 < len(data) && data[i+1] == '#' {
			if v, n, ok := charRef(data[i:]); ok && v < 0x20 && v != '\t' && v != '\n' && v != '\r' {
				out = appendPlaceholder(out, byte(v), restore)
				i += n
				continue
			}
		}
		out = append(out, c)
		i++
	}
	return out, restore
}

func appendPlaceholder(out []byte, c byte, restore bool) []byte {
	if restore {
		return utf8.AppendRune(out, rune(invalidBase+int(c)))
	}
	return utf8.AppendRune(out, utf8.RuneError)
}

func containsPlaceholder(data []byte) bool {
	for i := 0; i < 0x20; i++ {
		if bytes.ContainsRune(data, rune(invalidBase+i)) {
			return true
		}
	}
	return false
}

// charRef reads a character reference "&#N;" or "&#xN;" at the start of b.
func charRef(b []byte) (v int, n int, ok bool) {
	end := bytes.IndexByte(b, ';')
	if end < 3 || end > 10 {
		return 0, 0, false
	}
	num, base := string(b[2:end]), 10
	if num[0] == 'x' {
		num, base = num[1:], 16
	}
	x, err := strconv.ParseUint(num, base, 32)
	if err != nil {
		return 0, 0, false
	}
	return int(x), end + 1, true
}

// restoreXMLInvalid puts the controls back into every text and value.
func restoreXMLInvalid(n *Node) {
	n.Text = restoreString(n.Text)
	for i := range n.Attrs {
		n.Attrs[i].Value = restoreString(n.Attrs[i].Value)
	}
	for _, c := range n.Children {
		restoreXMLInvalid(c)
	}
}

func restoreString(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= invalidBase && r < invalidBase+0x20 {
			return r - invalidBase
		}
		return r
	}, s)
}

// escapeTextCR writes each carriage return in character data as &#13;.
// XML parsers turn a literal CR LF into LF, but EvtRender writes a value's
// line breaks unescaped and the file parser keeps them as CR LF; escaping
// keeps the value identical. CRs inside tags (between attributes) are left
// alone, and pretty-printing whitespace is removed later anyway.
func escapeTextCR(data []byte) []byte {
	out := make([]byte, 0, len(data)+64)
	inTag := false
	var quote byte
	for _, c := range data {
		switch {
		case inTag && quote != 0:
			if c == quote {
				quote = 0
			}
		case inTag:
			if c == '"' || c == '\'' {
				quote = c
			} else if c == '>' {
				inTag = false
			}
		case c == '<':
			inTag = true
		case c == '\r':
			out = append(out, "&#13;"...)
			continue
		}
		out = append(out, c)
	}
	return out
}

func qualifiedName(n xml.Name) string {
	if n.Space != "" {
		return n.Space + ":" + n.Local
	}
	return n.Local
}
