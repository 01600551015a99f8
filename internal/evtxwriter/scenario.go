package evtxwriter

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// A Scenario is one story in testdata/scenarios: ordered events, what an
// analyzer must and must not find in them, and where the files go.
//
// The YAML format is described in testdata/scenarios/README.md.
type Scenario struct {
	Name        string
	Description string
	Comment     string // the leading comment block (the human form of Expect)
	Computer    string // default Computer of the events
	Expect      Expect
	// Output overrides the layout: Dir replaces Name as the folder under
	// testdata/evtx, File (all events in one channel) names the one file.
	Output Output
	// Events in order, with their System fields complete (Computer filled
	// from the default, record ids assigned per channel file).
	Events []Event
	// Options for Write (FirstRecordID, MaxRecordsPerChunk, Slack).
	FirstRecordID   uint64
	RecordsPerChunk int
	Slack           []Event
	// CorruptRecord, when non-zero, is the record id whose BinXML gets an
	// invalid token after the chunk checksums were written, so its chunk's
	// records CRC no longer matches.
	CorruptRecord uint64
}

// Expect is the machine-readable form of a scenario's comment block: the rule
// ids (uninstall-events.md §7) a correct analyzer must report, and must not,
// and every incident it must report at medium or above.
type Expect struct {
	// MustFind: some finding has this rule id, or lists it among the
	// signals folded into it.
	MustFind []string `yaml:"must_find"`
	// MustNotFind: no finding has this rule id, nor lists it as a signal.
	MustNotFind []string `yaml:"must_not_find"`
	// Incidents is the complete list of incidents at medium or above:
	// each must come out as exactly one finding, and nothing else at
	// medium or above may be reported. Empty means "nothing at medium+".
	Incidents []ExpectIncident `yaml:"incidents"`
}

// ExpectIncident is one incident a scenario (or a corpus collection, see
// testdata/truth/corpus.yaml) must produce as exactly one finding.
type ExpectIncident struct {
	Kind    string `yaml:"kind"`    // one of IncidentKinds
	Product string `yaml:"product"` // product, package or service as the logs name it (substring, case-insensitive)
	Outcome string `yaml:"outcome"` // one of IncidentOutcomes
	Reason  string `yaml:"reason"`  // unterminated only: one of UnterminatedReasons (optional)
	Cause   string `yaml:"cause"`   // root cause code as the logs give it: MSI error, status or HRESULT (optional)
	Level   string `yaml:"level"`   // medium, high or critical
	Rule    string `yaml:"rule"`    // the finding's rule_id (optional)
	Events  int    `yaml:"events"`  // minimum number of evidence events the finding lists (optional)
}

// The values an ExpectIncident may take; ParseScenario rejects others so a
// typo in a scenario cannot silently expect nothing.
var (
	IncidentKinds = []string{"install", "removal", "upgrade", "repair", "patch", "appx_removal", "appx_deployment",
		"update_removal", "agent_removal", "service_failure", "uninstaller_crash"}
	IncidentOutcomes    = []string{"succeeded", "failed", "rolled back", "rollback failed", "unterminated", "superseded by upgrade", "crashed", "removed"}
	UnterminatedReasons = []string{"power loss", "crash", "restart", "log ends", "unknown"}
	IncidentLevels      = []string{"medium", "high", "critical"}
)

// Check reports the first field of e that is missing or not one of the
// allowed values.
func (e ExpectIncident) Check() error {
	oneOf := func(name, v string, allowed []string, optional bool) error {
		if v == "" && optional {
			return nil
		}
		for _, a := range allowed {
			if v == a {
				return nil
			}
		}
		return fmt.Errorf("%s %q is not one of %s", name, v, strings.Join(allowed, ", "))
	}
	if e.Product == "" {
		return errors.New("incident has no product")
	}
	for _, err := range []error{
		oneOf("kind", e.Kind, IncidentKinds, false),
		oneOf("outcome", e.Outcome, IncidentOutcomes, false),
		oneOf("reason", e.Reason, UnterminatedReasons, true),
		oneOf("level", e.Level, IncidentLevels, false),
	} {
		if err != nil {
			return fmt.Errorf("incident %s %q: %w", e.Kind, e.Product, err)
		}
	}
	if e.Reason != "" && e.Outcome != "unterminated" {
		return fmt.Errorf("incident %s %q: reason %q needs outcome unterminated", e.Kind, e.Product, e.Reason)
	}
	return nil
}

