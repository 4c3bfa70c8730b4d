package router_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/natstest"
	"github.com/switchyard/switchyard/internal/poll"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/router/plan"
)

// The fault suite: what issue 12's fault injection found, as tests with a
// bounded time. Each asserts the ledger: for the destination, published =
// delivered + filtered + unmatched + invalid + dead_lettered, and expired
// is 0.

func (e *env) ledger(dest string, published int) {
	e.t.Helper()
	e.checkSum(dest, published)
	if n := testutil.ToFloat64(e.r.Metrics().Expired.WithLabelValues(dest)); n != 0 {
		e.t.Errorf("%s: %v events expired", dest, n)
	}
}

// A tool that answers 500 to everything, an open breaker, a short retry
// window: every event is dead-lettered within its window (plus one sweep
// interval), none waits in EVENTS past it, the reasons say which case
// applied, and a dead letter that says nothing was sent has 0 attempts.
func TestOpenBreakerPastTheWindowDeadLettersEverythingInTime(t *testing.T) {
	tl := newTool(t, func(int, *http.Request, []byte) (int, http.Header, string) { return 500, nil, `{"error":"down"}` })
	const window = 3 * time.Second
	e := newEnv(t, "streams:\n  max_age: 15m\n", map[string]string{"hook": fmt.Sprintf("type: webhook\nsettings:\n  url: %s\n", tl.URL) + `
delivery:
  attempts: 1
  retry_window: 3s
  backoff: {initial: 200ms, max: 1s}
  breaker: {failures: 3, cooldown: 2s}
`})
	r := e.start()
	const n = 300
	start := time.Now()
	for i := range n {
		e.publish("web", track(fmt.Sprintf("w-%03d", i), "u1", "Clicked", nil))
	}
	published := time.Now()
	// Every event is settled no later than its window plus one sweep
	// interval (5 s) plus the time to write its dead letter.
	e.waitSettled("hook", n, window+15*time.Second)
	took := time.Since(published)
	e.ledger("hook", n)
	if d := e.count("hook", router.DeadLettered); d != n {
		t.Fatalf("dead-lettered %d of %d: %s", d, n, e.outcomes("hook"))
	}
	if took > window+10*time.Second {
		t.Errorf("the last dead letter came %s after the last publish: later than the window (%s) plus a sweep", took, window)
	}
	reasons := map[string]int{}
	for _, dl := range e.dlq("hook") {
		switch {
		case strings.HasPrefix(dl.Reason, "next attempt would fall after the retry window"):
			reasons["would fall after"]++
		case strings.HasPrefix(dl.Reason, "retry window of 3s closed"):
			reasons["closed"]++
		default:
			t.Errorf("%s: reason %q names neither case", dl.MessageID, dl.Reason)
		}
		if strings.Contains(dl.Reason, "nothing was sent") && dl.Attempts != 0 {
			t.Errorf("%s: says nothing was sent, with %d attempts", dl.MessageID, dl.Attempts)
		}
		if dl.Attempts > 0 && dl.Status != 500 {
			t.Errorf("%s: %d attempts, but the last status is %d, not the tool's 500", dl.MessageID, dl.Attempts, dl.Status)
		}
		age := dl.FailedAt.Sub(start)
		if age > window+10*time.Second {
			t.Errorf("%s: dead-lettered %s after the first publish", dl.MessageID, age)
		}
	}
	t.Logf("settled %d in %s after publishing: %v; the tool got %d requests", n, took.Round(time.Millisecond), reasons, len(tl.all()))
	// The breaker mattered: most events were never sent (which of the two
	// reasons each got depends on when it came back, and is not asserted).
	if got := len(tl.all()); got >= n/2 {
		t.Errorf("the tool got %d requests for %d events: the breaker did not hold them back", got, n)
	}
	c, err := e.js.Consumer(context.Background(), router.EventsStream, router.ConsumerName("hook"))
	must(t, err)
	// Acks leave in rounds (a millisecond apart) and the server counts them
	// asynchronously: poll.
	waiting := func() uint64 {
		info, err := c.Info(context.Background())
		must(t, err)
		return info.NumPending + uint64(info.NumAckPending)
	}
	poll.Until(t, 10*time.Second, func() bool { return waiting() == 0 },
		func() string { return fmt.Sprintf("%d events still wait in EVENTS past their window", waiting()) })
	if got := testutil.ToFloat64(r.Metrics().OldestUnacked.WithLabelValues("hook")); got > window.Seconds()+10 {
		t.Errorf("switchyard_oldest_unacked_age_seconds = %v", got)
	}
}

