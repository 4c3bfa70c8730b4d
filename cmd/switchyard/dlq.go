package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/router"
)

func runDLQ(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, "usage: switchyard dlq list|replay|purge --config DIR --destination NAME [flags]")
		return 2
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("dlq "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("config", ".", "config directory")
	dest := fs.String("destination", "", "destination name (required)")
	limit := fs.Int("limit", 0, "at most this many entries (0: all)")
	since := fs.Duration("since", 0, "only entries dead-lettered within this long (e.g. 2h)")
	asJSON := fs.Bool("json", false, "list: one JSON object per entry")
	yes := fs.Bool("yes", false, "purge: really delete")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if !config.NamePattern.MatchString(*dest) {
		fmt.Fprintln(stderr, "dlq: --destination is required")
		return 2
	}
	switch sub {
	case "list":
		return dlqList(*dir, *dest, *limit, *since, *asJSON, stdout, stderr)
	case "replay":
		return dlqReplay(*dir, *dest, *limit, *since, stdout, stderr)
	case "purge":
		return dlqPurge(*dir, *dest, *yes, stdout, stderr)
	}
	fmt.Fprintf(stderr, "dlq: unknown subcommand %q (want list, replay or purge)\n", sub)
	return 2
}

// dlqConnect joins the NATS a config directory points at.
func dlqConnect(dir string, stderr io.Writer) (*nats.Conn, jetstream.JetStream, bool) {
	cfg, ok := loadConfigOnly(dir, stderr)
	if !ok {
		return nil, nil, false
	}
	nc, js, err := connectFor(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "dlq:", err)
		return nil, nil, false
	}
	return nc, js, true
}

func dlqList(dir, dest string, limit int, since time.Duration, asJSON bool, stdout, stderr io.Writer) int {
	nc, js, ok := dlqConnect(dir, stderr)
	if !ok {
		return 1
	}
	defer nc.Close()
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	if !asJSON {
		fmt.Fprintln(tw, "FAILED AT\tSTATUS\tACTIONS\tMESSAGE ID\tREASON")
	}
	n := 0
	err := router.ListDeadLetters(context.Background(), js, dest, router.DLQSelect{Limit: limit, Since: since}, func(seq uint64, dl *router.DeadLetter) bool {
		n++
		if asJSON {
			b, _ := json.Marshal(map[string]any{
				"seq": seq, "failedAt": dl.FailedAt, "firstAttempt": dl.FirstAttempt, "status": dl.Status,
				"attempts": dl.Attempts, "actions": dl.Actions, "messageId": dl.MessageID, "reason": dl.Reason,
				"subject": dl.Subject, "response": string(dl.Response), "event": json.RawMessage(validJSON(dl.Data)),
			})
			fmt.Fprintln(stdout, string(b))
			return true
		}
		reason := dl.Reason
		if len(reason) > 120 {
			reason = reason[:117] + "..."
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", dl.FailedAt.Local().Format(time.DateTime), dl.Status, strings.Join(dl.Actions, ","), dl.MessageID, reason)
		return true
	})
	tw.Flush()
	if err != nil {
		fmt.Fprintln(stderr, "dlq:", err)
		return 1
	}
	fmt.Fprintf(stderr, "%d dead letter(s) for %s\n", n, dest)
	return 0
}

func validJSON(b []byte) []byte {
	if json.Valid(b) {
		return b
	}
	q, _ := json.Marshal(string(b))
	return q
}

func dlqPurge(dir, dest string, yes bool, stdout, stderr io.Writer) int {
	nc, js, ok := dlqConnect(dir, stderr)
	if !ok {
		return 1
	}
	defer nc.Close()
	ctx := context.Background()
	if !yes {
		n, err := router.CountDeadLetters(ctx, js, dest)
		if err != nil {
			fmt.Fprintln(stderr, "dlq:", err)
			return 1
		}
		fmt.Fprintf(stderr, "dlq purge would delete %d dead letter(s) of %s; run again with --yes\n", n, dest)
		return 1
	}
	n, err := router.PurgeDeadLetters(ctx, js, dest, nil)
	if err != nil {
		fmt.Fprintln(stderr, "dlq:", err)
		return 1
	}
	fmt.Fprintf(stdout, "purged %d dead letter(s) of %s\n", n, dest)
	return 0
}

// dlqReplay re-delivers dead letters to their destination only (see
// router.ReplayDeadLetters); the counts printed are this command's own.
func dlqReplay(dir, dest string, limit int, since time.Duration, stdout, stderr io.Writer) int {
	cfg, plans, diags := loadAndBuild(dir)
	if diags.Err() != nil {
		for _, d := range diags.Errors() {
			fmt.Fprintln(stderr, d.String())
		}
		return 1
	}
	p, ok := plans[dest]
	if !ok {
		fmt.Fprintf(stderr, "dlq replay: no destination %q in %s\n", dest, dir)
		return 1
	}
	nc, js, err := connectFor(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "dlq:", err)
		return 1
	}
	defer nc.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	bar := newBar(stderr, -1, "replaying dead letters of "+dest)
	rep, err := router.ReplayDeadLetters(ctx, js, p, router.DLQSelect{Limit: limit, Since: since}, nil, func() { _ = bar.Add(1) })
	_ = bar.Finish()
	if rep != nil {
		fmt.Fprintf(stdout, "replayed %d dead letter(s) of %s (this command's own counts)\n", rep.Total(), dest)
		for _, k := range []string{"removed", "replaced", "kept", "stuck"} {
			if n := rep.Entries[k]; n > 0 {
				fmt.Fprintf(stdout, "  %6d  %s\n", n, dlqEntryWords[k])
			}
		}
		for _, pr := range rep.Problems {
			fmt.Fprintln(stderr, "dlq:", pr)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "dlq:", err)
		return 1
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "interrupted: entries not yet replayed stay in the DLQ")
		return 130
	}
	if rep.Failed() {
		return 1
	}
	return 0
}

var dlqEntryWords = map[string]string{
	"removed":  "delivered (or now filtered or unmatched): entry removed",
	"replaced": "failed again: kept with the new reason",
	"kept":     "kept as it was (still invalid, or the new entry could not be written)",
	"stuck":    "settled, but the old entry could not be removed: it will replay again",
}
