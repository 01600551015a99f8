package report

import (
	"bufio"
	"cmp"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/evtxscan/evtxscan/rules"
	"github.com/evtxscan/evtxscan/uninstall"
)

//go:embed page.js
var pageJS string

//go:embed page.css
var pageCSS string

//go:embed page.html.tmpl
var pageTemplateText string

// pageTemplate is parsed on first use: most runs (dump, live) never write
// a page, and parsing it at start-up cost every command 0.3 ms.
var pageTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("page").Funcs(template.FuncMap{
		"lower": strings.ToLower,
	}).Parse(pageTemplateText))
})

// contentSecurityPolicy allows the page's own script and style sheet (by
// hash) and nothing else: no network, no frames, no forms, no plugins, no
// inline style attributes (the page uses none).
// Even if event text ever reached the DOM as markup, it could neither run
// nor fetch anything.
var contentSecurityPolicy = sync.OnceValue(func() string {
	hash := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}
	return "default-src 'none'; script-src " + hash(pageJS) + "; style-src " + hash(pageCSS) +
		"; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
})

// maxInternedValues caps each lookup table of the HTML data (computers,
// channels, providers, files); values beyond it are embedded inline.
const maxInternedValues = 1 << 16

// maxHTMLFindings caps the findings listed in the page; the rest are in the
// xlsx, CSV and JSONL files, and the page says so.
const maxHTMLFindings = 20_000

// An htmlWriter streams the timeline rows (as JSON arrays) to a temporary
// file while events arrive and builds report.html around it at close.
type htmlWriter struct {
	path  string // where the page goes, for messages
	file  string // where it is written (in the stage)
	loc   *time.Location
	limit int

	tmp     *os.File
	tmpW    *bufio.Writer
	written int // events embedded
	total   int // events seen

	tables [5]internTable // computer, channel, provider, level, file
	// Which record each embedded event is, to mark the events of findings:
	// 12 bytes an event (file table index, record id), bounded by limit.
	keyFile      []uint32
	keyRec       []uint64
	fileOverflow map[int]string // files of events past a full file table
	buf          []byte
}

const (
	tabComputer = iota
	tabChannel
	tabProvider
	tabLevel
	tabFile
)

// An internTable maps repeated strings to small indexes.
type internTable struct {
	index  map[string]int
	values []string
}

// intern returns the index of s, or -1 when the table is full.
func (t *internTable) intern(s string) int {
	if i, ok := t.index[s]; ok {
		return i
	}
	if len(t.values) >= maxInternedValues {
		return -1
	}
	if t.index == nil {
		t.index = map[string]int{}
	}
	t.index[s] = len(t.values)
	t.values = append(t.values, s)
	return len(t.values) - 1
}

// eventKey identifies an embedded event for matching finding references.
type eventKey struct {
	file string
	rec  uint64
}

func newHTMLWriter(st *stage, loc *time.Location, limit int) (*htmlWriter, error) {
	path := filepath.Join(st.dir, HTMLName)
	tmp, err := os.CreateTemp(st.path, ".evtxscan-timeline-*.tmp")
	if err != nil {
		return nil, writeErr(path, fmt.Errorf("cannot create a temporary file for it: %w", unwrapPath(err)))
	}
	st.names = append(st.names, HTMLName)
	return &htmlWriter{path: path, file: st.staged(HTMLName), loc: loc, limit: limit, tmp: tmp, tmpW: bufio.NewWriterSize(tmp, 256<<10)}, nil
}