// Invalid events are stored once in the DLQ, naming every destination that
// read them, and each destination's dlq list shows them; valid events
// around them are delivered, batched, to a strict tool.
func TestPoisonedEventsAreStoredOnceAndTheirBatchesGoOn(t *testing.T) {
	strict := func(_ int, _ *http.Request, body []byte) (int, http.Header, string) {
		if !json.Valid(body) {
			return 400, nil, "invalid JSON"
		}
		return 200, nil, "{}"
	}
	a, b := newTool(t, strict), newTool(t, strict)
	batch := "delivery:\n  batch: {max_items: 50, linger: 50ms}\n"
	e := newEnv(t, "", map[string]string{
		"a": fmt.Sprintf("type: webhook\nsettings:\n  url: %s\n", a.URL) + batch,
		"b": fmt.Sprintf("type: webhook\nsettings:\n  url: %s\n", b.URL) + batch,
	})
	e.start()
	const n, poisoned = 500, 10
	for i := range n {
		id := fmt.Sprintf("p-%03d", i)
		if i%(n/poisoned) == 0 {
			// Trailing bytes after the object, with a 64-bit id that takes
			// the long-number path.
			e.publishRaw("events.web.track", id, fmt.Appendf(nil, `{"type":"track","messageId":%q,"userId":"u","event":"E","properties":{"id":12345678901234567890}}}{"x":1}`, id))
			continue
		}
		e.publish("web", track(id, "u", "E", nil))
	}
	for _, d := range []string{"a", "b"} {
		e.waitSettled(d, n, 30*time.Second)
		e.ledger(d, n)
		if got := e.count(d, router.Invalid); got != poisoned {
			t.Errorf("%s: invalid %d, want %d", d, got, poisoned)
		}
		if got := e.count(d, router.Delivered); got != n-poisoned {
			t.Errorf("%s: delivered %d of %d valid events", d, got, n-poisoned)
		}
		shared := 0
		for _, dl := range e.dlq(d) {
			if dl.Shared && dl.For("a") && dl.For("b") {
				shared++
			}
		}
		if shared != poisoned {
			t.Errorf("%s: dlq list shows %d shared invalid entries naming both destinations, want %d", d, shared, poisoned)
		}
	}
	stored, err := router.CountInvalid(context.Background(), e.js)
	must(t, err)
	if stored != poisoned {
		t.Errorf("the DLQ holds %d invalid entries for %d invalid events read by two destinations: want one each", stored, poisoned)
	}
}

// Events that reach the lane past their window (the router was down) are
// dead-lettered without a request: "window closed", 0 attempts, and the
// tool sees nothing.
func TestEventsPastTheirWindowOnArrivalAreDeadLetteredUnsent(t *testing.T) {
	tl := newTool(t, nil)
	e := newEnv(t, "streams:\n  max_age: 15m\n", map[string]string{"hook": fmt.Sprintf("type: webhook\nstart: all\nsettings:\n  url: %s\n", tl.URL) + `
delivery:
  retry_window: 1s
  backoff: {initial: 100ms, max: 200ms}
`})
	const n = 50
	for i := range n {
		e.publish("web", track(fmt.Sprintf("late-%02d", i), "u1", "Clicked", nil))
	}
	last := time.Now()
	// The window passes while no router runs: a condition on the clock.
	waitFor(t, 10*time.Second, func() bool { return time.Since(last) > 1500*time.Millisecond }, func() string { return "the clock stopped" })
	e.start()
	e.waitSettled("hook", n, 20*time.Second)
	e.ledger("hook", n)
	if d := e.count("hook", router.DeadLettered); d != n || len(tl.all()) != 0 {
		t.Fatalf("dead-lettered %d of %d, the tool got %d requests", d, n, len(tl.all()))
	}
	for _, dl := range e.dlq("hook") {
		if !strings.HasPrefix(dl.Reason, "retry window of 1s closed") || dl.Attempts != 0 {
			t.Errorf("%s: reason %q, %d attempts", dl.MessageID, dl.Reason, dl.Attempts)
		}
	}
}

// NATS comes up after the router: serve waits for it (nats.connect_wait),
// not ready meanwhile, and routes once it is there. A NATS that never
// comes is an error naming it, once the wait is over.
func TestNATSLateAtStartIsWaitedFor(t *testing.T) {
	port := natstest.FreePort(t)
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	tl := newTool(t, nil)
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "destinations"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "switchyard.yaml"), fmt.Appendf(nil, "nats:\n  url: %s\n  connect_wait: 30s\n", url), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "destinations", "hook.yaml"), fmt.Appendf(nil, "type: webhook\nsettings:\n  url: %s\n", tl.URL), 0o644))
	cfg, diags := config.Load(dir, config.Options{})
	if diags.Err() != nil {
		t.Fatal(diags)
	}
	plans, _ := plan.BuildToServe(cfg)
	logs := &lockedBuffer{}
	r := router.New(cfg, plans, router.Options{Logger: slog.New(slog.NewTextHandler(logs, nil)), StopTimeout: 5 * time.Second})
	t.Cleanup(r.Stop)
	started := make(chan error, 1)
	go func() { started <- r.Start(context.Background()) }()
	// The router is waiting: it said so, and it is not ready.
	waitFor(t, 10*time.Second, func() bool { return strings.Contains(logs.String(), "NATS not reachable yet; waiting for it") }, func() string { return logs.String() })
	if r.Ready() {
		t.Fatal("ready without NATS")
	}
	s, err := natstest.StartAt(t.TempDir(), port)
	must(t, err)
	t.Cleanup(s.Shutdown)
	select {
	case err := <-started:
		must(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("Start did not return after NATS came up")
	}
	if !r.Ready() {
		t.Fatal("not ready after NATS came up")
	}
	nc, js := s.Connect(t)
	_ = nc
	e := &env{t: t, r: r, js: js}
	e.publish("web", track("late-1", "u", "E", nil))
	e.waitSettled("hook", 1, 10*time.Second)
	e.ledger("hook", 1)

	// A NATS that never comes: the error names it after the wait.
	cfg2 := *cfg
	cfg2.Global.NATS.URL = fmt.Sprintf("nats://127.0.0.1:%d", natstest.FreePort(t))
	wait := config.Duration(time.Second)
	cfg2.Global.NATS.ConnectWait = &wait
	r2 := router.New(&cfg2, plans, router.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	err = r2.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "nats.connect_wait") {
		t.Fatalf("Start with no NATS = %v, want an error naming connect_wait", err)
	}
}

