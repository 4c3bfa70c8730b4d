package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/switchyard/switchyard/bench/workload"
)

// Phase F: a slow tool. Phase B's mapped destination with rate.concurrency
// left to its default (adaptive, up to max_in_flight), draining N events
// to a sink that answers each request after -slow-delay (100 ms): real
// APIs answer in 50-300 ms. The bound is what max_in_flight allows,
// max_in_flight ÷ the delay (the http type has no documented rate limit
// and the file sets no rate.rps); the target is 0.8 × that.

// slowResult is phase F's figures.
type slowResult struct {
	events     int
	delay      time.Duration
	inFlight   int
	wall       time.Duration
	eps        float64
	cpu        time.Duration
	peakRSS    int64
	limit      float64 // switchyard_concurrency_limit at the end
	maxInSink  int64   // most requests the sink held at once
	others     float64
	requests   int64
	dups       int64
	boundEPS   float64
	targetEPS  float64
	targetPass bool
}

const targetSlowRatio = 0.8

func (b *bench) phaseF(ctx context.Context) error {
	n := b.o.slowN
	if err := b.nats.resetStream(ctx); err != nil {
		return err
	}
	ev := newEvents(b.o.seed, 'F', "pf")
	logf("phase F: publishing %d events", n)
	if _, err := b.nats.publish(ctx, n, func(i int) (string, []byte, string) {
		s, d := ev.next(i)
		return s, d, workload.ID('F', i)
	}); err != nil {
		return err
	}
	rec := b.sink.record("F", n, 200)
	rec.delay = b.o.slowDelay
	r, err := b.startRouter(ctx, "F", "slow", workload.MappedDestination("pf", b.sink.url("F"), 0, b.o.inFlight))
	if err != nil {
		return err
	}
	load := startLoad(childCPU(r))
	t0, cpu0 := time.Now(), r.cpu()
	ok := rec.waitIdle(30 * time.Second)
	res := &slowResult{events: n, delay: b.o.slowDelay, inFlight: b.o.inFlight, others: load.others()}
	res.wall, res.cpu = time.Unix(0, rec.last.Load()).Sub(t0), r.cpu()-cpu0
	if text, err := r.metrics(); err == nil {
		res.limit, _ = metricValue(text, "switchyard_concurrency_limit", `destination="slow"`)
	}
	res.peakRSS = r.stop()
	if !ok {
		return fmt.Errorf("the sink got %d of %d events (stalled for 30s)", rec.distinct.Load(), n)
	}
	res.eps = float64(n) / res.wall.Seconds()
	res.requests, res.dups, res.maxInSink = rec.requests.Load(), rec.dups.Load(), rec.maxHeld.Load()
	res.boundEPS = float64(b.o.inFlight) / b.o.slowDelay.Seconds()
	res.targetEPS = targetSlowRatio * res.boundEPS
	res.targetPass = res.eps >= res.targetEPS
	logf("phase F: %d events to a tool answering in %s: %.0f events/s (bound %.0f/s: max_in_flight %d ÷ %s); concurrency limit at the end %.0f, at most %d requests at the sink at once; router CPU %s, peak RSS %s; other processes %.2f cores",
		n, b.o.slowDelay, res.eps, res.boundEPS, b.o.inFlight, b.o.slowDelay, res.limit, res.maxInSink, res.cpu, mb(res.peakRSS), res.others)
	b.rep.f = res
	return nil
}

func (r *report) slowMarkdown() string {
	f := r.f
	if f == nil {
		return ""
	}
	var sb strings.Builder
	sb.WriteString("\n#### A slow tool (phase F)\n\n")
	fmt.Fprintf(&sb, "Phase B's mapped destination, `rate.concurrency` left to its default (adaptive concurrency, ceiling `max_in_flight` %d), draining %s events to a sink answering each request after %s.\n\n", f.inFlight, num(float64(f.events)), f.delay)
	sb.WriteString("| events/s | bound: max_in_flight ÷ latency | ratio | concurrency limit at the end | most requests at the sink at once | router CPU | peak RSS | other processes |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	fmt.Fprintf(&sb, "| %s | %s | %.2f | %.0f | %d | %s | %s | %.2f cores |\n", num(f.eps), num(f.boundEPS), f.eps/f.boundEPS, f.limit, f.maxInSink, f.cpu.Round(10*time.Millisecond), mb(f.peakRSS), f.others)
	return sb.String()
}