func (h *htmlWriter) event(r *eventRow) error {
	h.total++
	if h.written >= h.limit {
		return nil
	}
	ev := r.ev
	b := h.buf[:0]
	if h.written > 0 {
		b = append(b, ",\n"...)
	}
	b = append(b, '[')
	b = appendJSONString(b, shortTime(r.time, h.loc))
	b = append(b, ',')
	b = h.appendInterned(b, tabComputer, ev.System.Computer)
	b = append(b, ',')
	b = h.appendInterned(b, tabChannel, ev.System.Channel)
	b = append(b, ',')
	b = h.appendInterned(b, tabProvider, ev.System.Provider)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(ev.System.EventID), 10)
	b = append(b, ',')
	b = h.appendInterned(b, tabLevel, r.level)
	b = append(b, ',')
	b = appendJSONString(b, htmlLines(r.details, maxHTMLDetails))
	b = append(b, ',')
	rec := recordID(ev.Source.RecordID, ev.System.EventRecordID)
	b = strconv.AppendUint(b, rec, 10)
	b = append(b, ',')
	fileIdx := h.tables[tabFile].intern(ev.Source.File)
	if fileIdx >= 0 {
		b = strconv.AppendInt(b, int64(fileIdx), 10)
		h.keyFile = append(h.keyFile, uint32(fileIdx))
	} else {
		b = appendJSONString(b, htmlText(ev.Source.File, maxHTMLField))
		h.keyFile = append(h.keyFile, ^uint32(0))
		if h.fileOverflow == nil {
			h.fileOverflow = map[int]string{}
		}
		h.fileOverflow[h.written] = ev.Source.File
	}
	h.keyRec = append(h.keyRec, rec)
	b = append(b, ']')
	h.buf = b
	h.written++
	if _, err := h.tmpW.Write(b); err != nil {
		return writeErr(h.path, err)
	}
	return nil
}

// appendInterned appends the table index of s, or s itself as a JSON
// string when the table is full.
func (h *htmlWriter) appendInterned(b []byte, table int, s string) []byte {
	if i := h.tables[table].intern(s); i >= 0 {
		return strconv.AppendInt(b, int64(i), 10)
	}
	return appendJSONString(b, htmlText(s, maxHTMLField))
}

func shortTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return displayTime(t, loc, 3)
}

func (h *htmlWriter) abort() {
	if h.tmp != nil {
		_ = h.tmp.Close()
		_ = os.Remove(h.tmp.Name())
		h.tmp = nil
	}
}

func (h *htmlWriter) close(v *view) (err error) {
	defer h.abort()
	if err := h.tmpW.Flush(); err != nil {
		return writeErr(h.path, err)
	}
	out, err := os.Create(h.file)
	if err != nil {
		return writeErr(h.path, err)
	}
	w := bufio.NewWriterSize(out, 256<<10)
	page := h.page(v)
	if err := pageTemplate().ExecuteTemplate(w, "head", page); err != nil {
		_ = out.Close()
		return writeErr(h.path, err)
	}
	if err := h.writeData(w, v); err != nil {
		_ = out.Close()
		return writeErr(h.path, err)
	}
	// The script is written as is: its hash is in the CSP.
	_, _ = io.WriteString(w, "<script>")
	_, _ = io.WriteString(w, pageJS)
	_, _ = io.WriteString(w, "</script>\n</body>\n</html>\n")
	err = w.Flush()
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return writeErr(h.path, err)
	}
	return nil
}

// writeData writes the JSON blocks the script reads: lookup tables, the
// events (copied from the temporary file) and which findings each embedded
// event belongs to. Every string in them went through appendJSONString,
// which escapes '<', so no data can close the <script> element.
func (h *htmlWriter) writeData(w *bufio.Writer, v *view) error {
	var b []byte
	b = append(b, `<script type="application/json" id="evx-tables">{`...)
	for i, name := range []string{"computers", "channels", "providers", "levels", "files"} {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, name)
		b = append(b, ":["...)
		for j, s := range h.tables[i].values {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, htmlText(s, maxHTMLField))
		}
		b = append(b, ']')
	}
	b = append(b, `}</script>`+"\n"...)
	b = append(b, `<script type="application/json" id="evx-events">[`+"\n"...)
	if _, err := w.Write(b); err != nil {
		return err
	}
	if _, err := h.tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if _, err := io.Copy(w, h.tmp); err != nil {
		return err
	}

	// Map embedded events to the rules of the findings they belong to.
	ruleIdx := map[string]int{}
	var ruleIDs []string
	refs := map[eventKey][]int{}
	for i := range v.findings {
		f := &v.findings[i]
		ri, ok := ruleIdx[f.RuleID]
		if !ok {
			ri = len(ruleIDs)
			ruleIdx[f.RuleID] = ri
			ruleIDs = append(ruleIDs, f.RuleID)
		}
		for _, e := range f.Events {
			k := eventKey{e.File, e.RecordID}
			if l := refs[k]; len(l) == 0 || l[len(l)-1] != ri {
				refs[k] = append(l, ri)
			}
		}
	}
	b = append(b[:0], "\n]</script>\n"+`<script type="application/json" id="evx-rules">{"rules":[`...)
	for i, id := range ruleIDs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, htmlText(id, maxHTMLField))
	}
	b = append(b, `],"events":{`...)
	n := 0
	for i, rec := range h.keyRec {
		var file string
		if fi := h.keyFile[i]; fi != ^uint32(0) {
			file = h.tables[tabFile].values[fi]
		} else {
			file = h.fileOverflow[i]
		}
		l := refs[eventKey{file, rec}]
		if len(l) == 0 {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = append(b, '"')
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `":[`...)
		for j, ri := range l {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(ri), 10)
		}
		b = append(b, ']')
		if len(b) > 64<<10 {
			if _, err := w.Write(b); err != nil {
				return err
			}
			b = b[:0]
		}
	}
	b = append(b, "}}</script>\n"...)
	_, err := w.Write(b)
	return err
}

