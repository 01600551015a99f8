package rules

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/evtxscan/evtxscan/parser"
)

const msiMap = `fieldmap: msi-product
provider: MsiInstaller
event_ids: [1033, "1034-1035"]
fields:
  ProductName: Data[1]
  ProductVersion: Data[2]
  Status: Data[4]
  ProductCode: msi_product_code(Binary)
  StatusMeaning: label(Status, msi_status)
  Shout: lower(ProductName)
  Fixed: "'constant'"
  Chain: lower(label(Status, msi_status))
labels:
  msi_status:
    "0": success
    "1603": Fatal Error During Installation
`

func msiEvent(id uint16, status string) *parser.Event {
	ev := mkEvent("Application", "MsiInstaller", id, t0, "=Contoso Agent", "=4.2.0.17", "=1033", "="+status, "=Contoso Ltd.")
	ev.Binary = []byte("{7BE25830-15EE-4797-A25F-DF614ACA9B8E}0000")
	return ev
}

func TestFieldMapResolve(t *testing.T) {
	rs := NewRuleset()
	if err := rs.AddBytes("m.yml", []byte(msiMap)); err != nil {
		t.Fatal(err)
	}
	if sk := rs.Skipped(); len(sk) != 0 {
		t.Fatalf("refused: %v", sk[0])
	}
	ev := msiEvent(1034, "1603")
	ud := &parser.Node{Name: "Root", Children: []*parser.Node{{Name: "Inner", Children: []*parser.Node{{Name: "Leaf", Text: "deep"}}}}}
	tests := []struct {
		ev     *parser.Event
		field  string
		want   string
		wantOK bool
	}{
		{ev, "ProductName", "Contoso Agent", true},
		{ev, "Status", "1603", true},
		{ev, "StatusMeaning", "Fatal Error During Installation", true},
		{ev, "ProductCode", "{7BE25830-15EE-4797-A25F-DF614ACA9B8E}", true},
		{ev, "Shout", "contoso agent", true},
		{ev, "Fixed", "constant", true},
		{ev, "Chain", "fatal error during installation", true},
		{ev, "Data[4]", "1603", true},
		{ev, "EventID", "1034", true},
		{ev, "Provider_Name", "MsiInstaller", true},
		{ev, "Binary", strings.ToUpper(hex.EncodeToString(ev.Binary)), true},
		{ev, "Nope", "", false},
		{msiEvent(1035, "0"), "StatusMeaning", "success", true},
		{msiEvent(1035, "1618"), "StatusMeaning", "", false}, // no label: absent, not a guess
		{msiEvent(1040, "0"), "ProductName", "", false},      // map does not apply to 1040
		{&parser.Event{UserData: ud}, "Leaf", "deep", true},
		{&parser.Event{UserData: ud}, "Inner.Leaf", "deep", true},
		{&parser.Event{UserData: ud}, "Other.Leaf", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			got, ok := rs.Resolve(tt.ev, tt.field)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Resolve(%d, %s) = %q, %v; want %q, %v", tt.ev.System.EventID, tt.field, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestFieldMapInRules(t *testing.T) {
	rule := `title: failed removal
id: msi_fail
level: high
logsource:
    product: windows
    service: application
detection:
    sel:
        Provider_Name: MsiInstaller
        EventID: 1034
    ok:
        Status: ['0', '1641', '3010']
    condition: sel and not ok
fields:
    - ProductName
    - ProductCode
    - Status
    - StatusMeaning
evtxscan:
    level_by:
        field: Status
        levels:
            "1602": low
`
	_, e := engineFor(t, msiMap+"---\n"+rule)
	got := run(e, msiEvent(1034, "1603"), msiEvent(1034, "0"), msiEvent(1033, "1603"), msiEvent(1034, "1602"))
	if len(got) != 2 {
		t.Fatalf("got %d findings %v, want 2", len(got), ids(got))
	}
	f := got[0]
	want := []DisplayField{{"ProductName", "Contoso Agent"}, {"ProductCode", "{7BE25830-15EE-4797-A25F-DF614ACA9B8E}"},
		{"Status", "1603"}, {"StatusMeaning", "Fatal Error During Installation"}}
	if len(f.Fields) != len(want) {
		t.Fatalf("fields %v, want %v", f.Fields, want)
	}
	for i := range want {
		if f.Fields[i] != want[i] {
			t.Errorf("field %d = %v, want %v", i, f.Fields[i], want[i])
		}
	}
	if f.Level != LevelHigh || got[1].Level != LevelLow {
		t.Errorf("levels %v, %v; want high, then low (level_by 1602)", f.Level, got[1].Level)
	}
	if f.RuleID != "msi_fail" || f.Computer != "HOST1" || !f.Time.Equal(t0) || len(f.Events) != 1 || f.Events[0].EventID != 1034 {
		t.Errorf("finding header wrong: %+v", f)
	}
}

func TestFieldMapErrors(t *testing.T) {
	tests := []struct {
		name, yml, want string
		line            int
	}{
		{"unknown decoder", "fieldmap: x\nprovider: P\nfields:\n  A: frob(Data[1])\n", "unknown decoder", 4},
		{"unknown table", "fieldmap: x\nprovider: P\nfields:\n  A: label(Data[1], nope)\n", "label table", 4},
		{"no provider", "fieldmap: x\nfields:\n  A: Data[1]\n", "provider", 1},
		{"bad range", "fieldmap: x\nprovider: P\nevent_ids: [\"9-2\"]\nfields:\n  A: Data[1]\n", "event_ids", 3},
		{"system name", "fieldmap: x\nprovider: P\nfields:\n  EventID: Data[1]\n", "System field", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := NewRuleset()
			_ = rs.AddBytes("fm.yml", []byte(tt.yml))
			sk := rs.Skipped()
			if len(sk) != 1 {
				t.Fatalf("got %d refusals, want 1", len(sk))
			}
			p := sk[0].Problems[0]
			if !strings.Contains(p.Msg, tt.want) || p.Line != tt.line {
				t.Errorf("got %v, want line %d mentioning %q", p, tt.line, tt.want)
			}
			if !strings.HasPrefix(p.Error(), "fm.yml:") || !strings.Contains(p.Error(), "fieldmap x") {
				t.Errorf("error text %q does not name file and map", p.Error())
			}
		})
	}
}

func TestResolverCachesPerEvent(t *testing.T) {
	rs := NewRuleset()
	if err := rs.AddBytes("m.yml", []byte(msiMap)); err != nil {
		t.Fatal(err)
	}
	r := rs.NewResolver()
	ev := msiEvent(1034, "1603")
	ev.System.EventRecordID = 1
	if v, _ := r.Resolve(ev, "StatusMeaning"); v != "Fatal Error During Installation" {
		t.Fatalf("StatusMeaning = %q", v)
	}
	// the caller reuses the same Event value for the next record
	*ev = *msiEvent(1034, "0")
	ev.System.EventRecordID = 2
	if v, _ := r.Resolve(ev, "StatusMeaning"); v != "success" {
		t.Errorf("after reuse of the Event value: StatusMeaning = %q, want success (stale cache)", v)
	}
	// concurrent Ruleset.Resolve (run with -race)
	done := make(chan bool)
	for g := 0; g < 4; g++ {
		go func() {
			for i := 0; i < 200; i++ {
				e := msiEvent(1034, "1603")
				if v, _ := rs.Resolve(e, "ProductCode"); v != "{7BE25830-15EE-4797-A25F-DF614ACA9B8E}" {
					t.Errorf("concurrent Resolve = %q", v)
				}
			}
			done <- true
		}()
	}
	for g := 0; g < 4; g++ {
		<-done
	}
}