// Output is where a scenario's files go under testdata/evtx.
type Output struct {
	Dir  string `yaml:"dir"`
	File string `yaml:"file"`
}

// A File is one generated .evtx file: its path relative to testdata/evtx, the
// events it holds (with the record ids they were written with) and its bytes.
type File struct {
	Path    string
	Channel string
	Events  []Event
	Bytes   []byte
}

// ChannelFileName returns the file name Windows gives a channel's log:
// "Microsoft-Windows-AppXDeploymentServer/Operational" becomes
// "Microsoft-Windows-AppXDeploymentServer%4Operational.evtx".
func ChannelFileName(channel string) string {
	return strings.ReplaceAll(channel, "/", "%4") + ".evtx"
}

// Files writes the scenario: one file per channel (or the one Output.File),
// records numbered from 1 in each, in event order.
func (s *Scenario) Files() ([]File, error) {
	dir := s.Name
	if s.Output.Dir != "" {
		dir = s.Output.Dir
	}
	var order []string
	byChannel := map[string][]Event{}
	for _, ev := range s.Events {
		ch := ev.System.Channel
		if _, ok := byChannel[ch]; !ok {
			order = append(order, ch)
		}
		byChannel[ch] = append(byChannel[ch], ev)
	}
	if (len(s.Slack) > 0 || s.CorruptRecord != 0) && len(order) > 1 {
		return nil, fmt.Errorf("scenario %s: slack and corrupt_record need all events in one channel, got %s", s.Name, strings.Join(order, ", "))
	}
	if s.Output.File != "" && len(order) > 1 {
		return nil, fmt.Errorf("scenario %s: output.file %s needs all events in one channel, got %s", s.Name, s.Output.File, strings.Join(order, ", "))
	}
	sort.Strings(order)
	var files []File
	for _, ch := range order {
		evs := byChannel[ch]
		first := max(s.FirstRecordID, 1)
		for i := range evs {
			evs[i].System.EventRecordID = first + uint64(i)
		}
		opts := Options{FirstRecordID: first, MaxRecordsPerChunk: s.RecordsPerChunk, Slack: s.Slack}
		b, err := Write(evs, opts)
		if err != nil {
			return nil, fmt.Errorf("scenario %s, channel %s: %w", s.Name, ch, err)
		}
		if s.CorruptRecord != 0 {
			if err := CorruptRecord(b, s.CorruptRecord); err != nil {
				return nil, fmt.Errorf("scenario %s: %w", s.Name, err)
			}
		}
		name := ChannelFileName(ch)
		if s.Output.File != "" {
			name = s.Output.File
		}
		files = append(files, File{Path: filepath.ToSlash(filepath.Join(dir, name)), Channel: ch, Events: evs, Bytes: b})
	}
	return files, nil
}

