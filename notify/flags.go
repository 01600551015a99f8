package notify

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Flags are the --notify flags, shared by scan and live.
type Flags struct {
	Targets  []string
	Config   string
	MinLevel string
	Outbox   string
	Deadline time.Duration
}

// AddFlags registers the --notify flags on fs.
func (f *Flags) AddFlags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&f.Targets, "notify", nil, "send alerts to this target: a name from --notify-config, or slack, teams, webhook, email (address from EVTXSCAN_SLACK_URL, EVTXSCAN_TEAMS_URL, EVTXSCAN_WEBHOOK_URL, EVTXSCAN_SMTP_URL); repeatable")
	fs.StringVar(&f.Config, "notify-config", "", "alert targets in YAML; ${NAME} is read from the environment (secrets never go on the command line)")
	fs.StringVar(&f.MinLevel, "notify-min-level", "", "alert only on findings at or above: informational,low,medium,high,critical (default medium)")
	fs.DurationVar(&f.Deadline, "notify-deadline", DefaultDeadline, "longest this run spends delivering alerts (waiting for another run's delivery included); what is left waits in the outbox for the next run")
	fs.StringVar(&f.Outbox, "notify-outbox", "", "folder where undelivered alerts wait for the next run (default: per-user cache, or %ProgramData%\\evtxscan\\outbox)")
}

// Enabled reports whether any --notify flag asks for alerts.
func (f *Flags) Enabled() bool { return len(f.Targets) > 0 }

// Notifier builds the Notifier the flags describe; nil and no error when
// no --notify was given. lookup reads the environment (nil: os.LookupEnv).
func (f *Flags) Notifier(lookup func(string) (string, bool)) (*Notifier, error) {
	if !f.Enabled() {
		if f.Config != "" || f.MinLevel != "" || f.Outbox != "" || (f.Deadline != 0 && f.Deadline != DefaultDeadline) {
			return nil, errors.New("notify: --notify-config, --notify-min-level, --notify-outbox and --notify-deadline need --notify NAME")
		}
		return nil, nil
	}
	if lookup == nil {
		lookup = os.LookupEnv
	}
	opts, err := f.options(lookup)
	if err != nil {
		return nil, err
	}
	return New(opts)
}

func (f *Flags) options(lookup func(string) (string, bool)) (Options, error) {
	opts := Options{MinLevel: DefaultMinLevel, Suppress: DefaultSuppress, Deadline: f.Deadline}
	if f.Deadline < 0 {
		return opts, fmt.Errorf("notify: --notify-deadline %s: give a positive duration such as 2m", f.Deadline)
	}
	cfg := &Config{}
	if f.Config != "" {
		var err error
		if cfg, err = LoadConfig(f.Config, lookup); err != nil {
			return opts, err
		}
	}
	if cfg.MinLevel != "" {
		opts.MinLevel, _ = parseLevel(cfg.MinLevel)
	}
	if f.MinLevel != "" {
		l, err := parseLevel(f.MinLevel)
		if err != nil {
			return opts, fmt.Errorf("notify: --notify-min-level: %v", err)
		}
		opts.MinLevel = l
	}
	if cfg.Suppress != nil {
		if *cfg.Suppress == "0" {
			opts.Suppress = 0
		} else {
			opts.Suppress, _ = time.ParseDuration(*cfg.Suppress)
		}
	}
	seen := map[string]bool{}
	for _, name := range f.Targets {
		name = strings.TrimSpace(name)
		if strings.Contains(name, "://") || strings.Contains(name, "@") {
			return opts, fmt.Errorf("notify: --notify takes a target name, not an address: the command line is visible to other users; put %q in --notify-config or an EVTXSCAN_*_URL variable", redact(name))
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		var t Target
		found := false
		for _, ct := range cfg.Targets {
			if ct.Name == name {
				t, found = ct, true
			}
		}
		if !found {
			var err error
			if t, err = builtinTarget(name, lookup); err != nil {
				return opts, err
			}
		}
		opts.Targets = append(opts.Targets, t)
	}
	opts.OutboxDir = f.Outbox
	if opts.OutboxDir == "" {
		opts.OutboxDir = cfg.Outbox
	}
	if opts.OutboxDir == "" {
		opts.OutboxDir = DefaultOutboxDir(lookup)
	}
	return opts, nil
}

// DefaultOutboxDir is %ProgramData%\evtxscan\outbox on Windows (where the
// scheduled task runs as SYSTEM, which has no useful profile), else the
// user cache folder's evtxscan/outbox.
func DefaultOutboxDir(lookup func(string) (string, bool)) string {
	if runtime.GOOS == "windows" {
		if pd, ok := lookup("ProgramData"); ok && pd != "" {
			return filepath.Join(pd, "evtxscan", "outbox")
		}
	}
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "evtxscan", "outbox")
	}
	return filepath.Join(os.TempDir(), "evtxscan-outbox")
}
