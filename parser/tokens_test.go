package parser

import (
	"encoding/xml"
	"errors"
	"strconv"
	"strings"
	"testing"
)

// oneRecord builds a file with one record whose BinXML payload body writes.
func oneRecord(body func(cb *chunkBuilder)) []byte {
	cb := newChunkBuilder()
	cb.beginRecord(1, ft20240301)
	body(cb)
	cb.endRecord()
	return buildFile(cb.finish())
}

// simpleTemplate writes an instance of a template <Event><EventData>
// children </EventData></Event> where children writes the content, then the
// values.
func simpleTemplate(children func(cb *chunkBuilder), vals ...tv) func(cb *chunkBuilder) {
	return func(cb *chunkBuilder) {
		cb.fragmentHeader()
		cb.beginTemplate(guidInner)
		cb.open("Event", 0xFFFF, false)
		cb.closeStart()
		cb.open("EventData", 0xFFFF, false)
		cb.closeStart()
		children(cb)
		cb.closeEnd()
		cb.closeEnd()
		cb.endTemplate()
		cb.values(vals...)
		cb.u8(tokEOF)
	}
}

func dataSubst(cb *chunkBuilder, dep int, name string, idx int, typ byte, optional bool) {
	cb.open("Data", dep, true)
	cb.attr("Name", false)
	cb.text(name)
	cb.closeStart()
	cb.subst(idx, typ, optional)
	cb.closeEnd()
}