// The page model: every string is already made visible and bounded
// (htmlText); html/template escapes it for its context.
type htmlPage struct {
	Title, Tool, Generated, Zone, CSP     string
	Style                                 template.CSS
	Cards                                 []htmlCard
	Alerts                                []string
	Files                                 []htmlFile
	Problems                              []htmlProblem
	ProblemsMore                          int
	Chart                                 htmlChart
	FindingGroups                         []htmlFindingGroup
	FindingsShown, FindingsTotal          int
	Products                              []htmlProduct
	RuleCounts                            []htmlRuleCount
	EventsShown, EventsTotal, EventsLimit int
	TimelineCut                           bool
}

type htmlCard struct {
	Label, Value, Class, Note string
}

type htmlFile struct {
	File, Size, Err                                        string
	Chunks, Skipped, Records, Recovered, Lost, NumProblems int
	Bad                                                    bool
}

type htmlProblem struct {
	File, Offset, Chunk, Record, Reason string
}

type htmlRuleCount struct {
	Rule, Title, Level string
	Count, Computers   int
}

type htmlFindingGroup struct {
	Level    string
	Findings []htmlFinding
}

type htmlFinding struct {
	Time, Level, Rule, Title, Description, Computer, Headline string
	Summary                                                   string
	Fields                                                    []htmlField
	Events                                                    []htmlRef
	Tags                                                      string
}

type htmlField struct{ Name, Value string }

type htmlRef struct {
	Time, Provider, Channel, File string
	Path                          string // File is its last element
	EventID                       int
	Record                        uint64
}

type htmlProduct struct {
	Product  string
	Counts   string
	Worst    string // outcome class of the worst session
	Sessions []htmlSession
}

type htmlSession struct {
	Start, End, Duration, Computer, User, Outcome, OutcomeClass string
	Version, ProductCode, Package, Status, StatusMeaning, Cause string
	Kind, Reason, Summary, Signals                              string
	Events                                                      []htmlRef
}

type htmlChart struct {
	Bars           []htmlBar
	Marks          []htmlBar
	Labels         []htmlLabel
	Width          string // bucket width, e.g. "1h0m0s"
	MaxEv, MaxFind int
	Skipped        int
	Empty          bool
}

type htmlBar struct {
	X, Y, W, H float64
	Class      string
	Title      string
}

type htmlLabel struct {
	X      float64
	Text   string
	Anchor string
}

