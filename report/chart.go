package report

import (
	"time"

	"github.com/evtxscan/evtxscan/rules"
)

// histBuckets bounds the memory of the streaming event histogram.
const histBuckets = 4096

// A histogram counts event times while they stream by, in at most
// histBuckets buckets. Buckets start one second wide and double in width
// whenever the covered range would need more, so the counts stay exact per
// bucket whatever the time span (one minute or ten years) and order.
type histogram struct {
	width   int64 // seconds per bucket, a power of two; 0 until the first add
	first   int64 // bucket number (unix seconds / width) of counts[0]
	counts  []int
	skipped int // events without a plausible time (zero, before 1980, after 2200)
}

func (h *histogram) add(t time.Time) {
	if t.IsZero() || t.Year() < 1980 || t.Year() > 2200 {
		h.skipped++
		return
	}
	sec := t.Unix()
	if h.width == 0 {
		h.width, h.first, h.counts = 1, sec, make([]int, 1, 64)
	}
	b := sec / h.width
	for {
		lo, hi := min(h.first, b), max(h.first+int64(len(h.counts))-1, b)
		if hi-lo < histBuckets {
			break
		}
		h.coarsen()
		b = sec / h.width
	}
	if b < h.first {
		grow := int(h.first - b)
		h.counts = append(make([]int, grow, grow+len(h.counts)), h.counts...)
		h.first = b
	}
	for b >= h.first+int64(len(h.counts)) {
		h.counts = append(h.counts, 0)
	}
	h.counts[b-h.first]++
}

// coarsen doubles the bucket width, merging pairs of buckets.
func (h *histogram) coarsen() {
	nf := h.first / 2
	merged := make([]int, (h.first+int64(len(h.counts))-1)/2-nf+1)
	for i, c := range h.counts {
		merged[(h.first+int64(i))/2-nf] += c
	}
	h.width *= 2
	h.first = nf
	h.counts = merged
}

// A chart is the histogram of events and findings over time that the HTML
// page draws, in at most chartBars buckets of a round width.
type chart struct {
	Buckets []chartBucket
	Width   time.Duration
	Skipped int // events not charted: no plausible time
	MaxEv   int
	MaxFind int
}

type chartBucket struct {
	Start    time.Time
	Events   int
	Findings int
	Top      rules.Level // highest level of the bucket's findings
}

const chartBars = 96

// roundWidths are the bucket widths a chart may use, smallest first.
var roundWidths = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 2 * 24 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour, 30 * 24 * time.Hour,
	91 * 24 * time.Hour, 365 * 24 * time.Hour, 5 * 365 * 24 * time.Hour, 25 * 365 * 24 * time.Hour,
}

func buildChart(h *histogram, findings []rules.Finding) chart {
	c := chart{Skipped: h.skipped}
	plausible := func(t time.Time) bool { return !t.IsZero() && t.Year() >= 1980 && t.Year() <= 2200 }
	var lo, hi int64
	have := false
	span := func(a, b int64) {
		if !have {
			lo, hi, have = a, b, true
			return
		}
		lo, hi = min(lo, a), max(hi, b)
	}
	if len(h.counts) > 0 {
		span(h.first*h.width, (h.first+int64(len(h.counts)))*h.width-1)
	}
	for i := range findings {
		if t := findings[i].Time; plausible(t) {
			span(t.Unix(), t.Unix())
		}
	}
	if !have {
		return c
	}
	width := roundWidths[len(roundWidths)-1]
	for _, w := range roundWidths {
		if (hi-lo)/int64(w/time.Second)+1 <= chartBars {
			width = w
			break
		}
	}
	ws := int64(width / time.Second)
	origin := lo - lo%ws
	n := int((hi-origin)/ws) + 1
	c.Width = width
	c.Buckets = make([]chartBucket, n)
	for i := range c.Buckets {
		c.Buckets[i].Start = time.Unix(origin+int64(i)*ws, 0).UTC()
	}
	for i, cnt := range h.counts {
		if cnt == 0 {
			continue
		}
		start := (h.first + int64(i)) * h.width
		idx := int((start - origin) / ws)
		c.Buckets[min(max(idx, 0), n-1)].Events += cnt
	}
	for i := range findings {
		t := findings[i].Time
		if !plausible(t) {
			continue
		}
		b := &c.Buckets[min(max(int((t.Unix()-origin)/ws), 0), n-1)]
		if b.Findings == 0 || findings[i].Level > b.Top {
			b.Top = findings[i].Level
		}
		b.Findings++
	}
	for _, b := range c.Buckets {
		c.MaxEv = max(c.MaxEv, b.Events)
		c.MaxFind = max(c.MaxFind, b.Findings)
	}
	return c
}
