package live

import (
	"fmt"
	"testing"
)

func TestFillPlaceholders(t *testing.T) {
	ins := []string{"Zoom", "1603", "%%1833"}
	tests := []struct{ msg, want string }{
		{"Product: %1 -- Removal failed, status %2.", "Product: Zoom -- Removal failed, status 1603."},
		{"no inserts", "no inserts"},
		{"%1!s! and %2!d!", "Zoom and 1603"},
		{"%3", "%%1833"},
		{"%4 stays, %0 stays", "%4 stays, %0 stays"},
		{"50%% done, 100%", "50%% done, 100%"},
		{"%10 is not %1 followed by 0", "%10 is not Zoom followed by 0"},
		{"%1!unterminated", "Zoom!unterminated"},
		{"trailing %", "trailing %"},
	}
	for _, tt := range tests {
		if got := fillPlaceholders(tt.msg, ins); got != tt.want {
			t.Errorf("fillPlaceholders(%q) = %q, want %q", tt.msg, got, tt.want)
		}
	}
	if got := fillPlaceholders("%1", nil); got != "%1" {
		t.Errorf("without inserts: %q", got)
	}
}

func TestMessageCache(t *testing.T) {
	var c messageCache
	if c.skip("MsiInstaller", 1033) {
		t.Fatal("empty cache skips")
	}
	c.missingMessage("MsiInstaller", 1033)
	c.missingProvider("Gone")
	if !c.skip("MsiInstaller", 1033) || c.skip("MsiInstaller", 1034) || !c.skip("Gone", 1) {
		t.Error("negative cache wrong")
	}
	for i := range maxMessageCacheEntries + 10 {
		c.missingProvider(fmt.Sprint("p", i))
	}
	if c.entries > maxMessageCacheEntries {
		t.Errorf("cache grew to %d entries", c.entries)
	}
}

func TestBookmarkXML(t *testing.T) {
	got := bookmarkXML("Microsoft-Windows-AppXDeploymentServer/Operational", 42)
	want := "<BookmarkList><Bookmark Channel='Microsoft-Windows-AppXDeploymentServer/Operational' RecordId='42' IsCurrent='true'/></BookmarkList>"
	if got != want {
		t.Errorf("got %s", got)
	}
	if got := bookmarkXML(`a'<b`, 1); got != "<BookmarkList><Bookmark Channel='a&apos;&lt;b' RecordId='1' IsCurrent='true'/></BookmarkList>" {
		t.Errorf("escaping: %s", got)
	}
}

func TestBookmarkRecordID(t *testing.T) {
	tests := []struct {
		xml string
		id  uint64
		ok  bool
	}{
		{"<BookmarkList>\r\n  <Bookmark Channel='ForwardedEvents' RecordId='1234' IsCurrent='true'/>\r\n</BookmarkList>", 1234, true},
		{bookmarkXML("System", 7), 7, true},
		{`<Bookmark Channel="A" RecordId="9"/>`, 9, true},
		{`<Bookmark Channel='A' RecordId='x'/>`, 0, false},
		{`<Bookmark Channel='A' RecordId='0'/>`, 0, false},
		{`<Bookmark Channel='A' RecordId=`, 0, false},
		{`<Bookmark Channel='A' RecordId='12`, 0, false},
		{``, 0, false},
	}
	for _, tt := range tests {
		id, ok := bookmarkRecordID(tt.xml)
		if id != tt.id || ok != tt.ok {
			t.Errorf("bookmarkRecordID(%q) = %d, %v; want %d, %v", tt.xml, id, ok, tt.id, tt.ok)
		}
	}
}
