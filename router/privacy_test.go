package router_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/router/plan"
	"github.com/switchyard/switchyard/router/regulations"
)

// reason reads switchyard_event_reasons_total{destination,outcome,reason}.
func (e *env) reason(dest string, o router.Outcome, r plan.Reason) int {
	return int(testutil.ToFloat64(e.r.Metrics().Reasons.WithLabelValues(dest, string(o), string(r))))
}

// regulate records a regulation through the running router, as the admin
// API does, and waits until the router's index holds its suppressions.
func (e *env) regulate(typ regulations.Type, dests []string, users ...plan.User) regulations.Report {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rep, err := e.r.SubmitRegulation(ctx, &regulations.Regulation{Type: typ, Users: users, Destinations: dests, RequestedBy: "test"})
	must(e.t, err)
	return rep
}

// sumHolds checks the outcome ledger of a destination: every event
// published on its sources has exactly one final outcome, and the reasons
// of each outcome add up to it.
func (e *env) sumHolds(dest string, published int) {
	e.t.Helper()
	if got := e.settled(dest); got != published {
		e.t.Errorf("%s: %d events settled, %d published (%s)", dest, got, published, e.outcomes(dest))
	}
	for _, o := range []router.Outcome{router.Delivered, router.Filtered, router.Unmatched, router.Invalid, router.DeadLettered} {
		n := 0
		for _, r := range []plan.Reason{plan.ReasonOK, plan.ReasonSuppressed, plan.ReasonIntegrations, plan.ReasonConsent, plan.ReasonFilter,
			plan.ReasonFilterError, plan.ReasonSample, plan.ReasonNothingToSend, plan.ReasonNoTrigger, plan.ReasonMapping, plan.ReasonInvalid} {
			n += e.reason(dest, o, r)
		}
		if o == router.DeadLettered {
			for _, r := range []string{"http_4xx", "http_5xx", "http_429", "http_3xx", "no_response", "breaker_open", "item_rejected", "window_closed", "window_would_close"} {
				n += e.reason(dest, o, plan.Reason(r))
			}
		}
		if n != e.count(dest, o) {
			e.t.Errorf("%s: %s is %d, its reasons add up to %d", dest, o, e.count(dest, o), n)
		}
	}
}

func usersIn(tl *tool) map[string]int {
	out := map[string]int{}
	for _, r := range tl.all() {
		s := string(r.Body)
		for _, u := range []string{"u-1", "u-2", "u-3"} {
			if strings.Contains(s, `"userId":"`+u+`"`) {
				out[u]++
			}
		}
	}
	return out
}

