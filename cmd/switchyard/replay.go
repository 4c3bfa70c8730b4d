package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/switchyard/switchyard/router"
)

func newReplayCmd() *cobra.Command {
	var o replayOptions
	cmd := &cobra.Command{
		Use:   "replay --destination NAME (--since D | --from-time T | --from-seq N)",
		Short: "Re-deliver past events from the EVENTS stream to one destination",
		Long: `replay re-delivers past events from the EVENTS stream to one destination, with
its filter, integrations and triggers, through a separate ordered consumer:
the destination's own consumer and every other destination are untouched.
Failures are dead-lettered as the router's are.

The replay runs in this process, not in the router: its counts are printed
when it ends, and are not in the router's switchyard_events_total.
SIGINT or SIGTERM stops it early; what was not replayed yet can be replayed
again (a tool may see an event twice, never none).

Exit status: 0; 1 when an event was dead-lettered or NATS is unreachable;
2 on a bad flag; 130 when interrupted.`,
		Example: `  switchyard replay --config examples/quickstart --destination crm --since 2h
  switchyard replay --destination crm --from-time 2026-11-28T12:00:00Z --until 2026-11-28T13:00:00Z`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return exitWith(runReplay(o, cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
	f := cmd.Flags()
	addConfigFlag(cmd, &o.dir, "switchyard.yaml and destinations/*.yaml, and where NATS is")
	f.StringVar(&o.dest, "destination", "", "destination name (required)")
	_ = cmd.MarkFlagRequired("destination")
	_ = cmd.RegisterFlagCompletionFunc("destination", completeDestinations)
	f.DurationVar(&o.since, "since", 0, "replay events that arrived within this long (e.g. 2h)")
	f.StringVar(&o.fromTime, "from-time", "", "replay from this RFC 3339 time")
	f.Uint64Var(&o.fromSeq, "from-seq", 0, "replay from this EVENTS stream sequence")
	f.StringVar(&o.until, "until", "", "stop at events that arrived after this RFC 3339 time (default: what is in the stream now)")
	cmd.MarkFlagsOneRequired("since", "from-time", "from-seq")
	cmd.MarkFlagsMutuallyExclusive("since", "from-time", "from-seq")
	return cmd
}

type replayOptions struct {
	dir, dest, fromTime, until string
	since                      time.Duration
	fromSeq                    uint64
}

// runReplay re-delivers past events to one destination; failures are
// dead-lettered like the lane's.
func runReplay(o replayOptions, stdout, stderr io.Writer) int {
	set := 0
	for _, b := range []bool{o.since > 0, o.fromTime != "", o.fromSeq > 0} {
		if b {
			set++
		}
	}
	if set != 1 {
		// cobra checks that one is given; a zero value is none.
		fmt.Fprintln(stderr, "replay: give one of --since (above 0), --from-time or --from-seq (above 0)")
		return exitUsage
	}
	var untilT time.Time
	if o.until != "" {
		t, err := time.Parse(time.RFC3339, o.until)
		if err != nil {
			fmt.Fprintf(stderr, "replay: --until %q: want an RFC 3339 time\n", o.until)
			return 2
		}
		untilT = t
	}
	occ := jetstream.OrderedConsumerConfig{}
	switch {
	case o.since > 0:
		t := time.Now().Add(-o.since)
		occ.DeliverPolicy, occ.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
	case o.fromTime != "":
		t, err := time.Parse(time.RFC3339, o.fromTime)
		if err != nil {
			fmt.Fprintf(stderr, "replay: --from-time %q: want an RFC 3339 time\n", o.fromTime)
			return 2
		}
		occ.DeliverPolicy, occ.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
	default:
		occ.DeliverPolicy, occ.OptStartSeq = jetstream.DeliverByStartSequencePolicy, o.fromSeq
	}
	cfg, plans, diags := loadAndBuild(o.dir)
	if diags.Err() != nil {
		for _, d := range diags.Errors() {
			fmt.Fprintln(stderr, d.String())
		}
		return 1
	}
	plan, ok := plans[o.dest]
	if !ok {
		fmt.Fprintf(stderr, "replay: no destination %q in %s\n", o.dest, o.dir)
		return 1
	}
	occ.FilterSubjects = router.FilterSubjects(plan.Sources)
	nc, js, err := connectFor(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "replay:", err)
		return 1
	}
	defer nc.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := js.OrderedConsumer(ctx, router.EventsStream, occ)
	if err != nil {
		fmt.Fprintln(stderr, "replay:", err)
		return 1
	}
	info, err := c.Info(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "replay:", err)
		return 1
	}
	total := int(info.NumPending)
	rp, err := router.NewReplayer(plan)
	if err != nil {
		fmt.Fprintln(stderr, "replay:", err)
		return 1
	}
	bar := newBar(stderr, int64(total), "replaying to "+o.dest)
	var (
		mu      sync.Mutex
		counts  = map[router.Outcome]int{}
		reasons = map[string]int{}
		wg      sync.WaitGroup
		window  = make(chan struct{}, 256)
	)
	maxHeader := cfg.Global.Limits.MaxDLQHeaderBytes
	seen := 0
loop:
	for seen < total && ctx.Err() == nil {
		batch, err := c.Fetch(min(total-seen, 256), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			fmt.Fprintln(stderr, "replay:", err)
			break
		}
		got := 0
		for m := range batch.Messages() {
			got++
			seen++
			meta, _ := m.Metadata()
			if !untilT.IsZero() && meta != nil && meta.Timestamp.After(untilT) {
				break loop
			}
			select {
			case window <- struct{}{}:
			case <-ctx.Done():
				break loop
			}
			wg.Add(1)
			subject, data := m.Subject(), m.Data()
			var at time.Time
			if meta != nil {
				at = meta.Timestamp
			}
			rp.Deliver(ctx, data, sourceOfSubject(subject), at, nil, func(res router.ReplayResult) {
				defer func() { <-window; wg.Done(); _ = bar.Add(1) }()
				o := res.Outcome
				if o == router.DeadLettered || o == router.Invalid {
					dl := &router.DeadLetter{Destination: plan.Name, Subject: subject, Data: data, Reason: "replay: " + res.Reason,
						Status: res.Status, Response: res.Response, Attempts: res.Attempts, Actions: res.Actions, FirstAttempt: at, FailedAt: time.Now()}
					dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					if err := plan.PublishDeadLetter(dctx, js, dl, maxHeader); err != nil {
						fmt.Fprintf(stderr, "replay: writing a dead letter failed: %v\n", err)
					}
					cancel()
				}
				mu.Lock()
				counts[o]++
				if res.Reason != "" && o != router.Delivered {
					reasons[res.Reason]++
				}
				mu.Unlock()
			})
			if seen >= total {
				break
			}
		}
		if got == 0 {
			break
		}
	}
	rp.Flush()
	wg.Wait()
	rp.Close(context.Background())
	_ = bar.Finish()
	fmt.Fprintf(stdout, "replayed %d event(s) to %s: delivered %d, filtered %d, unmatched %d, invalid %d, dead-lettered %d\n",
		counts[router.Delivered]+counts[router.Filtered]+counts[router.Unmatched]+counts[router.Invalid]+counts[router.DeadLettered],
		plan.Name, counts[router.Delivered], counts[router.Filtered], counts[router.Unmatched], counts[router.Invalid], counts[router.DeadLettered])
	type kv struct {
		k string
		n int
	}
	var top []kv
	for k, n := range reasons {
		top = append(top, kv{k, n})
	}
	sort.Slice(top, func(i, j int) bool { return top[i].n > top[j].n })
	for i, r := range top {
		if i == 10 {
			break
		}
		fmt.Fprintf(stdout, "  %6d  %s\n", r.n, plan.Redactor.String(r.k))
	}
	fmt.Fprintln(stdout, replayCountsNote)
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "interrupted")
		return 130
	}
	if counts[router.DeadLettered] > 0 {
		return 1
	}
	return 0
}

func sourceOfSubject(s string) string {
	for i := len("events."); i < len(s); i++ {
		if s[i] == '.' {
			return s[len("events."):i]
		}
	}
	return ""
}

// replayCountsNote follows the counts of `replay` and `dlq replay`: they
// run in this process, so the router that serves the destination neither
// sends these events nor counts them.
const replayCountsNote = "(these counts are this command's own: the replay ran in this process, so the router's switchyard_events_total does not include them)"
