package evtxwriter

import (
	"bytes"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evtxscan/evtxscan/internal/testenv"
)

// xnode is a generic XML element of evtxexport's output.
type xnode struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Text     string     `xml:",chardata"`
	Children []*xnode   `xml:",any"`
}

func (n *xnode) child(name string) *xnode {
	for _, c := range n.Children {
		if c.XMLName.Local == name {
			return c
		}
	}
	return nil
}

func (n *xnode) attr(name string) (string, bool) {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

// evtxexportXML runs `evtxexport -f xml -m mode` on path and returns the
// records it printed and its stderr.
// A failing exit is returned in err (the records before the failure are
// still returned).
func evtxexportXML(t *testing.T, tool, path, mode string) (recs []*xnode, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(tool, "-f", "xml", "-m", mode, path)
	var stdout, errBuf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &errBuf
	runErr := cmd.Run()
	// The first line is the tool's banner; recovered records follow a
	// section title. Split on the start of each <Event> document and parse
	// each alone: libevtx stops writing a record's XML at a NUL character in
	// a value (C strings), which leaves that record truncated (nil here).
	parts := strings.Split(stdout.String(), "<Event xmlns=")
	for _, part := range parts[1:] {
		doc := "<Event xmlns=" + part
		if i := strings.LastIndex(doc, "</Event>"); i >= 0 {
			doc = doc[:i+len("</Event>")]
		}
		var n xnode
		if err := xml.Unmarshal([]byte(xmlSafe(doc)), &n); err != nil {
			recs = append(recs, nil)
			continue
		}
		recs = append(recs, &n)
	}
	return recs, errBuf.String(), runErr
}

// xmlSafe replaces the control characters XML 1.0 forbids (libevtx writes
// them raw) with U+FFFD, so a standard XML reader can parse the output.
func xmlSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' {
			return '\uFFFD'
		}
		return r
	}, s)
}

// TestEvtxexportReadsFixtures is the proof that the fixtures are real EVTX:
// libevtx's evtxexport reads every generated file without error, finds the
// same number of records and the same ids, event ids, providers, System
// values and payload values as the scenario says.
func TestEvtxexportReadsFixtures(t *testing.T) {
	tool := testenv.Tool(t, "evtxexport", "libevtx-utils")
	for _, f := range generateAll(t) {
		t.Run(f.Path, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), filepath.Base(f.Path))
			if err := os.WriteFile(path, f.Bytes, 0o644); err != nil {
				t.Fatal(err)
			}
			recs, stderr, err := evtxexportXML(t, tool, path, "items")
			want := f.Events
			if f.corrupt != 0 {
				// libevtx 20181227 stops at the broken record: it must
				// fail on the bad token and have printed the ones before.
				if err == nil || !strings.Contains(stderr, "0xff") {
					t.Fatalf("evtxexport did not fail on the broken token of record %d (err %v):\n%s", f.corrupt, err, stderr)
				}
				for i, ev := range want {
					if ev.System.EventRecordID == f.corrupt {
						want = want[:i]
						break
					}
				}
			} else if err != nil || strings.TrimSpace(stderr) != "" {
				t.Fatalf("evtxexport failed (%v):\n%s", err, stderr)
			}
			if len(recs) != len(want) {
				t.Fatalf("evtxexport found %d records, the scenario has %d", len(recs), len(want))
			}
			for i := range want {
				if recs[i] == nil {
					if !hasNUL(&want[i]) && !hasBadName(&want[i]) {
						t.Errorf("record %d: evtxexport printed malformed XML", want[i].System.EventRecordID)
					}
					continue // libevtx cut the XML at a NUL, or wrote names that are no XML names
				}
				if err := compareXML(recs[i], &want[i]); err != nil {
					t.Errorf("record %d (event %d): %v", want[i].System.EventRecordID, want[i].System.EventID, err)
				}
			}
			if len(f.slack) > 0 {
				rec, stderr, err := evtxexportXML(t, tool, path, "recovered")
				if err != nil {
					t.Fatalf("evtxexport -m recovered failed (%v):\n%s", err, stderr)
				}
				if len(rec) != len(f.slack) {
					t.Fatalf("evtxexport recovered %d records from slack, want %d", len(rec), len(f.slack))
				}
				for i := range f.slack {
					if rec[i] == nil {
						t.Fatalf("slack record %d: evtxexport printed malformed XML", f.slack[i].System.EventRecordID)
					}
					if err := compareXML(rec[i], &f.slack[i]); err != nil {
						t.Errorf("slack record %d: %v", f.slack[i].System.EventRecordID, err)
					}
				}
			}
		})
	}
}

