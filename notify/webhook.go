package notify

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

type webhookSender struct {
	t      Target
	client *http.Client
}

func (w *webhookSender) send(ctx context.Context, a *Alert) error {
	var body []byte
	var err error
	switch w.t.Type {
	case TypeSlack:
		body, err = slackPayload(a)
	case TypeTeams:
		body, err = teamsPayload(a)
	default:
		body, err = genericPayload(a)
	}
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.t.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "evtxscan")
	req.Header.Set("Idempotency-Key", a.ID)
	for k, v := range w.t.Headers {
		req.Header.Set(k, v)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", redact(w.t.URL), unwrapURLError(err))
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s %q", redact(w.t.URL), resp.Status, snippet)
	}
	return nil
}

// redact shows a webhook URL without what makes it a secret (the path of
// Slack and Teams URLs, user info and query).
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(webhook)"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// unwrapURLError drops url.Error's copy of the URL (a secret).
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
