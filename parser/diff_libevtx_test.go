package parser

// Differential test against libevtx: every record that libevtx's evtxexport
// (Debian libevtx-utils, `evtxexport -f xml FILE`) renders from a corpus file
// must also come out of our parser with the same record id, time, event id,
// qualifiers, provider, channel, computer, level, keywords, user SID and
// EventData (names and values in order, Binary as hex).
//
// libevtx is a reference, not an oracle: its rendering quirks are normalized
// below (each named where it is handled, see normalize*), the files it cannot
// read to the end are listed in libevtxStopsEarly, and the records where it
// is wrong are listed in libevtxWrong. Any other difference fails the test.
//
// The evtxexport processes run in parallel (one per GOMAXPROCS) and their
// output is parsed as it streams. Under -short every fourth file is compared
// (plus every damaged-sample file), which keeps the test to seconds.
//
// Set EVTXSCAN_MISMATCH_REPORT=path to write every mismatch found (allowed
// or not) as a Markdown table, the list parser-core reads.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/evtxscan/evtxscan/internal/testenv"
)

// libevtxStopsEarly lists the corpus files (relative to the corpus root)
// where evtxexport gives up before the end of the file: it prints the
// records it rendered up to the failure, then "Unable to export file" and
// exits 1. Those records are still compared; the ones after it cannot be.
// A file that fails and is not listed here fails the test, so the list
// stays true.
var libevtxStopsEarly = map[string]string{
	// libfwevt rejects a value-text token (0x05) where an attribute value
	// starts; these WEC/forwarded records carry no template and spell the
	// attribute value inline (evtx-format.md §5.2 #10).
	"omerbenamram+evtx/samples/MSExchange_Management_wec.evtx":                                                                                                                         "libfwevt: value token 0x05 in attribute (templateless WEC record)",
	"omerbenamram+evtx/samples/issue_201.evtx":                                                                                                                                         "libfwevt: value token 0x05 in attribute (templateless WEC record)",
	"Yamato-Security+hayabusa-sample-evtx/EVTX-to-MITRE-Attack/Antivirus/ID1116-1117-Defender threat detected.evtx":                                                                    "libfwevt: value token 0x05 in attribute (forwarded events)",
	"Yamato-Security+hayabusa-sample-evtx/EVTX-to-MITRE-Attack/Antivirus/ID1151-Defender health status.evtx":                                                                           "libfwevt: value token 0x05 in attribute (forwarded events)",
	"Yamato-Security+hayabusa-sample-evtx/EVTX-to-MITRE-Attack/TA0001-Initial access/T1078-Valid accounts/ID1149-RDP success logins to multiple hosts.evtx":                            "libfwevt: value token 0x05 in attribute (forwarded events)",
	"Yamato-Security+hayabusa-sample-evtx/EVTX-to-MITRE-Attack/TA0002-Execution/T1059.001-PowerShell/ID800-4103-Interactive PipeShell over named pipe (server and client).evtx":        "libfwevt: value token 0x05 in attribute (forwarded events)",
	"Yamato-Security+hayabusa-sample-evtx/EVTX-to-MITRE-Attack/TA0003-Persistence/T1546-Event Triggered Execution/ID800-4103-4104-WMI registration via PowerLurk.evtx":                 "libfwevt: value token 0x05 in attribute (forwarded events)",
	"Yamato-Security+hayabusa-sample-evtx/EVTX-to-MITRE-Attack/TA0003-Persistence/T1547-Boot or Logon Autostart Execution/ID4622-New SSP loaded in LSA (only legitim).evtx":            "libfwevt: value token 0x05 in attribute (forwarded events)",
	"Yamato-Security+hayabusa-sample-evtx/EVTX-to-MITRE-Attack/TA0003-Persistence/T1574-Hijack Execution Flow/ID800-4103-4104-Print spooler privilege escalation (CVE-2020-1048).evtx": "libfwevt: value token 0x05 in attribute (forwarded events)",
	"Yamato-Security+hayabusa-sample-evtx/EVTX-to-MITRE-Attack/TA0005-Defense Evasion/T1562.004-Impair Defenses-Disable or Modify System Firewall/ID2003-4950-Firewall disabled.evtx":  "libfwevt: value token 0x05 in attribute (forwarded events)",
	"Yamato-Security+hayabusa-sample-evtx/EVTX-to-MITRE-Attack/TA0005-Defense Evasion/T1562.004-Impair Defenses-Disable or Modify System Firewall/ID800-4103-Firewall disabled.evtx":   "libfwevt: value token 0x05 in attribute (forwarded events)",
	"Yamato-Security+hayabusa-sample-evtx/EVTX-to-MITRE-Attack/TA0007-Discovery/T1046-Network Service Scanning/ID131-RDP brutforce (no user info).evtx":                                "libfwevt: value token 0x05 in attribute (forwarded events)",
	"Yamato-Security+hayabusa-sample-evtx/EVTX-to-MITRE-Attack/TA0007-Discovery/T1069-Permission Groups Discovery/ID4799-4624-Local admin group enumerated by SharpHound.evtx":         "libfwevt: value token 0x05 in attribute (forwarded events)",
	"Yamato-Security+hayabusa-sample-evtx/EVTX-to-MITRE-Attack/TA0007-Discovery/T1135.xxx-Network Share Discovery/ID5140-5145-Bloodhound-SharpHound enumeration via SMB.evtx":          "libfwevt: value token 0x05 in attribute (forwarded events)",
	"Yamato-Security+hayabusa-sample-evtx/EVTX-to-MITRE-Attack/TA0008-Lateral Movement/T1021.006-Windows Remote Management/ID4656-WS Management listener enumeration.evtx":             "libfwevt: value token 0x05 in attribute (forwarded events)",
	// libfwevt does not accept an entity reference (0x49) inside an
	// attribute value; OM reads all 340 / 459 records of these.
	"omerbenamram+evtx/samples/E_Windows_system32_winevt_logs_Microsoft-Windows-CAPI2%4Operational.evtx":                                    "libfwevt: entity reference 0x49 in attribute value",
	"omerbenamram+evtx/samples/E_ShadowCopy6_windows_system32_winevt_logs_Microsoft-Windows-CAPI2%4Operational.evtx":                        "libfwevt: entity reference 0x49 in attribute value",
	"AndrewRathbun+DFIRArtifactMuseum/Windows/EventLogs/Win10/RathbunVM/RathbunVM_W10EventLogs_7z/Microsoft-Windows-Ntfs%4Operational.evtx": "libfwevt: template value size out of bounds",
}

