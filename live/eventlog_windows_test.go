//go:build windows

package live

import (
	"context"
	"testing"
	"time"

	"github.com/evtxscan/evtxscan/parser"
)

// TestWindowsEventLog reads the machine's System log through the real
// eventLog: records parse, carry channel record ids, and a query after the
// newest record returns nothing older (the newest itself may come first,
// as EvtSeek documents).
func TestWindowsEventLog(t *testing.T) {
	l, err := openEventLog()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	info, err := l.Info("System")
	if err != nil || info.Newest < info.Oldest || info.Newest == 0 {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	r, err := l.Query("System", "*", 0)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := r.Next(16)
	r.Close()
	if err != nil || len(recs) == 0 {
		t.Fatalf("Next: %d, %v", len(recs), err)
	}
	for _, rec := range recs {
		if rec.Err != nil {
			t.Errorf("record %d: %v", rec.RecordID, rec.Err)
			continue
		}
		ev, err := parser.ParseEventXML(rec.XML)
		if err != nil {
			t.Errorf("record %d: %v", rec.RecordID, err)
			continue
		}
		if rec.RecordID != ev.System.EventRecordID {
			t.Errorf("bookmark record id %d, System/EventRecordID %d (System is not forwarded)", rec.RecordID, ev.System.EventRecordID)
		}
	}
	r, err = l.Query("System", "*", info.Newest)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	after, err := r.Next(16)
	if err != nil {
		t.Fatal(err)
	}
	// EVT_SEEK_FLAGS remarks: a seek past the last record without
	// EvtSeekStrict "will return the last record within the boundary", so
	// the newest record itself may come first (Source skips it); nothing
	// older may.
	for i, rec := range after {
		if rec.RecordID < info.Newest || (rec.RecordID == info.Newest && i > 0) {
			t.Errorf("query after %d returned record %d at %d", info.Newest, rec.RecordID, i)
		}
	}
	sub, err := l.Subscribe("System", "*", info.Newest)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if _, err := sub.Next(16); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := sub.Wait(context.Background(), 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 2*time.Second {
		t.Error("Wait ignored its timeout")
	}
}
