package rules

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// A Severity says how bad a Problem is, and so what a scan does about it.
type Severity uint8

const (
	// SeverityError: the file or rule is broken (bad YAML, an invalid
	// rule, a typo in a modifier or log source). A scan refuses to start.
	SeverityError Severity = iota
	// SeverityUnsupported: valid Sigma that evtxscan cannot run (another
	// product than Windows, an unmapped log source, the expand or time
	// modifiers, a regular expression RE2 cannot compile, filter
	// documents, the obsolete aggregation syntax). The rule is skipped, a
	// scan says how many, and rules lint lists them.
	SeverityUnsupported
	// SeverityWarning: the rule loads but is likely wrong (an unknown
	// field name, a condition that can never be true). Only Lint reports
	// warnings.
	SeverityWarning
)

// String returns "error", "unsupported" or "warning".
func (s Severity) String() string {
	switch s {
	case SeverityUnsupported:
		return "unsupported"
	case SeverityWarning:
		return "warning"
	}
	return "error"
}

// A Problem is one thing wrong in a rule or field map file, with its
// position. Problems come back from Lint and inside a LoadError.
type Problem struct {
	File      string
	Line, Col int
	Severity  Severity
	// Kind groups problems for counting: "unknown-field", "never-matches",
	// "unsupported-logsource", … (empty for most errors).
	Kind string
	Rule string // rule id (or title, or "fieldmap <name>"); empty when the file itself is wrong
	Msg  string // what is wrong (what to do)
}

// Error returns "file:line:col: severity: rule <id>: msg".
func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", p.Line, p.Col)
	}
	b.WriteString(": ")
	b.WriteString(p.Severity.String())
	b.WriteString(": ")
	if p.Rule != "" {
		if strings.HasPrefix(p.Rule, "fieldmap ") {
			b.WriteString(p.Rule)
		} else {
			b.WriteString("rule " + p.Rule)
		}
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// A LoadError is a rule (or field map, or whole file) that was refused.
// Ruleset.Skipped lists them so a count of loaded rules is honest; a scan
// refuses to start when one is broken (see Unsupported). Problems holds every problem found, not just the first.
type LoadError struct {
	File      string
	Line, Col int    // where the document starts
	Rule      string // id, or title when there is no id
	Problems  []Problem
}

// Error returns the first problem, with a count of the others.
func (e *LoadError) Error() string {
	if len(e.Problems) == 0 {
		return Problem{File: e.File, Line: e.Line, Col: e.Col, Rule: e.Rule, Msg: "refused"}.Error()
	}
	s := e.Problems[0].Error()
	if n := len(e.Problems) - 1; n > 0 {
		s += fmt.Sprintf(" (and %d more problem(s))", n)
	}
	return s
}

// Unsupported reports whether every problem of the refusal is
// SeverityUnsupported: the rule is valid Sigma evtxscan cannot run, not a
// broken one.
func (e *LoadError) Unsupported() bool {
	for _, p := range e.Problems {
		if p.Severity != SeverityUnsupported {
			return false
		}
	}
	return len(e.Problems) > 0
}

// Reason returns the message of the first problem: the grouping key when
// counting why rules were refused.
func (e *LoadError) Reason() string {
	if len(e.Problems) == 0 {
		return "refused"
	}
	return e.Problems[0].Msg
}

// RuleInfo describes one loaded rule for listings (evtxscan rules list).
type RuleInfo struct {
	ID          string
	Title       string
	Level       Level
	Kind        string // "detection" or "correlation"
	Description string
	Source      string // file the rule came from ("builtin:<name>" for the pack)
	Hidden      bool   // a base rule of a correlation: no finding of its own
	Tags        []string
}

// A Ruleset holds loaded rules and field maps. Add rules with AddBuiltin,
// AddPath and AddBytes, then build an Engine with NewEngine. A Ruleset is not
// safe for concurrent mutation; engines built from it are independent.
type Ruleset struct {
	rules     []*rule
	fieldMaps []*fieldMap
	skipped   []*LoadError
	linked    bool
	linkErrs  []*LoadError // refusals found while linking (references)
	live      []*rule      // rules that survived linking
	byRef     map[string]*rule
	mi        *mapIndex // live field maps

	mu        sync.Mutex // guards linking, so lookups may run concurrently
	resolvers sync.Pool  // of *Resolver, for Resolve
}

// NewRuleset returns an empty Ruleset.
func NewRuleset() *Ruleset { return &Ruleset{} }

// AddBytes loads the YAML documents of one file (rules and field maps). name
// is the file name used in positions. Problems inside rules do not fail the
// call: those rules are refused and listed by Skipped.
func (rs *Ruleset) AddBytes(name string, data []byte) error {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.linked = false
	loaded := loadFile(name, data)
	rs.rules = append(rs.rules, loaded.rules...)
	rs.fieldMaps = append(rs.fieldMaps, loaded.maps...)
	rs.skipped = append(rs.skipped, loaded.refused...)
	return nil
}

// AddPath loads a .yml/.yaml file, or every such file under a directory
// (recursively, in lexical order). It fails only when the path cannot be
// read; bad rules are refused and listed by Skipped.
func (rs *Ruleset) AddPath(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("rules: %w (check the --rules path)", err)
	}
	if !st.IsDir() {
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("rules: %w", err)
		}
		return rs.AddBytes(path, data)
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && isYAMLName(p) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rules: reading %s: %w", path, err)
	}
	sort.Strings(files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("rules: %w", err)
		}
		if err := rs.AddBytes(f, data); err != nil {
			return err
		}
	}
	return nil
}

