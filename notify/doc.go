// Package notify tells someone when a run finds something: it turns
// findings into alerts, keeps them in a durable outbox on disk, and delivers
// them by webhook (generic JSON, Slack, Microsoft Teams) or e-mail (SMTP).
// `evtxscan live` and `evtxscan scan` use it through --notify.
//
// # Flags
//
//	--notify NAME          send alerts to target NAME (repeatable)
//	--notify-config FILE   targets, in YAML (below)
//	--notify-min-level L   only findings at or above L (default medium)
//	--notify-outbox DIR    where undelivered alerts wait (default: the user
//	                       cache folder, evtxscan/outbox; for SYSTEM
//	                       %ProgramData%\evtxscan\outbox)
//	--notify-deadline D    longest a run spends delivering, waiting for
//	                       another run's delivery included (default 2m)
//
// NAME is a target of the config file, or one of the built-in names that
// read their address from the environment when the file does not define
// them:
//
//	slack    EVTXSCAN_SLACK_URL    (a Slack incoming-webhook URL)
//	teams    EVTXSCAN_TEAMS_URL    (a Teams Workflows / incoming-webhook URL)
//	webhook  EVTXSCAN_WEBHOOK_URL  (generic JSON POST)
//	email    EVTXSCAN_SMTP_URL     smtp://user:pass@host:587?from=a@x&to=b@y,c@z
//	                               (smtp:// uses STARTTLS, smtps:// implicit TLS)
//
// Secrets never come from the command line, where other users of the
// machine can read them (ps, Task Scheduler's task list): --notify refuses
// URLs, and the config file expands ${NAME} from the environment.
//
// # Config file
//
//	min_level: high        # optional, as --notify-min-level
//	suppress: 1h           # repeat window, default 1h; 0 turns it off
//	outbox: D:\evtxscan\outbox
//	targets:
//	  - name: soc
//	    type: slack        # slack | teams | webhook | email
//	    url: ${SOC_SLACK_URL}
//	  - name: hook
//	    type: webhook
//	    url: https://siem.example/evtxscan
//	    headers: {Authorization: "Bearer ${SIEM_TOKEN}"}
//	  - name: mail
//	    type: email
//	    host: smtp.example.com
//	    port: 587
//	    tls: starttls      # starttls (default for 587/25) | tls (465) | none (loopback only)
//	    auth: plain        # plain (default) | login | none
//	    username: alerts@example.com
//	    password: ${SMTP_PASSWORD}
//	    from: alerts@example.com
//	    to: [ops@example.com]
//
// # Delivery
//
// Notify writes one file per alert and target into the outbox (written
// atomically) before anything is sent, then delivers what is due,
// DefaultParallel (4) alerts at a time, oldest first, within the run's
// deadline (--notify-deadline, DefaultDeadline 2 minutes; one webhook
// request has DefaultRequestTimeout, 30 s). A target that fails 4 times in
// a row is not tried again in that run, so a hung receiver costs one round
// of timeouts. A delivered alert's file is removed; a failed one stays
// with its attempt count and is retried by later runs with exponential
// backoff (30 s doubling up to 1 h), and given up after 7 days (renamed
// *.failed, kept for inspection). An attempt cut short by the deadline or
// an interrupt is not counted: the next run tries it at once. So an alert
// survives a crash, an unreachable server or a hung one.
//
// An alert's id — the Idempotency-Key header, the e-mail Message-ID —
// comes from what it is about: target, rule, computer, product and the
// finding's first event (time, provider, event id, record id), never from
// the run. Every run that finds the same thing makes the same id, and the
// outbox keeps one alert per id. Delivered ids are remembered for
// SentMemory (30 days, the outbox's sent/ folder) and not sent again: two
// runs at once on one outbox, or a rerun over the same logs, deliver each
// alert once. A receiver can still use the key to drop the rare duplicate
// of a delivery that succeeded just before a crash.
//
// One process delivers from an outbox at a time. The lock (.deliver.lock)
// is an operating-system file lock (flock on Unix, LockFileEx on Windows),
// which the system releases when its process ends, however it ends: the
// lock of a crashed or killed run is taken over at once, and a live
// owner's lock never expires under it, however long its delivery takes.
// While held, the file names the owner (pid, host, since) and a heartbeat
// the owner refreshes every 10 s. A run that finds the lock held waits for
// it within its deadline, then sends what is left. Adding alerts takes a
// second lock (.queue.lock) for the few milliseconds it needs, so the
// suppression state is updated by one process at a time. (On systems
// without file locks — not Linux, macOS, BSD or Windows — and on file
// systems that refuse them, the outbox is not locked rather than lose
// alerts, and the ledger alone keeps duplicates rare.)
//
// # Undelivered alerts
//
// Notify and Flush return a Delivery that names each alert left in the
// outbox and why (the receiver's error and the retry time, the deadline,
// a target that failed in a row, another run holding the lock). evtxscan
// scan and live print them on stderr, also with --quiet, and exit with
// code 4 ("some alerts were not delivered") unless a stronger code
// applies: 1 (findings at or above --fail-level), 2 (usage) and 3
// (unreadable input) take precedence. Alerts waiting in the outbox for
// their retry time count as undelivered too: exit 4 means alerts are stuck.
//
// # Suppression
//
// Findings of the same rule, computer and product within the suppression
// window make one alert: the first alert goes out at once with the count
// of its run; later repeats within the window are counted, and when the
// window has passed one more alert reports how many there were ("repeated
// 12 times since …"). Window state is kept in the outbox, so it holds
// across scheduled runs. The same finding reported again (same first
// event: another run over the same logs) is not a repeat, and a finding
// already alerted does not open a new window.
//
// # Payloads
//
// Event text is attacker-controlled: values are cut to 1000 characters,
// at most 20 fields and 10 events go into one alert, Slack's control
// sequences (<!channel>, <http://…|…>) are escaped, and e-mail header
// values cannot carry line breaks.
package notify