func (h *htmlWriter) page(v *view) *htmlPage {
	t := func(s string) string { return htmlText(s, maxHTMLField) }
	s := v.s
	p := &htmlPage{
		Title:     t(v.title),
		Tool:      t(s.Tool),
		Generated: shortTime(time.Now(), v.loc),
		Zone:      t(v.zone),
		CSP:       contentSecurityPolicy(),
		Style:     template.CSS(pageCSS),

		EventsShown: h.written,
		EventsTotal: h.total,
		EventsLimit: h.limit,
		TimelineCut: h.written < h.total,
	}
	urgent := v.findingsByLevel[rules.LevelCritical] + v.findingsByLevel[rules.LevelHigh]
	sessionsBad := 0
	for _, se := range v.sessions {
		if se.Outcome != uninstall.OutcomeSucceeded {
			sessionsBad++
		}
	}
	cls := func(bad bool, c string) string {
		if bad {
			return c
		}
		return "ok"
	}
	p.Cards = []htmlCard{
		{Label: "Findings", Value: strconv.Itoa(len(v.findings)), Class: cls(len(v.findings) > 0, "warn"),
			Note: fmt.Sprintf("%d critical · %d high · %d medium · %d low · %d info", v.findingsByLevel[rules.LevelCritical], v.findingsByLevel[rules.LevelHigh],
				v.findingsByLevel[rules.LevelMedium], v.findingsByLevel[rules.LevelLow], v.findingsByLevel[rules.LevelInformational])},
		{Label: "Critical + high", Value: strconv.Itoa(urgent), Class: cls(urgent > 0, "bad")},
		{Label: "Operations", Value: strconv.Itoa(len(v.sessions)), Class: cls(sessionsBad > 0, "warn"),
			Note: fmt.Sprintf("%d did not simply succeed", sessionsBad)},
		{Label: "Events", Value: strconv.Itoa(v.events), Note: shortTime(v.first, v.loc) + " → " + shortTime(v.last, v.loc)},
		{Label: "Input files", Value: strconv.Itoa(len(s.Files)), Class: cls(v.unreadable > 0, "bad"),
			Note: fmt.Sprintf("%d unreadable · %d records", v.unreadable, v.records)},
		{Label: "Records lost", Value: strconv.Itoa(v.lost), Class: cls(v.lost > 0, "bad"),
			Note: fmt.Sprintf("%d recovered by carving · %d duplicates dropped", v.recovered, s.Duplicates)},
		{Label: "Rules", Value: strconv.Itoa(s.Rules), Note: "run took " + s.Elapsed.Round(time.Millisecond).String()},
	}
	if v.unreadable > 0 {
		p.Alerts = append(p.Alerts, fmt.Sprintf("%d input file(s) could not be read at all; see Input files.", v.unreadable))
	}
	if v.lost > 0 {
		p.Alerts = append(p.Alerts, fmt.Sprintf("%d record(s) were lost to damage; the timeline is incomplete. See Input files and Problems.", v.lost))
	}
	for i, f := range v.incomplete {
		if i == 20 {
			p.Alerts = append(p.Alerts, fmt.Sprintf("… and %d more incomplete files; see Input files.", len(v.incomplete)-i))
			break
		}
		p.Alerts = append(p.Alerts, "Incomplete: "+t(f.File)+" lost "+f.Lost+"; the Problems below say where and why.")
	}
	if p.TimelineCut {
		p.Alerts = append(p.Alerts, fmt.Sprintf("The timeline below shows the first %d of %d events; report.xlsx, timeline.csv and timeline.jsonl hold all of them.", h.written, h.total))
	}

	problems := 0
	for _, f := range s.Files {
		hf := htmlFile{File: t(f.File), Size: strconv.FormatInt(f.Size, 10), Chunks: f.Chunks, Skipped: f.ChunksSkipped,
			Records: f.Records, Recovered: f.Recovered, Lost: f.Lost, NumProblems: len(f.Problems)}
		if f.Err != nil {
			hf.Err = t(f.Err.Error())
		}
		hf.Bad = f.Incomplete()
		p.Files = append(p.Files, hf)
		for _, pr := range f.Problems {
			problems++
			if len(p.Problems) >= maxSummaryProblems {
				continue
			}
			chunk := ""
			if pr.Chunk >= 0 {
				chunk = strconv.Itoa(pr.Chunk)
			}
			rec := ""
			if pr.RecordID != 0 {
				rec = strconv.FormatUint(pr.RecordID, 10)
			}
			p.Problems = append(p.Problems, htmlProblem{File: t(f.File), Offset: fmt.Sprintf("0x%08x", pr.Offset), Chunk: chunk, Record: rec, Reason: t(pr.Reason)})
		}
	}
	p.ProblemsMore = problems - len(p.Problems)

	for _, c := range v.perRule {
		p.RuleCounts = append(p.RuleCounts, htmlRuleCount{Rule: t(c.RuleID), Title: t(c.Title), Level: c.Level.String(), Count: c.Count, Computers: c.Computers})
	}

	p.FindingsTotal = len(v.findings)
	for l := rules.LevelCritical; l >= rules.LevelInformational; l-- {
		g := htmlFindingGroup{Level: l.String()}
		for i := range v.findings {
			f := &v.findings[i]
			if clampLevel(f.Level) != l || p.FindingsShown >= maxHTMLFindings {
				continue
			}
			p.FindingsShown++
			c := layoutFinding(f)
			hf := htmlFinding{Time: shortTime(f.Time, v.loc), Level: f.Level.String(), Rule: t(f.RuleID), Title: t(f.Title),
				Description: t(f.Description), Computer: t(f.Computer), Tags: t(strings.Join(f.Tags, ", ")), Summary: t(f.Summary)}
			var head []string
			for _, s := range []string{c.Product, c.Version, c.Status, c.Meaning} {
				if s != "" {
					head = append(head, s)
				}
			}
			hf.Headline = t(strings.Join(head, " · "))
			for _, d := range f.Fields {
				hf.Fields = append(hf.Fields, htmlField{Name: t(d.Name), Value: htmlLines(d.Value, maxHTMLField)})
			}
			hf.Events = h.refs(f.Events, v.loc)
			g.Findings = append(g.Findings, hf)
		}
		if len(g.Findings) > 0 {
			p.FindingGroups = append(p.FindingGroups, g)
		}
	}

	byProduct := map[string]*htmlProduct{}
	var order []string
	outcomes := map[string]map[string]int{}
	for i := range v.sessions {
		se := &v.sessions[i]
		hp := byProduct[se.Product]
		if hp == nil {
			hp = &htmlProduct{Product: t(se.Product), Worst: "succeeded"}
			if se.Product == "" {
				hp.Product = "(product not known)"
			}
			byProduct[se.Product] = hp
			order = append(order, se.Product)
			outcomes[se.Product] = map[string]int{}
		}
		outcomes[se.Product][se.Outcome]++
		if outcomeRank(se.Outcome) < outcomeRank(hp.Worst) {
			hp.Worst = se.Outcome
		}
		end := shortTime(se.End, v.loc)
		if se.End.IsZero() {
			end = "never ended"
		}
		hp.Sessions = append(hp.Sessions, htmlSession{
			Start: shortTime(se.Start, v.loc), End: end, Duration: sessionDuration(se), Computer: t(se.Computer), User: t(se.User),
			Outcome: t(se.Outcome), OutcomeClass: outcomeClass(se.Outcome), Version: t(se.Version), ProductCode: t(se.ProductCode),
			Package: t(se.Package), Status: t(se.Status), StatusMeaning: t(se.StatusMeaning), Cause: t(se.Cause.String()),
			Kind: t(se.Kind), Reason: t(se.Reason), Summary: t(se.Summary()), Signals: t(strings.Join(se.Signals, ", ")),
			Events: h.refs(se.Events, v.loc),
		})
	}
	for _, name := range order {
		hp := byProduct[name]
		var parts []string
		for _, o := range outcomeOrder {
			if n := outcomes[name][o]; n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", n, o))
			}
		}
		hp.Counts = strings.Join(parts, " · ")
		hp.Worst = outcomeClass(hp.Worst)
		p.Products = append(p.Products, *hp)
	}
	// Worst products first, then by name.
	sortProducts(p.Products)

	p.Chart = svgChart(&v.chart, v.loc)
	return p
}