// CorruptRecord overwrites the template-instance token of record id in an
// .evtx image with 0xFF (not a BinXML token) and leaves the chunk's CRCs as
// they were, so the records CRC of that chunk mismatches.
func CorruptRecord(file []byte, id uint64) error {
	for off := fileHeaderSize; off+chunkSize <= len(file); off += chunkSize {
		c := file[off : off+chunkSize]
		free := min(int(le32(c[48:])), chunkSize)
		for r := chunkHeaderSize; r+recordHeader <= free; {
			size := int(le32(c[r+4:]))
			if size < recordHeader+recordTrailer || r+size > free {
				break
			}
			if le64(c[r+8:]) == id {
				c[r+recordHeader+4] = 0xff // after the fragment header
				return nil
			}
			r += size
		}
	}
	return fmt.Errorf("corrupt_record: no record %d in the file", id)
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
func le64(b []byte) uint64 { return uint64(le32(b)) | uint64(le32(b[4:]))<<32 }

// LoadScenario reads and checks one scenario file.
func LoadScenario(path string) (*Scenario, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := ParseScenario(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// LoadScenarios reads every *.yaml in dir, sorted by file name.
func LoadScenarios(dir string) ([]*Scenario, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var out []*Scenario
	for _, p := range paths {
		s, err := LoadScenario(p)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

type scenarioYAML struct {
	Name            string    `yaml:"name"`
	Description     string    `yaml:"description"`
	Computer        string    `yaml:"computer"`
	Expect          Expect    `yaml:"expect"`
	Output          Output    `yaml:"output"`
	RecordsPerChunk int       `yaml:"records_per_chunk"`
	FirstRecordID   uint64    `yaml:"first_record_id"`
	CorruptRecord   uint64    `yaml:"corrupt_record"`
	Defs            yaml.Node `yaml:"defs"` // anchors for <<: merges, ignored
	Events          []yaml.Node
	Slack           []yaml.Node `yaml:"slack"`
}

type eventYAML struct {
	Time        string    `yaml:"time"`
	Channel     string    `yaml:"channel"`
	Provider    yaml.Node `yaml:"provider"`
	EventID     uint16    `yaml:"event_id"`
	Qualifiers  *uint16   `yaml:"qualifiers"`
	Version     uint8     `yaml:"version"`
	Level       uint8     `yaml:"level"`
	Task        uint16    `yaml:"task"`
	Opcode      uint8     `yaml:"opcode"`
	Keywords    string    `yaml:"keywords"`
	Computer    string    `yaml:"computer"`
	UserSID     string    `yaml:"user_sid"`
	ProcessID   uint32    `yaml:"process_id"`
	ThreadID    uint32    `yaml:"thread_id"`
	ActivityID  string    `yaml:"activity_id"`
	RecordID    uint64    `yaml:"record_id"`
	Data        yaml.Node `yaml:"data"`
	Binary      string    `yaml:"binary"`
	BinaryASCII string    `yaml:"binary_ascii"`
	BinaryUTF16 string    `yaml:"binary_utf16"`
	UserData    yaml.Node `yaml:"user_data"`
	Note        string    `yaml:"note"`

	Repeat int                 `yaml:"repeat"`
	Step   string              `yaml:"step"`
	Vary   []map[string]string `yaml:"vary"`
	Seed   string              `yaml:"seed"`
}

// ParseScenario parses a scenario from YAML (see testdata/scenarios/README.md).
func ParseScenario(raw []byte) (*Scenario, error) {
	var y scenarioYAML
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&y); err != nil {
		return nil, err
	}
	if y.Name == "" {
		return nil, errors.New("scenario has no name")
	}
	s := &Scenario{Name: y.Name, Description: y.Description, Comment: leadingComment(raw), Computer: y.Computer, Expect: y.Expect,
		Output: y.Output, FirstRecordID: y.FirstRecordID, RecordsPerChunk: y.RecordsPerChunk, CorruptRecord: y.CorruptRecord}
	for i, inc := range y.Expect.Incidents {
		if err := inc.Check(); err != nil {
			return nil, fmt.Errorf("expect.incidents[%d]: %w", i, err)
		}
	}
	var err error
	if s.Events, err = s.parseEvents(y.Events, false); err != nil {
		return nil, err
	}
	if s.Slack, err = s.parseEvents(y.Slack, true); err != nil {
		return nil, err
	}
	if len(s.Events) == 0 {
		return nil, errors.New("scenario has no events")
	}
	return s, nil
}

func (s *Scenario) parseEvents(nodes []yaml.Node, slack bool) ([]Event, error) {
	var out []Event
	var prev time.Time
	for i := range nodes {
		n := substitute(&nodes[i], nil) // aliases resolved: nodes are re-encoded below
		var head eventYAML
		if err := decodeStrict(n, &head); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		count := max(head.Repeat, 1)
		var step time.Duration
		if head.Step != "" {
			d, err := time.ParseDuration(head.Step)
			if err != nil {
				return nil, fmt.Errorf("line %d: step: %w", n.Line, err)
			}
			step = d
		}
		for k := 1; k <= count; k++ {
			node := n
			if head.Repeat > 0 {
				idx := k
				if len(head.Vary) > 0 {
					idx = (k-1)%len(head.Vary) + 1
				}
				seed := head.Seed
				if seed == "" {
					seed = fmt.Sprintf("%s/%d", s.Name, n.Line)
				}
				g := nameGUID(fmt.Sprintf("%s/%d", seed, idx))
				vars := map[string]string{"i": strconv.Itoa(k), "guid": g,
					"hex32": strings.ToLower(strings.NewReplacer("{", "", "}", "", "-", "").Replace(nameGUID(g)))}
				if len(head.Vary) > 0 {
					for key, v := range head.Vary[(k-1)%len(head.Vary)] {
						vars[key] = v
					}
				}
				node = substitute(n, vars)
			}
			var y eventYAML
			if err := decodeStrict(node, &y); err != nil {
				return nil, fmt.Errorf("line %d: %w", n.Line, err)
			}
			ev, t, err := s.event(&y, prev)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", n.Line, err)
			}
			if k > 1 {
				t = prev.Add(step)
				ev.System.TimeCreated = t
			}
			prev = t
			if slack {
				if y.RecordID == 0 {
					return nil, fmt.Errorf("line %d: slack events need a record_id", n.Line)
				}
				ev.System.EventRecordID = y.RecordID
			} else if y.RecordID != 0 {
				return nil, fmt.Errorf("line %d: record_id is only for slack events (ids are assigned per file)", n.Line)
			}
			out = append(out, ev)
		}
	}
	return out, nil
}

func decodeStrict(n *yaml.Node, v any) error {
	// yaml.Node.Decode has no KnownFields; re-encode and decode strictly.
	// n must hold no aliases (see substitute).
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	return dec.Decode(v)
}

// nameGUID derives a deterministic upper-case GUID from seed.
func nameGUID(seed string) string {
	h := sha1.Sum([]byte(seed))
	x := strings.ToUpper(hex.EncodeToString(h[:16]))
	return "{" + x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32] + "}"
}

// substitute returns a deep copy of n (aliases resolved) with {key} replaced
// by vars[key] in every scalar.
func substitute(n *yaml.Node, vars map[string]string) *yaml.Node {
	if n.Kind == yaml.AliasNode {
		return substitute(n.Alias, vars)
	}
	c := *n
	c.Anchor = ""
	if c.Kind == yaml.ScalarNode {
		for k, v := range vars {
			c.Value = strings.ReplaceAll(c.Value, "{"+k+"}", v)
		}
	}
	c.Content = nil
	for _, ch := range n.Content {
		c.Content = append(c.Content, substitute(ch, vars))
	}
	return &c
}

func (s *Scenario) event(y *eventYAML, prev time.Time) (Event, time.Time, error) {
	var ev Event
	sys := &ev.System
	var t time.Time
	switch {
	case strings.HasPrefix(y.Time, "+"):
		if prev.IsZero() {
			return ev, t, errors.New("relative time on the first event")
		}
		d, err := time.ParseDuration(y.Time[1:])
		if err != nil {
			return ev, t, fmt.Errorf("time: %w", err)
		}
		t = prev.Add(d)
	case y.Time == "":
		return ev, t, errors.New("event has no time")
	default:
		var err error
		if t, err = parseTime(y.Time); err != nil {
			return ev, t, fmt.Errorf("time: %w", err)
		}
	}
	sys.TimeCreated = t.UTC()
	if y.Channel == "" {
		return ev, t, errors.New("event has no channel")
	}
	sys.Channel = y.Channel
	switch y.Provider.Kind {
	case yaml.ScalarNode:
		sys.Provider = y.Provider.Value
	case yaml.MappingNode:
		var p struct {
			Name        string `yaml:"name"`
			GUID        string `yaml:"guid"`
			EventSource string `yaml:"event_source"`
		}
		if err := decodeStrict(&y.Provider, &p); err != nil {
			return ev, t, fmt.Errorf("provider: %w", err)
		}
		sys.Provider, sys.ProviderGUID, sys.EventSourceName = p.Name, strings.ToUpper(p.GUID), p.EventSource
	}
	if sys.Provider == "" {
		return ev, t, errors.New("event has no provider")
	}
	if y.EventID == 0 {
		return ev, t, errors.New("event has no event_id")
	}
	sys.EventID = y.EventID
	if y.Qualifiers != nil {
		sys.Qualifiers, sys.HasQualifiers = *y.Qualifiers, true
	}
	sys.Version, sys.Level, sys.Task, sys.Opcode = y.Version, y.Level, y.Task, y.Opcode
	if y.Keywords != "" {
		k, err := strconv.ParseUint(strings.TrimPrefix(y.Keywords, "0x"), 16, 64)
		if err != nil || !strings.HasPrefix(y.Keywords, "0x") {
			return ev, t, fmt.Errorf("keywords %q: want 0x… hex", y.Keywords)
		}
		sys.Keywords = k
	}
	sys.Computer = s.Computer
	if y.Computer != "" {
		sys.Computer = y.Computer
	}
	sys.UserID, sys.ProcessID, sys.ThreadID = y.UserSID, y.ProcessID, y.ThreadID
	if y.ActivityID != "" {
		sys.ActivityID = strings.ToUpper(y.ActivityID)
	}
	if y.UserSID != "" {
		if _, err := encodeSID(y.UserSID); err != nil {
			return ev, t, fmt.Errorf("user_sid %q: %w", y.UserSID, err)
		}
	}

	switch y.Data.Kind {
	case 0:
	case yaml.SequenceNode:
		ev.Classic = true
		for _, item := range y.Data.Content {
			v, err := scalarValue(item)
			if err != nil {
				return ev, t, fmt.Errorf("data line %d: %w", item.Line, err)
			}
			if v.typ() != String {
				return ev, t, fmt.Errorf("data line %d: classic (list) data holds strings only", item.Line)
			}
			ev.Data = append(ev.Data, v)
		}
	case yaml.MappingNode:
		for _, kv := range mappingPairs(&y.Data) {
			v, err := scalarValue(kv[1])
			if err != nil {
				return ev, t, fmt.Errorf("data %s: %w", kv[0].Value, err)
			}
			v.Name = kv[0].Value
			ev.Data = append(ev.Data, v)
		}
	default:
		return ev, t, fmt.Errorf("data line %d: want a list (classic) or a map (named)", y.Data.Line)
	}

	nBin := 0
	for _, b := range []string{y.Binary, y.BinaryASCII, y.BinaryUTF16} {
		if b != "" {
			nBin++
		}
	}
	if nBin > 1 {
		return ev, t, errors.New("give only one of binary, binary_ascii, binary_utf16")
	}
	switch {
	case y.Binary != "":
		b, err := hex.DecodeString(strings.ReplaceAll(y.Binary, " ", ""))
		if err != nil {
			return ev, t, fmt.Errorf("binary: %w", err)
		}
		ev.Binary = b
	case y.BinaryASCII != "":
		ev.Binary = []byte(y.BinaryASCII)
	case y.BinaryUTF16 != "":
		ev.Binary = utf16le(y.BinaryUTF16)
	}
	if ev.Binary != nil && y.Data.Kind != yaml.MappingNode {
		ev.Classic = true
	}

	if y.UserData.Kind != 0 {
		if ev.Classic || len(ev.Data) > 0 {
			return ev, t, errors.New("an event has either data or user_data")
		}
		if y.UserData.Kind != yaml.MappingNode || len(y.UserData.Content) != 2 {
			return ev, t, errors.New("user_data: want a map with one key, the root element")
		}
		root, err := userDataNode(y.UserData.Content[0].Value, y.UserData.Content[1])
		if err != nil {
			return ev, t, fmt.Errorf("user_data: %w", err)
		}
		ev.UserData = root
	}
	return ev, t, nil
}

// scalarValue reads a data value; a tag (!sid, !hex64, !fill, …) sets its
// type. !fill "TEXT*N" repeats TEXT N times (for size tests).
func scalarValue(n *yaml.Node) (Value, error) {
	if n.Kind != yaml.ScalarNode {
		return Value{}, fmt.Errorf("line %d: want a scalar value", n.Line)
	}
	v := Value{Type: String, Text: n.Value}
	tag := n.Tag
	if n.Style&yaml.TaggedStyle == 0 || !strings.HasPrefix(tag, "!") || strings.HasPrefix(tag, "!!") {
		return v, nil
	}
	name := tag[1:]
	if name == "fill" {
		text, count, ok := strings.Cut(n.Value, "*")
		k, err := strconv.Atoi(strings.TrimSpace(count))
		if !ok || err != nil || k < 0 {
			return v, fmt.Errorf("line %d: !fill wants \"TEXT*COUNT\"", n.Line)
		}
		v.Text = strings.Repeat(text, k)
		return v, nil
	}
	t, ok := valueTypeNames[name]
	if !ok {
		return v, fmt.Errorf("line %d: unknown value tag %s", n.Line, tag)
	}
	v.Type = t
	if _, err := encodeValue(t, v.Text); err != nil {
		return v, fmt.Errorf("line %d: %s value %q: %w", n.Line, name, v.Text, err)
	}
	return v, nil
}

// userDataNode builds an Element: a scalar is the element's value; a map's
// "@name" keys are literal attributes and other keys child elements.
func userDataNode(name string, n *yaml.Node) (*Element, error) {
	e := &Element{Name: name}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return e, nil
		}
		v, err := scalarValue(n)
		if err != nil {
			return nil, err
		}
		e.Value = &v
	case yaml.MappingNode:
		for _, kv := range mappingPairs(n) {
			k, val := kv[0].Value, kv[1]
			if a, ok := strings.CutPrefix(k, "@"); ok {
				e.Attrs = append(e.Attrs, Value{Name: a, Text: val.Value})
				continue
			}
			c, err := userDataNode(k, val)
			if err != nil {
				return nil, err
			}
			e.Children = append(e.Children, c)
		}
	default:
		return nil, fmt.Errorf("line %d: element %s: want a value or a map", n.Line, name)
	}
	return e, nil
}