func TestTokens(t *testing.T) {
	tests := []struct {
		name     string
		body     func(cb *chunkBuilder)
		wantData []Field
		wantXML  []string // substrings of Event.XML
		noXML    []string
		check    func(t *testing.T, e *Event)
		wantErr  error
	}{
		{
			name: "record without template (WEC), PI before the root",
			body: func(cb *chunkBuilder) {
				cb.fragmentHeader()
				cb.u8(tokPITarget)
				cb.name("xml-stylesheet")
				cb.u8(tokPIData)
				cb.u16(uint16(len("href='a.xsl'")))
				cb.raw(utf16le("href='a.xsl'")...)
				cb.open("Event", -1, false)
				cb.closeStart()
				cb.open("System", -1, false)
				cb.closeStart()
				cb.open("Provider", -1, true)
				cb.attr("Name", false)
				cb.text("MSExchange CmdletLogs")
				cb.closeEmpty()
				cb.open("EventID", -1, false)
				cb.closeStart()
				cb.text("6")
				cb.closeEnd()
				cb.closeEnd()
				cb.open("EventData", -1, false)
				cb.closeStart()
				for _, v := range []string{"Get-Mailbox", "", "x"} {
					cb.open("Data", -1, false)
					if v == "" {
						cb.closeEmpty()
						continue
					}
					cb.closeStart()
					cb.text(v)
					cb.closeEnd()
				}
				cb.closeEnd()
				cb.closeEnd()
				cb.u8(tokEOF)
			},
			wantData: []Field{{"", "Get-Mailbox"}, {"", ""}, {"", "x"}},
			wantXML:  []string{"<?xml-stylesheet href='a.xsl'?><Event>", "<Data/>"},
			check: func(t *testing.T, e *Event) {
				if e.System.Provider != "MSExchange CmdletLogs" || e.System.EventID != 6 {
					t.Errorf("System = %+v", e.System)
				}
			},
		},
		{
			name: "entity and character references in an attribute",
			body: simpleTemplate(func(cb *chunkBuilder) {
				cb.open("Data", 0xFFFF, true)
				cb.attr("Name", false)
				cb.text("eTag")
				cb.u8(tokEntityRef)
				cb.name("quot")
				cb.text("ea9e")
				cb.u8(tokCharRef)
				cb.u16('!')
				cb.closeStart()
				cb.subst(0, typeString, false)
				cb.closeEnd()
			}, str16("v")),
			wantData: []Field{{"eTag\"ea9e!", "v"}},
			wantXML:  []string{`<Data Name='eTag"ea9e!'>v</Data>`},
		},
		{
			name: "dependency id naming a NULL value drops the element",
			body: simpleTemplate(func(cb *chunkBuilder) {
				dataSubst(cb, 1, "Kept", 0, typeString, false)
				dataSubst(cb, 1, "Dropped", 0, typeString, false)
			}, str16("a"), tv{typeNull, nil}),
			check: func(t *testing.T, e *Event) {
				// Both Data depend on value 1, which is NULL.
				if len(e.EventData) != 0 {
					t.Errorf("EventData = %v, want none", e.EventData)
				}
			},
		},
		{
			name: "template body without dependency ids (third-party writer)",
			body: simpleTemplate(func(cb *chunkBuilder) {
				dataSubst(cb, -1, "A", 0, typeUint32, false)
				dataSubst(cb, -1, "B", 1, typeString, false)
			}, tv{typeUint32, le32(42)}, str16("b")),
			wantData: []Field{{"A", "42"}, {"B", "b"}},
		},
		{
			name: "empty value of a normal substitution keeps the element, empty attribute dropped",
			body: simpleTemplate(func(cb *chunkBuilder) {
				cb.open("Data", 0xFFFF, true)
				cb.attr("Name", true)
				cb.text("N")
				cb.attr("Extra", false)
				cb.subst(1, typeString, true)
				cb.closeStart()
				cb.subst(0, typeString, false)
				cb.closeEnd()
			}, str16(""), tv{typeNull, nil}),
			wantData: []Field{{"N", ""}},
			wantXML:  []string{"<Data Name='N'/>"},
		},
		{
			name: "index out of range renders nothing",
			body: simpleTemplate(func(cb *chunkBuilder) {
				dataSubst(cb, 0xFFFF, "X", 9, typeString, false)
			}, str16("a")),
			wantData: []Field{{"X", ""}},
		},
		{
			name: "string array in an attribute is joined",
			body: simpleTemplate(func(cb *chunkBuilder) {
				cb.open("Data", 0xFFFF, true)
				cb.attr("Name", false)
				cb.subst(0, typeString|typeArray, false)
				cb.closeStart()
				cb.text("t")
				cb.closeEnd()
			}, tv{typeString | typeArray, append(append(utf16le("a"), 0, 0), append(utf16le("b"), 0, 0)...)}),
			wantData: []Field{{"a,b", "t"}},
		},
		{
			name: "text escaping and XML-illegal characters",
			body: simpleTemplate(func(cb *chunkBuilder) {
				dataSubst(cb, 0xFFFF, "T", 0, typeString, false)
			}, str16("<b>&\x03'\"\nend")),
			wantData: []Field{{"T", "<b>&\x03'\"\nend"}},
			wantXML:  []string{"&lt;b&gt;&amp;\uFFFD'\"&#10;end"},
		},
		{
			name: "element nesting past the cap is an error, not a crash",
			body: func(cb *chunkBuilder) {
				cb.fragmentHeader()
				for i := 0; i < maxElementDepth+10; i++ {
					cb.open("E", -1, false)
					cb.closeStart()
				}
				for i := 0; i < maxElementDepth+10; i++ {
					cb.closeEnd()
				}
				cb.u8(tokEOF)
			},
			wantErr: ErrTooDeep,
		},
		{
			name: "unknown token",
			body: func(cb *chunkBuilder) {
				cb.fragmentHeader()
				cb.u8(0x69)
			},
			wantErr: ErrBadToken,
		},
		{
			name: "array of 10000 items repeats the element 10000 times",
			body: simpleTemplate(func(cb *chunkBuilder) {
				dataSubst(cb, 0xFFFF, "N", 0, typeUint16|typeArray, false)
			}, tv{typeUint16 | typeArray, make([]byte, 20000)}),
			check: func(t *testing.T, e *Event) {
				if len(e.EventData) != 10000 || e.EventData[9999] != (Field{"N", "0"}) {
					t.Errorf("%d fields, last %v", len(e.EventData), e.EventData[len(e.EventData)-1])
				}
			},
		},
		{
			name: "output past the per-record cap is an error",
			body: simpleTemplate(func(cb *chunkBuilder) {
				dataSubst(cb, 0xFFFF, "N", 0, typeUint8|typeArray, false)
			}, tv{typeUint8 | typeArray, make([]byte, 40000)}),
			wantErr: ErrTooDeep,
		},
		{
			name: "UserData tree",
			body: func(cb *chunkBuilder) {
				cb.fragmentHeader()
				cb.open("Event", -1, false)
				cb.closeStart()
				cb.open("UserData", -1, false)
				cb.closeStart()
				cb.open("EventXML", -1, true)
				cb.attr("xmlns", false)
				cb.text("LoadPerf")
				cb.closeStart()
				cb.open("param1", -1, false)
				cb.closeStart()
				cb.text("v1")
				cb.closeEnd()
				cb.u8(tokCDATA)
				cb.u16(2)
				cb.raw(utf16le("cd")...)
				cb.closeEnd()
				cb.closeEnd()
				cb.closeEnd()
				cb.u8(tokEOF)
			},
			check: func(t *testing.T, e *Event) {
				u := e.UserData
				if u == nil || u.Name != "EventXML" || len(u.Attrs) != 1 || u.Attrs[0].Value != "LoadPerf" ||
					len(u.Children) != 1 || u.Children[0].Text != "v1" || u.Text != "cd" {
					t.Errorf("UserData = %+v", u)
				}
			},
			wantXML: []string{"<EventXML xmlns='LoadPerf'><param1>v1</param1><![CDATA[cd]]></EventXML>"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			evs, errs, st := readAll(t, oneRecord(tc.body), Options{Workers: 1, XML: true})
			if tc.wantErr != nil {
				if len(errs) != 1 || !errors.Is(errs[0], tc.wantErr) || st.Lost != 1 {
					t.Fatalf("errors %v, lost %d; want one %v", errs, st.Lost, tc.wantErr)
				}
				var re *RecordError
				if !errors.As(errs[0], &re) || re.Offset != fileHeaderBlock+chunkHeaderSize || re.RecordID != 1 {
					t.Errorf("error %v should be a RecordError naming record 1 and its offset", errs[0])
				}
				return
			}
			if len(errs) != 0 || len(evs) != 1 {
				t.Fatalf("got %d events, errors %v", len(evs), errs)
			}
			e := evs[0]
			if tc.wantData != nil && !equalFields(e.EventData, tc.wantData) {
				t.Errorf("EventData = %q, want %q", e.EventData, tc.wantData)
			}
			for _, w := range tc.wantXML {
				if !strings.Contains(e.XML, w) {
					t.Errorf("XML lacks %q:\n%s", w, e.XML)
				}
			}
			if err := xml.Unmarshal([]byte(e.XML), new(struct{})); err != nil {
				t.Errorf("XML not well-formed (%v): %s", err, e.XML)
			}
			if tc.check != nil {
				tc.check(t, e)
			}
		})
	}
}