// A suppressed user's events stop reaching the two destinations in scope,
// counted filtered with reason suppressed, while other users' flow and a
// third destination gets everything; the events stay in EVENTS;
// unsuppress resumes them.
func TestSuppressionStopsTwoDestinationsAndUnsuppressResumes(t *testing.T) {
	a, b, c := newTool(t, nil), newTool(t, nil), newTool(t, nil)
	hook := func(tl *tool) string { return fmt.Sprintf("type: webhook\nsettings:\n  url: %s\n", tl.URL) + fast }
	e := newEnv(t, "", map[string]string{"a": hook(a), "b": hook(b), "c": hook(c)})
	r := e.start()
	e.regulate(regulations.Suppress, []string{"a", "b"}, plan.User{UserID: "u-1"})
	// SubmitRegulation returns once the bucket holds it; the router's own
	// index follows it through its watch.
	waitFor(t, 5*time.Second, func() bool {
		_, ok := r.Suppressions().Suppressed("a", "u-1", "")
		return ok
	}, func() string { return "the router's index never saw the suppression" })
	for i := range 10 {
		e.publish("web", track(fmt.Sprintf("m-%02d", i), fmt.Sprintf("u-%d", i%2+1), "Clicked", nil))
	}
	for _, d := range []string{"a", "b", "c"} {
		e.waitSettled(d, 10, 20*time.Second)
	}
	for _, d := range []string{"a", "b"} {
		if e.count(d, router.Delivered) != 5 || e.reason(d, router.Filtered, plan.ReasonSuppressed) != 5 {
			t.Errorf("%s: %s, suppressed %d (want 5 delivered, 5 suppressed)", d, e.outcomes(d), e.reason(d, router.Filtered, plan.ReasonSuppressed))
		}
		e.sumHolds(d, 10)
	}
	if e.count("c", router.Delivered) != 10 {
		t.Errorf("c is out of scope: %s", e.outcomes("c"))
	}
	e.sumHolds("c", 10)
	if got := usersIn(a); got["u-1"] != 0 || got["u-2"] != 5 {
		t.Errorf("tool a saw %v", got)
	}
	if got := usersIn(c); got["u-1"] != 5 {
		t.Errorf("tool c saw %v", got)
	}
	// Suppression is not deletion: EVENTS keeps every event.
	s, err := e.js.Stream(context.Background(), router.EventsStream)
	must(t, err)
	info, err := s.Info(context.Background())
	must(t, err)
	if info.State.Msgs != 10 {
		t.Errorf("EVENTS holds %d events, want 10", info.State.Msgs)
	}

	e.regulate(regulations.Unsuppress, nil, plan.User{UserID: "u-1"})
	waitFor(t, 5*time.Second, func() bool {
		_, ok := r.Suppressions().Suppressed("a", "u-1", "")
		return !ok
	}, func() string { return "the router's index never saw the unsuppression" })
	for i := range 4 {
		e.publish("web", track(fmt.Sprintf("n-%02d", i), "u-1", "Clicked", nil))
	}
	for _, d := range []string{"a", "b", "c"} {
		e.waitSettled(d, 14, 20*time.Second)
		e.sumHolds(d, 14)
	}
	if got := usersIn(a); got["u-1"] != 4 {
		t.Errorf("after unsuppress, tool a saw u-1 %d times, want 4", got["u-1"])
	}
}

// A suppression recorded while a router runs holds for the router that
// replaces it: events published while no router ran are filtered.
func TestSuppressionHoldsAcrossARestart(t *testing.T) {
	tl := newTool(t, nil)
	e := newEnv(t, "", map[string]string{"hook": fmt.Sprintf("type: webhook\nsettings:\n  url: %s\n", tl.URL) + fast})
	r := e.start()
	e.regulate(regulations.Suppress, nil, plan.User{UserID: "u-1", AnonymousID: "anon-1"})
	r.Stop()
	// While no router runs: the suppressed user, by either id, and another.
	e.publish("web", track("m-1", "u-1", "Clicked", nil))
	e.publish("web", map[string]any{"type": "page", "messageId": "m-2", "anonymousId": "anon-1", "name": "Home"})
	e.publish("web", track("m-3", "u-2", "Clicked", nil))
	c, err := e.js.Consumer(context.Background(), router.EventsStream, router.ConsumerName("hook"))
	must(t, err)
	info, err := c.Info(context.Background())
	must(t, err)
	if info.NumPending != 3 {
		t.Fatalf("%d events waiting for the next router, want 3: the restart is not tested", info.NumPending)
	}
	e.start()
	e.waitSettled("hook", 3, 20*time.Second)
	if e.reason("hook", router.Filtered, plan.ReasonSuppressed) != 2 || e.count("hook", router.Delivered) != 1 {
		t.Errorf("after the restart: %s, suppressed %d", e.outcomes("hook"), e.reason("hook", router.Filtered, plan.ReasonSuppressed))
	}
	e.sumHolds("hook", 3)
	if got := tl.delivered(); len(got) != 1 || got[0] != "m-3" {
		t.Errorf("the tool got %v", got)
	}
}

