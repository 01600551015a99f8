package rules

import (
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/evtxscan/evtxscan/parser"
)

// baseRules are two detection rules (by provider A and B) that correlations
// below join.
const baseRules = `title: base a
id: base_a
name: rule_a
logsource:
    product: windows
    service: application
detection:
    s:
        Provider_Name: A
    condition: s
---
title: base b
id: base_b
name: rule_b
logsource:
    product: windows
    service: system
detection:
    s:
        Provider_Name: B
    condition: s
`

func corrRule(body string) string {
	return baseRules + "---\ntitle: the correlation\nid: corr\nlevel: high\ncorrelation:\n" + body
}

// evA and evB build events of the base rules at t0+sec seconds.
func evA(sec float64, data ...string) *parser.Event {
	return mkEvent("Application", "A", 1, t0.Add(time.Duration(sec*float64(time.Second))), data...)
}
func evB(sec float64, data ...string) *parser.Event {
	return mkEvent("System", "B", 2, t0.Add(time.Duration(sec*float64(time.Second))), data...)
}

// noise is an event no rule matches; it moves the end of the input.
func noise(sec float64) *parser.Event {
	return mkEvent("Application", "Z", 9, t0.Add(time.Duration(sec*float64(time.Second))))
}

func TestCorrelations(t *testing.T) {
	tests := []struct {
		name   string
		corr   string
		events []*parser.Event
		want   []int // number of events of each correlation finding, in order
	}{
		{"event_count hit", "    type: event_count\n    rules: [base_a]\n    group-by: [User]\n    timespan: 10s\n    condition: {gte: 3}\n",
			[]*parser.Event{evA(0, "User=u"), evA(4, "User=u"), evA(8, "User=u")}, []int{3}},
		{"event_count spread", "    type: event_count\n    rules: [base_a]\n    group-by: [User]\n    timespan: 10s\n    condition: {gte: 3}\n",
			[]*parser.Event{evA(0, "User=u"), evA(6, "User=u"), evA(12, "User=u")}, nil},
		{"event_count edge inclusive", "    type: event_count\n    rules: [base_a]\n    group-by: [User]\n    timespan: 10s\n    condition: {gte: 2}\n",
			[]*parser.Event{evA(0, "User=u"), evA(10, "User=u")}, []int{2}},
		{"event_count edge past", "    type: event_count\n    rules: [base_a]\n    group-by: [User]\n    timespan: 10s\n    condition: {gte: 2}\n",
			[]*parser.Event{evA(0, "User=u"), evA(10.000001, "User=u")}, nil},
		{"event_count group-by separates", "    type: event_count\n    rules: [base_a]\n    group-by: [User]\n    timespan: 10s\n    condition: {gte: 2}\n",
			[]*parser.Event{evA(0, "User=u"), evA(1, "User=v"), evA(2, "User=w")}, nil},
		{"event_count range", "    type: event_count\n    rules: [base_a]\n    group-by: [User]\n    timespan: 10s\n    condition: {gt: 1, lte: 2}\n",
			[]*parser.Event{evA(0, "User=u"), evA(1, "User=u"), evA(2, "User=u")}, nil},
		{"event_count two windows", "    type: event_count\n    rules: [base_a]\n    group-by: [User]\n    timespan: 10s\n    condition: {gte: 2}\n",
			[]*parser.Event{evA(0, "User=u"), evA(1, "User=u"), evA(100, "User=u"), evA(101, "User=u")}, []int{2, 2}},
		{"value_count", "    type: value_count\n    rules: [base_a]\n    group-by: [Host]\n    timespan: 1m\n    condition: {field: User, gte: 3}\n",
			[]*parser.Event{evA(0, "User=a", "Host=h"), evA(1, "User=a", "Host=h"), evA(2, "User=b", "Host=h"), evA(3, "User=c", "Host=h")}, []int{4}},
		{"value_count too few", "    type: value_count\n    rules: [base_a]\n    group-by: [Host]\n    timespan: 1m\n    condition: {field: User, gte: 3}\n",
			[]*parser.Event{evA(0, "User=a", "Host=h"), evA(1, "User=a", "Host=h"), evA(2, "User=b", "Host=h")}, nil},
		{"temporal any order", "    type: temporal\n    rules: [base_a, base_b]\n    group-by: [User]\n    timespan: 5s\n",
			[]*parser.Event{evB(0, "User=u"), evA(3, "User=u")}, []int{2}},
		{"temporal too far", "    type: temporal\n    rules: [base_a, base_b]\n    group-by: [User]\n    timespan: 5s\n",
			[]*parser.Event{evB(0, "User=u"), evA(6, "User=u")}, nil},
		{"temporal other group", "    type: temporal\n    rules: [base_a, base_b]\n    group-by: [User]\n    timespan: 5s\n",
			[]*parser.Event{evB(0, "User=u"), evA(1, "User=v")}, nil},
		{"temporal_ordered right order", "    type: temporal_ordered\n    rules: [base_a, base_b]\n    group-by: [User]\n    timespan: 5s\n",
			[]*parser.Event{evA(0, "User=u"), evB(3, "User=u")}, []int{2}},
		{"temporal_ordered wrong order", "    type: temporal_ordered\n    rules: [base_a, base_b]\n    group-by: [User]\n    timespan: 5s\n",
			[]*parser.Event{evB(0, "User=u"), evA(3, "User=u")}, nil},
		{"temporal_ordered lists events between", "    type: temporal_ordered\n    rules: [base_a, base_b]\n    group-by: [User]\n    timespan: 5s\n",
			[]*parser.Event{evA(0, "User=u"), evA(1, "User=u"), evB(3, "User=u")}, []int{3}},
		{"aliases join different fields", "    type: temporal\n    rules: [rule_a, rule_b]\n    group-by: [who]\n    timespan: 5s\n    aliases:\n        who:\n            rule_a: User\n            rule_b: Account\n",
			[]*parser.Event{evA(0, "User=alice"), evB(1, "Account=alice")}, []int{2}},
		{"aliases differing values", "    type: temporal\n    rules: [rule_a, rule_b]\n    group-by: [who]\n    timespan: 5s\n    aliases:\n        who:\n            rule_a: User\n            rule_b: Account\n",
			[]*parser.Event{evA(0, "User=alice"), evB(1, "Account=bob")}, nil},
		{"absence closed", "    type: absence\n    rules: [base_a, base_b]\n    group-by: [User]\n    timespan: 30s\n",
			[]*parser.Event{evA(0, "User=u"), evB(10, "User=u"), noise(100)}, []int{}},
		{"absence open", "    type: absence\n    rules: [base_a, base_b]\n    group-by: [User]\n    timespan: 30s\n",
			[]*parser.Event{evA(0, "User=u"), evB(31, "User=u"), noise(100)}, []int{1}},
		{"absence end of other group", "    type: absence\n    rules: [base_a, base_b]\n    group-by: [User]\n    timespan: 30s\n",
			[]*parser.Event{evA(0, "User=u"), evB(10, "User=v"), noise(100)}, []int{1}},
		{"absence end before start does not close", "    type: absence\n    rules: [base_a, base_b]\n    group-by: [User]\n    timespan: 30s\n",
			[]*parser.Event{evB(0, "User=u"), evA(1, "User=u"), noise(100)}, []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, e := engineFor(t, corrRule(tt.corr))
			got := run(e, tt.events...)
			var sizes []int
			for _, f := range got {
				if f.RuleID != "corr" {
					t.Errorf("unexpected finding of %s (base rules of a correlation stay quiet)", f.RuleID)
					continue
				}
				sizes = append(sizes, len(f.Events))
			}
			if fmt.Sprint(sizes) != fmt.Sprint(tt.want) {
				t.Errorf("got findings with %v events, want %v", sizes, tt.want)
			}
		})
	}
}

