package notify_test

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/evtxscan/evtxscan/notify"
	"github.com/evtxscan/evtxscan/rules"
)

// Alerting on a run's findings: high and critical ones go to Slack, a
// repeat within an hour is folded into one alert, and an alert that cannot
// be delivered now waits in the outbox for the next run.
func ExampleNew() {
	n, err := notify.New(notify.Options{
		Targets:   []notify.Target{{Name: "soc", Type: notify.TypeSlack, URL: os.Getenv("EVTXSCAN_SLACK_URL")}},
		MinLevel:  rules.LevelHigh,
		Suppress:  time.Hour,
		OutboxDir: notify.DefaultOutboxDir(os.LookupEnv),
	})
	if err != nil {
		log.Fatal(err)
	}
	var findings []rules.Finding // from analysis.Run
	d, err := n.Notify(context.Background(), findings)
	if err != nil {
		log.Print(err) // the outbox itself has a problem
	}
	for _, u := range d.Undelivered {
		// Queued anyway; retried by the next Notify or Flush.
		log.Printf("alert not delivered: %s: %s", u.Alert.Headline(), u.Reason)
	}
}
