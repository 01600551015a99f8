package parser

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/evtxscan/evtxscan/internal/testenv"
)

type extRef struct {
	off uint32
	s   string
}

// partNames lists every element, attribute and entity name of parts.
func partNames(ps []part, out []string) []string {
	for _, p := range ps {
		switch p.kind {
		case partElement:
			out = append(out, p.elem.name)
			for _, a := range p.elem.attrs {
				out = append(out, a.name)
				out = partNames(a.parts, out)
			}
			out = partNames(p.elem.content, out)
		case partEntity, partPI:
			out = append(out, p.text)
		}
	}
	return out
}

// TestTemplateCacheChecksWhatParsingReads: a template parsed in one chunk
// is reused in another only when everything its parse read is the same.
// A definition whose body refers to a name defined before it in the chunk
// is taken from security.evtx; in a copy of the chunk that name's text is
// changed (same length): the template must be parsed again and show the
// new name, while an unchanged copy reuses the parsed template.
func TestTemplateCacheChecksWhatParsingReads(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testenv.Corpus(t), "omerbenamram+evtx/samples/security.evtx"))
	if err != nil {
		t.Fatal(err)
	}
	for c := 0; fileHeaderBlock+(c+1)*chunkSize <= len(data); c++ {
		chunk := data[fileHeaderBlock+c*chunkSize : fileHeaderBlock+(c+1)*chunkSize]
		d := newDecoder()
		d.reset(chunk)
		d.scanTemplateTable()
		for off, tmpl := range d.templates {
			k := d.known[templateKey{guid: tmpl.guid, size: binary.LittleEndian.Uint32(chunk[off+20:])}]
			if tmpl.err != nil || k == nil || k.t != tmpl {
				continue
			}
			var ext extRef
			for _, r := range k.refs {
				if r.kind == refExternal {
					ext = extRef{off: binary.LittleEndian.Uint32(chunk[int(off)+templateHeaderSize+r.rel:]), s: r.s}
					break
				}
			}
			if ext.s == "" {
				continue
			}
			// Same bytes in a new chunk: reused.
			same := append([]byte(nil), chunk...)
			d.reset(same)
			if got := d.template(off, 0); got != tmpl {
				t.Fatalf("chunk %d template 0x%x: an identical chunk parsed it again", c, off)
			}
			// The external name changed: parsed again, with the new text.
			changed := append([]byte(nil), chunk...)
			text := int(ext.off) + 8
			changed[text] ^= 'A' ^ 'Q' // first UTF-16 unit: another letter
			d.reset(changed)
			got := d.template(off, 0)
			if got == tmpl {
				t.Fatalf("chunk %d template 0x%x: reused although the name at 0x%x it refers to changed", c, off, ext.off)
			}
			want := utf16ToString(changed[text : text+2*len(ext.s)])
			if names := partNames(got.parts, nil); !strings.Contains(strings.Join(names, "|"), want) {
				t.Errorf("reparsed template names %q lack the changed name %q", names, want)
			}
			return
		}
	}
	t.Fatal("no template in security.evtx refers to a name outside its body: pick another sample")
}

// TestTemplateCacheAgreesWithParsing parses every template definition of
// every corpus file twice: with one decoder kept across the file's chunks
// (reusing templates of earlier chunks) and with a fresh decoder per chunk.
// The parsed parts must be identical; the log says how many definitions
// were reused, moved ones (another offset) included.
func TestTemplateCacheAgreesWithParsing(t *testing.T) {
	root := testenv.Corpus(t)
	defs, reused, moved := 0, 0, 0
	for _, rel := range corpusFiles(t, root) {
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		d := newDecoder()
		firstOff := map[*template]uint32{}
		for c := 0; fileHeaderBlock+(c+1)*chunkSize <= len(data); c++ {
			chunk := data[fileHeaderBlock+c*chunkSize : fileHeaderBlock+(c+1)*chunkSize]
			if string(chunk[:8]) != chunkSignature {
				continue
			}
			d.reset(chunk)
			if !safeScanTemplateTable(d) {
				continue
			}
			for off, tmpl := range d.templates {
				fresh := newDecoder()
				fresh.reset(chunk)
				ft := fresh.template(off, 0)
				if (tmpl.err == nil) != (ft.err == nil) || tmpl.guid != ft.guid || !reflect.DeepEqual(tmpl.parts, ft.parts) {
					t.Fatalf("%s chunk %d template 0x%x: reused parse differs from a fresh one", rel, c, off)
				}
				if tmpl.err != nil {
					continue
				}
				defs++
				if first, seen := firstOff[tmpl]; seen {
					reused++
					if first != off {
						moved++
					}
				} else {
					firstOff[tmpl] = off
				}
			}
		}
	}
	t.Logf("%d template definitions, %d reused from an earlier chunk (%d at another offset), all equal to a fresh parse", defs, reused, moved)
	if reused == 0 || moved == 0 {
		t.Errorf("no reuse (%d) or none across offsets (%d): the cache is not exercised", reused, moved)
	}
}