func (h *htmlWriter) refs(evs []rules.EventRef, loc *time.Location) []htmlRef {
	const maxRefs = 500
	var out []htmlRef
	for i, e := range evs {
		if i == maxRefs {
			out = append(out, htmlRef{Provider: fmt.Sprintf("… %d more events", len(evs)-maxRefs)})
			break
		}
		out = append(out, htmlRef{Time: shortTime(e.Time, loc), Provider: htmlText(e.Provider, maxHTMLField),
			Channel: htmlText(e.Channel, maxHTMLField), File: htmlText(baseName(e.File), maxHTMLField), Path: htmlText(e.File, maxHTMLField),
			EventID: int(e.EventID), Record: e.RecordID})
	}
	return out
}

// outcomeClass is the CSS class of a session outcome.
func outcomeClass(o string) string {
	switch o {
	case uninstall.OutcomeFailed:
		return "failed"
	case uninstall.OutcomeRolledBack:
		return "rolledback"
	case uninstall.OutcomeUnterminated:
		return "unterminated"
	case uninstall.OutcomeRollbackFailed, uninstall.OutcomeCrashed:
		return "failed"
	case uninstall.OutcomeSuperseded:
		return "reboot"
	case uninstall.OutcomeSucceeded:
		return "succeeded"
	}
	return "other"
}

