package router_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchyard/switchyard/router"
)

// A slow tool is given as many requests at once as its latency allows,
// never more than the destination's max_in_flight: however long it takes
// to answer, the lane holds at most max_in_flight events and the rest of
// the backlog waits in JetStream, so memory does not grow with the tool's
// slowness. Every event is delivered.
func TestSlowToolIsBoundByMaxInFlight(t *testing.T) {
	const maxInFlight, events = 24, 120
	var inTool, maxInTool atomic.Int32
	tl := newTool(t, func(int, *http.Request, []byte) (int, http.Header, string) {
		n := inTool.Add(1)
		for m := maxInTool.Load(); n > m && !maxInTool.CompareAndSwap(m, n); m = maxInTool.Load() {
		}
		time.Sleep(250 * time.Millisecond) // the tool is slow; nothing below waits on this
		inTool.Add(-1)
		return 200, nil, `{}`
	})
	e := newEnv(t, "", map[string]string{"slow": fmt.Sprintf(`type: http
sources: [web]
start: all
delivery:
  max_in_flight: %d
actions:
  send:
    url: %s/x
    fields: {id: messageId}
`, maxInFlight, tl.URL)})
	for i := range events {
		e.publish("web", track(fmt.Sprintf("slow-%d", i), "u", "Clicked", nil))
	}
	r := e.start()
	var maxHeld float64
	waitFor(t, 60*time.Second, func() bool {
		maxHeld = max(maxHeld, testutil.ToFloat64(r.Metrics().InFlight.WithLabelValues("slow")))
		if limit := testutil.ToFloat64(r.Metrics().Concurrency.WithLabelValues("slow")); limit < 1 || limit > maxInFlight {
			t.Fatalf("concurrency limit %v outside [1, %d]", limit, maxInFlight)
		}
		return e.count("slow", "delivered") == events
	}, func() string { return e.outcomes("slow") })
	if m := maxInTool.Load(); m > maxInFlight || m < 16 {
		t.Fatalf("the tool saw at most %d requests at once; want between the starting 16 and max_in_flight %d", m, maxInFlight)
	}
	if maxHeld > maxInFlight {
		t.Fatalf("the lane held %v events, above max_in_flight %d", maxHeld, maxInFlight)
	}
}

// A lane whose tool is bound by its rate frees a slot per request; it
// pulls once enough slots are free (half of max_in_flight: the tool holds
// few of its events on the wire), not once per freed slot: one pull
// request and its reply per event would cost a rate-bound lane more than
// the event. The test counts the lane's pull requests on the consumer's
// API subject, and every event is delivered.
func TestRateBoundLanePullsInChunks(t *testing.T) {
	const maxInFlight, events = 64, 400
	tl := newTool(t, func(int, *http.Request, []byte) (int, http.Header, string) { return 200, nil, `{}` })
	e := newEnv(t, "", map[string]string{"paced": fmt.Sprintf(`type: http
sources: [web]
start: all
delivery:
  max_in_flight: %d
  rate: {rps: 400, adaptive: false}
actions:
  send:
    url: %s/x
    fields: {id: messageId}
`, maxInFlight, tl.URL)})
	var pulls atomic.Int32
	sub, err := e.nc.Subscribe("$JS.API.CONSUMER.MSG.NEXT."+router.EventsStream+"."+router.ConsumerName("paced"), func(*nats.Msg) { pulls.Add(1) })
	must(t, err)
	defer func() { _ = sub.Unsubscribe() }()
	must(t, e.nc.Flush())
	for i := range events {
		e.publish("web", track(fmt.Sprintf("paced-%d", i), "u", "Clicked", nil))
	}
	e.start()
	e.waitSettled("paced", events, 60*time.Second)
	if got := e.count("paced", "delivered"); got != events {
		t.Fatalf("delivered %d of %d: %s", got, events, e.outcomes("paced"))
	}
	// The rate held the lane full (precondition): the tool took the
	// events at the rate, so slots freed one at a time.
	if n := len(tl.all()); n != events {
		t.Fatalf("the tool got %d requests, want %d", n, events)
	}
	// One pull per freed slot would be about events - maxInFlight (336);
	// in chunks of maxInFlight/8 about 42; in chunks of maxInFlight/2
	// about 11, plus the lane's idle pulls.
	if n := pulls.Load(); n == 0 || n > events/16 {
		t.Fatalf("%d pull requests for %d events (max_in_flight %d): want at most %d", n, events, maxInFlight, events/16)
	}
	t.Logf("%d pull requests for %d events", pulls.Load(), events)
}

// A lane whose tool is bound by its rate has nothing on the wire between
// its turns: when its last answer is back, the acknowledgements gathered
// so far leave at once, not when the round's timer ends (here an hour,
// so only the lane can have ended it). A filtered event's ack, which no
// answer follows, waits in the round: the precondition that the round is
// really that long.
func TestRateBoundLaneAcksWithItsLastAnswer(t *testing.T) {
	tl := newTool(t, func(int, *http.Request, []byte) (int, http.Header, string) { return 200, nil, `{}` })
	e := newEnv(t, "", map[string]string{"paced": fmt.Sprintf(`type: http
sources: [web]
start: all
delivery:
  rate: {rps: 20, adaptive: false}
actions:
  send:
    url: %s/x
    fields: {id: messageId}
`, tl.URL)})
	e.startOpts(router.Options{AckGather: time.Hour})
	ctx := context.Background()
	cons, err := e.js.Consumer(ctx, router.EventsStream, router.ConsumerName("paced"))
	must(t, err)
	ackPending := func() int {
		info, err := cons.Info(ctx)
		must(t, err)
		return info.NumAckPending
	}
	skipped := track("skipped", "u", "Clicked", nil)
	skipped["integrations"] = map[string]any{"All": false}
	e.publish("web", skipped)
	e.waitSettled("paced", 1, 10*time.Second)
	if e.count("paced", router.Filtered) != 1 {
		t.Fatalf("the first event was not filtered: %s", e.outcomes("paced"))
	}
	if n := ackPending(); n != 1 {
		t.Fatalf("a filtered event's ack gathering for an hour: %d unacknowledged, want 1", n)
	}
	e.publish("web", track("sent", "u", "Clicked", nil))
	e.waitSettled("paced", 2, 10*time.Second)
	if e.count("paced", router.Delivered) != 1 || len(tl.all()) != 1 {
		t.Fatalf("want one delivered: %s, %d requests", e.outcomes("paced"), len(tl.all()))
	}
	waitFor(t, 10*time.Second, func() bool { return ackPending() == 0 },
		func() string { return fmt.Sprintf("%d unacknowledged after the lane's last answer", ackPending()) })
}
