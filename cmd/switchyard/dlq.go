package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
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
		dir, dest string
		yes       bool
	)
	cmd := &cobra.Command{
		Use:   "purge --destination NAME --yes",
		Short: "Delete a destination's dead letters (says how many without --yes)",
		Long: `purge deletes every dead letter of a destination. Without --yes it only says
how many it would delete, and exits 1.

Exit status: 0 after purging; 1 without --yes, or when NATS is unreachable.`,
		Example: "  switchyard dlq purge --config examples/quickstart --destination crm --yes",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !checkDestName(dest, cmd.ErrOrStderr()) {
				return exitCode(exitUsage)
			}
			return exitWith(dlqPurge(dir, dest, yes, cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
	dlqFlags(cmd, &dir, &dest)
	cmd.Flags().BoolVar(&yes, "yes", false, "really delete")
	return cmd
}

// dlqEntries calls fn with each entry of a destination present when it
// starts, oldest first, and the entry's DLQ stream sequence.
func dlqEntries(ctx context.Context, js jetstream.JetStream, dest string, limit int, since time.Duration, fn func(seq uint64, dl *router.DeadLetter) bool) error {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{router.DLQSubject(dest)}}
	if since > 0 {
		t := time.Now().Add(-since)
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
	}
	c, err := js.OrderedConsumer(ctx, router.DLQStream, cfg)
	if err != nil {
		return fmt.Errorf("reading the DLQ: %w", err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return err
	}
	remaining := int(info.NumPending)
	if limit > 0 && limit < remaining {
		remaining = limit
	}
	for remaining > 0 {
		batch, err := c.Fetch(min(remaining, 256), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return err
		}
		got := 0
		for m := range batch.Messages() {
			got++
			remaining--
			meta, err := m.Metadata()
			if err != nil {
				return err
			}
			dl, err := router.ParseDeadLetter(m)
			if err != nil {
				return err
			}
			if !fn(meta.Sequence.Stream, dl) {
				return nil
			}
			if remaining == 0 {
				break
			}
		}
		if got == 0 {
			return nil // entries were removed meanwhile
		}
	}
	return nil
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
	err := dlqEntries(context.Background(), js, dest, limit, since, func(seq uint64, dl *router.DeadLetter) bool {
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
			cut++
		}
		// Status 0: no HTTP answer (the mapping failed, or the tool was
		// unreachable); the reason says which.
		status := "-"
		if dl.Status != 0 {
			status = fmt.Sprint(dl.Status)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", dl.FailedAt.Local().Format(time.DateTime), status, strings.Join(dl.Actions, ","), dl.MessageID, reason)
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

func dlqPurge(dir, dest string, yes bool, stdout, stderr io.Writer) int {
	nc, js, ok := dlqConnect(dir, stderr)
	if !ok {
		return 1
	}
	defer nc.Close()
	ctx := context.Background()
	s, err := js.Stream(ctx, router.DLQStream)
	if err != nil {
		fmt.Fprintln(stderr, "dlq:", err)
		return 1
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(router.DLQSubject(dest)))
	if err != nil {
		fmt.Fprintln(stderr, "dlq:", err)
		return 1
	}
	n := info.State.Subjects[router.DLQSubject(dest)]
	if !yes {
		fmt.Fprintf(stderr, "dlq purge would delete %d dead letter(s) of %s; run again with --yes\n", n, dest)
		return 1
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSubject(router.DLQSubject(dest))); err != nil {
		fmt.Fprintln(stderr, "dlq:", err)
		return 1
	}
	fmt.Fprintf(stdout, "purged %d dead letter(s) of %s\n", n, dest)
	return 0
}

// dlqReplay re-delivers dead letters to their destination only. An entry
// is removed after its event was delivered (or is now filtered or
// unmatched); one that fails again is replaced by an entry with the new
// reason. Interrupting it loses nothing: at worst an event is sent twice.
func dlqReplay(dir, dest string, limit int, since time.Duration, stdout, stderr io.Writer) int {
	cfg, plans, diags := loadAndBuild(dir)
	if diags.Err() != nil {
		for _, d := range diags.Errors() {
			fmt.Fprintln(stderr, d.String())
		}
		return 1
	}
	plan, ok := plans[dest]
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
	stream, err := js.Stream(ctx, router.DLQStream)
	if err != nil {
		fmt.Fprintln(stderr, "dlq:", err)
		return 1
	}
	rp, err := router.NewReplayer(plan)
	if err != nil {
		fmt.Fprintln(stderr, "dlq:", err)
		return 1
	}
	var (
		mu     sync.Mutex
		counts = map[string]int{}
		wg     sync.WaitGroup
		window = make(chan struct{}, 128)
	)
	bar := newBar(stderr, -1, "replaying dead letters of "+dest)
	maxHeader := cfg.Global.Limits.MaxDLQHeaderBytes
	err = dlqEntries(ctx, js, dest, limit, since, func(seq uint64, dl *router.DeadLetter) bool {
		if ctx.Err() != nil {
			return false
		}
		var only map[string]bool
		if len(dl.Actions) > 0 {
			only = map[string]bool{}
			for _, a := range dl.Actions {
				only[a] = true
			}
		}
		select {
		case window <- struct{}{}:
		case <-ctx.Done():
			return false
		}
		wg.Add(1)
		source := ""
		if parts := strings.SplitN(dl.Subject, ".", 3); len(parts) >= 2 {
			source = parts[1]
		}
		rp.Deliver(ctx, dl.Data, source, dl.FirstAttempt, only, func(res router.ReplayResult) {
			defer func() { <-window; wg.Done(); _ = bar.Add(1) }()
			kind := string(res.Outcome)
			dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			switch res.Outcome {
			case router.Invalid:
				kind = "still invalid (kept)"
			case router.DeadLettered:
				kind = "failed again (kept with the new reason)"
				if err := plan.PublishDeadLetter(dctx, js, router.DeadLetterAgain(dl, res), maxHeader); err != nil {
					kind = "failed again (kept as it was)"
					break
				}
				_ = stream.DeleteMsg(dctx, seq)
			default:
				if err := stream.DeleteMsg(dctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
					kind += " (entry not removed: " + err.Error() + ")"
				}
			}
			mu.Lock()
			counts[kind]++
			mu.Unlock()
		})
		return true
	})
	rp.Flush()
	wg.Wait()
	rp.Close(context.Background())
	_ = bar.Finish()
	total := 0
	for _, n := range counts {
		total += n
	}
	fmt.Fprintf(stdout, "replayed %d dead letter(s) of %s\n", total, dest)
	kinds := make([]string, 0, len(counts))
	for k := range counts {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(stdout, "  %6d  %s\n", counts[k], k)
	}
	fmt.Fprintln(stdout, replayCountsNote)
	if err != nil {
		fmt.Fprintln(stderr, "dlq:", err)
		return 1
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "interrupted: entries not yet replayed stay in the DLQ")
		return 130
	}
	if counts["failed again (kept with the new reason)"]+counts["failed again (kept as it was)"] > 0 {
		return 1
	}
	return 0
}
