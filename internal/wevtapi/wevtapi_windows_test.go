//go:build windows

package wevtapi

import (
	"errors"
	"strings"
	"testing"
)

// These tests run against the machine's own event log service.

func TestChannelsAndPublishers(t *testing.T) {
	chans, err := Channels()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range chans {
		found = found || strings.EqualFold(c, "System")
	}
	if !found {
		t.Errorf("System not among %d channels", len(chans))
	}
	pubs, err := Publishers()
	if err != nil || len(pubs) == 0 {
		t.Fatalf("%d publishers, %v", len(pubs), err)
	}
}

func TestQueryRenderBookmarkFormat(t *testing.T) {
	count, oldest, _, err := LogInfo("System")
	if err != nil || count == 0 || oldest == 0 {
		t.Fatalf("LogInfo(System) = %d, %d, %v", count, oldest, err)
	}
	q, err := Query("System", "*", QueryChannelPath|QueryForwardDirection)
	if err != nil {
		t.Fatal(err)
	}
	defer Close(q)
	events := make([]Handle, 5)
	n, err := Next(q, events, 0)
	if err != nil || n == 0 {
		t.Fatalf("Next = %d, %v", n, err)
	}
	buf := make([]uint16, 1) // too small on purpose: exercises the growth
	bm, err := CreateBookmark("")
	if err != nil {
		t.Fatal(err)
	}
	defer Close(bm)
	for _, h := range events[:n] {
		xml, err := RenderXML(h, RenderEventXML, &buf)
		if err != nil || !strings.HasPrefix(xml, "<Event") || !strings.HasSuffix(xml, "</Event>") {
			t.Errorf("RenderXML = %.80q…, %v", xml, err)
		}
		if err := UpdateBookmark(bm, h); err != nil {
			t.Fatal(err)
		}
		Close(h)
	}
	var bbuf []uint16
	bx, err := RenderXML(bm, RenderBookmark, &bbuf)
	if err != nil || !strings.Contains(bx, "RecordId=") || !strings.Contains(bx, "System") {
		t.Errorf("bookmark XML %q, %v", bx, err)
	}
	meta, err := OpenPublisherMetadata("Microsoft-Windows-Eventlog")
	if err != nil {
		t.Skip("no Eventlog publisher metadata:", err)
	}
	defer Close(meta)
	evs, err := PublisherEvents(meta)
	if err != nil || len(evs) == 0 {
		t.Fatalf("PublisherEvents: %d, %v", len(evs), err)
	}
	for _, e := range evs {
		if e.ID == 1102 && e.MessageID != 0 && e.MessageID != 0xFFFFFFFF {
			msg, _, err := FormatMessage(meta, 0, e.MessageID, FormatMessageID)
			if err != nil || !strings.Contains(strings.ToLower(msg), "log") {
				t.Errorf("1102 message %q, %v", msg, err)
			}
		}
	}
}

func TestUnknownChannel(t *testing.T) {
	_, err := Query("No-Such-Channel/Operational", "*", QueryChannelPath)
	if !errors.Is(err, ErrorEvtChannelNotFound) {
		t.Errorf("error %v, want ERROR_EVT_CHANNEL_NOT_FOUND", err)
	}
}
