package router_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchyard/switchyard/internal/poll"
	"github.com/switchyard/switchyard/router"
)

// checkSum asserts the pinned invariant: published = delivered + filtered
// + unmatched + invalid + dead_lettered.
func (e *env) checkSum(dest string, published int) {
	e.t.Helper()
	if s := e.settled(dest); s != published {
		e.t.Errorf("%s: settled %d, published %d (%s)", dest, s, published, e.outcomes(dest))
	}
}

func TestToolFailingThenRecoveringGetsEverything(t *testing.T) {
	var failures atomic.Int32
	tl := newTool(t, func(n int, _ *http.Request, _ []byte) (int, http.Header, string) {
		if failures.Add(1) <= 45 {
			return 500, nil, `{"error":"busy"}`
		}
		return 200, nil, "{}"
	})
	e := newEnv(t, "", map[string]string{"hook": fmt.Sprintf("type: webhook\nsettings:\n  url: %s\n", tl.URL) + fast})
	e.start()
	const n = 20
	for i := range n {
		e.publish("web", track(fmt.Sprintf("m-%02d", i), "u1", "Clicked", nil))
	}
	e.waitSettled("hook", n, 20*time.Second)
	e.checkSum("hook", n)
	if d := e.count("hook", router.Delivered); d != n {
		t.Errorf("delivered %d, want %d", d, n)
	}
	if e.count("hook", router.Retried) == 0 {
		t.Error("retried = 0: the failures were not retried through JetStream")
	}
	if len(e.dlq("hook")) != 0 {
		t.Error("something was dead-lettered")
	}
}

func TestRetryAfterIsHonouredAndTheRateAdapts(t *testing.T) {
	var limited atomic.Bool
	limited.Store(true)
	tl := newTool(t, func(n int, _ *http.Request, _ []byte) (int, http.Header, string) {
		if n == 3 && limited.Load() {
			return 429, http.Header{"Retry-After": {"1"}}, `{"error":"slow down"}`
		}
		return 200, nil, "{}"
	})
	e := newEnv(t, "", map[string]string{"hook": fmt.Sprintf("type: webhook\nsettings:\n  url: %s\n", tl.URL) + `
delivery:
  attempts: 3
  rate: {rps: 40, concurrency: 1}
  backoff: {initial: 50ms, max: 200ms}
`})
	r := e.start()
	const n = 30
	for i := range n {
		e.publish("web", track(fmt.Sprintf("m-%02d", i), "u1", "Clicked", nil))
	}
	e.waitSettled("hook", n, 30*time.Second)
	e.checkSum("hook", n)
	reqs := tl.all()
	// The request after the 429 came at least Retry-After later, measured
	// at the tool.
	for i, rq := range reqs {
		if rq.Status == 429 && i+1 < len(reqs) {
			if gap := reqs[i+1].At.Sub(rq.At); gap < 900*time.Millisecond {
				t.Errorf("next request %s after the 429 with Retry-After: 1", gap)
			}
		}
	}
	rate := func() float64 { return testutil.ToFloat64(r.Metrics().RateLimit.WithLabelValues("hook")) }
	if got := rate(); got >= 40 || got == 0 {
		t.Errorf("rate after a 429 = %.1f rps, want below the 40 rps ceiling", got)
	}
	// Successes raise it back, never above the ceiling.
	limited.Store(false)
	e.publishMany(800, func(i int) map[string]any { return track(fmt.Sprintf("more-%03d", i), "u1", "Clicked", nil) })
	waitFor(t, 30*time.Second, func() bool { return rate() >= 39 }, func() string { return fmt.Sprintf("rate %.1f", rate()) })
	if got := rate(); got > 40 {
		t.Errorf("rate %.1f above the ceiling", got)
	}
}

func TestPermanentErrorIsDeadLetteredOnceAndKeepsTheBreakerClosed(t *testing.T) {
	tl := newTool(t, func(int, *http.Request, []byte) (int, http.Header, string) {
		return 400, nil, `{"error":"invalid email","detail":"` + strings.Repeat("x", 2000) + `"}`
	})
	e := newEnv(t, "", map[string]string{"hook": fmt.Sprintf("type: webhook\nsettings:\n  url: %s\n", tl.URL) + `
delivery:
  breaker: {failures: 3, cooldown: 10s}
`})
	r := e.start()
	const n = 10
	for i := range n {
		e.publish("web", track(fmt.Sprintf("m-%02d", i), "u1", "Clicked", nil))
	}
	e.waitSettled("hook", n, 15*time.Second)
	e.checkSum("hook", n)
	if got := len(tl.all()); got != n {
		t.Errorf("tool got %d requests, want %d: a 400 is not retried", got, n)
	}
	dl := e.dlq("hook")
	if len(dl) != n {
		t.Fatalf("DLQ has %d entries, want %d", len(dl), n)
	}
	for _, d := range dl {
		if d.Status != 400 || !strings.Contains(string(d.Response), "invalid email") || len(d.Response) > 1024 {
			t.Errorf("entry status %d, response %d bytes %.60q", d.Status, len(d.Response), d.Response)
		}
		if d.Attempts != 1 {
			t.Errorf("attempts %d, want 1", d.Attempts)
		}
	}
	if s := testutil.ToFloat64(r.Metrics().Breaker.WithLabelValues("hook")); s != 0 {
		t.Errorf("breaker state %v after 400s, want closed (0)", s)
	}
}

