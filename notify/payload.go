package notify

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
)

// marshal encodes v as JSON without Go's HTML escaping (\u003c), so
// receivers and people reading logs see the text as it is; escaping for
// each format is done explicitly.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// genericPayload is the JSON the generic webhook receives: the alert
// without its delivery bookkeeping, plus the headline.
func genericPayload(a *Alert) ([]byte, error) {
	type event struct {
		File     string `json:"file"`
		RecordID uint64 `json:"record_id"`
		EventID  uint16 `json:"event_id"`
		Provider string `json:"provider"`
		Time     string `json:"time"`
	}
	p := struct {
		Source      string            `json:"source"`
		ID          string            `json:"id"`
		Text        string            `json:"text"`
		RuleID      string            `json:"rule_id"`
		Title       string            `json:"title"`
		Level       string            `json:"level"`
		Description string            `json:"description,omitempty"`
		Computer    string            `json:"computer,omitempty"`
		Product     string            `json:"product,omitempty"`
		Time        string            `json:"time"`
		Count       int               `json:"count"`
		Repeat      bool              `json:"repeat"`
		Since       string            `json:"since,omitempty"`
		Fields      map[string]string `json:"fields,omitempty"`
		FieldOrder  []string          `json:"field_order,omitempty"`
		Events      []event           `json:"events,omitempty"`
		MoreEvents  int               `json:"more_events,omitempty"`
	}{
		Source: "evtxscan", ID: a.ID, Text: a.Headline(), RuleID: a.RuleID, Title: a.Title, Level: a.Level,
		Description: a.Description, Computer: a.Computer, Product: a.Product, Time: a.Time.Format(time.RFC3339Nano),
		Count: a.Count, Repeat: a.Repeat, MoreEvents: a.MoreEvent,
	}
	if !a.Since.IsZero() {
		p.Since = a.Since.Format(time.RFC3339Nano)
	}
	if len(a.Fields) > 0 {
		p.Fields = map[string]string{}
		for _, f := range a.Fields {
			if _, dup := p.Fields[f.Name]; !dup {
				p.FieldOrder = append(p.FieldOrder, f.Name)
				p.Fields[f.Name] = f.Value
			}
		}
	}
	for _, e := range a.Events {
		p.Events = append(p.Events, event{e.File, e.RecordID, e.EventID, e.Provider, e.Time.Format(time.RFC3339Nano)})
	}
	return marshal(p)
}

// slackEscaper escapes the three characters Slack's mrkdwn treats as
// control sequences (<!channel>, <@U123>, <http://x|label>).
var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// slackPayload is a Slack incoming-webhook message: a text fallback and
// blocks with a header, the description, and the fields.
func slackPayload(a *Alert) ([]byte, error) {
	type text struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	type block struct {
		Type   string `json:"type"`
		Text   *text  `json:"text,omitempty"`
		Fields []text `json:"fields,omitempty"`
	}
	esc := slackEscaper.Replace
	// plain_text is not parsed as mrkdwn, but &lt; would show literally
	// there: angle brackets become look-alikes so nothing can form a
	// control sequence.
	plain := strings.NewReplacer("<", "‹", ">", "›").Replace
	blocks := []block{{Type: "header", Text: &text{Type: "plain_text", Text: plain(cut(a.Headline(), 150))}}}
	if a.Description != "" {
		blocks = append(blocks, block{Type: "section", Text: &text{Type: "mrkdwn", Text: esc(a.Description)}})
	}
	facts := []text{
		{Type: "mrkdwn", Text: "*Level*\n" + esc(a.Level)},
		{Type: "mrkdwn", Text: "*Rule*\n" + esc(a.RuleID)},
		{Type: "mrkdwn", Text: "*Computer*\n" + esc(a.Computer)},
		{Type: "mrkdwn", Text: "*Time*\n" + a.Time.Format(time.RFC3339)},
	}
	for _, f := range a.Fields {
		if len(facts) == 10 { // Slack's limit per section
			break
		}
		facts = append(facts, text{Type: "mrkdwn", Text: "*" + esc(f.Name) + "*\n" + esc(f.Value)})
	}
	blocks = append(blocks, block{Type: "section", Fields: facts})
	blocks = append(blocks, block{Type: "section", Text: &text{Type: "mrkdwn", Text: "evtxscan alert " + a.ID}})
	return marshal(struct {
		Text   string  `json:"text"`
		Blocks []block `json:"blocks"`
	}{Text: esc(a.Headline()), Blocks: blocks})
}

// teamsPayload is a message with an Adaptive Card, the form Teams
// Workflows webhooks (and the older incoming webhooks) accept. Values go
// into FactSet facts and plain TextBlocks; Teams renders a small Markdown
// subset there, so the characters that make links and emphasis are
// escaped.
func teamsPayload(a *Alert) ([]byte, error) {
	md := teamsEscaper.Replace
	type fact struct {
		Title string `json:"title"`
		Value string `json:"value"`
	}
	facts := []fact{{"Level", md(a.Level)}, {"Rule", md(a.RuleID)}, {"Computer", md(a.Computer)}, {"Time", a.Time.Format(time.RFC3339)}}
	for _, f := range a.Fields {
		facts = append(facts, fact{md(f.Name), md(f.Value)})
	}
	body := []map[string]any{
		{"type": "TextBlock", "text": md(a.Headline()), "weight": "Bolder", "size": "Medium", "wrap": true},
	}
	if a.Description != "" {
		body = append(body, map[string]any{"type": "TextBlock", "text": md(a.Description), "wrap": true})
	}
	body = append(body,
		map[string]any{"type": "FactSet", "facts": facts},
		map[string]any{"type": "TextBlock", "text": "evtxscan alert " + a.ID, "isSubtle": true, "size": "Small"})
	card := map[string]any{
		"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
		"type":    "AdaptiveCard",
		"version": "1.4",
		"body":    body,
	}
	return marshal(map[string]any{
		"type":    "message",
		"summary": cut(a.Headline(), 150),
		"attachments": []map[string]any{{
			"contentType": "application/vnd.microsoft.card.adaptive",
			"content":     card,
		}},
	})
}

var teamsEscaper = strings.NewReplacer(`\`, `\\`, "[", `\[`, "]", `\]`, "(", `\(`, ")", `\)`, "*", `\*`, "_", `\_`, "`", "\\`", "<", "&lt;", ">", "&gt;")

// cut shortens s to n runes.
func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