// A knownDifference is a record (or, with recordID 0, every record of a
// file) where libevtx renders a field wrongly and our value is the right
// one. kind is a mismatch kind (see diffKinds); field, when set, is the
// EventData key (as Event.DataKey gives it) the difference is limited to;
// hexAsDecimal limits it to values libevtx prints in decimal where we print
// the same number in hex.
type knownDifference struct {
	file         string
	recordID     uint64
	kind         string
	field        string
	hexAsDecimal bool
	reason       string
}

// libevtxWrong lists the differences where libevtx is wrong. Each entry says
// why; an entry nothing matches is reported, so the list stays short.
var libevtxWrong = []knownDifference{
	{
		file: "omerbenamram+evtx/samples/Security_with_size_t.evtx", kind: "event_data_value", hexAsDecimal: true,
		reason: "libevtx renders SizeT (0x10) values in decimal; Windows writes 0x-hex, unpadded (OM#232, evtx-format.md §2.8)",
	},
	{
		file: "williballenthin+python-evtx/tests/data/issue_43.evtx", recordID: 508, kind: "event_data_value", field: "ConfigurationFileHash",
		reason: "the value starts with a lone high surrogate: libevtx swallows the code unit after it too; we replace only the surrogate with U+FFFD (evtx-format.md §2.8)",
	},
}

// Mismatch kinds, in the order the test reports them.
var diffKinds = []string{
	"missing", "duplicate", "time", "event_id", "qualifiers", "provider", "channel", "computer",
	"level", "keywords", "user_sid", "event_data_count", "event_data_name", "event_data_value", "binary",
	"provider_guid", "version", "task", "opcode", "process_id", "thread_id", "activity_id", "related_activity_id",
	"user_data",
}

// lxEvent is one record as evtxexport -f xml renders it: only what the
// comparison needs, as raw text.
type lxEvent struct {
	recordID   string // System/EventRecordID
	time       string // System/TimeCreated/@SystemTime
	eventID    string // System/EventID
	qualifiers string // System/EventID/@Qualifiers ("" when absent)
	provider   string // System/Provider/@Name
	channel    string
	computer   string
	level      string
	keywords   string
	userID     string  // System/Security/@UserID
	system     []Field // other System values compared (see otherSystem)
	userData   []Field // UserData leaves and attributes (see flattenNode)
	data       []Field // EventData children (Data, ComplexData) in order
	binary     string  // EventData/Binary, hex
	hasBinary  bool
}

