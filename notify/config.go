package notify

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the --notify-config file.
type Config struct {
	MinLevel string   `yaml:"min_level"`
	Suppress *string  `yaml:"suppress"` // a duration; nil means the default
	Outbox   string   `yaml:"outbox"`
	Targets  []Target `yaml:"targets"`

	file string // where it was read from, for errors
}

// A Target is one place alerts go.
type Target struct {
	Name string `yaml:"name"`
	Type string `yaml:"type"` // webhook, slack, teams, email

	// Webhooks.
	URL     string            `yaml:"url"`
	Headers map[string]string `yaml:"headers"`

	// E-mail.
	Host     string   `yaml:"host"`
	Port     int      `yaml:"port"`
	TLS      string   `yaml:"tls"`  // starttls, tls, none
	Auth     string   `yaml:"auth"` // plain, login, none
	Username string   `yaml:"username"`
	Password string   `yaml:"password"`
	From     string   `yaml:"from"`
	To       []string `yaml:"to"`
}

// Target types.
const (
	TypeWebhook = "webhook"
	TypeSlack   = "slack"
	TypeTeams   = "teams"
	TypeEmail   = "email"
)

// builtinEnv maps the built-in target names to the variable holding their
// address.
var builtinEnv = map[string]string{
	TypeSlack:   "EVTXSCAN_SLACK_URL",
	TypeTeams:   "EVTXSCAN_TEAMS_URL",
	TypeWebhook: "EVTXSCAN_WEBHOOK_URL",
	TypeEmail:   "EVTXSCAN_SMTP_URL",
}

// maxConfigSize bounds the config file.
const maxConfigSize = 1 << 20

// LoadConfig reads a config file and expands ${NAME} in its values from
// the environment (lookup; nil means os.LookupEnv). Errors name the file
// and, where known, the line.
func LoadConfig(path string, lookup func(string) (string, bool)) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("notify: cannot read --notify-config %s: %w", path, err)
	}
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("notify: --notify-config %s is larger than 1 MiB", path)
	}
	return parseConfig(path, data, lookup)
}

func parseConfig(path string, data []byte, lookup func(string) (string, bool)) (*Config, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("notify: %s: %v", path, err)
	}
	// Expand ${NAME} in scalar values before decoding, so line numbers
	// stay right and a secret with YAML syntax in it stays a plain value.
	var problems []error
	expandNode(&root, path, lookup, &problems)
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	cfg := &Config{file: path}
	if len(root.Content) > 0 {
		dec := root.Content[0]
		if err := dec.Decode(cfg); err != nil {
			return nil, fmt.Errorf("notify: %s: %v", path, err)
		}
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	return cfg, nil
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

func expandNode(n *yaml.Node, file string, lookup func(string) (string, bool), problems *[]error) {
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "${") {
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
			name := ref[2 : len(ref)-1]
			v, ok := lookup(name)
			if !ok {
				*problems = append(*problems, fmt.Errorf("notify: %s:%d: ${%s} is not set in the environment", file, n.Line, name))
			}
			return v
		})
		n.Tag = "!!str"
	}
	for _, c := range n.Content {
		expandNode(c, file, lookup, problems)
	}
}

// check validates the config and fills defaults.
func (c *Config) check() error {
	var problems []error
	bad := func(format string, args ...any) {
		problems = append(problems, fmt.Errorf("notify: %s: "+format, append([]any{c.file}, args...)...))
	}
	if c.MinLevel != "" {
		if _, err := parseLevel(c.MinLevel); err != nil {
			bad("min_level: %v", err)
		}
	}
	if c.Suppress != nil {
		if _, err := time.ParseDuration(*c.Suppress); err != nil && *c.Suppress != "0" {
			bad("suppress %q is not a duration like 30m or 2h", *c.Suppress)
		}
	}
	seen := map[string]bool{}
	for i := range c.Targets {
		t := &c.Targets[i]
		if t.Name == "" {
			bad("target %d has no name", i+1)
			continue
		}
		if seen[t.Name] {
			bad("target %q is defined twice", t.Name)
		}
		seen[t.Name] = true
		if err := t.check(); err != nil {
			bad("target %q: %v", t.Name, err)
		}
	}
	return errors.Join(problems...)
}

