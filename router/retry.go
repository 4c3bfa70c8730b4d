package router

import (
	"context"
	"time"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/router/plan"
)

// retryLane starts a destination's lane in the background after a reload
// could not (NATS was unreachable for a moment): with backoff, until it
// runs, a later reload decides anew (gen), or the router stops.
func (r *Router) retryLane(gen int, cfg *config.Config, p *plan.Plan) {
	bg := r.bg
	r.watching.Add(1)
	go func() {
		defer r.watching.Done()
		delay := time.Second
		for {
			t := time.NewTimer(delay)
			select {
			case <-bg.Done():
				t.Stop()
				return
			case <-t.C:
			}
			r.mu.Lock()
			current := r.gen == gen
			r.mu.Unlock()
			if !current {
				return // a later reload decides for this destination
			}
			ctx, cancel := context.WithTimeout(bg, time.Minute)
			l, err := r.startLane(ctx, p)
			cancel()
			if err != nil {
				r.log.Warn("starting lane failed; retrying", "destination", p.Name, "in", delay, "err", err)
				delay = min(2*delay, 30*time.Second)
				continue
			}
			r.mu.Lock()
			if r.gen != gen || bg.Err() != nil {
				r.mu.Unlock()
				l.stop(r.opts.StopTimeout)
				return
			}
			r.lanes[p.Name] = l
			r.prints[p.Name] = fingerprint(cfg, p)
			r.mu.Unlock()
			r.log.Info("lane started after retries", "destination", p.Name)
			return
		}
	}()
}