func TestAbsenceNoteWhenLogEnds(t *testing.T) {
	_, e := engineFor(t, corrRule("    type: absence\n    rules: [base_a, base_b]\n    group-by: [User]\n    timespan: 30m\n"))
	got := run(e, evA(0, "User=u"), evA(60, "User=other-noise"))
	if len(got) != 2 {
		t.Fatalf("got %d findings, want 2 (both starts unclosed)", len(got))
	}
	for _, f := range got {
		if f.Field("Note") != "log ends before the session closed" {
			t.Errorf("finding %v lacks the end-of-log note: %v", f.Time, f.Fields)
		}
		if f.Field("User") == "" {
			t.Errorf("group-by value missing from fields: %v", f.Fields)
		}
	}
	_, e = engineFor(t, corrRule("    type: absence\n    rules: [base_a, base_b]\n    group-by: [User]\n    timespan: 30s\n"))
	got = run(e, evA(0, "User=u"), evA(3600, "User=u"), evB(3601, "User=u"))
	if len(got) != 1 || got[0].Field("Note") != "" {
		t.Errorf("got %v, want one finding without note (the log went on past the timespan)", got)
	}
}

// TestOutOfOrderAcrossFiles feeds the same events in many orders, as if
// read from several files, and wants the same findings every time.
func TestOutOfOrderAcrossFiles(t *testing.T) {
	corrs := []string{
		"    type: temporal_ordered\n    rules: [base_a, base_b]\n    group-by: [User]\n    timespan: 5s\n",
		"    type: event_count\n    rules: [base_a, base_b]\n    group-by: [User]\n    timespan: 10s\n    condition: {gte: 3}\n",
		"    type: absence\n    rules: [base_a, base_b]\n    group-by: [User]\n    timespan: 4s\n",
	}
	var events []*parser.Event
	for i := 0; i < 40; i++ {
		u := fmt.Sprintf("User=u%d", i%3)
		if i%2 == 0 {
			ev := evA(float64(i)*1.5, u)
			ev.Source.File = "Application.evtx"
			events = append(events, ev)
		} else {
			ev := evB(float64(i)*1.5+0.5, u)
			ev.Source.File = "System.evtx"
			events = append(events, ev)
		}
		events[len(events)-1].System.EventRecordID = uint64(i + 1)
	}
	for _, c := range corrs {
		_, e := engineFor(t, corrRule(c))
		want := summarize(run(e, events...))
		if want == "" {
			t.Fatalf("%s: no findings at all; the test would prove nothing", strings.Fields(c)[1])
		}
		rng := rand.New(rand.NewSource(1))
		for k := 0; k < 20; k++ {
			shuffled := append([]*parser.Event(nil), events...)
			if k == 0 { // one file after the other
				sort.SliceStable(shuffled, func(i, j int) bool { return shuffled[i].Source.File > shuffled[j].Source.File })
			} else {
				rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			}
			if got := summarize(run(e, shuffled...)); got != want {
				t.Fatalf("%s: order %d gives\n%s\nwant\n%s", strings.Fields(c)[1], k, got, want)
			}
		}
	}
}

