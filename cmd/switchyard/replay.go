package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
	"time"

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
	from := router.EventsFrom{Since: o.since, FromSeq: o.fromSeq, Until: untilT}
	if o.fromTime != "" {
		t, err := time.Parse(time.RFC3339, o.fromTime)
		if err != nil {
			fmt.Fprintf(stderr, "replay: --from-time %q: want an RFC 3339 time\n", o.fromTime)
			return 2
		}
		from.FromTime = t
	}
	cfg, plans, diags := loadAndBuild(o.dir)
	if diags.Err() != nil {
		for _, d := range diags.Errors() {
			fmt.Fprintln(stderr, d.String())
		}
		return 1
	}
	p, ok := plans[o.dest]
	if !ok {
		fmt.Fprintf(stderr, "replay: no destination %q in %s\n", o.dest, o.dir)
		return 1
	}
	nc, js, err := connectFor(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "replay:", err)
		return 1
	}
	defer nc.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	regs, err := readSuppressions(ctx, cfg, js)
	if err != nil {
		fmt.Fprintln(stderr, "replay:", err)
		return 1
	}
	bar := newBar(stderr, -1, "replaying to "+o.dest)
	rep, err := router.ReplayEvents(ctx, js, p, from, regs, nil, func() { _ = bar.Add(1) })
	_ = bar.Finish()
	if rep != nil {
		c := rep.Outcomes
		fmt.Fprintf(stdout, "replayed %d event(s) to %s (this command's own counts): delivered %d, filtered %d, unmatched %d, invalid %d, dead-lettered %d\n",
			rep.Total(), p.Name, c[router.Delivered], c[router.Filtered], c[router.Unmatched], c[router.Invalid], c[router.DeadLettered])
		type kv struct {
			k string
			n int
		}
		var top []kv
		for k, n := range rep.Reasons {
			top = append(top, kv{k, n})
		}
		sort.Slice(top, func(i, j int) bool { return top[i].n > top[j].n })
		for i, r := range top {
			if i == 10 {
				break
			}
			fmt.Fprintf(stdout, "  %6d  %s\n", r.n, r.k)
		}
		fmt.Fprintln(stdout, replayCountsNote)
		for _, pr := range rep.Problems {
			fmt.Fprintln(stderr, "replay:", pr)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "replay:", err)
		return 1
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "interrupted")
		return 130
	}
	if rep.Failed() {
		return 1
	}
	return 0
}

// replayCountsNote follows the counts of `replay` and `dlq replay`: they
// run in this process, so the router that serves the destination neither
// sends these events nor counts them.
const replayCountsNote = "(these counts are this command's own: the replay ran in this process, so the router's switchyard_events_total does not include them)"
