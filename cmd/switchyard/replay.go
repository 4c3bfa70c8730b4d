package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go/jetstream"

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
	occ := jetstream.OrderedConsumerConfig{}
	switch {
	case *since > 0:
		t := time.Now().Add(-*since)
		occ.DeliverPolicy, occ.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
	case *fromTime != "":
		t, err := time.Parse(time.RFC3339, *fromTime)
		if err != nil {
			fmt.Fprintf(stderr, "replay: --from-time %q: want an RFC 3339 time\n", *fromTime)
			return 2
		}
		occ.DeliverPolicy, occ.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
	default:
		occ.DeliverPolicy, occ.OptStartSeq = jetstream.DeliverByStartSequencePolicy, *fromSeq
	}
	cfg, plans, diags := loadAndBuild(*dir)
	if diags.Err() != nil {
		for _, d := range diags.Errors() {
			fmt.Fprintln(stderr, d.String())
		}
		return 1
	}
	plan, ok := plans[*dest]
	if !ok {
		fmt.Fprintf(stderr, "replay: no destination %q in %s\n", *dest, *dir)
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
	bar := newBar(stderr, int64(total), "replaying to "+*dest)
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
