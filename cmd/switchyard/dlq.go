package main

import (
	"context"
	"encoding/json"
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
	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/router"
)

func newDLQCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "List, replay or purge a destination's dead letters",
		Long: `A destination's dead letters are the events it could not deliver: a permanent
4xx, a retry window that closed, an event the mapping could not render. Each
entry in the DLQ stream (subject dlq.<destination>) holds the original event
with the reason, status, attempts and the start of the response.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// No subcommand: the usage, on stderr, as a usage error.
			fmt.Fprint(cmd.ErrOrStderr(), cmd.UsageString())
			return exitCode(exitUsage)
		},
	}
	cmd.AddCommand(newDLQListCmd(), newDLQReplayCmd(), newDLQPurgeCmd())
	return cmd
}

// dlqFlags are the flags every dlq subcommand takes.
func dlqFlags(cmd *cobra.Command, dir, dest *string) {
	addConfigFlag(cmd, dir, "switchyard.yaml and destinations/*.yaml, and where NATS is")
	cmd.Flags().StringVar(dest, "destination", "", "destination name (required)")
	_ = cmd.MarkFlagRequired("destination")
	_ = cmd.RegisterFlagCompletionFunc("destination", completeDestinations)
}

// checkDestName refuses a name that cannot be a destination before NATS is
// asked: it would be part of a subject.
func checkDestName(dest string, stderr io.Writer) bool {
	if !config.NamePattern.MatchString(dest) {
		fmt.Fprintf(stderr, "dlq: --destination %q: want lowercase letters, digits, - and _\n", dest)
		return false
	}
	return true
}

func newDLQListCmd() *cobra.Command {
	var (
		dir, dest string
		limit     int
		since     time.Duration
		asJSON    bool
	)
	cmd := &cobra.Command{
		Use:   "list --destination NAME",
		Short: "List a destination's dead letters, oldest first",
		Long: `list prints one line per dead letter (time, status, actions, messageId,
reason), or with --json one JSON object per entry holding the event too.

Exit status: 0; 1 when NATS is unreachable or the DLQ cannot be read.`,
		Example: "  switchyard dlq list --config examples/quickstart --destination crm --since 2h",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !checkDestName(dest, cmd.ErrOrStderr()) {
				return exitCode(exitUsage)
			}
			return exitWith(dlqList(dir, dest, limit, since, asJSON, cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
	dlqFlags(cmd, &dir, &dest)
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many entries (0: all)")
	cmd.Flags().DurationVar(&since, "since", 0, "only entries dead-lettered within this long (e.g. 2h)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per entry, with the event")
	return cmd
}

func newDLQReplayCmd() *cobra.Command {
	var (
		dir, dest string
		limit     int
		since     time.Duration
	)
	cmd := &cobra.Command{
		Use:   "replay --destination NAME",
		Short: "Re-deliver a destination's dead letters to it, and to nothing else",
		Long: `replay re-delivers dead letters to their destination only, with the
destination's current config (fix it, then replay). An entry is removed once
its event was delivered (or is now filtered or unmatched); one that fails again
is replaced by an entry with the new reason. The replay runs in this process,
not in the router: its counts are printed when it ends, and are not in the
router's switchyard_events_total. SIGINT or SIGTERM stops it early and loses
nothing: at worst an event is sent twice.

Exit status: 0; 1 when an entry failed again or NATS is unreachable; 130 when
interrupted.`,
		Example: "  switchyard dlq replay --config examples/quickstart --destination crm",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !checkDestName(dest, cmd.ErrOrStderr()) {
				return exitCode(exitUsage)
			}
			return exitWith(dlqReplay(dir, dest, limit, since, cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
	dlqFlags(cmd, &dir, &dest)
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many entries (0: all)")
	cmd.Flags().DurationVar(&since, "since", 0, "only entries dead-lettered within this long (e.g. 2h)")
	return cmd
}

func newDLQPurgeCmd() *cobra.Command {
	var (
		dir, dest    string
		yes, invalid bool
		seqs         []uint
	)
	cmd := &cobra.Command{
		Use:   "purge --destination NAME --yes",
		Short: "Delete a destination's dead letters (says how many without --yes)",
		Long: `purge deletes every dead letter of a destination, or with --seq only the
entries named. Invalid events are stored once for every destination that read
them: purge keeps those shared entries, and purge --invalid deletes them (for
every destination). Without --yes it only says how many it would delete, and
exits 1.