// readLibevtxXML reads evtxexport's XML output as it streams and calls fn
// for each record. A record that cannot be tokenized is passed to bad with
// its error and the reading goes on. Records are the text between a line
// starting "<Event " and a line "</Event>": evtxexport writes each record
// that way; a value would have to hold a line "</Event>" to fool it.
func readLibevtxXML(r io.Reader, fn func(lxEvent), bad func(text string, err error)) error {
	br := bufio.NewReaderSize(r, 1<<20)
	var rec []byte
	in := false
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line over 1 MiB: gather it whole.
			full := append([]byte(nil), line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				full = append(full, line...)
			}
			line = full
		}
		switch {
		case !in && bytes.HasPrefix(line, []byte("<Event ")):
			in = true
			rec = append(rec[:0], line...)
		case in:
			rec = append(rec, line...)
			if bytes.Equal(bytes.TrimRight(line, "\r\n"), []byte("</Event>")) {
				in = false
				ev, perr := parseLibevtxRecord(rec)
				if perr != nil {
					bad(string(rec), perr)
				} else {
					fn(ev)
				}
			}
		}
		if err == io.EOF {
			if in {
				bad(string(rec), errors.New("output ends inside a record"))
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// An xmlFrame is an open element while a record is tokenized.
type xmlFrame struct {
	name     string
	attrs    []Field
	text     strings.Builder
	children int
}

func (f *xmlFrame) attr(name string) string {
	for _, a := range f.attrs {
		if a.Name == name {
			return a.Value
		}
	}
	return ""
}

// parseLibevtxRecord tokenizes one record of evtxexport's output. The
// tokenizer is deliberately lenient (libevtx's XML is "not proper XML 1.0",
// libevtx#30): it accepts control characters and unknown entities, which
// encoding/xml would reject, and fails only on broken tag structure.
func parseLibevtxRecord(b []byte) (lxEvent, error) {
	var ev lxEvent
	var stack []*xmlFrame
	path := func() string {
		var sb strings.Builder
		for i, f := range stack {
			if i > 0 {
				sb.WriteByte('/')
			}
			sb.WriteString(f.name)
		}
		return sb.String()
	}
	closeTop := func() {
		f := stack[len(stack)-1]
		p := path()
		stack = stack[:len(stack)-1]
		if len(stack) > 0 {
			stack[len(stack)-1].children++
		}
		text := f.text.String()
		switch p {
		case "Event/System/Provider":
			ev.provider = f.attr("Name")
		case "Event/System/EventID":
			ev.eventID, ev.qualifiers = text, f.attr("Qualifiers")
		case "Event/System/Level":
			ev.level = text
		case "Event/System/Keywords":
			ev.keywords = text
		case "Event/System/TimeCreated":
			ev.time = f.attr("SystemTime")
		case "Event/System/EventRecordID":
			ev.recordID = text
		case "Event/System/Channel":
			ev.channel = text
		case "Event/System/Computer":
			ev.computer = text
		case "Event/System/Security":
			ev.userID = f.attr("UserID")
		case "Event/EventData/Binary":
			ev.binary, ev.hasBinary = text, true
		default:
			// Every other EventData child is a field: <Data>, and
			// <ComplexData> in Kernel-Processor-Power events.
			if len(stack) == 2 && stack[0].name == "Event" && stack[1].name == "EventData" {
				ev.data = append(ev.data, Field{Name: f.attr("Name"), Value: text})
			}
		}
		switch p {
		case "Event/System/Provider":
			ev.system = append(ev.system, Field{"provider_guid", f.attr("Guid")})
		case "Event/System/Version", "Event/System/Task", "Event/System/Opcode":
			ev.system = append(ev.system, Field{strings.ToLower(f.name), text})
		case "Event/System/Execution":
			ev.system = append(ev.system, Field{"process_id", f.attr("ProcessID")}, Field{"thread_id", f.attr("ThreadID")})
		case "Event/System/Correlation":
			ev.system = append(ev.system, Field{"activity_id", f.attr("ActivityID")}, Field{"related_activity_id", f.attr("RelatedActivityID")})
		}
		if len(stack) >= 2 && stack[0].name == "Event" && stack[1].name == "UserData" {
			// f is below <UserData>: keep its attributes and, for a leaf,
			// its text, keyed by the path below <UserData>.
			rel := strings.TrimPrefix(p, "Event/UserData/")
			ev.userData = append(ev.userData, flattenElement(rel, f.attrs, text, f.children == 0)...)
		}
	}
	i := 0
	for i < len(b) {
		if b[i] != '<' {
			j := bytes.IndexByte(b[i:], '<')
			if j < 0 {
				j = len(b) - i
			}
			if len(stack) > 0 {
				stack[len(stack)-1].text.WriteString(decodeXMLEntities(string(b[i : i+j])))
			}
			i += j
			continue
		}
		end := bytes.IndexByte(b[i:], '>')
		if end < 0 {
			return ev, fmt.Errorf("unterminated tag at byte %d", i)
		}
		tag := b[i+1 : i+end]
		i += end + 1
		switch {
		case len(tag) > 0 && (tag[0] == '?' || tag[0] == '!'):
			// processing instruction or comment: not part of the values
		case len(tag) > 0 && tag[0] == '/':
			name := string(bytes.TrimSpace(tag[1:]))
			if len(stack) == 0 || stack[len(stack)-1].name != name {
				return ev, fmt.Errorf("unexpected </%s> at byte %d", name, i)
			}
			closeTop()
		default:
			selfClosing := len(tag) > 0 && tag[len(tag)-1] == '/'
			if selfClosing {
				tag = tag[:len(tag)-1]
			}
			f, err := parseStartTag(tag)
			if err != nil {
				return ev, fmt.Errorf("%v at byte %d", err, i)
			}
			stack = append(stack, f)
			if selfClosing {
				closeTop()
				continue
			}
			// libevtx does not always escape '<' in values (an EventData
			// value "AppReadinessAwaiter::{ctor}::<lambda_c52f…>::operator ()"
			// comes out raw). Its printer puts a newline after the start
			// tag of an element that has children, so an element whose
			// content starts otherwise is a leaf: take its content
			// verbatim up to its end tag.
			if i < len(b) && b[i] != '\n' && b[i] != '\r' {
				endTag := "</" + f.name + ">"
				j := bytes.Index(b[i:], []byte(endTag))
				if j < 0 {
					return ev, fmt.Errorf("<%s> at byte %d not closed", f.name, i)
				}
				f.text.WriteString(decodeXMLEntities(string(b[i : i+j])))
				i += j + len(endTag)
				closeTop()
			}
		}
	}
	if len(stack) != 0 {
		return ev, fmt.Errorf("<%s> not closed", stack[len(stack)-1].name)
	}
	return ev, nil
}

// parseStartTag splits `name a="v" b="w"` into a frame.
func parseStartTag(tag []byte) (*xmlFrame, error) {
	s := string(tag)
	name, rest, _ := strings.Cut(s, " ")
	f := &xmlFrame{name: strings.TrimSpace(name)}
	if f.name == "" {
		return nil, errors.New("empty tag name")
	}
	for {
		rest = strings.TrimLeft(rest, " \t\r\n")
		if rest == "" {
			return f, nil
		}
		an, after, ok := strings.Cut(rest, "=")
		if !ok || len(after) == 0 || (after[0] != '"' && after[0] != '\'') {
			return nil, fmt.Errorf("bad attribute in <%s>", f.name)
		}
		q := after[0]
		j := strings.IndexByte(after[1:], q)
		if j < 0 {
			return nil, fmt.Errorf("unterminated attribute value in <%s>", f.name)
		}
		f.attrs = append(f.attrs, Field{Name: strings.TrimSpace(an), Value: decodeXMLEntities(after[1 : 1+j])})
		rest = after[2+j:]
	}
}

// decodeXMLEntities resolves the five predefined entities and numeric
// character references; anything else is kept as written.
func decodeXMLEntities(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	var sb strings.Builder
	for {
		i := strings.IndexByte(s, '&')
		if i < 0 {
			sb.WriteString(s)
			return sb.String()
		}
		sb.WriteString(s[:i])
		s = s[i:]
		j := strings.IndexByte(s, ';')
		if j < 0 || j > 12 {
			sb.WriteByte('&')
			s = s[1:]
			continue
		}
		ent := s[1:j]
		switch {
		case ent == "amp":
			sb.WriteByte('&')
		case ent == "lt":
			sb.WriteByte('<')
		case ent == "gt":
			sb.WriteByte('>')
		case ent == "quot":
			sb.WriteByte('"')
		case ent == "apos":
			sb.WriteByte('\'')
		case strings.HasPrefix(ent, "#x") || strings.HasPrefix(ent, "#X"):
			if v, err := strconv.ParseUint(ent[2:], 16, 32); err == nil {
				sb.WriteRune(rune(v))
			} else {
				sb.WriteString(s[:j+1])
			}
		case strings.HasPrefix(ent, "#"):
			if v, err := strconv.ParseUint(ent[1:], 10, 32); err == nil {
				sb.WriteRune(rune(v))
			} else {
				sb.WriteString(s[:j+1])
			}
		default:
			sb.WriteString(s[:j+1])
		}
		s = s[j+1:]
	}
}

// flattenElement lists an element of UserData for comparison: its
// attributes as "path/@name" (namespace declarations left out: they are
// presentation), then, for a leaf, its text as "path".
func flattenElement(path string, attrs []Field, text string, leaf bool) []Field {
	var fs []Field
	for _, a := range attrs {
		if a.Name == "xmlns" || strings.HasPrefix(a.Name, "xmlns:") {
			continue
		}
		fs = append(fs, Field{Name: path + "/@" + a.Name, Value: a.Value})
	}
	if leaf {
		fs = append(fs, Field{Name: path, Value: text})
	}
	return fs
}

// flattenNode lists our UserData tree the way parseLibevtxRecord lists
// libevtx's: children first (an element is listed when it closes), then
// the element's own attributes and leaf text.
func flattenNode(n *Node, prefix string) []Field {
	if n == nil {
		return nil
	}
	path := n.Name
	if prefix != "" {
		path = prefix + "/" + n.Name
	}
	var fs []Field
	for _, c := range n.Children {
		fs = append(fs, flattenNode(c, path)...)
	}
	return append(fs, flattenElement(path, n.Attrs, n.Text, len(n.Children) == 0)...)
}

// corpusFiles returns every .evtx file under root, sorted, as paths
// relative to root (slash-separated).
func corpusFiles(t testing.TB, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.EqualFold(filepath.Ext(p), ".evtx") {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking the corpus %s: %v", root, err)
	}
	sort.Strings(files)
	if len(files) == 0 {
		t.Fatalf("no .evtx files under %s", root)
	}
	return files
}

// A libevtxRun is what evtxexport made of one file.
type libevtxRun struct {
	events   []lxEvent
	badXML   []string // records whose XML could not be tokenized (with the error)
	exitErr  error    // non-nil when evtxexport exited non-zero
	errText  string   // its stderr, less the banner
	duration time.Duration
}

// runLibevtx runs `evtxexport [args] -f xml path` and parses its output as
// it streams.
func runLibevtx(ctx context.Context, tool, path string, args ...string) (*libevtxRun, error) {
	start := time.Now()
	cmd := exec.CommandContext(ctx, tool, append(args, "-f", "xml", path)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	run := &libevtxRun{}
	readErr := readLibevtxXML(out,
		func(ev lxEvent) { run.events = append(run.events, ev) },
		func(text string, err error) {
			run.badXML = append(run.badXML, fmt.Sprintf("%v: %.200q", err, text))
		})
	if readErr != nil {
		_, _ = io.Copy(io.Discard, out)
	}
	run.exitErr = cmd.Wait()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("evtxexport %s: %w", path, ctx.Err())
	}
	if readErr != nil {
		return nil, fmt.Errorf("reading evtxexport output for %s: %w", path, readErr)
	}
	for _, l := range strings.Split(stderr.String(), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "evtxexport ") {
			if run.errText != "" {
				run.errText += " | "
			}
			run.errText += l
			if len(run.errText) > 400 {
				break
			}
		}
	}
	run.duration = time.Since(start)
	return run, nil
}

// A mismatch is one field where our record differs from libevtx's.
type mismatch struct {
	file     string
	recordID uint64
	kind     string
	field    string // EventData key, for event_data_* kinds
	ours     string
	libevtx  string
	allowed  string // the libevtxWrong reason, when listed

	oursValue, libevtxValue string // the raw values, for event_data_value
}

// fileResult is the comparison of one corpus file.
type fileResult struct {
	file          string
	libevtxCount  int
	oursCount     int
	compared      int
	onlyOurs      int // records we read that libevtx did not render
	mismatches    []mismatch
	libevtxFailed string // evtxexport's error, when it exited non-zero
	badXML        []string
	ourErr        error
	ourProblems   int
}

// ourRecord is our event reduced to what is compared.
type ourRecord struct {
	ev   *Event
	used bool
}

// compareFile runs both readers on one file and compares them.
func compareFile(ctx context.Context, tool, root, rel string) fileResult {
	res := fileResult{file: rel}
	path := filepath.Join(root, filepath.FromSlash(rel))
	lx, err := runLibevtx(ctx, tool, path)
	if err != nil {
		res.libevtxFailed = err.Error()
		return res
	}
	res.libevtxCount = len(lx.events)
	res.badXML = lx.badXML
	if lx.exitErr != nil {
		res.libevtxFailed = lx.exitErr.Error() + ": " + lx.errText
	}

	f, err := Open(path, Options{Workers: 1})
	if err != nil {
		res.ourErr = err
		return res
	}
	defer f.Close()
	byID := map[uint64][]*ourRecord{}
	for ev, err := range f.Events(ctx) {
		if err != nil {
			res.ourProblems++
			continue
		}
		if ev == nil {
			continue
		}
		res.oursCount++
		id := ev.System.EventRecordID
		byID[id] = append(byID[id], &ourRecord{ev: ev})
	}

	for i := range lx.events {
		l := &lx.events[i]
		id, err := strconv.ParseUint(l.recordID, 10, 64)
		if err != nil {
			res.mismatches = append(res.mismatches, mismatch{file: rel, kind: "missing", libevtx: "EventRecordID " + strconv.Quote(l.recordID)})
			continue
		}
		var ours *ourRecord
		for _, c := range byID[id] {
			if !c.used {
				ours = c
				break
			}
		}
		if ours == nil {
			kind := "missing"
			if len(byID[id]) > 0 {
				kind = "duplicate" // libevtx has this id more often than we do
			}
			res.mismatches = append(res.mismatches, mismatch{file: rel, recordID: id, kind: kind, libevtx: describeLx(l)})
			continue
		}
		ours.used = true
		res.compared++
		for _, m := range compareRecord(l, ours.ev) {
			m.file, m.recordID = rel, id
			res.mismatches = append(res.mismatches, m)
		}
	}
	for _, rs := range byID {
		for _, r := range rs {
			if !r.used {
				res.onlyOurs++
			}
		}
	}
	return res
}

func describeLx(l *lxEvent) string {
	return fmt.Sprintf("EventID %s %s at %s", l.eventID, l.provider, l.time)
}

// compareRecord compares one record field by field after normalizing
// libevtx's quirks. It returns one mismatch per differing field.
func compareRecord(l *lxEvent, e *Event) []mismatch {
	var ms []mismatch
	add := func(kind, ours, lx string) {
		ms = append(ms, mismatch{kind: kind, ours: ours, libevtx: lx})
	}
	addField := func(kind, field, ours, lx string) {
		ms = append(ms, mismatch{kind: kind, field: field, ours: ours, libevtx: lx})
	}
	s := &e.System

	// Quirk "time": libevtx prints TimeCreated with 9 fractional digits
	// (nanoseconds of a 100 ns FILETIME, so always ending in "00"); Windows
	// and we keep 7. Compare the instants.
	if lt, err := time.Parse(time.RFC3339Nano, l.time); err != nil || !lt.Equal(s.TimeCreated) {
		add("time", s.TimeCreated.UTC().Format(time.RFC3339Nano), l.time)
	}
	if l.eventID != strconv.Itoa(int(s.EventID)) {
		add("event_id", strconv.Itoa(int(s.EventID)), l.eventID)
	}
	ourQ := ""
	if s.HasQualifiers {
		ourQ = strconv.Itoa(int(s.Qualifiers))
	}
	if l.qualifiers != ourQ {
		add("qualifiers", ourQ, l.qualifiers)
	}
	if l.provider != s.Provider {
		add("provider", s.Provider, l.provider)
	}
	if l.channel != s.Channel {
		add("channel", s.Channel, l.channel)
	}
	if l.computer != s.Computer {
		add("computer", s.Computer, l.computer)
	}
	if l.level != strconv.Itoa(int(s.Level)) {
		add("level", strconv.Itoa(int(s.Level)), l.level)
	}
	// Quirk "keywords": libevtx always pads Keywords to 16 hex digits
	// ("0x0080000000000000"); Windows writes the value unpadded. Compare
	// numbers.
	if kw, ok := parseHex(l.keywords); l.keywords != "" && (!ok || kw != s.Keywords) {
		add("keywords", "0x"+strconv.FormatUint(s.Keywords, 16), l.keywords)
	}
	if l.userID != s.UserID {
		add("user_sid", s.UserID, l.userID)
	}
	for _, f := range l.system {
		ours := otherSystem(s, f.Name)
		// Not a libevtx quirk but our model: System.ProviderGUID and the
		// activity ids are canonical upper-case (event.go), while a GUID
		// written as a string stays as written in the XML, which libevtx
		// (and our Event.XML) show, e.g. the Service Control Manager's
		// lower-case Provider Guid. Compare GUIDs case-insensitively.
		if f.Value != ours && !(strings.HasPrefix(f.Value, "{") && strings.EqualFold(f.Value, ours)) {
			add(f.Name, ours, f.Value)
		}
	}
	ourUD := flattenNode(e.UserData, "")
	if len(ourUD) != len(l.userData) {
		add("user_data", fieldsSummary(ourUD), fieldsSummary(l.userData))
	} else {
		for i := range ourUD {
			if ourUD[i].Name != l.userData[i].Name || !sameDataValue(l.userData[i].Value, ourUD[i].Value) {
				addField("user_data", ourUD[i].Name, fmt.Sprintf("%s=%q", ourUD[i].Name, ourUD[i].Value), fmt.Sprintf("%s=%q", l.userData[i].Name, l.userData[i].Value))
				ms[len(ms)-1].oursValue, ms[len(ms)-1].libevtxValue = ourUD[i].Value, l.userData[i].Value
			}
		}
	}

	if len(l.data) != len(e.EventData) {
		add("event_data_count", fieldsSummary(e.EventData), fieldsSummary(l.data))
	} else {
		for i := range l.data {
			key := e.DataKey(i)
			if l.data[i].Name != e.EventData[i].Name {
				addField("event_data_name", key, fmt.Sprintf("[%d] %q", i+1, e.EventData[i].Name), fmt.Sprintf("[%d] %q", i+1, l.data[i].Name))
			}
			if !sameDataValue(l.data[i].Value, e.EventData[i].Value) {
				addField("event_data_value", key, fmt.Sprintf("%s=%q", key, e.EventData[i].Value), fmt.Sprintf("%q", l.data[i].Value))
				ms[len(ms)-1].oursValue, ms[len(ms)-1].libevtxValue = e.EventData[i].Value, l.data[i].Value
			}
		}
	}
	ourBinary := ""
	if e.Binary != nil {
		ourBinary = strings.ToUpper(fmt.Sprintf("%x", e.Binary))
	}
	if (l.hasBinary || e.Binary != nil) && !strings.EqualFold(l.binary, ourBinary) {
		add("binary", clip(ourBinary), clip(l.binary))
	}
	return ms
}

// otherSystem returns our rendering of the System value libevtx's reader
// keyed as name.
func otherSystem(s *System, name string) string {
	switch name {
	case "provider_guid":
		return s.ProviderGUID
	case "version":
		return strconv.Itoa(int(s.Version))
	case "task":
		return strconv.Itoa(int(s.Task))
	case "opcode":
		return strconv.Itoa(int(s.Opcode))
	case "process_id":
		return strconv.FormatUint(uint64(s.ProcessID), 10)
	case "thread_id":
		return strconv.FormatUint(uint64(s.ThreadID), 10)
	case "activity_id":
		return s.ActivityID
	case "related_activity_id":
		return s.RelatedActivityID
	}
	return "?" + name
}

// sameDataValue compares one EventData value, after undoing libevtx's
// rendering quirks (each named below). Values are untyped text on both
// sides, so each rule requires both texts to have the shape it is about.
func sameDataValue(lx, ours string) bool {
	if lx == ours {
		return true
	}
	// Quirk "hex padding": libevtx renders HexInt32 and HexInt64 values
	// zero-padded to 8 and 16 digits ("0x00000000000003e7"); Windows writes
	// them unpadded ("0x3e7"). Equal when both are hex of the same number.
	if (len(lx) == 10 || len(lx) == 18) && strings.HasPrefix(ours, "0x") {
		a, okA := parseHex(lx)
		b, okB := parseHex(ours)
		if okA && okB && a == b {
			return true
		}
	}
	// Quirk "time digits": libevtx renders FILETIME values with 9
	// fractional digits ("…34.500000000Z") and SYSTEMTIME values with 3
	// ("…21.000Z"); Windows and we write 7. Equal when the instants are.
	if strings.HasSuffix(lx, "Z") && strings.HasSuffix(ours, "Z") && len(lx) >= 20 && len(ours) >= 20 {
		a, errA := time.Parse(time.RFC3339Nano, lx)
		b, errB := time.Parse(time.RFC3339Nano, ours)
		if errA == nil && errB == nil && a.Equal(b) {
			return true
		}
	}
	// Quirk "negative integers": libfwevt prints a negative signed integer
	// as the magnitude of its low bits with a minus sign, -(v & 0x7FFF…),
	// instead of its two's-complement value: Int32 -1 (0xFFFFFFFF) comes out
	// as "-2147483647", HRESULT 0x80072AF9 as "-469753".
	if strings.HasPrefix(lx, "-") && strings.HasPrefix(ours, "-") {
		if n, err := strconv.ParseInt(ours, 10, 64); err == nil {
			for _, bits := range []uint{8, 16, 32, 64} {
				if bits < 64 && n < -(int64(1)<<(bits-1)) {
					continue
				}
				if "-"+strconv.FormatUint(uint64(n)&(uint64(1)<<(bits-1)-1), 10) == lx {
					return true
				}
			}
		}
	}
	// Quirk "float format": libfwevt prints Real32/Real64 in the C runtime's
	// %e form with 7 significant digits ("6.680041e-001", "0.000000e+000");
	// we write the shortest round-trip form ("0.6680041", "0"). Equal when
	// the numbers agree to libevtx's precision.
	if strings.ContainsAny(lx, "eE") && strings.Contains(lx, ".") {
		a, errA := strconv.ParseFloat(lx, 64)
		b, errB := strconv.ParseFloat(ours, 64)
		if errA == nil && errB == nil && (a == b || math.Abs(a-b) <= 1e-6*math.Max(math.Abs(a), math.Abs(b))) {
			return true
		}
	}
	// Quirk "trailing line breaks": libevtx drops the line breaks that end
	// a string value; Windows keeps them (python-evtx shows them too), e.g.
	// Microsoft-Windows-Search 1008 ExtraInfo is "\n", libevtx prints <Data/>.
	if strings.TrimRight(ours, "\r\n") == lx {
		return true
	}
	return false
}

// hexAsDecimal reports whether ours is 0x-hex and lx the same number in
// decimal.
func hexAsDecimal(ours, lx string) bool {
	a, ok := parseHex(ours)
	b, err := strconv.ParseUint(lx, 10, 64)
	return ok && err == nil && a == b
}

func parseHex(s string) (uint64, bool) {
	if !strings.HasPrefix(s, "0x") && !strings.HasPrefix(s, "0X") {
		return 0, false
	}
	v, err := strconv.ParseUint(s[2:], 16, 64)
	return v, err == nil
}

func fieldsSummary(fs []Field) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%d fields:", len(fs))
	for i, f := range fs {
		if i == 6 {
			sb.WriteString(" …")
			break
		}
		fmt.Fprintf(&sb, " %s=%q", f.Name, clip(f.Value))
	}
	return sb.String()
}