// TestTwoRootsFirstWins: a fragment holding two root elements (found by
// FuzzFile, seed c0bf7ab87a25104b) must still give well-formed XML: the
// first root wins.
func TestTwoRootsFirstWins(t *testing.T) {
	data := oneRecord(func(cb *chunkBuilder) {
		cb.fragmentHeader()
		for _, n := range []string{"Event", "Second"} {
			cb.open(n, -1, false)
			cb.closeEmpty()
		}
		cb.u8(tokEOF)
	})
	evs, errs, _ := readAll(t, data, Options{Workers: 1, XML: true})
	if len(errs) != 0 || len(evs) != 1 || evs[0].XML != "<Event/>" {
		t.Fatalf("events %v, errors %v; want one event with XML <Event/>", evs, errs)
	}
}

// TestXMLNamesSanitized: names that are no XML names (fuzz seed
// xml-name-with-colons) are rewritten so the XML stays well-formed, and
// attributes that collide after rewriting are written once.
func TestXMLNamesSanitized(t *testing.T) {
	data := oneRecord(func(cb *chunkBuilder) {
		cb.fragmentHeader()
		cb.open("::Event", -1, true)
		for i, a := range []string{"xmlns:foo", "x:", "x_", "1st"} {
			cb.attr(a, i < 3)
			cb.text(strconv.Itoa(i))
		}
		cb.closeEmpty()
		cb.u8(tokEOF)
	})
	evs, errs, _ := readAll(t, data, Options{Workers: 1, XML: true})
	if len(errs) != 0 || len(evs) != 1 {
		t.Fatalf("events %d, errors %v", len(evs), errs)
	}
	want := "<__Event xmlns:foo='0' x_='1' _st='3'/>"
	if got := evs[0].XML; got != want {
		t.Errorf("XML = %s, want %s", got, want)
	}
	if err := xml.Unmarshal([]byte(evs[0].XML), new(struct{})); err != nil {
		t.Errorf("not well-formed: %v", err)
	}
}