func TestRetryWindowClosesIntoTheDLQ(t *testing.T) {
	tl := newTool(t, func(int, *http.Request, []byte) (int, http.Header, string) { return 503, nil, "maintenance" })
	e := newEnv(t, "", map[string]string{"hook": fmt.Sprintf("type: webhook\nsettings:\n  url: %s\n", tl.URL) + `
delivery:
  attempts: 1
  retry_window: 1s
  backoff: {initial: 100ms, max: 300ms}
  breaker: {failures: 1000}
`})
	e.start()
	for i := range 5 {
		e.publish("web", track(fmt.Sprintf("m-%d", i), "u1", "Clicked", nil))
	}
	e.waitSettled("hook", 5, 15*time.Second)
	e.checkSum("hook", 5)
	if d := e.count("hook", router.DeadLettered); d != 5 {
		t.Fatalf("dead_lettered %d, want 5", d)
	}
	for _, d := range e.dlq("hook") {
		if !strings.Contains(d.Reason, "retry window of 1s closed") || d.Status != 503 {
			t.Errorf("reason %q status %d", d.Reason, d.Status)
		}
	}
}

// publishMany publishes quickly with async publishes.
func (e *env) publishMany(n int, mk func(i int) map[string]any) {
	e.t.Helper()
	js, err := jetstream.New(e.nc, jetstream.WithPublishAsyncMaxPending(4096))
	must(e.t, err)
	for i := range n {
		ev := mk(i)
		data, _ := json.Marshal(ev)
		m := nats.NewMsg("events.web." + ev["type"].(string))
		m.Data = data
		m.Header.Set(jetstream.MsgIDHeader, ev["messageId"].(string))
		if _, err := js.PublishMsgAsync(m); err != nil {
			e.t.Fatal(err)
		}
		if i%2000 == 1999 {
			// Bound what waits for acks: a loaded -race run acks slowly.
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(60 * time.Second):
				e.t.Fatal("publishing timed out")
			}
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(60 * time.Second):
		e.t.Fatal("publishing timed out")
	}
}

func TestOpenBreakerStopsPullingAndTheBacklogWaitsInJetStream(t *testing.T) {
	if testing.Short() {
		t.Skip("publishes 100,000 events")
	}
	var down atomic.Bool
	down.Store(true)
	tl := newTool(t, func(int, *http.Request, []byte) (int, http.Header, string) {
		if down.Load() {
			return 503, nil, "down"
		}
		return 200, nil, "{}"
	})
	e := newEnv(t, "", map[string]string{"hook": fmt.Sprintf("type: webhook\nsettings:\n  url: %s\n", tl.URL) + `
delivery:
  attempts: 1
  backoff: {initial: 200ms, max: 1s}
  breaker: {failures: 3, cooldown: 500ms}
  batch: {max_items: 500, linger: 50ms}
`})
	r := e.start()
	const n = 100_000
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	e.publishMany(n, func(i int) map[string]any {
		return track(fmt.Sprintf("m-%06d", i), fmt.Sprintf("u%d", i%100), "Order Completed", map[string]any{"revenue": 10, "currency": "USD"})
	})
	waitFor(t, 20*time.Second, func() bool { return testutil.ToFloat64(r.Metrics().Breaker.WithLabelValues("hook")) == 2 }, func() string { return "breaker never opened" })
	// The lane sits idle with the breaker open: what it pulled before the
	// breaker opened was refused and nak'd, and it holds at most the
	// half-open probe. Waited for, not slept on: the heap is measured with
	// the lane in that state.
	held := func() int {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := r.Consumer(ctx, "hook")
		if err != nil {
			return -1
		}
		return c.Held
	}
	waitFor(t, 20*time.Second, func() bool { h := held(); return h >= 0 && h <= 1 }, func() string {
		return fmt.Sprintf("the lane holds %d events with the breaker open", held())
	})
	runtime.GC()
	var during runtime.MemStats
	runtime.ReadMemStats(&during)
	growth := int64(during.HeapInuse) - int64(before.HeapInuse)
	t.Logf("heap in use: before %d MB, with %d events waiting %d MB", before.HeapInuse>>20, n, during.HeapInuse>>20)
	if growth > 64<<20 {
		t.Errorf("heap grew %d MB while %d events waited: the backlog is in memory, not in JetStream", growth>>20, n)
	}
	if inflight := testutil.ToFloat64(r.Metrics().InFlight.WithLabelValues("hook")); inflight > 1024 {
		t.Errorf("lane holds %v events with the breaker open", inflight)
	}
	// The backlog waits in JetStream: most events were never pulled.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	cs, err := r.Consumer(ctx, "hook")
	cancel()
	must(t, err)
	if cs.Pending < n/2 {
		t.Errorf("%d of %d events left in JetStream with the breaker open (%+v): the lane kept pulling", cs.Pending, n, cs)
	}
	requestsWhileDown := len(tl.all())
	down.Store(false)
	e.waitSettled("hook", n, 5*time.Minute)
	e.checkSum("hook", n)
	if d := e.count("hook", router.Delivered); d != n {
		t.Errorf("delivered %d of %d", d, n)
	}
	got := uniq(tl.delivered())
	if len(got) != n {
		t.Errorf("tool saw %d distinct events, want %d", len(got), n)
	}
	t.Logf("requests while down: %d, events left in JetStream then: %d; total requests: %d", requestsWhileDown, cs.Pending, len(tl.all()))
}

