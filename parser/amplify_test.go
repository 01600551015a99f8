package parser

import (
	"bytes"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// amplifyingFile writes the file of the issue: one chunk (a 68 KiB file)
// whose first record nests an instance of template A (<E> holding its
// string value repA times) repB times inside template B, so that a
// bigLen-character value renders repA×repB times (hundreds of MB without a
// byte budget, though under the item limit). The other records reuse both
// templates by offset with a smallLen-character value, so that many small
// records add up too.
func amplifyingFile(t testing.TB, bigLen, smallLen, small, repA, repB int) []byte {
	t.Helper()
	cb := newChunkBuilder()
	guidA := [16]byte{0xA1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	guidB := [16]byte{0xB1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	var defA, defB int
	for i := 0; i <= small; i++ {
		cb.beginRecord(uint64(i+1), ft20240301)
		cb.fragmentHeader()
		if i == 0 {
			defB = cb.beginTemplate(guidB)
			cb.open("F", -1, false)
			cb.closeStart()
			for range repB {
				cb.subst(0, typeBinXML, false)
			}
			cb.closeEnd()
			cb.endTemplate()
		} else {
			cb.refTemplate(defB, 0xB1030201)
		}
		// One value: a BinXML fragment written in place (its template
		// definition needs its own chunk offset), size patched after.
		cb.u32(1)
		sizeAt := cb.pos()
		cb.u16(0)
		cb.u8(typeBinXML)
		cb.u8(0)
		start := cb.pos()
		cb.fragmentHeader()
		n := smallLen
		if i == 0 {
			defA = cb.beginTemplate(guidA)
			cb.open("E", -1, false)
			cb.closeStart()
			for range repA {
				cb.subst(0, typeString, false)
			}
			cb.closeEnd()
			cb.endTemplate()
			n = bigLen
		} else {
			cb.refTemplate(defA, 0xA1030201)
		}
		cb.values(tv{typeString, utf16le(strings.Repeat("x", n))})
		cb.u8(tokEOF)
		size := cb.pos() - start
		cb.b[sizeAt], cb.b[sizeAt+1] = byte(size), byte(size>>8)
		cb.u8(tokEOF)
		cb.endRecord()
	}
	if cb.pos() > chunkSize {
		t.Fatalf("amplifying chunk is %d bytes", cb.pos())
	}
	return buildFile(cb.finish())
}

// heapPeak samples the live heap (runtime/metrics) every millisecond until
// stop is called and returns the highest value seen, and the bytes
// allocated meanwhile.
func heapPeak() (stop func() (peak, allocated uint64)) {
	runtime.GC()
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(samples)
	base, allocs0 := samples[0].Value.Uint64(), samples[1].Value.Uint64()
	var peak atomic.Uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > base && v-base > peak.Load() {
				peak.Store(v - base)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() (uint64, uint64) {
		close(done)
		<-finished
		metrics.Read(samples)
		return peak.Load(), samples[1].Value.Uint64() - allocs0
	}
}

// amplifyBound is the documented bound (README, Limits): decoding the
// amplifying file, as Events, XML or Encoded JSON, keeps the live heap
// under 64 MiB (without the byte budget it rendered about 600 MB).
const amplifyBound = 64 << 20

func TestOutputBudgetInBytes(t *testing.T) {
	// 20,000 characters × 100 × 300 = 600 MB unbounded; 30 small records
	// of 200 characters × 30,000 = 6 MB each.
	data := amplifyingFile(t, 20000, 200, 30, 100, 300)
	if len(data) > 70<<10 {
		t.Fatalf("file is %d bytes, want a 68 KiB one", len(data))
	}
	for _, mode := range []string{"events", "xml", "encoded"} {
		t.Run(mode, func(t *testing.T) {
			f, err := NewFile(bytes.NewReader(data), int64(len(data)), "amplify.evtx", Options{Workers: 1, XML: mode == "xml"})
			if err != nil {
				t.Fatal(err)
			}
			stop := heapPeak()
			records, out, truncated := 0, 0, 0
			if mode != "encoded" {
				for ev, err := range f.Events(t.Context()) {
					if err != nil {
						t.Fatalf("error: %v", err)
					}
					records++
					out += len(ev.XML)
					if ev.Source.Truncated {
						truncated++
					}
				}
			} else {
				for b, err := range f.Encoded(t.Context(), AppendJSON) {
					if err != nil {
						t.Fatalf("error: %v", err)
					}
					out += len(b)
					truncated += bytes.Count(b, []byte(`"truncated":true`))
					records += bytes.Count(b, []byte(`{"file":`))
				}
			}
			peak, allocated := stop()
			t.Logf("%s: %d records, %d truncated, %d output bytes; heap peak %.1f MiB, allocated %.1f MiB",
				mode, records, truncated, out, float64(peak)/(1<<20), float64(allocated)/(1<<20))
			st := f.Stats()
			if records != 31 || truncated != 31 || st.Truncated != 31 || !st.Incomplete() || len(st.Losses()) != 31 {
				t.Errorf("%d records, %d truncated; stats truncated %d, incomplete %v, %d losses", records, truncated, st.Truncated, st.Incomplete(), len(st.Losses()))
			}
			if !strings.Contains(st.Problems[0].Reason, "over its budget of 4194304 bytes") {
				t.Errorf("first problem: %s", st.Problems[0].Reason)
			}
			// 4 MiB for the first, the rest of the chunk's 8 MiB, then
			// 16 KiB each, plus the markup (XML: <E></E> around 200
			// characters at most doubles it).
			if out > 2*(maxChunkOutput+MaxRecordOutput+31*minRecordOutput) {
				t.Errorf("output %d bytes", out)
			}
			if peak > amplifyBound {
				t.Errorf("heap peak %d bytes: over the documented %d", peak, amplifyBound)
			}
		})
	}
}