// compareXML checks one record of evtxexport's XML against the event.
func compareXML(x *xnode, ev *Event) error {
	var errs []string
	bad := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	sys := x.child("System")
	if sys == nil {
		return fmt.Errorf("no <System>")
	}
	s := &ev.System
	text := func(name string) string {
		if c := sys.child(name); c != nil {
			return c.Text
		}
		return "<missing>"
	}
	attr := func(elem, name string) (string, bool) {
		if c := sys.child(elem); c != nil {
			return c.attr(name)
		}
		return "", false
	}
	num := func(name string, want uint64) {
		got, err := strconv.ParseUint(text(name), 0, 64)
		if err != nil || got != want {
			bad("%s = %q, want %d", name, text(name), want)
		}
	}
	if got, _ := attr("Provider", "Name"); got != s.Provider {
		bad("Provider = %q, want %q", got, s.Provider)
	}
	if got, _ := attr("Provider", "Guid"); got != s.ProviderGUID {
		bad("Provider Guid = %q, want %q", got, s.ProviderGUID)
	}
	if got, _ := attr("Provider", "EventSourceName"); got != s.EventSourceName {
		bad("EventSourceName = %q, want %q", got, s.EventSourceName)
	}
	num("EventID", uint64(s.EventID))
	q, hasQ := attr("EventID", "Qualifiers")
	if hasQ != s.HasQualifiers || (hasQ && q != strconv.Itoa(int(s.Qualifiers))) {
		bad("Qualifiers = %q (present %v), want %d (present %v)", q, hasQ, s.Qualifiers, s.HasQualifiers)
	}
	num("Version", uint64(s.Version))
	num("Level", uint64(s.Level))
	num("Task", uint64(s.Task))
	num("Opcode", uint64(s.Opcode))
	num("Keywords", s.Keywords)
	num("EventRecordID", s.EventRecordID)
	tc, _ := attr("TimeCreated", "SystemTime")
	if got, err := time.Parse(time.RFC3339Nano, tc); err != nil || !got.Equal(s.TimeCreated.Truncate(100)) {
		bad("TimeCreated = %q, want %s", tc, s.TimeCreated.Format(time.RFC3339Nano))
	}
	if got, _ := attr("Correlation", "ActivityID"); got != s.ActivityID {
		bad("ActivityID = %q, want %q", got, s.ActivityID)
	}
	if got, _ := attr("Execution", "ProcessID"); got != strconv.Itoa(int(s.ProcessID)) {
		bad("ProcessID = %q, want %d", got, s.ProcessID)
	}
	if got, _ := attr("Execution", "ThreadID"); got != strconv.Itoa(int(s.ThreadID)) {
		bad("ThreadID = %q, want %d", got, s.ThreadID)
	}
	if got := text("Channel"); got != s.Channel {
		bad("Channel = %q, want %q", got, s.Channel)
	}
	if got := text("Computer"); got != xmlSafe(s.Computer) {
		bad("Computer = %q, want %q", got, s.Computer)
	}
	if got, _ := attr("Security", "UserID"); got != s.UserID {
		bad("UserID = %q, want %q", got, s.UserID)
	}

	if ev.UserData != nil {
		ud := x.child("UserData")
		if ud == nil || len(ud.Children) != 1 {
			bad("want one <UserData> child")
		} else if err := compareElement(ud.Children[0], ev.UserData); err != nil {
			bad("UserData: %v", err)
		}
	} else {
		ed := x.child("EventData")
		if ed == nil {
			return fmt.Errorf("%s; no <EventData>", strings.Join(errs, "; "))
		}
		var data []*xnode
		var bin *xnode
		for _, c := range ed.Children {
			switch c.XMLName.Local {
			case "Data":
				data = append(data, c)
			case "Binary":
				bin = c
			}
		}
		if len(data) != len(ev.Data) {
			bad("%d <Data>, want %d", len(data), len(ev.Data))
		}
		for i := range min(len(data), len(ev.Data)) {
			name, _ := data[i].attr("Name")
			if name != ev.Data[i].Name {
				bad("Data[%d] Name = %q, want %q", i+1, name, ev.Data[i].Name)
			}
			if !sameValue(data[i].Text, ev.Data[i]) {
				bad("Data[%d] (%s) = %.80q, want %.80q", i+1, name, data[i].Text, ev.Data[i].Render())
			}
		}
		switch {
		case ev.Binary == nil && bin != nil:
			bad("unexpected <Binary>%s</Binary>", bin.Text)
		case ev.Binary != nil && bin == nil:
			bad("no <Binary>, want %X", ev.Binary)
		case bin != nil && !strings.EqualFold(bin.Text, hex.EncodeToString(ev.Binary)):
			bad("Binary = %s, want %X", bin.Text, ev.Binary)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

func compareElement(x *xnode, e *Element) error {
	if x.XMLName.Local != e.Name {
		return fmt.Errorf("element %s, want %s", x.XMLName.Local, e.Name)
	}
	for _, a := range e.Attrs {
		got, ok := x.attr(a.Name)
		if a.Name == "xmlns" {
			got, ok = x.XMLName.Space, x.XMLName.Space != ""
		}
		if !ok || got != a.Text {
			return fmt.Errorf("%s/@%s = %q, want %q", e.Name, a.Name, got, a.Text)
		}
	}
	if e.Value != nil && !sameValue(x.Text, *e.Value) {
		return fmt.Errorf("%s = %q, want %q", e.Name, x.Text, e.Value.Render())
	}
	if len(x.Children) != len(e.Children) {
		return fmt.Errorf("%s has %d children, want %d", e.Name, len(x.Children), len(e.Children))
	}
	for i := range e.Children {
		if err := compareElement(x.Children[i], e.Children[i]); err != nil {
			return err
		}
	}
	return nil
}

// sameValue compares a value as libevtx renders it with the expected one.
// libevtx (2018) zero-pads hex integers and prints 9 fraction digits; the
// comparison is on the value, not the presentation.
func sameValue(got string, v Value) bool {
	switch v.typ() {
	case HexInt32, HexInt64:
		a, err1 := strconv.ParseUint(strings.TrimPrefix(got, "0x"), 16, 64)
		b, err2 := strconv.ParseUint(strings.TrimPrefix(v.Text, "0x"), 16, 64)
		return err1 == nil && err2 == nil && a == b
	case FileTime:
		a, err1 := time.Parse(time.RFC3339Nano, got)
		b, err2 := parseTime(v.Text)
		return err1 == nil && err2 == nil && a.Equal(b.Truncate(100))
	case GUID, Binary:
		return strings.EqualFold(got, v.Render())
	}
	// An XML reader turns CR LF and lone CR into LF (XML 1.0 §2.11); xmlSafe
	// replaced the control characters XML forbids.
	want := xmlSafe(strings.ReplaceAll(strings.ReplaceAll(v.Render(), "\r\n", "\n"), "\r", "\n"))
	return got == want
}

// hasNUL reports whether a string value of ev holds a NUL character.
func hasNUL(ev *Event) bool {
	for _, d := range ev.Data {
		if d.typ() == String && strings.IndexByte(d.Text, 0) >= 0 {
			return true
		}
	}
	return false
}

// hasBadName reports whether ev has a provider or Data name that is no XML
// name (libevtx writes it raw, so its XML cannot be parsed).
func hasBadName(ev *Event) bool {
	bad := func(s string) bool { return strings.ContainsAny(s, "<>&\"' =") }
	if bad(ev.System.Provider) {
		return true
	}
	for _, d := range ev.Data {
		if bad(d.Name) {
			return true
		}
	}
	return false
}
