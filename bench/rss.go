package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/switchyard/switchyard/bench/workload"
)

// phaseD opens the destination's breaker (the sink answers 503), then
// publishes the backlog and samples the router's RSS.
func (b *bench) phaseD(ctx context.Context) error {
	if err := b.nats.resetStream(ctx); err != nil {
		return err
	}
	const opening = 50
	rec := b.sink.record("D", opening+b.o.rssEvents, 503)
	dest := fmt.Sprintf("type: webhook\nsources: [pd]\nstart: all\nsettings:\n  url: %s\ndelivery:\n  breaker: {cooldown: 5s}\n", b.sink.url("D"))
	r, err := b.startRouter(ctx, "D", "breaker", dest)
	if err != nil {
		return err
	}
	defer func() {
		if r != nil {
			r.stop()
		}
	}()
	logf("phase D: opening the breaker with %d events to a sink answering 503", opening)
	if _, err := b.nats.publish(ctx, opening, func(i int) (string, []byte, string) {
		return "events.pd.track", workload.Small('D', i), workload.ID('D', i)
	}); err != nil {
		return err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		text, err := r.metrics()
		if v, ok := metricValue(text, "switchyard_breaker_state", `destination="breaker"`); err == nil && ok && v == 2 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the breaker did not open in 60s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	res := &phaseResult{phase: 'D', events: b.o.rssEvents, runner: r.label()}
	sampler := sampleRSS(r)
	logf("phase D: breaker open; publishing %d events", b.o.rssEvents)
	reqs0 := rec.requests.Load()
	cpu0 := r.cpu()
	pub, err := b.nats.publish(ctx, b.o.rssEvents, func(i int) (string, []byte, string) {
		return "events.pd.track", workload.Small('D', opening+i), workload.ID('D', opening+i)
	})
	if err != nil {
		sampler.stop()
		return err
	}
	res.publishEPS = float64(b.o.rssEvents) / pub.Seconds()
	logf("phase D: published at %.0f events/s; sampling RSS for %s", res.publishEPS, b.o.rssWindow)
	select {
	case <-time.After(b.o.rssWindow):
	case <-ctx.Done():
	}
	res.peakSampled, res.lastRSS = sampler.stop()
	_, res.hwm = r.rss()
	res.cpu = r.cpu() - cpu0
	res.requests = rec.requests.Load() - reqs0
	st, err := b.nats.js.Stream(ctx, "EVENTS")
	if err == nil {
		if c, err := st.Consumer(ctx, "dest_breaker"); err == nil {
			if info, err := c.Info(ctx); err == nil {
				res.waiting = int64(info.NumPending)
				res.held = int64(info.NumAckPending)
			}
		}
	}
	if text, err := r.metrics(); err == nil {
		v, _ := metricValue(text, "switchyard_events_total", `destination="breaker",outcome="retried"`)
		res.retried = int64(v)
	}
	res.peakRSS = r.stop()
	r = nil
	logf("phase D: RSS peak sampled %d KiB, VmHWM %d KiB; %d waiting in JetStream, %d delivered and not acked (nak'd with a delay), %d retried", res.peakSampled, res.hwm, res.waiting, res.held, res.retried)
	b.rep.d = res
	return nil
}

// rssSampler reads a router's VmRSS every 100 ms on a goroutine of its
// own, until stop.
type rssSampler struct {
	quit       chan struct{}
	done       chan struct{}
	once       sync.Once
	peak, last int64 // KiB; written by the goroutine, read after done
}

func sampleRSS(r routerRun) *rssSampler {
	s := &rssSampler{quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			now, _ := r.rss()
			s.peak, s.last = max(s.peak, now), now
			select {
			case <-t.C:
			case <-s.quit:
				return
			}
		}
	}()
	return s
}

// stop ends the sampling, waits for its goroutine, and returns the peak
// and the last VmRSS read (KiB). Calling it again returns the same.
func (s *rssSampler) stop() (peak, last int64) {
	s.once.Do(func() { close(s.quit) })
	<-s.done
	return s.peak, s.last
}