// Two routers share the destination's durable consumer; a suppression made
// through one reaches the other's index, and neither delivers the user.
func TestSuppressionHoldsAcrossTwoRoutersSharingConsumers(t *testing.T) {
	// Router a's requests wait at the tool until router b's first one
	// arrives, so that b is sure to take events from the shared consumer.
	bSeen := make(chan struct{})
	var once sync.Once
	tl := newTool(t, func(_ int, r *http.Request, _ []byte) (int, http.Header, string) {
		switch r.Header.Get("X-Router") {
		case "b":
			once.Do(func() { close(bSeen) })
		case "a":
			select {
			case <-bSeen:
			case <-r.Context().Done():
			}
		}
		return 200, nil, "{}"
	})
	e := newEnv(t, "", nil)
	start := func(name string) *router.Router {
		dir := t.TempDir()
		must(t, os.MkdirAll(filepath.Join(dir, "destinations"), 0o755))
		must(t, os.WriteFile(filepath.Join(dir, "switchyard.yaml"), fmt.Appendf(nil, "nats:\n  url: %s\n", e.srv.ClientURL()), 0o644))
		must(t, os.WriteFile(filepath.Join(dir, "destinations", "hook.yaml"), fmt.Appendf(nil,
			"type: webhook\nsettings:\n  url: %s\n  headers: {X-Router: %s}\ndelivery:\n  max_in_flight: 16\n  attempts: 2\n  backoff: {initial: 50ms, max: 200ms}\n", tl.URL, name), 0o644))
		cfg, diags := config.Load(dir, config.Options{})
		must(t, diags.Err())
		plans, diags := plan.Build(cfg)
		must(t, diags.Err())
		r := router.New(cfg, plans, router.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), StopTimeout: 5 * time.Second})
		must(t, r.Start(context.Background()))
		t.Cleanup(r.Stop)
		return r
	}
	ra, rb := start("a"), start("b")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := rb.SubmitRegulation(ctx, &regulations.Regulation{Type: regulations.Suppress, Users: []plan.User{{UserID: "u-1"}}, RequestedBy: "test"}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*router.Router{ra, rb} {
		waitFor(t, 5*time.Second, func() bool { return r.Suppressions().SuppressedEverywhere("u-1", "") }, func() string { return "a router's index never saw it" })
	}
	const n = 200
	for i := range n {
		e.publish("web", track(fmt.Sprintf("m-%03d", i), fmt.Sprintf("u-%d", i%2+1), "Clicked", nil))
	}
	count := func(r *router.Router, o router.Outcome) int {
		return int(testutil.ToFloat64(r.Metrics().Events.WithLabelValues("hook", string(o))))
	}
	suppressed := func(r *router.Router) int {
		return int(testutil.ToFloat64(r.Metrics().Reasons.WithLabelValues("hook", string(router.Filtered), string(plan.ReasonSuppressed))))
	}
	settled := func() int {
		s := 0
		for _, r := range []*router.Router{ra, rb} {
			for _, o := range []router.Outcome{router.Delivered, router.Filtered, router.Unmatched, router.Invalid, router.DeadLettered} {
				s += count(r, o)
			}
		}
		return s
	}
	waitFor(t, 30*time.Second, func() bool { return settled() >= n }, func() string { return fmt.Sprintf("%d of %d settled", settled(), n) })
	if got := settled(); got != n {
		t.Errorf("%d settled across both routers, %d published", got, n)
	}
	if s := suppressed(ra) + suppressed(rb); s != n/2 || count(ra, router.Filtered)+count(rb, router.Filtered) != n/2 {
		t.Errorf("suppressed a %d + b %d, want %d", suppressed(ra), suppressed(rb), n/2)
	}
	if got := usersIn(tl); got["u-1"] != 0 || got["u-2"] < n/2 {
		t.Errorf("the tool saw %v", got)
	}
	if count(rb, router.Delivered) == 0 {
		t.Error("router b delivered nothing: the consumer was not shared")
	}
	t.Logf("router a: %d delivered, %d suppressed; router b: %d delivered, %d suppressed",
		count(ra, router.Delivered), suppressed(ra), count(rb, router.Delivered), suppressed(rb))
}