func clip(s string) string {
	if len(s) <= 80 {
		return s
	}
	cut := 80
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// allowedBy returns the reason libevtxWrong gives for m, or "".
func allowedBy(m mismatch, used map[int]bool) string {
	for i, k := range libevtxWrong {
		if k.file == m.file && k.kind == m.kind && (k.recordID == 0 || k.recordID == m.recordID) && (k.field == "" || k.field == m.field) &&
			(!k.hexAsDecimal || hexAsDecimal(m.oursValue, m.libevtxValue)) {
			used[i] = true
			return k.reason
		}
	}
	return ""
}

func TestDiffLibevtx(t *testing.T) {
	root := testenv.Corpus(t)
	tool := testenv.Tool(t, "evtxexport", "libevtx-utils")
	files := corpusFiles(t, root)
	if testing.Short() {
		var sample []string
		for i, f := range files {
			if i%4 == 0 || strings.HasPrefix(f, "omerbenamram+evtx/") {
				sample = append(sample, f)
			}
		}
		files = sample
	}

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	jobs := make(chan string)
	results := make(chan fileResult)
	var wg sync.WaitGroup
	for range max(1, runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rel := range jobs {
				results <- compareFile(ctx, tool, root, rel)
			}
		}()
	}
	go func() {
		for _, f := range files {
			jobs <- f
		}
		close(jobs)
		wg.Wait()
		close(results)
	}()

	var all []fileResult
	for r := range results {
		all = append(all, r)
	}
	slices.SortFunc(all, func(a, b fileResult) int { return strings.Compare(a.file, b.file) })

	var (
		records, compared, onlyOurs, lxRecords int
		perKind                                = map[string]int{}
		allowedPerKind                         = map[string]int{}
		used                                   = map[int]bool{}
		every                                  []mismatch
		failing                                []mismatch
	)
	for _, r := range all {
		if r.ourErr != nil {
			t.Errorf("%s: our parser could not open it: %v", r.file, r.ourErr)
		}
		if r.libevtxFailed != "" {
			if _, listed := libevtxStopsEarly[r.file]; !listed {
				t.Errorf("%s: evtxexport failed after %d records and the file is not in libevtxStopsEarly: %s", r.file, r.libevtxCount, r.libevtxFailed)
			}
		} else if reason, listed := libevtxStopsEarly[r.file]; listed {
			t.Logf("%s: listed in libevtxStopsEarly (%s) but evtxexport read it whole: remove the entry", r.file, reason)
		}
		for _, b := range r.badXML {
			t.Errorf("%s: cannot tokenize a record of evtxexport's output: %s", r.file, b)
		}
		records += r.oursCount
		lxRecords += r.libevtxCount
		compared += r.compared
		onlyOurs += r.onlyOurs
		if r.onlyOurs > 0 && r.libevtxFailed == "" {
			// libevtx read this file to the end and still rendered fewer
			// records: worth a look (records it rejects, e.g. a zeroed size
			// copy), though not a mismatch.
			t.Logf("%s: %d records only we read (libevtx read the file to the end with %d)", r.file, r.onlyOurs, r.libevtxCount)
		}
		for _, m := range r.mismatches {
			m.allowed = allowedBy(m, used)
			every = append(every, m)
			if m.allowed != "" {
				allowedPerKind[m.kind]++
				continue
			}
			perKind[m.kind]++
			failing = append(failing, m)
		}
	}
	for i, k := range libevtxWrong {
		if !used[i] && !testing.Short() {
			t.Logf("libevtxWrong entry matched nothing, remove it: %+v", k)
		}
	}
	if p := os.Getenv("EVTXSCAN_MISMATCH_REPORT"); p != "" {
		if err := writeMismatchReport(p, every, len(all)); err != nil {
			t.Errorf("writing the mismatch report: %v", err)
		}
	}

	t.Logf("compared %d files: libevtx rendered %d records, we read %d, %d records compared field by field; %d records only we read (libevtx stopped early or skipped them)",
		len(all), lxRecords, records, compared, onlyOurs)
	for _, k := range diffKinds {
		if perKind[k]+allowedPerKind[k] > 0 {
			t.Logf("  %-18s %6d mismatches (%d allowed: libevtx wrong)", k, perKind[k]+allowedPerKind[k], allowedPerKind[k])
		}
	}
	const show = 60
	for i, m := range failing {
		if i == show {
			t.Errorf("… and %d more mismatches (set EVTXSCAN_MISMATCH_REPORT=file.md to list them all)", len(failing)-show)
			break
		}
		t.Errorf("%s record %d: %s: ours %s, libevtx %s", m.file, m.recordID, m.kind, m.ours, m.libevtx)
	}
	if compared == 0 {
		t.Fatal("no record was compared")
	}
}