// addFS loads every .yml/.yaml file of fsys (recursively), naming them
// prefix+path.
func (rs *Ruleset) addFS(fsys fs.FS, prefix string) error {
	var files []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && isYAMLName(p) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rules: %w", err)
	}
	sort.Strings(files)
	for _, f := range files {
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			return fmt.Errorf("rules: %w", err)
		}
		if err := rs.AddBytes(prefix+f, data); err != nil {
			return err
		}
	}
	return nil
}

func isYAMLName(p string) bool {
	ext := strings.ToLower(filepath.Ext(p))
	return ext == ".yml" || ext == ".yaml"
}

// Rules lists the loaded rules (after linking: refused ones are left out),
// in load order.
func (rs *Ruleset) Rules() []RuleInfo {
	rs.link()
	out := make([]RuleInfo, 0, len(rs.live))
	for _, r := range rs.live {
		out = append(out, r.info)
	}
	return out
}

// Skipped lists the rules, field maps and files that were refused, each
// with every problem found.
func (rs *Ruleset) Skipped() []*LoadError {
	rs.link()
	out := make([]*LoadError, 0, len(rs.skipped)+len(rs.linkErrs))
	out = append(out, rs.skipped...)
	return append(out, rs.linkErrs...)
}

// ---- the rule model ----

type ruleKind int

const (
	kindDetection ruleKind = iota
	kindCorrelation
)

// A rule is one loaded Sigma rule (detection or correlation) with our
// extensions, before linking.
type rule struct {
	info     RuleInfo
	kind     ruleKind
	name     string // Sigma `name` (for correlation references)
	file     string
	line     int
	col      int
	levelSet bool
	fields   []string // display fields

	// detection
	sources []source // where the rule applies (from logsource)
	det     *detection

	// correlation
	corr *correlation

	// extensions
	suppress *suppression
	levelBy  *levelBy
}

type suppression struct {
	ruleRef string
	fields  []string
	within  time.Duration
	line    int
	col     int
}

type levelBy struct {
	field  string
	levels map[string]Level
}

// ---- YAML loading ----

type loadResult struct {
	rules   []*rule
	maps    []*fieldMap
	refused []*LoadError
}

// docErrors collects the problems of one document.
type docErrors struct {
	file  string
	rule  string
	probs []Problem
}

// mapOfMaps reads a mapping of names to string mappings (correlation
// aliases, field-map label tables). A node of the wrong kind is reported
// with outerMsg, or innerMsg (formatted with the entry's name), and left out.
func (d *docErrors) mapOfMaps(n *yaml.Node, outerMsg, innerMsg string) map[string]map[string]string {
	out := map[string]map[string]string{}
	if n.Kind != yaml.MappingNode {
		d.at(n, "%s", outerMsg)
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		m := n.Content[i+1]
		if m.Kind != yaml.MappingNode {
			d.at(m, innerMsg, n.Content[i].Value)
			continue
		}
		inner := map[string]string{}
		for j := 0; j+1 < len(m.Content); j += 2 {
			inner[m.Content[j].Value] = m.Content[j+1].Value
		}
		out[n.Content[i].Value] = inner
	}
	return out
}

// at records a broken-rule problem at n.
func (d *docErrors) at(n *yaml.Node, format string, args ...any) {
	d.add(n, SeverityError, "", format, args...)
}

// unsupported records valid Sigma evtxscan cannot run, of the given kind.
func (d *docErrors) unsupported(n *yaml.Node, kind, format string, args ...any) {
	d.add(n, SeverityUnsupported, kind, format, args...)
}