Exit status: 0 after purging; 1 without --yes, or when NATS is unreachable.`,
		Example: "  switchyard dlq purge --config examples/quickstart --destination crm --yes",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !invalid && !checkDestName(dest, cmd.ErrOrStderr()) {
				return exitCode(exitUsage)
			}
			var ss []uint64
			for _, q := range seqs {
				ss = append(ss, uint64(q))
			}
			return exitWith(dlqPurge(dir, dest, invalid, yes, ss, cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
	dlqFlags(cmd, &dir, &dest)
	cmd.Flags().BoolVar(&yes, "yes", false, "really delete")
	cmd.Flags().BoolVar(&invalid, "invalid", false, "delete the shared entries of invalid events (for every destination)")
	cmd.Flags().UintSliceVar(&seqs, "seq", nil, "delete only these DLQ entries (stream sequences, as dlq list --json shows them)")
	return cmd
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
	n, cut := 0, 0
	err := router.ListDeadLetters(context.Background(), js, dest, router.DLQSelect{Limit: limit, Since: since}, func(seq uint64, dl *router.DeadLetter) bool {
		n++
		if asJSON {
			entry := map[string]any{
				"seq": seq, "failedAt": dl.FailedAt, "firstAttempt": dl.FirstAttempt, "status": dl.Status,
				"attempts": dl.Attempts, "actions": dl.Actions, "messageId": dl.MessageID, "reason": dl.Reason,
				"subject": dl.Subject, "response": string(dl.Response), "event": json.RawMessage(validJSON(dl.Data)),
			}
			if dl.Shared {
				entry["shared"], entry["destinations"] = true, dl.Destinations
			}
			b, _ := json.Marshal(entry)
			fmt.Fprintln(stdout, string(b))
			return true
		}
		reason := dl.Reason
		if len(reason) > 120 {
			reason = reason[:117] + "..."
			cut++
		}
		// Status 0: no HTTP answer (the mapping failed, or the tool was
		// unreachable); the reason says which.
		status := "-"
		if dl.Status != 0 {
			status = fmt.Sprint(dl.Status)
		}
		actions := strings.Join(dl.Actions, ",")
		if dl.Shared {
			actions = "(invalid, shared)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", dl.FailedAt.Local().Format(time.DateTime), status, actions, dl.MessageID, reason)
		return true
	})
	tw.Flush()
	if err != nil {
		fmt.Fprintln(stderr, "dlq:", err)
		return 1
	}
	fmt.Fprintf(stderr, "%d dead letter(s) for %s\n", n, dest)
	if cut > 0 {
		fmt.Fprintf(stderr, "%d reason(s) shortened: --json shows them whole, with the event and the response\n", cut)
	}
	return 0
}

func validJSON(b []byte) []byte {
	if json.Valid(b) {
		return b
	}
	q, _ := json.Marshal(string(b))
	return q
}

func dlqPurge(dir, dest string, invalid, yes bool, seqs []uint64, stdout, stderr io.Writer) int {
	nc, js, ok := dlqConnect(dir, stderr)
	if !ok {
		return 1
	}
	defer nc.Close()
	ctx := context.Background()
	what := "dead letter(s) of " + dest
	if invalid {
		what = "shared invalid-event entries (of every destination)"
	}
	if !yes {
		n := len(seqs)
		if n == 0 {
			var err error
			if invalid {
				n, err = router.CountInvalid(ctx, js)
			} else {
				n, err = router.CountDeadLetters(ctx, js, dest)
			}
			if err != nil {
				fmt.Fprintln(stderr, "dlq:", err)
				return 1
			}
		}
		fmt.Fprintf(stderr, "dlq purge would delete %d %s; run again with --yes\n", n, what)
		return 1
	}
	var n int
	var err error
	if invalid {
		n, err = router.PurgeInvalid(ctx, js, seqs)
	} else {
		n, err = router.PurgeDeadLetters(ctx, js, dest, seqs)
	}
	fmt.Fprintf(stdout, "purged %d %s\n", n, what)
	if err != nil {
		fmt.Fprintln(stderr, "dlq:", err)
		return 1
	}
	if !invalid && len(seqs) == 0 {
		if shared, err := router.CountInvalid(ctx, js); err == nil && shared > 0 {
			fmt.Fprintf(stderr, "%d shared invalid-event entries are kept (other destinations may need them): dlq purge --invalid removes them\n", shared)
		}
	}
	return 0
}

// dlqReplay re-delivers dead letters to their destination only
// (router.ReplayDeadLetters); the counts printed are this command's own.
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
	regs, err := readSuppressions(ctx, cfg, js)
	if err != nil {
		fmt.Fprintln(stderr, "dlq:", err)
		return 1
	}
	bar := newBar(stderr, -1, "replaying dead letters of "+dest)
	rep, err := router.ReplayDeadLetters(ctx, js, p, router.DLQSelect{Limit: limit, Since: since}, regs, nil, func() { _ = bar.Add(1) })
	_ = bar.Finish()
	if rep != nil {
		fmt.Fprintf(stdout, "replayed %d dead letter(s) of %s\n", rep.Total(), dest)
		for _, k := range []string{"removed", "replaced", "kept", "suppressed", "stuck"} {
			if n := rep.Entries[k]; n > 0 {
				fmt.Fprintf(stdout, "  %6d  %s\n", n, dlqEntryWords[k])
			}
		}
		fmt.Fprintln(stdout, replayCountsNote)
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
	"removed":    "delivered (or now filtered or unmatched): entry removed",
	"replaced":   "failed again: kept with the new reason",
	"kept":       "kept as it was (still invalid, or the new entry could not be written)",
	"suppressed": "not sent, a regulation suppresses the user here: entry kept (dlq purge removes it)",
	"stuck":      "settled, but the old entry could not be removed: it will replay again",
}
