package router_test

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
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