// Consent and the filters in a running router: drops are counted filtered
// with their reasons (a filter that errors among them: fail closed), and
// the sum holds.
func TestConsentAndFiltersInTheRouter(t *testing.T) {
	tl := newTool(t, nil)
	e := newEnv(t, "", map[string]string{"hook": fmt.Sprintf(`type: webhook
settings:
  url: %s
consent:
  categories: [Marketing]
sample: 0.5
filter: properties.n < 13 || properties.n > 13
block_fields: [context.ip]
`, tl.URL) + fast})
	e.start()
	const n = 400
	expect := map[plan.Reason]int{}
	for i := range n {
		var n any = i % 20
		if i%20 == 7 {
			n = "seven" // the filter cannot compare it: dropped, filter_error
		}
		ev := track(fmt.Sprintf("m-%03d", i), fmt.Sprintf("user-%d", i), "Clicked", map[string]any{"n": n})
		ctx := map[string]any{"ip": "10.9.9.9"}
		if i%4 == 0 {
			ctx["consent"] = map[string]any{"categoryPreferences": map[string]any{}}
		}
		ev["context"] = ctx
		e.publish("web", ev)
		switch {
		case i%4 == 0:
			expect[plan.ReasonConsent]++
		case i%20 == 13:
			expect[plan.ReasonFilter]++
		case i%20 == 7:
			expect[plan.ReasonFilterError]++
		case plan.SampleFraction(fmt.Sprintf("user-%d", i)) >= 0.5:
			expect[plan.ReasonSample]++
		default:
			expect[plan.ReasonOK]++
		}
	}
	e.waitSettled("hook", n, 30*time.Second)
	for reason, want := range expect {
		o := router.Filtered
		if reason == plan.ReasonOK {
			o = router.Delivered
		}
		if got := e.reason("hook", o, reason); got != want {
			t.Errorf("%s: %d, want %d", reason, got, want)
		}
	}
	if expect[plan.ReasonSample] == 0 || expect[plan.ReasonOK] == 0 || expect[plan.ReasonFilterError] == 0 {
		t.Fatal("the sample kept everyone or no one: the test shows nothing")
	}
	e.sumHolds("hook", n)
	for _, r := range tl.all() {
		if strings.Contains(string(r.Body), "10.9.9.9") {
			t.Fatal("context.ip reached the tool")
		}
	}
}

// Replay and DLQ replay never deliver a suppressed user's events: the DLQ
// replay keeps their entries (counted suppressed), the events replay
// counts them filtered, reason suppressed.
func TestReplaysNeverDeliverASuppressedUser(t *testing.T) {
	var refuse atomic.Bool
	refuse.Store(true)
	tl := newTool(t, func(int, *http.Request, []byte) (int, http.Header, string) {
		if refuse.Load() {
			return 400, nil, `{"error":"bad"}`
		}
		return 200, nil, "{}"
	})
	e := newEnv(t, "", map[string]string{"hook": fmt.Sprintf("type: webhook\nsettings:\n  url: %s\n", tl.URL) + fast})
	r := e.start()
	for i := range 6 {
		e.publish("web", track(fmt.Sprintf("m-%d", i), fmt.Sprintf("u-%d", i%2+1), "Clicked", nil))
	}
	e.waitSettled("hook", 6, 20*time.Second)
	if e.count("hook", router.DeadLettered) != 6 {
		t.Fatalf("the precondition: every event dead-lettered, got %s", e.outcomes("hook"))
	}
	e.sumHolds("hook", 6)
	e.regulate(regulations.Suppress, nil, plan.User{UserID: "u-1"})
	waitFor(t, 5*time.Second, func() bool { return r.Suppressions().SuppressedEverywhere("u-1", "") }, func() string { return "not suppressed" })
	refuse.Store(false)
	before := len(tl.all())
	_, p := e.load()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := router.ReplayDeadLetters(ctx, e.js, p["hook"], router.DLQSelect{}, r.Suppressions(), nil, nil)
	must(t, err)
	if rep.Entries["suppressed"] != 3 || rep.Entries["removed"] != 3 || rep.Outcomes[router.Filtered] != 3 || rep.Failed() {
		t.Errorf("DLQ replay: %+v", rep)
	}
	if left := e.dlq("hook"); len(left) != 3 {
		t.Errorf("%d entries left, want the suppressed user's 3", len(left))
	}
	rep, err = router.ReplayEvents(ctx, e.js, p["hook"], router.EventsFrom{FromSeq: 1}, r.Suppressions(), nil, nil)
	must(t, err)
	if rep.Outcomes[router.Filtered] != 3 || rep.Outcomes[router.Delivered] != 3 {
		t.Errorf("events replay: %+v", rep)
	}
	after := tl.all()[before:]
	if len(after) != 6 {
		t.Errorf("the replays sent %d requests, want 6 (u-2's events, twice)", len(after))
	}
	for _, q := range after {
		if strings.Contains(string(q.Body), `"userId":"u-1"`) {
			t.Fatal("a replay delivered the suppressed user")
		}
	}
}