func (d *docErrors) add(n *yaml.Node, sev Severity, kind, format string, args ...any) {
	p := Problem{File: d.file, Rule: d.rule, Severity: sev, Kind: kind, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		p.Line, p.Col = n.Line, n.Column
	}
	d.probs = append(d.probs, p)
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

func loadFile(name string, data []byte) loadResult {
	var res loadResult
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if err == io.EOF {
			break
		}
		if err != nil {
			p := Problem{File: name, Msg: "YAML syntax: " + strings.TrimPrefix(err.Error(), "yaml: ") + " (fix the YAML; the rest of the file is skipped)"}
			if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
				p.Line, _ = strconv.Atoi(m[1])
				p.Col = 1
			}
			res.refused = append(res.refused, &LoadError{File: name, Line: p.Line, Col: p.Col, Problems: []Problem{p}})
			break
		}
		if len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			continue
		}
		loadDocument(name, root, &res)
	}
	return res
}

func loadDocument(file string, root *yaml.Node, res *loadResult) {
	de := &docErrors{file: file}
	if root.Kind != yaml.MappingNode {
		de.at(root, "a rule document must be a mapping of keys (title, logsource, detection, …)")
		res.refused = append(res.refused, &LoadError{File: file, Line: root.Line, Col: root.Column, Problems: de.probs})
		return
	}
	keys := mapKeys(root)
	switch {
	case keys["fieldmap"] != nil:
		fm := parseFieldMap(de, root, keys)
		if len(de.probs) > 0 {
			res.refused = append(res.refused, &LoadError{File: file, Line: root.Line, Col: root.Column, Rule: de.rule, Problems: de.probs})
			return
		}
		res.maps = append(res.maps, fm)
	case keys["filter"] != nil && keys["detection"] == nil:
		de.rule = scalarOr(keys["id"], scalarOr(keys["title"], ""))
		de.unsupported(keys["filter"], "unsupported-filter", "Sigma filter documents are not supported: write the exclusion into the rule's condition")
		res.refused = append(res.refused, &LoadError{File: file, Line: root.Line, Col: root.Column, Rule: de.rule, Problems: de.probs})
	default:
		r := parseRule(de, root, keys)
		if len(de.probs) > 0 {
			res.refused = append(res.refused, &LoadError{File: file, Line: root.Line, Col: root.Column, Rule: de.rule, Problems: de.probs})
			return
		}
		res.rules = append(res.rules, r)
	}
}

// mapKeys indexes a mapping node's values by key.
func mapKeys(n *yaml.Node) map[string]*yaml.Node {
	m := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		m[n.Content[i].Value] = n.Content[i+1]
	}
	return m
}

func scalarOr(n *yaml.Node, def string) string {
	if n != nil && n.Kind == yaml.ScalarNode {
		return n.Value
	}
	return def
}

// stringList reads a scalar or a sequence of scalars.
func stringList(de *docErrors, n *yaml.Node, what string) []string {
	if n == nil {
		return nil
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return nil
		}
		return []string{n.Value}
	case yaml.SequenceNode:
		out := make([]string, 0, len(n.Content))
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				de.at(c, "%s: each item must be a plain value", what)
				continue
			}
			out = append(out, c.Value)
		}
		return out
	}
	de.at(n, "%s must be a value or a list of values", what)
	return nil
}

func parseRule(de *docErrors, root *yaml.Node, keys map[string]*yaml.Node) *rule {
	r := &rule{file: de.file, line: root.Line, col: root.Column}
	r.info.ID = scalarOr(keys["id"], "")
	r.info.Title = scalarOr(keys["title"], "")
	r.name = scalarOr(keys["name"], "")
	de.rule = r.info.ID
	if de.rule == "" {
		de.rule = r.info.Title
	}
	r.info.Source = de.file
	if r.info.Title == "" {
		de.at(root, "no title (add `title:`)")
	}
	if r.info.ID == "" {
		if r.name != "" {
			r.info.ID = r.name
		} else {
			de.at(root, "no id (add a stable `id:` so findings can name the rule)")
		}
	}
	r.info.Description = strings.TrimSpace(scalarOr(keys["description"], ""))
	r.info.Tags = stringList(de, keys["tags"], "tags")
	r.fields = stringList(de, keys["fields"], "fields")
	r.info.Level = LevelMedium
	if n := keys["level"]; n != nil {
		l, ok := ParseLevel(n.Value)
		if !ok {
			de.at(n, "unknown level %q (use informational, low, medium, high or critical)", n.Value)
		}
		r.info.Level, r.levelSet = l, true
	}
	if n := keys["status"]; n != nil {
		switch n.Value {
		case "stable", "test", "experimental", "deprecated", "unsupported", "":
		default:
			de.at(n, "unknown status %q (use stable, test, experimental, deprecated or unsupported)", n.Value)
		}
	}
	for _, k := range []string{"references", "falsepositives"} {
		stringList(de, keys[k], k)
	}
	if n := keys["evtxscan"]; n != nil {
		parseExtensions(de, r, n)
	}

	switch {
	case keys["correlation"] != nil:
		r.kind = kindCorrelation
		r.info.Kind = "correlation"
		r.corr = parseCorrelation(de, keys["correlation"])
		if keys["detection"] != nil {
			de.at(keys["detection"], "a document has either `detection` or `correlation`, not both (split it with ---)")
		}
	case keys["detection"] != nil:
		r.kind = kindDetection
		r.info.Kind = "detection"
		if ls := keys["logsource"]; ls == nil {
			de.at(root, "no logsource (add `logsource: {product: windows, service: …}`)")
		} else {
			r.sources = parseLogsource(de, ls)
		}
		r.det = parseDetection(de, keys["detection"])
		if r.det != nil && hasSecurity4688(r.sources) {
			r.det.useSecurity4688Names()
		}
	default:
		de.at(root, "neither `detection` nor `correlation` (nor `fieldmap`): not a rule")
	}
	return r
}

