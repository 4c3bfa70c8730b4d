package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/mappings"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/router/plan"
)

// mappedBodies routes the workload's n events through the non-batching
// destination's plan, in this process, as the router's lane does: decode,
// then Plan.Route, at most a lane's max_in_flight (256) events held at
// once, and returns the request bodies it would send. It times both steps:
// the mapping cost per event. (Decoding all n events before routing any
// would hold them all, and the garbage collector would mark a heap the
// lane never has: a gigabyte for 200,000 events.)
func mappedBodies(cfgDir string, seed uint64, n int, phase byte, source string) (bodies [][]byte, decode, route time.Duration, err error) {
	cfg, diags := config.Load(cfgDir, config.Options{})
	if diags.Err() != nil {
		return nil, 0, 0, diags.Err()
	}
	plans, diags := plan.Build(cfg)
	if diags.Err() != nil {
		return nil, 0, 0, diags.Err()
	}
	var pl *plan.Plan
	for _, p := range plans {
		pl = p
	}
	ev := newEvents(seed, phase, source)
	raws := make([][]byte, n)
	for i := range n {
		_, raws[i] = ev.next(i)
	}
	const held = 256
	evs := make([]*mappings.Event, held)
	env := &mappings.Env{}
	bodies = make([][]byte, n)
	now := time.Now()
	for lo := 0; lo < n; lo += held {
		hi := min(lo+held, n)
		t0 := time.Now()
		for i := lo; i < hi; i++ {
			if evs[i-lo], err = mappings.Decode(raws[i], now, mappings.Limits{}); err != nil {
				return nil, 0, 0, fmt.Errorf("event %d: %w", i, err)
			}
		}
		t1 := time.Now()
		for i := lo; i < hi; i++ {
			rt := pl.Route(evs[i-lo], source, raws[i], env, plan.RouteOptions{})
			if len(rt.Requests) != 1 {
				return nil, 0, 0, fmt.Errorf("event %d routed to %d requests (%+v)", i, len(rt.Requests), rt)
			}
			bodies[i] = rt.Requests[0].Req.Body
		}
		decode += t1.Sub(t0)
		route += time.Since(t1)
	}
	return bodies, decode, route, nil
}

// inProcessCosts is what decoding and routing cost per event in process.
type inProcessCosts struct{ decodeNs, routeNs float64 }

// mapInProcess maps phase B's n events in this process, as its lane does
// (mappedBodies), twice: at this process's GOGC (the Go default, unless
// the environment sets one), then at the router's, router.GCPercent, which
// is what a lane pays and what the targets are checked against (B's
// account splits the drain with it). The drain's garbage (the sink's, the
// nats-server's) is collected before each, so that the mapping's own
// collections are what its time includes, round after round. bodies are
// the second run's.
func mapInProcess(cfgDir string, seed uint64, n int, source string) (bodies [][]byte, atRouter, atOwn inProcessCosts, err error) {
	perEvent := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(n) }
	runtime.GC()
	_, d, rt, err := mappedBodies(cfgDir, seed, n, 'R', source)
	if err != nil {
		return nil, atRouter, atOwn, err
	}
	atOwn = inProcessCosts{perEvent(d), perEvent(rt)}
	runtime.GC()
	prev := debug.SetGCPercent(router.GCPercent)
	bodies, d, rt, err = mappedBodies(cfgDir, seed, n, 'R', source)
	debug.SetGCPercent(prev)
	if err != nil {
		return nil, atRouter, atOwn, err
	}
	return bodies, inProcessCosts{perEvent(d), perEvent(rt)}, atOwn, nil
}

// currentGCPercent is this process's GOGC (SetGCPercent reads it by
// setting it: it is set back at once).
func currentGCPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// rawHTTPCeiling POSTs every body to url from `concurrency` workers on one
// keep-alive pool, as a Sender's transport is set up, and returns
// requests/s.
func rawHTTPCeiling(url string, bodies [][]byte, concurrency int) (float64, time.Duration, error) {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        max(100, concurrency),
		MaxIdleConnsPerHost: concurrency,
		IdleConnTimeout:     90 * time.Second,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(bodies) {
					return
				}
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(bodies[i]))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("HTTP %d", resp.StatusCode)
					}
				}
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return 0, 0, firstErr
	}
	return float64(len(bodies)) / elapsed.Seconds(), elapsed, nil
}
