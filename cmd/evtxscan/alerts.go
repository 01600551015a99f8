package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/evtxscan/evtxscan/notify"
	"github.com/evtxscan/evtxscan/rules"
)

// maxUndeliveredShown bounds the undelivered alerts named on stderr.
const maxUndeliveredShown = 20

// deliverAlerts queues the findings' alerts (none when findings is empty)
// and delivers what is due, including what earlier runs left, then tells what happened: how many
// were sent (unless quiet) and, always, each alert that was not delivered
// and why. It returns false when an alert is left undelivered or the
// outbox has a problem — the run then exits with exitAlerts unless a
// stronger code applies.
func deliverAlerts(ctx context.Context, n *notify.Notifier, findings []rules.Finding, quiet bool, stderr io.Writer) bool {
	d, err := n.Notify(ctx, findings)
	return reportDelivery(d, err, n.Outbox().Dir(), quiet, stderr)
}

func reportDelivery(d notify.Delivery, err error, outbox string, quiet bool, stderr io.Writer) bool {
	if err != nil {
		fmt.Fprintf(stderr, "warning: %s\n", terminalText(err.Error()))
	}
	if len(d.Undelivered) == 0 {
		if len(d.Sent) > 0 && !quiet {
			fmt.Fprintf(stderr, "alerts: %d sent\n", len(d.Sent))
		}
		return err == nil
	}
	fmt.Fprintf(stderr, "warning: alerts: %d sent, %d NOT delivered (they wait in %s; the next run with --notify retries them):\n", len(d.Sent), len(d.Undelivered), outbox)
	for i, u := range d.Undelivered {
		if i == maxUndeliveredShown {
			fmt.Fprintf(stderr, "  … and %d more\n", len(d.Undelivered)-i)
			break
		}
		fmt.Fprintf(stderr, "  %s → %s: %s\n", terminalText(u.Alert.Headline()), terminalText(u.Alert.Target), terminalText(u.Reason))
	}
	return false
}

// terminalText shows s on one terminal line with nothing hidden: control,
// bidirectional and other invisible format characters (event text is
// attacker-controlled) become \uNNNN, invalid UTF-8 becomes U+FFFD.
func terminalText(s string) string {
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(s, string(utf8.RuneError)) {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || unicode.Is(unicode.Cf, r) {
			fmt.Fprintf(&b, `\u%04X`, r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// tried reports whether a delivery tried an alert and failed (not only
// found alerts waiting for their retry time): the background retries of
// live --follow speak only then, not every minute.
func tried(d notify.Delivery) bool {
	for _, u := range d.Undelivered {
		if !u.Waiting {
			return true
		}
	}
	return false
}
