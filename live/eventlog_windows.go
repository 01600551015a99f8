//go:build windows

package live

import (
	"time"

	"golang.org/x/sys/windows"

	"github.com/evtxscan/evtxscan/internal/wevtapi"
)

func openEventLog() (eventLog, error) { return newAPILog(winAPI{}), nil }

// winAPI is evtAPI over wevtapi.dll: each method is the wevtapi call.
type winAPI struct{}

func (winAPI) Query(channel, xpath string, flags uint32) (wevtapi.Handle, error) {
	return wevtapi.Query(channel, xpath, flags)
}

func (winAPI) Seek(rs wevtapi.Handle, position int64, bookmark wevtapi.Handle, flags uint32) error {
	return wevtapi.Seek(rs, position, bookmark, flags)
}

func (winAPI) Subscribe(sig signal, channel, xpath string, bookmark wevtapi.Handle, flags uint32) (wevtapi.Handle, error) {
	return wevtapi.Subscribe(sig.(*winSignal).h, channel, xpath, bookmark, flags)
}

func (winAPI) Next(rs wevtapi.Handle, events []wevtapi.Handle, timeoutMillis uint32) (int, error) {
	return wevtapi.Next(rs, events, timeoutMillis)
}

func (winAPI) Render(fragment wevtapi.Handle, flags uint32, buf *[]uint16) (string, error) {
	return wevtapi.RenderXML(fragment, flags, buf)
}

func (winAPI) CreateBookmark(xml string) (wevtapi.Handle, error) { return wevtapi.CreateBookmark(xml) }

func (winAPI) UpdateBookmark(bookmark, event wevtapi.Handle) error {
	return wevtapi.UpdateBookmark(bookmark, event)
}

func (winAPI) LogInfo(channel string) (count, oldest, created uint64, err error) {
	return wevtapi.LogInfo(channel)
}

func (winAPI) OpenPublisherMetadata(provider string) (wevtapi.Handle, error) {
	return wevtapi.OpenPublisherMetadata(provider)
}

func (winAPI) FormatMessage(meta, event wevtapi.Handle, messageID, flags uint32) (string, bool, error) {
	return wevtapi.FormatMessage(meta, event, messageID, flags)
}

func (winAPI) Close(h wevtapi.Handle) error { return wevtapi.Close(h) }

func (winAPI) NewSignal() (signal, error) {
	h, err := windows.CreateEvent(nil, 1, 1, nil) // manual reset, initially set: drain first
	if err != nil {
		return nil, err
	}
	return &winSignal{h: h}, nil
}

// winSignal is a Windows event object.
type winSignal struct{ h windows.Handle }

func (s *winSignal) Reset() { windows.ResetEvent(s.h) }

func (s *winSignal) Wait(timeout time.Duration) (bool, error) {
	ev, err := windows.WaitForSingleObject(s.h, uint32(timeout/time.Millisecond))
	if err != nil {
		return false, err
	}
	return ev == windows.WAIT_OBJECT_0, nil
}

func (s *winSignal) Close() error { return windows.CloseHandle(s.h) }
