package router_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/router"
)

// The runtime core under stress, with the race detector: reloads that
// restart lanes in the middle of batch sends, a tool whose failures flap
// the breaker, a consumer deleted under its lane and re-created, DLQ
// replays started and cancelled, and stops, all while events flow. Every
// event of the stable destinations ends in exactly one outcome (the
// metrics sum), the re-created consumer's destination gets every event at
// least once, and nothing is left running once the router stops.
func TestStressRuntimeCore(t *testing.T) {
	if testing.Short() {
		t.Skip("the stress test runs for about half a minute")
	}
	var healthy atomic.Bool
	flappy := func(n int, _ *http.Request, body []byte) (int, http.Header, string) {
		if strings.Contains(string(body), "poison") {
			return 400, nil, `{"error":"poison"}`
		}
		if !healthy.Load() && n%100 < 30 {
			return 503, nil, "flapping"
		}
		return 200, nil, "{}"
	}
	batchTool, singleTool, orderedTool, phoenixTool := newTool(t, flappy), newTool(t, flappy), newTool(t, flappy), newTool(t, flappy)
	common := `
delivery:
  attempts: 1
  timeout: 2s
  backoff: {initial: 20ms, max: 100ms}
  breaker: {failures: 5, cooldown: 100ms}
`
	dests := func(gen int) map[string]string {
		return map[string]string{
			"batch":   fmt.Sprintf("type: webhook\nsettings:\n  url: %s\n  headers: {X-Gen: %q}\n", batchTool.URL, fmt.Sprint(gen)) + common + "  batch: {max_items: 20, linger: 20ms}\n",
			"single":  fmt.Sprintf("type: webhook\nsettings:\n  url: %s\n  headers: {X-Gen: %q}\n", singleTool.URL, fmt.Sprint(gen)) + common,
			"ordered": fmt.Sprintf("type: webhook\nsettings:\n  url: %s\n", orderedTool.URL) + common + "  ordering: user\n",
			// Re-created from the start of the stream when deleted: it sees
			// every event at least once.
			"phoenix": fmt.Sprintf("type: webhook\nstart: all\nsettings:\n  url: %s\n", phoenixTool.URL) + common,
		}
	}
	e := newEnv(t, "", dests(0))
	_, plans0 := e.load()            // before the reloads start rewriting the files
	ignore := goleak.IgnoreCurrent() // the NATS server and the test's own clients
	r := e.start()

	const n = 2000
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	publishedAll := make(chan struct{})
	wg.Add(1)
	go func() { // the collector
		defer wg.Done()
		defer close(publishedAll)
		for i := range n {
			ev := track(fmt.Sprintf("s-%04d", i), fmt.Sprintf("u-%d", i%13), "Clicked", nil)
			if i%250 == 0 {
				ev["properties"] = map[string]any{"kind": "poison"}
			}
			e.publish("web", ev)
		}
	}()
	wg.Add(1)
	go func() { // reloads: a changed header restarts two lanes on their consumers
		defer wg.Done()
		for gen := 1; ctx.Err() == nil; gen++ {
			e.writeConfig("", dests(gen))
			cfg, plans := e.load()
			_ = plans
			if err := r.Reload(ctx, cfg, nil); err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("reload %d: %v", gen, err)
				return
			}
			pause(ctx, 150*time.Millisecond)
		}
	}()
	wg.Add(1)
	go func() { // the phoenix destination's consumer is deleted under its lane
		defer wg.Done()
		for ctx.Err() == nil {
			pause(ctx, 400*time.Millisecond)
			dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := e.js.DeleteConsumer(dctx, router.EventsStream, router.ConsumerName("phoenix"))
			cancel()
			if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
				t.Errorf("deleting the consumer: %v", err)
				return
			}
		}
	}()
	wg.Add(1)
	go func() { // DLQ replays, cancelled part way
		defer wg.Done()
		for ctx.Err() == nil {
			rctx, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
			_, _ = router.ReplayDeadLetters(rctx, e.js, plans0["single"], router.DLQSelect{}, nil, nil, nil)
			cancel()
			pause(ctx, 100*time.Millisecond)
		}
	}()

	<-publishedAll
	// The faults go on for a while after the last publish, then stop.
	pause(context.Background(), 2*time.Second)
	stop()
	wg.Wait()
	healthy.Store(true)

	defer func() {
		if !t.Failed() {
			return
		}
		for _, d := range []string{"batch", "single", "ordered", "phoenix"} {
			c, err := e.js.Consumer(context.Background(), router.EventsStream, router.ConsumerName(d))
			if err != nil {
				t.Logf("%s: %v", d, err)
				continue
			}
			info, _ := c.Info(context.Background())
			t.Logf("%s: pending %d, ack pending %d, redelivered %d, waiting %d; %s", d, info.NumPending, info.NumAckPending, info.NumRedelivered, info.NumWaiting, e.outcomes(d))
		}
		var buf strings.Builder
		_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
		t.Logf("goroutines:\n%s", buf.String())
	}()
	for _, d := range []string{"batch", "single", "ordered"} {
		e.waitSettled(d, n, 60*time.Second)
		e.checkSum(d, n)
		if got := e.count(d, router.DeadLettered); got < n/250 {
			t.Errorf("%s: %d dead letters, want at least the %d poisoned events", d, got, n/250)
		}
	}
	waitFor(t, 60*time.Second, func() bool { return len(uniq(phoenixTool.delivered())) >= n-n/250 }, func() string {
		return fmt.Sprintf("phoenix got %d distinct events of %d deliverable", len(uniq(phoenixTool.delivered())), n-n/250)
	})
	for name, tl := range map[string]*tool{"single": singleTool, "ordered": orderedTool} {
		if got := len(uniq(tl.delivered())); got != n-n/250 {
			t.Errorf("%s: the tool got %d distinct events, want %d", name, got, n-n/250)
		}
	}
	// The batch tool refuses a whole batch holding a poisoned event (400),
	// so its batch-mates are dead-lettered too: what it got is exactly what
	// was counted delivered.
	if got, want := len(uniq(batchTool.delivered())), e.count("batch", router.Delivered); got != want {
		t.Errorf("batch: the tool got %d distinct events, %d counted delivered", got, want)
	}
	r.Stop()
	for _, tl := range []*tool{batchTool, singleTool, orderedTool, phoenixTool} {
		tl.CloseClientConnections()
		tl.Close()
	}
	// The consumers the router made live on in the server: stop it too, so
	// that what is left running is ours.
	e.nc.Close()
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
	goleak.VerifyNone(t, ignore)
}

// pause waits d, or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