func TestPerUserOrderingHoldsBackOnlyThatUser(t *testing.T) {
	// u-slow's first event fails a few times; its later events must wait
	// behind it, while u-fast's events flow. slow-0 is refused until the
	// tool has accepted every u-fast event (and at least 3 times), not for
	// a time: with a fixed number of failures, its retries (about 0.5 s of
	// backoff) raced the publisher, and a slow publisher's last u-fast
	// events came after slow-0 went through, though nothing waited. So a
	// u-fast held behind u-slow shows as a lane that never settles.
	var slowFailures, fastOK atomic.Int32
	tl := newTool(t, func(_ int, _ *http.Request, body []byte) (int, http.Header, string) {
		var ev map[string]any
		_ = json.Unmarshal(body, &ev)
		id, _ := ev["messageId"].(string)
		if id == "slow-0" && (slowFailures.Add(1) <= 3 || fastOK.Load() < 20) {
			return 503, nil, "try later"
		}
		if strings.HasPrefix(id, "fast-") {
			fastOK.Add(1) // each is accepted at its first request: no duplicates
		}
		return 200, nil, "{}"
	})
	e := newEnv(t, "", map[string]string{"hook": fmt.Sprintf("type: webhook\nsettings:\n  url: %s\n", tl.URL) + `
delivery:
  attempts: 1
  ordering: user
  backoff: {initial: 200ms, max: 400ms}
  breaker: {failures: 1000}
`})
	e.start()
	for i := range 20 {
		e.publish("web", track(fmt.Sprintf("slow-%d", i), "u-slow", "Clicked", nil))
		e.publish("web", track(fmt.Sprintf("fast-%d", i), "u-fast", "Clicked", nil))
	}
	// Settling at all is the check that u-fast did not wait for u-slow (its
	// last event before slow-0's success, as the tool sees to).
	e.waitSettled("hook", 40, 30*time.Second)
	e.checkSum("hook", 40)
	if n := slowFailures.Load(); n < 4 {
		t.Errorf("slow-0 was requested %d times, want at least 3 refusals and its success", n)
	}
	var slowOrder, fastOrder []string
	for _, r := range tl.all() {
		if r.Status != 200 {
			continue
		}
		var ev map[string]any
		_ = json.Unmarshal(r.Body, &ev)
		id := ev["messageId"].(string)
		if strings.HasPrefix(id, "slow") {
			slowOrder = append(slowOrder, id)
		} else {
			fastOrder = append(fastOrder, id)
		}
	}
	for i, id := range slowOrder {
		if id != fmt.Sprintf("slow-%d", i) {
			t.Fatalf("u-slow delivered out of order: %v", slowOrder)
		}
	}
	for i, id := range fastOrder {
		if id != fmt.Sprintf("fast-%d", i) {
			t.Fatalf("u-fast delivered out of order: %v", fastOrder)
		}
	}
}