func parseExtensions(de *docErrors, r *rule, n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		de.at(n, "evtxscan: must be a mapping (hidden, suppressed_by, level_by)")
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "hidden":
			b, err := strconv.ParseBool(v.Value)
			if err != nil || v.Kind != yaml.ScalarNode {
				de.at(v, "evtxscan.hidden must be true or false")
			}
			r.info.Hidden = b
		case "suppressed_by":
			if v.Kind != yaml.MappingNode {
				de.at(v, "evtxscan.suppressed_by must be a mapping {rule, fields, within}")
				continue
			}
			kv := mapKeys(v)
			s := &suppression{ruleRef: scalarOr(kv["rule"], ""), line: v.Line, col: v.Column}
			if s.ruleRef == "" {
				de.at(v, "evtxscan.suppressed_by needs `rule: <id>`")
			}
			s.fields = stringList(de, kv["fields"], "suppressed_by.fields")
			if w := kv["within"]; w != nil {
				d, err := parseSpan(w.Value)
				if err != nil {
					de.at(w, "suppressed_by.within: %v", err)
				}
				s.within = d
			} else {
				de.at(v, "evtxscan.suppressed_by needs `within:` (e.g. 2s)")
			}
			r.suppress = s
		case "level_by":
			if v.Kind != yaml.MappingNode {
				de.at(v, "evtxscan.level_by must be a mapping {field, levels}")
				continue
			}
			kv := mapKeys(v)
			lb := &levelBy{field: scalarOr(kv["field"], ""), levels: map[string]Level{}}
			if lb.field == "" {
				de.at(v, "evtxscan.level_by needs `field:`")
			}
			if lv := kv["levels"]; lv == nil || lv.Kind != yaml.MappingNode {
				de.at(v, "evtxscan.level_by needs `levels:` mapping value → level")
			} else {
				for j := 0; j+1 < len(lv.Content); j += 2 {
					l, ok := ParseLevel(lv.Content[j+1].Value)
					if !ok {
						de.at(lv.Content[j+1], "level_by: unknown level %q", lv.Content[j+1].Value)
					}
					lb.levels[lv.Content[j].Value] = l
				}
			}
			r.levelBy = lb
		default:
			de.at(k, "unknown evtxscan extension %q (known: hidden, suppressed_by, level_by)", k.Value)
		}
	}
}

// parseSpan parses a Sigma timespan: a number and one of s, m, h, d (we
// also accept ms).
func parseSpan(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	unit := time.Duration(0)
	num := s
	switch {
	case strings.HasSuffix(s, "ms"):
		unit, num = time.Millisecond, s[:len(s)-2]
	case strings.HasSuffix(s, "s"):
		unit, num = time.Second, s[:len(s)-1]
	case strings.HasSuffix(s, "m"):
		unit, num = time.Minute, s[:len(s)-1]
	case strings.HasSuffix(s, "h"):
		unit, num = time.Hour, s[:len(s)-1]
	case strings.HasSuffix(s, "d"):
		unit, num = 24*time.Hour, s[:len(s)-1]
	}
	n, err := strconv.ParseUint(num, 10, 32)
	if unit == 0 || err != nil || n == 0 {
		return 0, fmt.Errorf("bad timespan %q (write a number and s, m, h or d, e.g. 90m)", s)
	}
	return time.Duration(n) * unit, nil
}