func summarize(fs []Finding) string {
	var lines []string
	for _, f := range fs {
		var refs []string
		for _, r := range f.Events {
			refs = append(refs, fmt.Sprintf("%s#%d", r.File, r.RecordID))
		}
		lines = append(lines, fmt.Sprintf("%s %s %v %s", f.RuleID, f.Time.Format(time.RFC3339Nano), f.Fields, strings.Join(refs, ",")))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func TestGenerateAndHidden(t *testing.T) {
	body := "    type: event_count\n    rules: [base_a]\n    group-by: [User]\n    timespan: 10s\n    condition: {gte: 2}\n"
	evs := []*parser.Event{evA(0, "User=u"), evA(1, "User=u")}

	_, e := engineFor(t, corrRule(body))
	if got := ids(run(e, evs...)); fmt.Sprint(got) != "[corr]" {
		t.Errorf("without generate: got %v, want [corr]", got)
	}
	_, e = engineFor(t, corrRule(body+"    generate: true\n"))
	if got := ids(run(e, evs...)); fmt.Sprint(got) != "[base_a base_a corr]" {
		t.Errorf("with generate: got %v, want [base_a base_a corr]", got)
	}
	hidden := strings.Replace(corrRule(body+"    generate: true\n"), "name: rule_a\n", "name: rule_a\nevtxscan:\n    hidden: true\n", 1)
	_, e = engineFor(t, hidden)
	if got := ids(run(e, evs...)); fmt.Sprint(got) != "[corr]" {
		t.Errorf("hidden base with generate: got %v, want [corr]", got)
	}
}

func TestChainedCorrelation(t *testing.T) {
	y := baseRules + `---
title: many a
id: many_a
name: many_a
correlation:
    type: event_count
    rules: [base_a]
    group-by: [User]
    timespan: 10s
    condition: {gte: 2}
---
title: many a then b
id: chain
level: critical
correlation:
    type: temporal_ordered
    rules: [many_a, base_b]
    group-by: [User]
    timespan: 1m
`
	_, e := engineFor(t, y)
	got := run(e, evA(0, "User=u"), evA(1, "User=u"), evB(20, "User=u"), evB(25, "User=v"))
	if len(got) != 1 || got[0].RuleID != "chain" || len(got[0].Events) != 3 || got[0].Level != LevelCritical {
		t.Fatalf("got %v, want one chain finding with 3 events", summarize(got))
	}
}

func TestCorrelationDisplayFields(t *testing.T) {
	y := corrRule("    type: temporal\n    rules: [rule_a, rule_b]\n    group-by: [who]\n    timespan: 5s\n    aliases:\n        who:\n            rule_a: User\n            rule_b: Account\n") +
		"fields:\n    - who\n    - Service\n"
	_, e := engineFor(t, y)
	got := run(e, evA(0, "User=alice"), evB(1, "Account=alice", "Service=Contoso"))
	if len(got) != 1 {
		t.Fatalf("got %d findings, want 1", len(got))
	}
	if got[0].Field("who") != "alice" || got[0].Field("Service") != "Contoso" {
		t.Errorf("fields %v, want who=alice (through aliases), Service=Contoso (from the event that has it)", got[0].Fields)
	}
}

func TestCorrelationErrors(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"unknown rule", "    type: temporal\n    rules: [base_a, nosuch]\n    group-by: [User]\n    timespan: 5s\n", "unknown rule"},
		{"bad type", "    type: value_sum\n    rules: [base_a]\n    group-by: [User]\n    timespan: 5s\n    condition: {gt: 1, field: X}\n", "not supported"},
		{"no timespan", "    type: temporal\n    rules: [base_a, base_b]\n    group-by: [User]\n", "timespan"},
		{"bad timespan", "    type: temporal\n    rules: [base_a, base_b]\n    timespan: 5x\n", "bad timespan"},
		{"no condition", "    type: event_count\n    rules: [base_a]\n    timespan: 5s\n", "condition"},
		{"value_count without field", "    type: value_count\n    rules: [base_a]\n    timespan: 5s\n    condition: {gt: 1}\n", "condition.field"},
		{"absence arity", "    type: absence\n    rules: [base_a]\n    timespan: 5s\n", "exactly two"},
		{"self reference", "    type: temporal\n    rules: [corr, base_a]\n    timespan: 5s\n", "itself"},
		{"alias of another rule", "    type: temporal\n    rules: [base_a, base_b]\n    timespan: 5s\n    aliases:\n        who:\n            rule_c: User\n", "not among"},
		{"suppressed correlation", "    type: temporal\n    rules: [base_a, base_b]\n    timespan: 5s\nevtxscan:\n    suppressed_by: {rule: base_a, within: 1s}\n", "detection rules only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := NewRuleset()
			_ = rs.AddBytes("c.yml", []byte(corrRule(tt.body)))
			var msgs []string
			for _, le := range rs.Skipped() {
				for _, p := range le.Problems {
					msgs = append(msgs, p.Error())
				}
			}
			if !strings.Contains(strings.Join(msgs, "\n"), tt.want) {
				t.Errorf("problems %q, want one mentioning %q", msgs, tt.want)
			}
			for _, r := range rs.Rules() {
				if r.ID == "corr" {
					t.Errorf("the bad correlation was loaded")
				}
			}
		})
	}
}

