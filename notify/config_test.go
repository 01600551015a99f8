package notify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evtxscan/evtxscan/rules"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestConfig(t *testing.T) {
	const good = `
min_level: high
suppress: 30m
targets:
  - name: soc
    type: slack
    url: ${SOC_URL}
  - name: hook
    type: webhook
    url: https://siem.example/evtxscan
    headers: {Authorization: "Bearer ${TOKEN}"}
  - name: mail
    type: email
    host: smtp.example.com
    username: alerts@example.com
    password: ${SMTP_PASSWORD}
    from: alerts@example.com
    to: [ops@example.com]
`
	lookup := env(map[string]string{"SOC_URL": "https://hooks.slack.com/services/T/B/X", "TOKEN": "tok: with yaml", "SMTP_PASSWORD": "p#ss"})
	cfg, err := parseConfig("n.yml", []byte(good), lookup)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Targets[0].URL != "https://hooks.slack.com/services/T/B/X" || cfg.Targets[1].Headers["Authorization"] != "Bearer tok: with yaml" {
		t.Errorf("expansion: %+v", cfg.Targets)
	}
	m := cfg.Targets[2]
	if m.Password != "p#ss" || m.Port != 587 || m.TLS != "starttls" || m.Auth != "plain" {
		t.Errorf("email defaults: %+v", m)
	}

	bad := []struct{ yaml, want string }{
		{"targets:\n  - name: a\n    type: slack\n    url: ${MISSING}\n", "n.yml:4: ${MISSING} is not set"},
		{"targets:\n  - name: a\n    type: pager\n", `target "a": type "pager"`},
		{"targets:\n  - name: a\n    type: webhook\n    url: ftp://x\n", "http(s) URL"},
		{"targets:\n  - name: a\n    type: email\n    host: h\n    from: a@b\n    to: [\"x@y\\r\\nBcc: z@w\"]\n", "not a plain e-mail address"},
		{"targets:\n  - type: slack\n", "has no name"},
		{"min_level: severe\n", "min_level"},
		{"suppress: soon\n", "not a duration"},
		{"targets: [\n", "n.yml"},
		{"targets:\n  - name: a\n    type: webhook\n    url: https://x\n  - name: a\n    type: webhook\n    url: https://y\n", "defined twice"},
	}
	for _, tt := range bad {
		_, err := parseConfig("n.yml", []byte(tt.yaml), lookup)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.yaml, err, tt.want)
		}
	}
}

func TestFlags(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "n.yml")
	os.WriteFile(cfgPath, []byte("min_level: low\nsuppress: \"0\"\ntargets:\n  - name: hook\n    type: webhook\n    url: https://x.example/h\n"), 0o600)
	lookup := env(map[string]string{
		"EVTXSCAN_TEAMS_URL": "https://x.webhook.office.com/abc",
		"EVTXSCAN_SMTP_URL":  "smtps://u:p%40ss@mail.example.com?from=a@example.com&to=b@example.com,c@example.com",
	})
	f := Flags{Targets: []string{"hook", "teams", "email", "hook"}, Config: cfgPath, Outbox: dir}
	opts, err := f.options(lookup)
	if err != nil {
		t.Fatal(err)
	}
	if len(opts.Targets) != 3 || opts.MinLevel != rules.LevelLow || opts.Suppress != 0 || opts.OutboxDir != dir {
		t.Errorf("options %+v", opts)
	}
	mail := opts.Targets[2]
	if mail.TLS != "tls" || mail.Port != 465 || mail.Password != "p@ss" || len(mail.To) != 2 {
		t.Errorf("smtp URL target %+v", mail)
	}
	f.MinLevel = "critical"
	if opts, _ := f.options(lookup); opts.MinLevel != rules.LevelCritical {
		t.Error("--notify-min-level does not override the file")
	}

	refusals := []struct {
		f    Flags
		want string
	}{
		{Flags{Targets: []string{"https://hooks.slack.com/services/T/B/SECRET"}}, "not an address"},
		{Flags{Targets: []string{"slack"}}, "needs EVTXSCAN_SLACK_URL"},
		{Flags{Targets: []string{"pager"}}, `no target "pager"`},
		{Flags{Targets: []string{"hook"}, MinLevel: "severe"}, "--notify-min-level"},
		{Flags{Targets: []string{"hook"}, Deadline: -time.Second}, "--notify-deadline -1s: give a positive duration"},
	}
	for _, tt := range refusals {
		_, err := tt.f.options(env(nil))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: error %v, want %q", tt.f, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "SECRET") {
			t.Errorf("error repeats the secret: %v", err)
		}
	}
	if n, err := (&Flags{}).Notifier(env(nil)); n != nil || err != nil {
		t.Errorf("no --notify: %v %v", n, err)
	}
	if _, err := (&Flags{Config: cfgPath}).Notifier(env(nil)); err == nil {
		t.Error("--notify-config without --notify accepted")
	}
}