func TestGracefulStopNaksInsteadOfAcking(t *testing.T) {
	release := make(chan struct{})
	tl := newTool(t, func(n int, _ *http.Request, _ []byte) (int, http.Header, string) {
		if n < 5 {
			<-release
			return 503, nil, "stopped"
		}
		return 200, nil, "{}"
	})
	e := newEnv(t, "", map[string]string{"hook": fmt.Sprintf("type: webhook\nsettings:\n  url: %s\n", tl.URL) + `
delivery:
  attempts: 1
  timeout: 30s
  backoff: {initial: 50ms, max: 100ms}
  breaker: {failures: 1000}
`})
	r := e.start()
	for i := range 5 {
		e.publish("web", track(fmt.Sprintf("m-%d", i), "u1", "Clicked", nil))
	}
	waitFor(t, 10*time.Second, func() bool { return len(tl.all()) >= 5 }, func() string { return "requests not in flight" })
	// The held sends are answered (503) while the router stops, not
	// before: answered before, they would be nak'd, redelivered 50 ms later
	// to a running lane and delivered, and the test would say nothing of a
	// stop. Stop takes the lanes off the router (DestinationStatusOf no
	// longer finds it) just before it cancels their pulls; the release
	// waits for that, not for a time.
	stopped := make(chan struct{})
	go func() {
		defer close(release)
		tick := time.NewTicker(poll.Interval)
		defer tick.Stop()
		for {
			if _, running := r.DestinationStatusOf("hook"); !running {
				return
			}
			select {
			case <-stopped: // (Stop cannot return before; for safety)
				return
			case <-tick.C:
			}
		}
	}()
	r.Stop()
	close(stopped)
	<-release // the releasing goroutine has ended (it closes release last)
	if d := e.count("hook", router.Delivered) + e.count("hook", router.DeadLettered); d != 0 {
		t.Errorf("%d events settled as done though none was delivered", d)
	}
	e.start()
	waitFor(t, 15*time.Second, func() bool { return len(uniq(tl.delivered())) == 5 }, func() string {
		return fmt.Sprintf("redelivered %d of 5; %d requests; logs:\n%s", len(uniq(tl.delivered())), len(tl.all()), e.logs.String())
	})
}

// An event with two requests, one accepted and one answered 503 on its
// first try (one attempt per send: the 503 sends the event back to
// JetStream): the redelivery sends only the one that failed (the lane's
// trail of what ended), so the tool sees the accepted request once. A
// second event whose other request is refused for good is dead-lettered
// naming that request alone, its accepted one sent once.
func TestARedeliverySendsOnlyWhatDidNotGoThrough(t *testing.T) {
	var flaky atomic.Int32
	tl := newTool(t, func(_ int, r *http.Request, body []byte) (int, http.Header, string) {
		switch {
		case r.URL.Path == "/b" && strings.Contains(string(body), "m-retry") && flaky.Add(1) == 1:
			return 503, nil, `{"error":"busy"}`
		case r.URL.Path == "/b" && strings.Contains(string(body), "m-refused"):
			return 400, nil, `{"error":"bad"}`
		}
		return 200, nil, `{"ok":true}`
	})
	e := newEnv(t, "", map[string]string{"api": fmt.Sprintf(`type: http
actions:
  a:
    url: %[1]s/a
    fields: {id: messageId}
  b:
    url: %[1]s/b
    fields: {id: messageId}
delivery:
  attempts: 1
  backoff: {initial: 50ms, max: 200ms}
`, tl.URL)})
	e.start()
	e.publish("web", track("m-retry", "u1", "Clicked", nil))
	e.publish("web", track("m-refused", "u2", "Clicked", nil))
	e.waitSettled("api", 2, 15*time.Second)
	count := func(path, id string) (n int) {
		for _, r := range tl.all() {
			if r.Path == path && strings.Contains(string(r.Body), id) {
				n++
			}
		}
		return n
	}
	// The precondition: the first try of m-retry's b failed, so it was
	// delivered again.
	if got := count("/b", "m-retry"); got != 2 {
		t.Fatalf("m-retry's b was requested %d times, want 2 (a 503, then a 200)", got)
	}
	if got := count("/a", "m-retry"); got != 1 {
		t.Errorf("m-retry's a was requested %d times, want once: the redelivery sent again what went through", got)
	}
	if got := e.count("api", router.Delivered); got != 1 {
		t.Errorf("delivered %d, want 1 (%s)", got, e.outcomes("api"))
	}
	dl := e.dlq("api")
	if len(dl) != 1 || dl[0].MessageID != "m-refused" {
		t.Fatalf("DLQ = %+v, want m-refused alone", dl)
	}
	if got := strings.Join(dl[0].Actions, ","); got != "b" {
		t.Errorf("the dead letter names %q, want b alone", got)
	}
	if got := count("/a", "m-refused"); got != 1 {
		t.Errorf("m-refused's a was requested %d times, want once", got)
	}
}
