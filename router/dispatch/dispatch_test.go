package dispatch_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/destinations"
	"github.com/switchyard/switchyard/internal/poll"
	"github.com/switchyard/switchyard/mappings"
	"github.com/switchyard/switchyard/router/dispatch"
	"github.com/switchyard/switchyard/router/plan"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// planFor builds one http destination with two actions: "single" (one
// request per event) and "batched" (batches of batchItems).
func planFor(t testing.TB, url string, batchItems int) *plan.Plan {
	t.Helper()
	return planFrom(t, fmt.Sprintf(`type: http
delivery:
  attempts: 1
  timeout: 30s
  breaker: {failures: 1000}
actions:
  single:
    url: %[1]s/single
    fields: {id: messageId}
  batched:
    url: %[1]s/batched
    fields: {id: messageId}
    batch: {max_items: %[2]d, linger: 1h}
`, url, batchItems))
}

// planFrom builds the destination file dest, named d.
func planFrom(t testing.TB, dest string) *plan.Plan {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "destinations"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "destinations", "d.yaml"), []byte(dest), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := config.Load(dir, config.Options{})
	if diags.Err() != nil {
		t.Fatal(diags)
	}
	plans, diags := plan.BuildToServe(cfg)
	if diags.Err() != nil {
		t.Fatal(diags)
	}
	return plans["d"]
}

func route(t testing.TB, p *plan.Plan, id string) []plan.Outbound {
	t.Helper()
	ev, err := mappings.Decode([]byte(`{"type":"track","event":"E","userId":"u","messageId":"`+id+`"}`), time.Now(), p.Limits())
	if err != nil {
		t.Fatal(err)
	}
	rt := p.Route(ev, "web", nil, &mappings.Env{}, plan.RouteOptions{})
	if len(rt.Requests) != 2 {
		t.Fatalf("routing %s: %+v", id, rt)
	}
	return rt.Requests
}

func newDispatcher(t testing.TB, p *plan.Plan) *dispatch.Dispatcher {
	t.Helper()
	s, err := destinations.NewSender(p.SenderConfig())
	if err != nil {
		t.Fatal(err)
	}
	return dispatch.New(p, s, dispatch.Options{})
}

// Each event's completion runs once, when both its unbatched and its
// batched request have ended, with the results in request order.
func TestDispatchCompletesOnceWithEveryResultInOrder(t *testing.T) {
	var got atomic.Int32
	tool := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		if r.URL.Path == "/batched" {
			w.WriteHeader(503)
		}
	}))
	defer tool.Close()
	p := planFor(t, tool.URL, 4)
	d := newDispatcher(t, p)
	var calls atomic.Int32
	var wg sync.WaitGroup
	wg.Add(4)
	for i := range 4 {
		d.Dispatch(route(t, p, fmt.Sprint("m", i)), func(rs []dispatch.Result) {
			defer wg.Done()
			calls.Add(1)
			if len(rs) != 2 || rs[0].Out.Action != "batched" || rs[1].Out.Action != "single" {
				t.Errorf("results %+v", rs)
				return
			}
			if rs[0].Class != destinations.Retryable || rs[1].Class != destinations.OK {
				t.Errorf("classes %v %v, want retryable (503) and ok", rs[0].Class, rs[1].Class)
			}
		})
	}
	wg.Wait()
	if calls.Load() != 4 {
		t.Errorf("%d completions, want 4", calls.Load())
	}
	if got.Load() != 5 {
		t.Errorf("the tool got %d requests, want 4 single and 1 batch of 4", got.Load())
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// A stop whose time runs out cancels what is in flight, batched sends
// included (the batcher's own context reaches the send), and every
// completion still runs before Close returns.
func TestCloseTimeoutCancelsBatchedAndSingleSends(t *testing.T) {
	release := make(chan struct{})
	var arrived sync.WaitGroup
	arrived.Add(2)
	tool := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Done()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer tool.Close()
	defer close(release)
	p := planFor(t, tool.URL, 1)
	d := newDispatcher(t, p)
	var results []dispatch.Result
	done := make(chan struct{})
	d.Dispatch(route(t, p, "m1"), func(rs []dispatch.Result) { results = rs; close(done) })
	arrived.Wait() // both requests are at the tool: the precondition of the test
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := d.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want the deadline", err)
	}
	select {
	case <-done:
	default:
		t.Fatal("Close returned before the event's completion ran")
	}
	for _, r := range results {
		if r.Class != destinations.Retryable {
			t.Errorf("%s: class %v (%v), want retryable: a cancelled send is not delivered", r.Out.Action, r.Class, r.Err)
		}
	}
}

