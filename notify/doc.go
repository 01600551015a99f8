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
// atomically) before anything is sent, then delivers what is due. A
// delivered alert's file is removed; a failed one stays with its attempt
// count and is retried by later runs with exponential backoff (30 s
// doubling up to 1 h), and given up after 7 days (renamed *.failed, kept
// for inspection). So an alert survives a crash or an unreachable server.
// Every alert has an id that stays the same across retries, sent as the
// Idempotency-Key header or the e-mail Message-ID, so a receiver can drop
// the rare duplicate of a delivery that succeeded just before a crash.
// Only one process delivers from an outbox at a time (a lock file).
//
// # Suppression
//
// Findings of the same rule, computer and product within the suppression
// window make one alert: the first alert goes out at once with the count
// of its run; later repeats within the window are counted, and when the
// window has passed one more alert reports how many there were ("repeated
// 12 times since …"). Window state is kept in the outbox, so it holds
// across scheduled runs.
//
// # Payloads
//
// Event text is attacker-controlled: values are cut to 1000 characters,
// at most 20 fields and 10 events go into one alert, Slack's control
// sequences (<!channel>, <http://…|…>) are escaped, and e-mail header
// values cannot carry line breaks.
package notify