// A malformed flood against the embedded shape (router and nats-server in
// one process): everything is settled, each invalid event is stored once
// for both destinations, and the heap stays bounded while it drains (the
// full-size figures are in docs/deployment.md, from the bench).
func TestMalformedFloodIsBoundedAndSettled(t *testing.T) {
	if testing.Short() {
		t.Skip("publishes 22,000 events")
	}
	tl := newTool(t, nil)
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "destinations"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "switchyard.yaml"), []byte("nats:\n  embedded:\n    listen: 127.0.0.1:-1\n"), 0o644))
	for _, d := range []string{"a", "b"} {
		must(t, os.WriteFile(filepath.Join(dir, "destinations", d+".yaml"), fmt.Appendf(nil, "type: webhook\nsettings:\n  url: %s/%s\n", tl.URL, d), 0o644))
	}
	cfg, diags := config.Load(dir, config.Options{})
	if diags.Err() != nil {
		t.Fatal(diags)
	}
	plans, _ := plan.BuildToServe(cfg)
	r := router.New(cfg, plans, router.Options{DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), StopTimeout: 5 * time.Second})
	must(t, r.Start(context.Background()))
	t.Cleanup(r.Stop)
	nc, err := nats.Connect(r.Embedded().ClientURL())
	must(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(2048))
	must(t, err)

	var peak atomic.Uint64
	sampling := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-sampling:
				return
			case <-tick.C:
			}
		}
	}()
	const garbage, valid = 20000, 2000
	pad := strings.Repeat("z", 6000)
	for i := range garbage + valid {
		m := nats.NewMsg("events.web.track")
		m.Header.Set(jetstream.MsgIDHeader, fmt.Sprint("f-", i))
		if i%11 == 0 {
			m.Data = fmt.Appendf(nil, `{"type":"track","messageId":"v-%d","userId":"u","event":"E","properties":{"p":%q}}`, i, pad[:500])
		} else {
			m.Data = fmt.Appendf(nil, `{"type":"track","messageId":"g-%d","junk":%q`, i, pad) // unterminated
		}
		_, err := js.PublishMsgAsync(m)
		must(t, err)
		if i%1000 == 999 {
			<-js.PublishAsyncComplete()
		}
	}
	<-js.PublishAsyncComplete()
	e := &env{t: t, r: r, js: js}
	for _, d := range []string{"a", "b"} {
		e.waitSettled(d, garbage+valid, 2*time.Minute)
		e.ledger(d, garbage+valid)
	}
	close(sampling)
	sampler.Wait()
	stored, err := router.CountInvalid(context.Background(), js)
	must(t, err)
	invalid := e.count("a", router.Invalid)
	if stored != invalid || invalid < garbage-valid {
		t.Errorf("%d invalid events stored %d times in the DLQ, for two destinations: want once each", invalid, stored)
	}
	t.Logf("peak heap in use while %d events drained to two destinations: %d MB", garbage+valid, peak.Load()>>20)
	if p := peak.Load(); p > 300<<20 {
		t.Errorf("peak heap in use %d MB: the flood is held in memory", p>>20)
	}
}

// Start leaves the caller's config as it was: the embedded server's token
// is used for the router's own connection without being written into
// nats.token (a later reload compares the two).
func TestStartDoesNotChangeTheCallersConfig(t *testing.T) {
	t.Setenv("EMBED_TOKEN", "s3cret-embedded-token")
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "destinations"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "switchyard.yaml"), []byte("nats:\n  embedded:\n    listen: 127.0.0.1:-1\n    token: ${EMBED_TOKEN}\n"), 0o644))
	cfg, diags := config.Load(dir, config.Options{})
	if diags.Err() != nil {
		t.Fatal(diags)
	}
	plans, _ := plan.BuildToServe(cfg)
	before := cfg.Global.NATS
	r := router.New(cfg, plans, router.Options{DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	must(t, r.Start(context.Background()))
	t.Cleanup(r.Stop)
	if !r.Ready() {
		t.Fatal("not ready with the embedded token")
	}
	if cfg.Global.NATS.Token != before.Token || cfg.Global.NATS != before {
		t.Errorf("Start changed the caller's nats config: token %q, was %q", cfg.Global.NATS.Token, before.Token)
	}
}