var classRank = map[string]int{"failed": 0, "rolledback": 1, "unterminated": 2, "reboot": 3, "other": 4, "succeeded": 5}

// sortProducts puts the products whose worst session is worst first, then
// sorts by name.
func sortProducts(ps []htmlProduct) {
	slices.SortStableFunc(ps, func(a, b htmlProduct) int {
		return cmp.Or(cmp.Compare(classRank[a.Worst], classRank[b.Worst]), cmp.Compare(strings.ToLower(a.Product), strings.ToLower(b.Product)))
	})
}

// baseName is the last element of a Windows or slash path, or of the member
// path of a zip ("archive.zip!inner/Application.evtx").
func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\!`); i >= 0 && i < len(p)-1 {
		return p[i+1:]
	}
	return p
}

// svgChart lays out the histogram: event bars on top, findings below,
// coloured by their highest level.
func svgChart(c *chart, loc *time.Location) htmlChart {
	const (
		left  = 84.0 // room for the y labels
		width = 960.0 - left
		evTop = 8.0
		evH   = 120.0
		fTop  = 140.0
		fH    = 36.0
	)
	hc := htmlChart{MaxEv: c.MaxEv, MaxFind: c.MaxFind, Skipped: c.Skipped, Width: humanWidth(c.Width)}
	n := len(c.Buckets)
	if n == 0 {
		hc.Empty = true
		return hc
	}
	bw := width / float64(n)
	gap := min(1.0, bw/4)
	for i, b := range c.Buckets {
		x := left + float64(i)*bw
		when := shortTime(b.Start, loc)
		if b.Events > 0 {
			hgt := max(1.5, evH*float64(b.Events)/float64(max(c.MaxEv, 1)))
			hc.Bars = append(hc.Bars, htmlBar{X: x + gap/2, Y: evTop + evH - hgt, W: bw - gap, H: hgt, Class: "ev",
				Title: fmt.Sprintf("%s: %d events, %d findings", when, b.Events, b.Findings)})
		}
		if b.Findings > 0 {
			hgt := max(3.0, fH*float64(b.Findings)/float64(max(c.MaxFind, 1)))
			hc.Marks = append(hc.Marks, htmlBar{X: x + gap/2, Y: fTop + fH - hgt, W: bw - gap, H: hgt, Class: "lv-" + b.Top.String(),
				Title: fmt.Sprintf("%s: %d findings (highest: %s)", when, b.Findings, b.Top)})
		}
	}
	hc.Labels = []htmlLabel{{X: left, Text: shortTime(c.Buckets[0].Start, loc), Anchor: "start"}}
	if n > 2 {
		hc.Labels = append(hc.Labels, htmlLabel{X: left + float64(n/2)*bw, Text: shortTime(c.Buckets[n/2].Start, loc), Anchor: "middle"})
	}
	end := c.Buckets[n-1].Start.Add(c.Width)
	hc.Labels = append(hc.Labels, htmlLabel{X: left + width, Text: shortTime(end, loc), Anchor: "end"})
	return hc
}

// humanWidth writes a bucket width as people say it.
func humanWidth(d time.Duration) string {
	switch {
	case d == 0:
		return ""
	case d%(365*24*time.Hour) == 0:
		return plural(int(d/(365*24*time.Hour)), "year")
	case d%(24*time.Hour) == 0:
		return plural(int(d/(24*time.Hour)), "day")
	case d%time.Hour == 0:
		return plural(int(d/time.Hour), "hour")
	case d%time.Minute == 0:
		return plural(int(d/time.Minute), "minute")
	}
	return plural(int(d/time.Second), "second")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

func itoa(n int) string { return strconv.Itoa(n) }