func TestSuppressedBy(t *testing.T) {
	y := `title: status rule
id: rule1
logsource: {product: windows, service: application}
detection:
    s: {Provider_Name: MsiInstaller, EventID: 1034}
    condition: s
---
title: sentence rule
id: rule2
logsource: {product: windows, service: application}
detection:
    s: {Provider_Name: MsiInstaller, EventID: 11725}
    condition: s
fields: [ProductCode]
evtxscan:
    suppressed_by: {rule: rule1, fields: [ProductCode], within: 2s}
`
	ev := func(id uint16, sec float64, code string) *parser.Event {
		return mkEvent("Application", "MsiInstaller", id, t0.Add(time.Duration(sec*float64(time.Second))), "ProductCode="+code)
	}
	tests := []struct {
		name   string
		events []*parser.Event
		want   string
	}{
		{"same product and moment", []*parser.Event{ev(11725, 0, "{A}"), ev(1034, 0.001, "{A}")}, "[rule1]"},
		{"rule1 arrives later", []*parser.Event{ev(1034, 0.001, "{a}"), ev(11725, 0, "{A}")}, "[rule1]"},
		{"other product", []*parser.Event{ev(11725, 0, "{A}"), ev(1034, 0.5, "{B}")}, "[rule1 rule2]"},
		{"too far apart", []*parser.Event{ev(11725, 0, "{A}"), ev(1034, 2.5, "{A}")}, "[rule1 rule2]"},
		{"alone", []*parser.Event{ev(11725, 0, "{A}")}, "[rule2]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, e := engineFor(t, y)
			got := ids(run(e, tt.events...))
			sort.Strings(got)
			if fmt.Sprint(got) != tt.want {
				t.Errorf("got %v, want %s", got, tt.want)
			}
		})
	}
}