// After Close, a dispatch (an ordering timer firing late, say) ends at
// once, Retryable, without sending.
func TestDispatchAfterCloseIsRefusedRetryable(t *testing.T) {
	var hits atomic.Int32
	tool := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer tool.Close()
	p := planFor(t, tool.URL, 10)
	d := newDispatcher(t, p)
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	var rs []dispatch.Result
	d.Dispatch(route(t, p, "late"), func(r []dispatch.Result) { rs = r })
	if len(rs) != 2 || rs[0].Class != destinations.Retryable || !errors.Is(rs[0].Err, dispatch.ErrClosed) || !errors.Is(rs[1].Err, dispatch.ErrClosed) {
		t.Fatalf("results %+v, want both refused with ErrClosed", rs)
	}
	if hits.Load() != 0 {
		t.Errorf("the tool got %d requests after Close", hits.Load())
	}
}

// Stress: dispatches race a Close from many goroutines. Every completion
// runs exactly once, whatever the interleaving, and no goroutine is left
// behind (goleak in TestMain).
func TestDispatchRacingCloseCompletesEveryEventOnce(t *testing.T) {
	tool := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer tool.Close()
	p := planFor(t, tool.URL, 8)
	for round := range 20 {
		d := newDispatcher(t, p)
		const senders, each = 8, 25
		var completions [senders * each]atomic.Int32
		var wg sync.WaitGroup
		wg.Add(senders)
		reqs := route(t, p, "x")
		for g := range senders {
			go func() {
				defer wg.Done()
				for i := range each {
					k := g*each + i
					d.Dispatch(reqs, func([]dispatch.Result) { completions[k].Add(1) })
				}
			}()
		}
		if round%2 == 0 {
			time.Sleep(time.Millisecond) // half the rounds close mid-stream; the result must not depend on it
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = d.Close(ctx)
		cancel()
		wg.Wait()
		for k := range completions {
			// A dispatch after Close completes synchronously; one before
			// Close completes before Close returns. Either way, once.
			if n := completions[k].Load(); n != 1 {
				t.Fatalf("round %d: event %d completed %d times", round, k, n)
			}
		}
	}
}

// Unbatched requests are sent by at most as many goroutines as the
// sender's concurrency allows, each taking the next request when its own
// ends (not one goroutine per request, parked until a slot frees), and
// those goroutines use all of it: with 4 allowed and 60 events waiting,
// the tool sees exactly 4 at once.
func TestUnbatchedSendsRunOnAtMostTheConcurrencyLimitOfGoroutines(t *testing.T) {
	const limit, n = 4, 60
	release := make(chan struct{})
	var now, most atomic.Int32
	tool := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := now.Add(1)
		for m := most.Load(); c > m && !most.CompareAndSwap(m, c); m = most.Load() {
		}
		<-release
		now.Add(-1)
	}))
	defer tool.Close()
	p := planFrom(t, fmt.Sprintf(`type: http
delivery:
  attempts: 1
  breaker: {failures: 1000}
  rate: {concurrency: %d}
actions:
  single:
    url: %s/single
    fields: {id: messageId}
`, limit, tool.URL))
	d := newDispatcher(t, p)
	before := runtime.NumGoroutine()
	var done sync.WaitGroup
	done.Add(n)
	var ok atomic.Int32
	for i := range n {
		ev, err := mappings.Decode([]byte(fmt.Sprintf(`{"type":"track","event":"E","userId":"u","messageId":"m%d"}`, i)), time.Now(), p.Limits())
		if err != nil {
			t.Fatal(err)
		}
		rt := p.Route(ev, "web", nil, &mappings.Env{}, plan.RouteOptions{})
		d.Dispatch(rt.Requests, func(rs []dispatch.Result) {
			defer done.Done()
			if len(rs) == 1 && rs[0].Class == destinations.OK {
				ok.Add(1)
			}
		})
	}
	// Every slot taken: the tool holds limit requests.
	poll.Until(t, 10*time.Second, func() bool { return now.Load() >= limit }, func() string {
		return fmt.Sprintf("the tool holds %d requests, want %d", now.Load(), limit)
	})
	if got := now.Load(); got != limit {
		t.Fatalf("the tool holds %d requests, want %d: the workers do not use the whole limit", got, limit)
	}
	// limit workers, plus the transport's two goroutines per connection
	// and the server's one per connection: far fewer than the 60 events.
	if extra := runtime.NumGoroutine() - before; extra > 4*limit {
		t.Errorf("%d more goroutines while %d events wait for %d slots: a goroutine per request", extra, n, limit)
	}
	close(release)
	done.Wait()
	if ok.Load() != n {
		t.Errorf("%d of %d events delivered", ok.Load(), n)
	}
	if got := most.Load(); got != limit {
		t.Errorf("the tool saw %d at once, want %d", got, limit)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}
