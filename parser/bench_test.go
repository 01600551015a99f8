package parser

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/evtxscan/evtxscan/internal/testenv"
)

// largestCorpusFile returns the path and bytes of the largest .evtx file of
// the corpus (a 13 MiB Microsoft-Windows-Store/Operational log today).
func largestCorpusFile(b *testing.B) (string, []byte) {
	b.Helper()
	root := testenv.Corpus(b)
	var best string
	var bestSize int64
	for _, rel := range corpusFiles(b, root) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if st, err := os.Stat(p); err == nil && st.Size() > bestSize {
			best, bestSize = p, st.Size()
		}
	}
	data, err := os.ReadFile(best)
	if err != nil {
		b.Fatal(err)
	}
	return best, data
}

// BenchmarkParse measures parsing the largest corpus file from memory (so
// the disk is not measured), with 1 and 2 workers, to Events and to dump
// JSON (AppendJSON per event, as `evtxscan dump` does). MB/s is input bytes
// per second.
//
//	go test ./parser -run '^$' -bench BenchmarkParse -benchtime 5x -cpu 1,2
//
// The encoded cases use File.Encoded (JSON written by the workers, as
// `evtxscan dump` does since it exists).
//
// With -cpu 1 the two-worker cases show the cost of the pipeline without a
// second core; compare workers=2 at -cpu 2 with workers=1 for the speed-up.
func BenchmarkParse(b *testing.B) {
	path, data := largestCorpusFile(b)
	b.Logf("input: %s (%d bytes)", filepath.Base(path), len(data))
	for _, bc := range []struct {
		name string
		opts Options
		json bool
	}{
		{"workers=1/event", Options{Workers: 1}, false},
		{"workers=2/event", Options{Workers: 2}, false},
		{"workers=1/json", Options{Workers: 1}, true},
		{"workers=2/json", Options{Workers: 2}, true},
		{"workers=1/xml", Options{Workers: 1, XML: true}, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			var records int
			var buf []byte
			for b.Loop() {
				f, err := NewFile(bytes.NewReader(data), int64(len(data)), path, bc.opts)
				if err != nil {
					b.Fatal(err)
				}
				records = 0
				for ev, err := range f.Events(context.Background()) {
					if err != nil {
						continue
					}
					records++
					if bc.json {
						buf = AppendJSON(buf[:0], ev)
					}
				}
				f.Close()
			}
			if records == 0 {
				b.Fatal("no records parsed")
			}
			b.ReportMetric(float64(records)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d/encoded", workers), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				f, err := NewFile(bytes.NewReader(data), int64(len(data)), path, Options{Workers: workers})
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for out, err := range f.Encoded(context.Background(), func(dst []byte, ev *Event) []byte {
					return append(AppendJSON(dst, ev), '\n')
				}) {
					if err == nil {
						n += len(out)
					}
				}
				if n == 0 {
					b.Fatal("no output")
				}
			}
		})
	}
}