func TestMinLevel(t *testing.T) {
	y := detectionRule("    s:\n        A: x\n    condition: s\n") + "level: low\n"
	_, e := engineFor(t, y, WithMinLevel(LevelMedium))
	if got := run(e, mkEvent("Application", "P", 1, t0, "A=x")); len(got) != 0 {
		t.Errorf("a low finding passed WithMinLevel(medium)")
	}
	_, e = engineFor(t, y, WithMinLevel(LevelLow))
	if got := run(e, mkEvent("Application", "P", 1, t0, "A=x")); len(got) != 1 {
		t.Errorf("a low finding was dropped by WithMinLevel(low)")
	}
}

// TestReorderWindowBoundsMemory runs a long stream, in time order with
// small jitter, through an engine that decides windows as they close: it
// must find exactly what the Flush-only engine finds while holding only the
// hits of open windows.
func TestReorderWindowBoundsMemory(t *testing.T) {
	y := corrRule("    type: event_count\n    rules: [base_a, base_b]\n    group-by: [User]\n    timespan: 10s\n    condition: {gte: 3}\n") + `---
title: unclosed
id: unclosed
correlation:
    type: absence
    rules: [base_a, base_b]
    group-by: [User]
    timespan: 20s
---
title: ordered
id: ordered
correlation:
    type: temporal_ordered
    rules: [base_a, base_b]
    group-by: [User]
    timespan: 5s
    generate: true
---
title: chained
id: chained
correlation:
    type: event_count
    rules: [ordered]
    group-by: [User]
    timespan: 1m
    condition: {gte: 2}
`
	rng := rand.New(rand.NewSource(5))
	var events []*parser.Event
	for i := 0; i < 6000; i++ {
		sec := float64(i)*0.8 + rng.Float64()*0.5 // jitter below 1 s
		u := fmt.Sprintf("User=u%d", rng.Intn(4))
		var ev *parser.Event
		switch rng.Intn(5) {
		case 0, 1:
			ev = evA(sec, u)
		case 2:
			ev = evB(sec, u)
		default:
			ev = noise(sec)
		}
		ev.System.EventRecordID = uint64(i + 1)
		events = append(events, ev)
	}
	_, exact := engineFor(t, y)
	want := summarize(run(exact, events...))
	if strings.Count(want, "\n") < 50 {
		t.Fatalf("too few findings (%d) for the test to mean anything", strings.Count(want, "\n")+1)
	}

	_, bounded := engineFor(t, y, WithReorderWindow(time.Second))
	var got []Finding
	emit := func(f Finding) { got = append(got, f) }
	maxHeld := 0
	for _, ev := range events {
		bounded.Process(ev, emit)
		held := 0
		for _, r := range bounded.runs {
			held += r.buffered
		}
		maxHeld = max(maxHeld, held)
	}
	bounded.Flush(emit)
	if s := summarize(got); s != want {
		t.Errorf("bounded engine differs from the exact one:\n%s", diffLines(s, want))
	}
	// Windows close every tickEvery events: each of the 4 correlations holds
	// at most the base hits of one tick (~0.6 × 512) plus its open windows,
	// far below the ~10,000 hits the input has.
	if maxHeld > 1500 {
		t.Errorf("held up to %d hits; want memory bounded by open windows (≤ 1500)", maxHeld)
	}
	t.Logf("%d findings, at most %d hits held of %d events", strings.Count(want, "\n")+1, maxHeld, len(events))
}

