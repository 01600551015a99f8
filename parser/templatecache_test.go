package parser

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evtxscan/evtxscan/internal/testenv"
)

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
			k := d.known[templateKey{off: off, guid: tmpl.guid, size: binary.LittleEndian.Uint32(chunk[off+20:])}]
			if tmpl.err != nil || k == nil || len(k.ext) == 0 {
				continue
			}
			ext := k.ext[0]
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