// mappingPairs returns the key/value pairs of a mapping in order, with YAML
// merge keys (<<: *base) expanded: the base's keys first, in its order, with
// values overridden by later keys of the same name.
func mappingPairs(n *yaml.Node) [][2]*yaml.Node {
	var out [][2]*yaml.Node
	index := map[string]int{}
	add := func(k, v *yaml.Node) {
		if i, ok := index[k.Value]; ok {
			out[i][1] = v
			return
		}
		index[k.Value] = len(out)
		out = append(out, [2]*yaml.Node{k, v})
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value == "<<" && k.Tag == "!!merge" {
			for v.Kind == yaml.AliasNode {
				v = v.Alias
			}
			bases := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				bases = v.Content
			}
			for _, b := range bases {
				for b.Kind == yaml.AliasNode {
					b = b.Alias
				}
				if b.Kind == yaml.MappingNode {
					for _, kv := range mappingPairs(b) {
						add(kv[0], kv[1])
					}
				}
			}
			continue
		}
		add(k, v)
	}
	return out
}

// leadingComment returns the comment lines at the top of a YAML file.
func leadingComment(raw []byte) string {
	var sb strings.Builder
	for line := range strings.Lines(string(raw)) {
		if !strings.HasPrefix(line, "#") {
			break
		}
		sb.WriteString(line)
	}
	return sb.String()
}
