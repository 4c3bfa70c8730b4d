package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
	"time"

	"github.com/switchyard/switchyard/router"
)

// runReplay re-delivers past events from EVENTS to one destination, with
// its filters, integrations and triggers, through a separate ordered
// consumer: the destination's own consumer and every other destination are
// untouched. Failures are dead-lettered like the lane's.
func runReplay(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("config", ".", "config directory")
	dest := fs.String("destination", "", "destination name (required)")
	since := fs.Duration("since", 0, "replay events that arrived within this long (e.g. 2h)")
	fromTime := fs.String("from-time", "", "replay from this RFC 3339 time")
	fromSeq := fs.Uint64("from-seq", 0, "replay from this EVENTS stream sequence")
	until := fs.String("until", "", "stop at events that arrived after this RFC 3339 time (default: what is in the stream now)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	set := 0
	for _, b := range []bool{*since > 0, *fromTime != "", *fromSeq > 0} {
		if b {
			set++
		}
	}
	if *dest == "" || set != 1 {
		fmt.Fprintln(stderr, "usage: switchyard replay --config DIR --destination NAME (--since 2h | --from-time T | --from-seq N) [--until T]")
		return 2
	}
	var untilT time.Time
	if *until != "" {
		t, err := time.Parse(time.RFC3339, *until)
		if err != nil {
			fmt.Fprintf(stderr, "replay: --until %q: want an RFC 3339 time\n", *until)
			return 2
		}
		untilT = t
	}
	from := router.EventsFrom{Since: *since, FromSeq: *fromSeq, Until: untilT}
	if *fromTime != "" {
		t, err := time.Parse(time.RFC3339, *fromTime)
		if err != nil {
			fmt.Fprintf(stderr, "replay: --from-time %q: want an RFC 3339 time\n", *fromTime)
			return 2
		}
		from.FromTime = t
	}
	cfg, plans, diags := loadAndBuild(*dir)
	if diags.Err() != nil {
		for _, d := range diags.Errors() {
			fmt.Fprintln(stderr, d.String())
		}
		return 1
	}
	p, ok := plans[*dest]
	if !ok {
		fmt.Fprintf(stderr, "replay: no destination %q in %s\n", *dest, *dir)
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
	bar := newBar(stderr, -1, "replaying to "+*dest)
	rep, err := router.ReplayEvents(ctx, js, p, from, nil, func() { _ = bar.Add(1) })
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

func sourceOfSubject(s string) string {
	for i := len("events."); i < len(s); i++ {
		if s[i] == '.' {
			return s[len("events."):i]
		}
	}
	return ""
}
