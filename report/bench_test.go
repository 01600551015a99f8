package report

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/evtxscan/evtxscan/internal/testenv"
	"github.com/xuri/excelize/v2"
)

// peakHeap samples the heap while a report is written; ReadMemStats stops
// the world briefly, so it runs every sampleEvery events only.
type peakHeap struct{ peak uint64 }

const sampleEvery = 20_000

func (p *peakHeap) sample() {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	p.peak = max(p.peak, m.HeapInuse)
}

// writeEvents writes n events (cycling through a pool of fixture events
// with rising times) in the given formats and returns the peak heap.
func writeEvents(tb testing.TB, dir string, n int, opts Options) uint64 {
	tb.Helper()
	pool := fixtureEvents(1000)
	opts.Dir = dir
	w, err := New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	runtime.GC()
	var p peakHeap
	p.sample()
	for i := 0; i < n; i++ {
		ev := *pool[i%len(pool)]
		ev.System.TimeCreated = fixtureBase.Add(time.Duration(i) * 10 * time.Millisecond)
		ev.Source.RecordID = uint64(i + 1)
		if err := w.AddEvent(&ev); err != nil {
			tb.Fatal(err)
		}
		if i%sampleEvery == 0 {
			p.sample()
		}
	}
	p.sample()
	if err := w.Close(fixtureSummary(1000)); err != nil {
		tb.Fatal(err)
	}
	p.sample()
	return p.peak
}

// Run with -benchtime=1000000x for the 1 M-event figures, e.g.
//
//	go test ./report -run '^$' -bench . -benchtime=1000000x -count=1
func BenchmarkXLSX(b *testing.B) { benchFormat(b, "xlsx") }
func BenchmarkHTML(b *testing.B) { benchFormat(b, "html") }
func BenchmarkCSV(b *testing.B)  { benchFormat(b, "csv") }
func BenchmarkJSONL(b *testing.B) {
	benchFormat(b, "jsonl")
}

func benchFormat(b *testing.B, format string) {
	dir := b.TempDir()
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu := time.Now(), testenv.CPUTime()
	// The HTML page embeds every event here: the worst case.
	peak := writeEvents(b, dir, b.N, Options{Formats: []string{format}, HTMLTimelineLimit: b.N})
	elapsed, cpu := time.Since(start), testenv.CPUTime()-cpu
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	if cpu > 0 { // on a shared machine wall time includes waiting for a core
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "events/cpu-s")
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	var size int64
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if st, err := e.Info(); err == nil {
			size += st.Size()
		}
	}
	b.ReportMetric(float64(size)/(1<<20), "output-MB")
}

// TestXLSXRowLimitReal proves the Timeline split at Excel's real limit with
// 1.1 M events. It takes minutes and a few hundred MB of disk, so it runs
// only when EVTXSCAN_BIG=1.
func TestXLSXRowLimitReal(t *testing.T) {
	if os.Getenv("EVTXSCAN_BIG") != "1" {
		t.Skip("set EVTXSCAN_BIG=1 to write 1.1 M events and check the split at 1,048,576 rows")
	}
	const n = 1_100_000
	dir := t.TempDir()
	start := time.Now()
	peak := writeEvents(t, dir, n, Options{Formats: []string{"xlsx"}})
	t.Logf("wrote %d events in %v (%.0f events/s), peak heap %.1f MB", n, time.Since(start), n/time.Since(start).Seconds(), float64(peak)/(1<<20))
	path := filepath.Join(dir, XLSXName)
	if st, err := os.Stat(path); err == nil {
		t.Logf("%s: %.1f MB", XLSXName, float64(st.Size())/(1<<20))
	}
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]int{"Timeline": maxSheetRows, "Timeline 2": n - (maxSheetRows - 1) + 1}
	for sheet, rowsWant := range want {
		rows, err := f.Rows(sheet)
		if err != nil {
			t.Fatal(err)
		}
		got, last := 0, ""
		for rows.Next() {
			got++
			cols, err := rows.Columns()
			if err != nil {
				t.Fatal(err)
			}
			if len(cols) > 7 {
				last = cols[7]
			}
		}
		_ = rows.Close()
		if got != rowsWant {
			t.Errorf("%s: got %d rows (with header), want %d", sheet, got, rowsWant)
		}
		t.Logf("%s: %d rows, last record id %s", sheet, got, last)
	}
	if got := len(f.GetSheetList()); got != 5 {
		t.Errorf("sheets: got %q", f.GetSheetList())
	}
}