// writeMismatchReport writes every mismatch as a Markdown table, grouped by
// kind, at most 40 rows per kind and file.
func writeMismatchReport(path string, ms []mismatch, files int) error {
	var sb strings.Builder
	fmt.Fprintf(&sb, "# Parser vs libevtx mismatches\n\nGenerated by `EVTXSCAN_MISMATCH_REPORT=%s go test ./parser -run TestDiffLibevtx -count=1` on %s over %d corpus files (paths relative to ../shared/evtx-corpus).\n\n", path, time.Now().UTC().Format(time.RFC3339), files)
	if len(ms) == 0 {
		sb.WriteString("No mismatches.\n")
	}
	byKind := map[string][]mismatch{}
	for _, m := range ms {
		byKind[m.kind] = append(byKind[m.kind], m)
	}
	for _, k := range diffKinds {
		list := byKind[k]
		if len(list) == 0 {
			continue
		}
		fmt.Fprintf(&sb, "## %s (%d)\n\n| file | record id | ours | libevtx | allowed because |\n|---|---|---|---|---|\n", k, len(list))
		perFile := map[string]int{}
		for _, m := range list {
			perFile[m.file]++
			if perFile[m.file] > 40 {
				continue
			}
			fmt.Fprintf(&sb, "| %s | %d | %s | %s | %s |\n", mdCell(m.file), m.recordID, mdCell(m.ours), mdCell(m.libevtx), mdCell(m.allowed))
		}
		for f, n := range perFile {
			if n > 40 {
				fmt.Fprintf(&sb, "| %s | … | %d more rows | | |\n", mdCell(f), n-40)
			}
		}
		sb.WriteString("\n")
	}
	return os.WriteFile(path, []byte(sb.String()), 0o644)
}

