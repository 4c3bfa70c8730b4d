package router_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/natstest"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/router/plan"
)

// TestClusterTwoRoutersShareConsumersAndSurviveFailures is the scale-out
// story: a 3-node NATS cluster with R3 streams and two routers sharing the
// destination's durable consumer. Events spread across both routers; then,
// mid-stream, one router stops and the NATS node leading the consumer goes
// away, and the survivors deliver everything, at least once.
func TestClusterTwoRoutersShareConsumersAndSurviveFailures(t *testing.T) {
	const total = 5000
	const dest = "hook"
	c := natstest.StartCluster(t, 3)
	_, js := c.Connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 170*time.Second)
	defer cancel()
	must(t, router.EnsureStreams(ctx, js, config.Streams{Replicas: 3}))
	if info, err := js.Stream(ctx, router.EventsStream); err != nil {
		t.Fatal(err)
	} else if r := info.CachedInfo().Config.Replicas; r != 3 {
		t.Fatalf("EVENTS has %d replicas, want 3", r)
	}

	// Router a's requests wait at the tool until router b's first one
	// arrives: a holds at most its max_in_flight, so b is sure to get
	// events, and the sharing of the durable consumer is shown whatever the
	// scheduler does.
	bSeen := make(chan struct{})
	var bOnce sync.Once
	tl := newTool(t, func(_ int, r *http.Request, _ []byte) (int, http.Header, string) {
		switch r.Header.Get("X-Router") {
		case "b":
			bOnce.Do(func() { close(bSeen) })
		case "a":
			select {
			case <-bSeen:
			case <-r.Context().Done():
			}
		}
		return 200, nil, "{}"
	})
	urls := c.URLs() // every node: a router outlives any one of them
	logs := &lockedBuffer{}
	start := func(name string) *router.Router {
		t.Helper()
		dir := t.TempDir()
		must(t, os.MkdirAll(filepath.Join(dir, "destinations"), 0o755))
		must(t, os.WriteFile(filepath.Join(dir, "switchyard.yaml"), fmt.Appendf(nil, "nats:\n  url: %s\n  name: router-%s\nstreams:\n  replicas: 3\n", urls, name), 0o644))
		// Identical but for the header naming the router: the same
		// destination, hence the same durable consumer.
		must(t, os.WriteFile(filepath.Join(dir, "destinations", dest+".yaml"), fmt.Appendf(nil, `type: webhook
settings:
  url: %s
  headers: {X-Router: %s}
delivery:
  max_in_flight: 64
  attempts: 2
  backoff: {initial: 200ms, max: 1s}
  breaker: {failures: 1000, cooldown: 300ms}
`, tl.URL, name), 0o644))
		cfg, diags := config.Load(dir, config.Options{})
		if diags.Err() != nil {
			t.Fatal(diags)
		}
		plans, diags := plan.Build(cfg)
		if diags.Err() != nil {
			t.Fatal(diags)
		}
		log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})).With("router", name)
		r := router.New(cfg, plans, router.Options{Logger: log, StopTimeout: 5 * time.Second})
		must(t, r.Start(ctx))
		t.Cleanup(r.Stop)
		return r
	}
	ra, rb := start("a"), start("b")
	defer func() {
		if t.Failed() {
			t.Logf("router logs:\n%s", logs.String())
		}
	}()

	// The publisher keeps going through the failures: a collector with
	// every node's URL, retrying with the same Nats-Msg-Id (deduplicated).
	var published atomic.Int64
	pubDone := make(chan error, 1)
	go func() {
		pnc, err := nats.Connect(urls, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
		if err != nil {
			pubDone <- err
			return
		}
		defer pnc.Close()
		pjs, _ := jetstream.New(pnc)
		for i := range total {
			id := fmt.Sprintf("c-%05d", i)
			m := nats.NewMsg("events.web.track")
			m.Data = fmt.Appendf(nil, `{"type":"track","event":"Clicked","userId":"u-%d","messageId":"%s"}`, i%97, id)
			m.Header.Set(jetstream.MsgIDHeader, id)
			for {
				pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
				_, err := pjs.PublishMsg(pctx, m)
				pcancel()
				if err == nil {
					break
				}
				if ctx.Err() != nil {
					pubDone <- fmt.Errorf("publishing %s: %w", id, err)
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
			published.Add(1)
		}
		pubDone <- nil
	}()

	byRouter := func() (a, b int) {
		for _, rq := range tl.all() {
			if rq.Status != 200 {
				continue
			}
			switch rq.Header.Get("X-Router") {
			case "a":
				a++
			case "b":
				b++
			}
		}
		return a, b
	}
	distinct := func() int { return len(uniq(tl.delivered())) }

	// Mid-stream: both routers have been delivering.
	waitFor(t, 60*time.Second, func() bool { return distinct() >= total/3 && published.Load() >= total/2 }, func() string {
		return fmt.Sprintf("delivered %d, published %d", distinct(), published.Load())
	})
	a, b := byRouter()
	t.Logf("before the failures: router a sent %d, router b %d (published %d)", a, b, published.Load())
	if a == 0 || b == 0 {
		t.Errorf("events did not spread: router a sent %d, router b %d", a, b)
	}

	// Router a stops; the node leading the destination's consumer goes.
	ra.Stop()
	aDelivered := clusterCount(ra, dest, router.Delivered)
	ci, err := js.Consumer(ctx, router.EventsStream, router.ConsumerName(dest))
	must(t, err)
	info, err := ci.Info(ctx)
	must(t, err)
	victim := 0
	if info.Cluster != nil && c.Index(info.Cluster.Leader) >= 0 {
		victim = c.Index(info.Cluster.Leader)
	}
	failedAt := time.Now()
	t.Logf("router a stopped after delivering %d; shutting down %s (leader of %s)", aDelivered, c.Servers[victim].Name(), router.ConsumerName(dest))
	c.Shutdown(victim)

	// The survivors finish the work.
	must(t, <-pubDone)
	waitFor(t, 90*time.Second, func() bool { return distinct() >= total }, func() string {
		return fmt.Sprintf("delivered %d distinct of %d; router b: %s", distinct(), total, clusterOutcomes(rb, dest))
	})
	t.Logf("all %d delivered %s after the failures", total, time.Since(failedAt).Round(10*time.Millisecond))
	ids := uniq(tl.delivered())
	for i := range total {
		if !ids[fmt.Sprintf("c-%05d", i)] {
			t.Fatalf("c-%05d was never delivered", i)
		}
	}
	if len(ids) != total {
		t.Errorf("%d distinct messageIds delivered, want %d", len(ids), total)
	}
	// Router b's metrics account for the rest (redeliveries may count an
	// event twice, never zero times).
	waitFor(t, 10*time.Second, func() bool { return aDelivered+clusterCount(rb, dest, router.Delivered) >= total }, func() string {
		return fmt.Sprintf("router a delivered %d, router b %d (%s), want a sum of at least %d", aDelivered, clusterCount(rb, dest, router.Delivered), clusterOutcomes(rb, dest), total)
	})
	for _, r := range []*router.Router{ra, rb} {
		for _, o := range []router.Outcome{router.DeadLettered, router.Invalid, router.Unmatched, router.Filtered} {
			if n := clusterCount(r, dest, o); n != 0 {
				t.Errorf("%s = %d", o, n)
			}
		}
	}
	a2, b2 := byRouter()
	if b2 <= b {
		t.Errorf("router b sent nothing after the failures (%d before, %d after)", b, b2)
	}
	if !rb.Ready() {
		t.Error("router b is not ready after losing a NATS node")
	}
	t.Logf("requests: router a %d, router b %d; %d deliveries for %d events (%d repeated)", a2, b2, len(tl.delivered()), total, len(tl.delivered())-total)
}

func clusterCount(r *router.Router, dest string, o router.Outcome) int {
	return int(testutil.ToFloat64(r.Metrics().Events.WithLabelValues(dest, string(o))))
}

func clusterOutcomes(r *router.Router, dest string) string {
	s := ""
	for _, o := range []router.Outcome{router.Delivered, router.Filtered, router.Unmatched, router.Invalid, router.DeadLettered, router.Retried} {
		s += fmt.Sprintf("%s=%d ", o, clusterCount(r, dest, o))
	}
	return s
}