// check validates a target and fills its defaults.
func (t *Target) check() error {
	t.Type = strings.ToLower(t.Type)
	switch t.Type {
	case TypeWebhook, TypeSlack, TypeTeams:
		u, err := url.Parse(t.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return errors.New("url must be an http(s) URL")
		}
		for k, v := range t.Headers {
			if strings.ContainsAny(k+v, "\r\n") {
				return fmt.Errorf("header %q holds a line break", k)
			}
		}
	case TypeEmail:
		if t.Host == "" || t.From == "" || len(t.To) == 0 {
			return errors.New("email needs host, from and to")
		}
		for _, a := range append([]string{t.From}, t.To...) {
			if strings.ContainsAny(a, "\r\n<>,") || !strings.Contains(a, "@") {
				return fmt.Errorf("%q is not a plain e-mail address", a)
			}
		}
		t.TLS = strings.ToLower(t.TLS)
		if t.Port == 0 {
			t.Port = 587
			if t.TLS == "tls" {
				t.Port = 465
			}
		}
		if t.TLS == "" {
			t.TLS = "starttls"
			if t.Port == 465 {
				t.TLS = "tls"
			}
		}
		if t.TLS != "starttls" && t.TLS != "tls" && t.TLS != "none" {
			return fmt.Errorf("tls %q: use starttls, tls or none", t.TLS)
		}
		t.Auth = strings.ToLower(t.Auth)
		if t.Auth == "" {
			t.Auth = "plain"
			if t.Username == "" {
				t.Auth = "none"
			}
		}
		if t.Auth != "plain" && t.Auth != "login" && t.Auth != "none" {
			return fmt.Errorf("auth %q: use plain, login or none", t.Auth)
		}
	case "":
		return errors.New("type is missing (slack, teams, webhook or email)")
	default:
		return fmt.Errorf("type %q: use slack, teams, webhook or email", t.Type)
	}
	return nil
}

// builtinTarget makes a target from a built-in name and its environment
// variable.
func builtinTarget(name string, lookup func(string) (string, bool)) (Target, error) {
	env, ok := builtinEnv[name]
	if !ok {
		return Target{}, fmt.Errorf("notify: no target %q: define it in --notify-config, or use slack, teams, webhook or email with their environment variable", name)
	}
	v, ok := lookup(env)
	if !ok || v == "" {
		return Target{}, fmt.Errorf("notify: --notify %s needs %s in the environment (or a target %q in --notify-config)", name, env, name)
	}
	t := Target{Name: name, Type: name, URL: v}
	if name == TypeEmail {
		var err error
		if t, err = smtpTargetFromURL(v); err != nil {
			return Target{}, fmt.Errorf("notify: %s: %v", env, err)
		}
	}
	if err := t.check(); err != nil {
		return Target{}, fmt.Errorf("notify: %s: %v", env, err)
	}
	return t, nil
}

// smtpTargetFromURL reads smtp[s]://user:pass@host:port?from=…&to=…,….
func smtpTargetFromURL(s string) (Target, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Target{}, errors.New("not a URL like smtp://user:pass@host:587?from=a@x&to=b@y")
	}
	t := Target{Name: TypeEmail, Type: TypeEmail, Host: u.Hostname()}
	switch u.Scheme {
	case "smtp":
		t.TLS = "starttls"
	case "smtps":
		t.TLS = "tls"
	default:
		return Target{}, errors.New("scheme must be smtp (STARTTLS) or smtps (TLS)")
	}
	if p := u.Port(); p != "" {
		if t.Port, err = strconv.Atoi(p); err != nil {
			return Target{}, fmt.Errorf("port %q is not a number", p)
		}
	}
	if u.User != nil {
		t.Username = u.User.Username()
		t.Password, _ = u.User.Password()
	}
	q := u.Query()
	t.From = q.Get("from")
	for _, to := range strings.Split(q.Get("to"), ",") {
		if to = strings.TrimSpace(to); to != "" {
			t.To = append(t.To, to)
		}
	}
	return t, nil
}