func mdCell(s string) string {
	s = clip(s)
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "\n", `\n`)
	s = strings.ReplaceAll(s, "\r", `\r`)
	return s
}

// TestSameDataValue pins the libevtx quirk normalizations: each rule must
// accept exactly its own shape and nothing more.
func TestSameDataValue(t *testing.T) {
	for _, c := range []struct {
		libevtx, ours string
		same          bool
	}{
		{"abc", "abc", true},
		{"abc", "abd", false},
		{"0x00000000000003e7", "0x3e7", true}, // hex padding
		{"0x00000005", "0x5", true},
		{"0x00000005", "0x6", false},
		{"0x00000005", "5", false}, // padding only, not a base change
		{"0x0005", "0x5", false},   // libevtx pads to 8 or 16 digits only
		{"2022-02-05T22:17:34.500000000Z", "2022-02-05T22:17:34.5000000Z", true}, // time digits
		{"2017-04-22T10:41:21.000Z", "2017-04-22T10:41:21.0000000Z", true},
		{"2017-04-22T10:41:21.000Z", "2017-04-22T10:41:22.0000000Z", false},
		{"-2147483647", "-1", true}, // negative integers
		{"-469753", "-2147013895", true},
		{"-1", "-1", true},
		{"-2147483647", "-2", false},
		{"-469753", "-469752", false},
		{"6.680041e-001", "0.6680041", true}, // float format
		{"0.000000e+000", "0", true},
		{"6.680041e-001", "0.6690041", false},
		{"", "\n", true}, // trailing line breaks
		{"a", "a\r\n", true},
		{"a", "a ", false}, // spaces are kept by both
		{"", "x", false},
	} {
		if got := sameDataValue(c.libevtx, c.ours); got != c.same {
			t.Errorf("sameDataValue(libevtx %q, ours %q) = %v, want %v", c.libevtx, c.ours, got, c.same)
		}
	}
}

