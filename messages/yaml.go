package messages

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The table format (messages/table/*.yml, `--messages FILE`, and what
// `evtxscan messages export` writes):
//
//	messages:
//	  - provider: MsiInstaller          # Provider/@Name
//	    event_id: 1034                  # or "11000-11999", or a list of both
//	    qualifiers: 0                   # optional: classic events with these qualifiers
//	    version: 0                      # optional: only this event version
//	    event_source: User32            # optional: only this EventSourceName
//	    source: msimsg.dll (en-US) …    # where the text comes from
//	    template: "Windows Installer removed the product. Product Name: %1. …"
//	parameters:                         # %%N strings inside insertion values
//	  - providers: [Microsoft-Windows-Security-Auditing]   # or "*": every provider without its own
//	    source: msobjs.dll …
//	    values:
//	      1842: "Yes"

// A TableError names the file and line of a problem in a message table.
type TableError struct {
	File string
	Line int
	Msg  string
}

func (e *TableError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// maxTableBytes bounds a table file; the largest real export is far smaller.
const maxTableBytes = 64 << 20

// Load reads a message table file in the format above. Errors name the file
// and line and say what to fix.
func Load(path string) (*Table, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("message table: %w", err)
	}
	if st.Size() > maxTableBytes {
		return nil, &TableError{File: path, Msg: fmt.Sprintf("file is %d bytes, more than the %d a message table may have", st.Size(), maxTableBytes)}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("message table: %w", err)
	}
	return parseTable(path, data)
}

func parseTable(file string, data []byte) (*Table, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(file, err)
	}
	t := newTable()
	if doc.Kind == 0 { // empty file
		return t, nil
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, &TableError{file, root.Line, "expected a mapping with the keys messages: and parameters:"}
	}
	var errs []error
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, val := root.Content[i], root.Content[i+1]
		switch key.Value {
		case "messages":
			if val.Kind != yaml.SequenceNode {
				errs = append(errs, &TableError{file, val.Line, "messages: must be a list of entries"})
				continue
			}
			for _, item := range val.Content {
				entries, err := parseEntry(file, item)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				for _, e := range entries {
					t.add(&compiledEntry{Entry: e, tmpl: compileTemplate(e.Template)})
				}
			}
		case "parameters":
			if val.Kind != yaml.SequenceNode {
				errs = append(errs, &TableError{file, val.Line, "parameters: must be a list"})
				continue
			}
			for _, item := range val.Content {
				if err := parseParameters(file, item, t); err != nil {
					errs = append(errs, err)
				}
			}
		default:
			errs = append(errs, &TableError{file, key.Line, fmt.Sprintf("unknown key %q (want messages or parameters)", key.Value)})
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return t, nil
}

// yamlError turns a yaml.v3 error ("yaml: line 3: …") into file:3: ….
func yamlError(file string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.IndexByte(rest, ':'); i > 0 {
			if n, convErr := strconv.Atoi(rest[:i]); convErr == nil {
				return &TableError{file, n, strings.TrimSpace(rest[i+1:])}
			}
		}
	}
	return &TableError{File: file, Msg: msg}
}

var entryKeys = []string{"provider", "event_source", "event_id", "version", "qualifiers", "template", "source"}

// parseEntry reads one messages: item; an event_id range yields one Entry
// per id, all sharing the text.
func parseEntry(file string, n *yaml.Node) ([]Entry, error) {
	if n.Kind != yaml.MappingNode {
		return nil, &TableError{file, n.Line, "a messages: entry must be a mapping (provider:, event_id:, template:, source:)"}
	}
	var e Entry
	var ids []uint16
	var haveTemplate bool
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "provider":
			e.Provider = strings.TrimSpace(v.Value)
		case "event_source":
			e.EventSource = strings.TrimSpace(v.Value)
		case "event_id":
			var err error
			if ids, err = parseIDs(file, v); err != nil {
				return nil, err
			}
		case "version":
			x, err := parseUint(file, v, 255, "version")
			if err != nil {
				return nil, err
			}
			ver := uint8(x)
			e.Version = &ver
		case "qualifiers":
			x, err := parseUint(file, v, 65535, "qualifiers")
			if err != nil {
				return nil, err
			}
			q := uint16(x)
			e.Qualifiers = &q
		case "template":
			if v.Kind != yaml.ScalarNode {
				return nil, &TableError{file, v.Line, "template: must be text"}
			}
			e.Template, haveTemplate = v.Value, true
		case "source":
			e.Source = v.Value
		default:
			return nil, &TableError{file, k.Line, fmt.Sprintf("unknown key %q in a messages: entry (known: %s)", k.Value, strings.Join(entryKeys, ", "))}
		}
	}
	switch {
	case e.Provider == "":
		return nil, &TableError{file, n.Line, "entry has no provider:"}
	case len(ids) == 0:
		return nil, &TableError{file, n.Line, "entry has no event_id:"}
	case !haveTemplate:
		return nil, &TableError{file, n.Line, "entry has no template:"}
	}
	out := make([]Entry, len(ids))
	for i, id := range ids {
		out[i] = e
		out[i].EventID = id
	}
	return out, nil
}

// parseIDs reads 1034, "11000-11999" or a list of those.
func parseIDs(file string, v *yaml.Node) ([]uint16, error) {
	if v.Kind == yaml.SequenceNode {
		var ids []uint16
		for _, item := range v.Content {
			part, err := parseIDs(file, item)
			if err != nil {
				return nil, err
			}
			ids = append(ids, part...)
		}
		return ids, nil
	}
	if v.Kind != yaml.ScalarNode {
		return nil, &TableError{file, v.Line, "event_id: must be a number, a range \"A-B\" or a list of them"}
	}
	lo, hi, isRange := strings.Cut(v.Value, "-")
	a, errA := strconv.ParseUint(strings.TrimSpace(lo), 10, 16)
	b := a
	var errB error
	if isRange {
		b, errB = strconv.ParseUint(strings.TrimSpace(hi), 10, 16)
	}
	if errA != nil || errB != nil || b < a {
		return nil, &TableError{file, v.Line, fmt.Sprintf("event_id %q is not an event id (0-65535) or a range \"A-B\" with A <= B", v.Value)}
	}
	ids := make([]uint16, 0, b-a+1)
	for x := a; x <= b; x++ {
		ids = append(ids, uint16(x))
	}
	return ids, nil
}

func parseUint(file string, v *yaml.Node, max uint64, what string) (uint64, error) {
	x, err := strconv.ParseUint(strings.TrimSpace(v.Value), 10, 64)
	if err != nil || x > max {
		return 0, &TableError{file, v.Line, fmt.Sprintf("%s: %q is not a number from 0 to %d", what, v.Value, max)}
	}
	return x, nil
}

// parseParameters reads one parameters: item into t.
func parseParameters(file string, n *yaml.Node, t *Table) error {
	if n.Kind != yaml.MappingNode {
		return &TableError{file, n.Line, "a parameters: item must be a mapping (providers:, source:, values:)"}
	}
	var providers []string
	var values map[uint32]string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "providers":
			if v.Kind == yaml.ScalarNode {
				providers = []string{v.Value}
			} else if err := v.Decode(&providers); err != nil {
				return &TableError{file, v.Line, "providers: must be a provider name, \"*\", or a list of names"}
			}
		case "source":
		case "values":
			if v.Kind != yaml.MappingNode {
				return &TableError{file, v.Line, "values: must map numbers to text (1842: \"Yes\")"}
			}
			values = make(map[uint32]string, len(v.Content)/2)
			for j := 0; j+1 < len(v.Content); j += 2 {
				num, err := strconv.ParseUint(strings.TrimPrefix(v.Content[j].Value, "%%"), 10, 32)
				if err != nil {
					return &TableError{file, v.Content[j].Line, fmt.Sprintf("parameter %q is not a number", v.Content[j].Value)}
				}
				values[uint32(num)] = v.Content[j+1].Value
			}
		default:
			return &TableError{file, k.Line, fmt.Sprintf("unknown key %q in a parameters: item (known: providers, source, values)", k.Value)}
		}
	}
	if len(providers) == 0 {
		return &TableError{file, n.Line, "parameters: item has no providers:"}
	}
	for _, p := range providers {
		var dst map[uint32]string
		if p == "*" {
			if t.defaultParams == nil {
				t.defaultParams = make(map[uint32]string)
			}
			dst = t.defaultParams
		} else {
			key := strings.ToLower(strings.TrimSpace(p))
			t.spelled[strings.TrimSpace(p)] = key
			if t.params[key] == nil {
				t.params[key] = make(map[uint32]string)
			}
			dst = t.params[key]
		}
		for num, s := range values {
			dst[num] = s
		}
	}
	return nil
}

// WriteYAML writes entries in the table format Load reads, sorted by
// provider, event id, version, qualifiers and event source so the output is
// stable. Templates are written with "\n" line breaks.
func WriteYAML(w io.Writer, entries []Entry) error {
	sorted := slices.Clone(entries)
	slices.SortStableFunc(sorted, func(a, b Entry) int {
		return cmp.Or(
			cmp.Compare(strings.ToLower(a.Provider), strings.ToLower(b.Provider)),
			cmp.Compare(a.EventID, b.EventID),
			comparePtr(a.Version, b.Version),
			comparePtr(a.Qualifiers, b.Qualifiers),
			cmp.Compare(a.EventSource, b.EventSource),
		)
	})
	list := &yaml.Node{Kind: yaml.SequenceNode}
	for _, e := range sorted {
		m := &yaml.Node{Kind: yaml.MappingNode}
		add := func(k string, v *yaml.Node) {
			m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, v)
		}
		str := func(s string) *yaml.Node {
			n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
			if strings.Contains(s, "\n") {
				n.Style = yaml.LiteralStyle
			}
			return n
		}
		num := func(x uint64) *yaml.Node {
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatUint(x, 10)}
		}
		add("provider", str(e.Provider))
		if e.EventSource != "" {
			add("event_source", str(e.EventSource))
		}
		add("event_id", num(uint64(e.EventID)))
		if e.Version != nil {
			add("version", num(uint64(*e.Version)))
		}
		if e.Qualifiers != nil {
			add("qualifiers", num(uint64(*e.Qualifiers)))
		}
		if e.Source != "" {
			add("source", str(e.Source))
		}
		add("template", str(strings.ReplaceAll(e.Template, "\r\n", "\n")))
		list.Content = append(list.Content, m)
	}
	doc := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
		{Kind: yaml.ScalarNode, Value: "messages"}, list,
	}}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("messages: writing YAML: %w", err)
	}
	return enc.Close()
}

func comparePtr[T cmp.Ordered](a, b *T) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return cmp.Compare(*a, *b)
}