func diffLines(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	in := func(l []string, s string) bool {
		for _, x := range l {
			if x == s {
				return true
			}
		}
		return false
	}
	var out []string
	for _, x := range g {
		if !in(w, x) {
			out = append(out, "+ "+x)
		}
	}
	for _, x := range w {
		if !in(g, x) {
			out = append(out, "- "+x)
		}
	}
	if len(out) > 20 {
		out = append(out[:20], "…")
	}
	return strings.Join(out, "\n")
}

// TestEnginesInParallel runs engines built from one ruleset on several
// goroutines (run with -race): they share only read-only compiled rules.
func TestEnginesInParallel(t *testing.T) {
	rs, _ := engineFor(t, corrRule("    type: temporal\n    rules: [base_a, base_b]\n    group-by: [User]\n    timespan: 5s\n")+
		"---\n"+strings.Replace(detectionRule("    s:\n        User|contains: u\n    condition: s\n"), "id: r1", "id: plain", 1))
	want := ""
	results := make(chan string, 4)
	for g := 0; g < 4; g++ {
		go func() {
			e, err := rs.NewEngine()
			if err != nil {
				results <- err.Error()
				return
			}
			var evs []*parser.Event
			for i := 0; i < 200; i++ {
				evs = append(evs, evA(float64(i), "User=u1"), evB(float64(i)+0.5, "User=u1"))
			}
			results <- summarize(run(e, evs...))
		}()
	}
	for g := 0; g < 4; g++ {
		got := <-results
		if g == 0 {
			want = got
			continue
		}
		if got != want {
			t.Errorf("engine %d differs", g)
		}
	}
	if want == "" {
		t.Error("no findings")
	}
}