// TestParseLibevtxRecord checks the lenient reader on the shapes
// evtxexport really prints: an unescaped '<' in a value, entities, a
// value over several lines, self-closing elements, ComplexData, UserData.
func TestParseLibevtxRecord(t *testing.T) {
	const rec = `<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event">
  <System>
    <Provider Name="P &amp; Q" Guid="{AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE}"/>
    <EventID Qualifiers="16384">7036</EventID>
    <Level>4</Level>
    <Keywords>0x8080000000000000</Keywords>
    <TimeCreated SystemTime="2012-03-15T07:08:13.309125000Z"/>
    <EventRecordID>12179</EventRecordID>
    <Correlation/>
    <Execution ProcessID="548" ThreadID="4376"/>
    <Channel>System</Channel>
    <Computer>HOST</Computer>
    <Security UserID="S-1-5-18"/>
  </System>
  <EventData>
    <Data Name="Function">A::{ctor}::<lambda_1>::operator ()</Data>
    <Data>line one
line two</Data>
    <Data/>
    <ComplexData Name="IdleState">01</ComplexData>
    <Binary>0A0B</Binary>
  </EventData>
  <UserData>
    <AutoBackup xmlns="http://manifests.microsoft.com/win/2004/08/windows/eventlog">
      <Channel Kind="x">System</Channel>
    </AutoBackup>
  </UserData>
</Event>
`
	var got []lxEvent
	err := readLibevtxXML(strings.NewReader("evtxexport 20181227\n\n"+rec+"\n"+rec),
		func(ev lxEvent) { got = append(got, ev) },
		func(_ string, err error) { t.Errorf("record not tokenized: %v", err) })
	if err != nil || len(got) != 2 {
		t.Fatalf("read %d records, err %v; want 2", len(got), err)
	}
	ev := got[1]
	for _, c := range []struct{ name, got, want string }{
		{"provider", ev.provider, "P & Q"},
		{"event id", ev.eventID, "7036"},
		{"qualifiers", ev.qualifiers, "16384"},
		{"record id", ev.recordID, "12179"},
		{"time", ev.time, "2012-03-15T07:08:13.309125000Z"},
		{"channel", ev.channel, "System"},
		{"computer", ev.computer, "HOST"},
		{"level", ev.level, "4"},
		{"keywords", ev.keywords, "0x8080000000000000"},
		{"user", ev.userID, "S-1-5-18"},
		{"binary", ev.binary, "0A0B"},
		{"data", fmt.Sprint(ev.data), "[{Function A::{ctor}::<lambda_1>::operator ()} { line one\nline two} { } {IdleState 01}]"},
		{"user data", fmt.Sprint(ev.userData), "[{AutoBackup/Channel/@Kind x} {AutoBackup/Channel System}]"},
		{"system", fmt.Sprint(ev.system), "[{provider_guid {AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE}} {activity_id } {related_activity_id } {process_id 548} {thread_id 4376}]"},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	if _, err := parseLibevtxRecord([]byte("<Event>\n  <System>\n</Event>\n")); err == nil {
		t.Error("mismatched end tag accepted")
	}
}

// TestDiffLibevtxRecovered compares recovery on the damaged samples: every
// record libevtx recovers (evtxexport -m recovered) must come out of our
// parser with Options.Recover, with the same fields, unless we read that
// record id normally (libevtx re-recovers old copies of live records from
// slack, e.g. 96 in the Shell-Core sample; we never yield a record twice).
// The records only we recover are counted and logged: libevtx cannot vouch
// for them (they are rebuilt with a template found elsewhere in the file).
func TestDiffLibevtxRecovered(t *testing.T) {
	tool := testenv.Tool(t, "evtxexport", "libevtx-utils")
	dir := filepath.Join(testenv.Corpus(t), "omerbenamram+evtx", "samples")
	var lxTotal, compared, copies, differingCopies, onlyOurs int
	for _, rel := range corpusFiles(t, dir) {
		path := filepath.Join(dir, filepath.FromSlash(rel))
		lx, err := runLibevtx(context.Background(), tool, path, "-m", "recovered")
		if err != nil {
			t.Fatal(err)
		}
		f, err := Open(path, Options{Workers: 1, Recover: true})
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		normal := map[uint64]*Event{}
		recovered := map[uint64]*Event{}
		for ev, err := range f.Events(context.Background()) {
			if err != nil {
				continue
			}
			if ev.Source.Recovered {
				recovered[ev.System.EventRecordID] = ev
			} else {
				normal[ev.System.EventRecordID] = ev
			}
		}
		f.Close()
		seen := map[uint64]bool{}
		for i := range lx.events {
			l := &lx.events[i]
			lxTotal++
			id, err := strconv.ParseUint(l.recordID, 10, 64)
			if err != nil {
				t.Errorf("%s: libevtx recovered a record with id %q", rel, l.recordID)
				continue
			}
			seen[id] = true
			ours, ok := recovered[id]
			switch {
			case ok:
				compared++
				for _, m := range compareRecord(l, ours) {
					t.Errorf("%s recovered record %d: %s: ours %s, libevtx %s", rel, id, m.kind, m.ours, m.libevtx)
				}
			case normal[id] != nil:
				copies++
				if ms := compareRecord(l, normal[id]); len(ms) > 0 {
					// Same id, different content: an old record whose id was
					// reused (a cleared log?). We do not yield it: say so.
					differingCopies++
					t.Logf("%s: libevtx recovers a record %d that differs from the live one in %s (ours %s, libevtx %s)", rel, id, ms[0].kind, ms[0].ours, ms[0].libevtx)
				}
			default:
				t.Errorf("%s: libevtx recovers record %d (%s), we do not", rel, id, describeLx(l))
			}
		}
		n := 0
		for id := range recovered {
			if !seen[id] {
				n++
			}
		}
		if n > 0 {
			t.Logf("%s: %d records only we recover", rel, n)
		}
		onlyOurs += n
	}
	t.Logf("libevtx recovered %d records from %s: %d compared field by field with ours, %d are old copies of records we read normally (%d of them differ from the live record); %d records only we recover",
		lxTotal, dir, compared, copies, differingCopies, onlyOurs)
	if compared == 0 {
		t.Error("no recovered record was compared")
	}
}
