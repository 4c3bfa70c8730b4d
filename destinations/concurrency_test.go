package destinations

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/poll"
)

// acWindowOf ends one window of a concurrency limit as a tool answering
// in rtt would have filled it: n samples (or back-pressure), the limit
// reached or not. It returns the limit after the window.
func acWindowOf(c *concurrency, now time.Time, rtt time.Duration, reached, signal bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.win.n, c.win.sum, c.win.reached, c.win.signal = 16, 16*rtt, reached, signal
	c.adjustLocked(now)
	return c.limit
}

// The adaptive limit doubles while a slow tool's latency holds (slow
// start), never past its ceiling; back-pressure multiplies it by 0.9, and
// so does a window whose round trip rose well above the past one (one
// within the tolerance does not); after a cut it climbs back by halves to
// the limit it was cut from, then probes past it by 1, 2, 4...; it never
// falls below 1.
func TestAdaptiveConcurrencyTransitions(t *testing.T) {
	c := newConcurrency(1000, 16, true, nil)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const rtt = 2 * time.Second // a slow tool
	step := func(rtt time.Duration, reached, signal bool) int {
		now = now.Add(rtt)
		return acWindowOf(c, now, rtt, reached, signal)
	}
	expect := func(what string, rtt time.Duration, signal bool, want ...int) {
		t.Helper()
		for _, w := range want {
			if got := step(rtt, true, signal); got != w {
				t.Fatalf("%s: limit %d, want %d", what, got, w)
			}
		}
	}
	expect("slow start", rtt, false, 32, 64, 128, 256, 512)
	expect("back-pressure", rtt, true, 460) // 512 × 0.9
	expect("climbing back by halves to 512", rtt, false, 486, 499, 505, 508, 510, 511, 512)
	expect("probing past it", rtt, false, 513, 515, 519)
	expect("a round trip 5% longer is within the tolerance", rtt+rtt/20, false, 527)
	expect("latency rose by half", rtt+rtt/2, false, 474) // 527 × 0.9
	if got := step(rtt, false, false); got != 474 {
		t.Fatalf("a limit not reached is not raised: %d, want 474", got)
	}
	for range 80 {
		step(rtt, true, true)
	}
	if got := c.current(); got != 1 {
		t.Fatalf("after 80 windows of back-pressure: limit %d, want the floor 1", got)
	}
	expect("from the floor", rtt, false, 2, 4, 8)
	for range 10 {
		step(rtt, true, false)
	}
	if got := c.current(); got != 1000 {
		t.Fatalf("limit %d, want the ceiling 1000", got)
	}
	// Held at the ceiling for hours of windows, the limit stays there: the
	// probing step must not grow without bound (it once overflowed after
	// 63 windows and left every attempt waiting for a negative limit).
	for range 10_000 {
		step(rtt, true, false)
	}
	if got := c.current(); got != 1000 {
		t.Fatalf("after 10,000 windows at the ceiling: limit %d, want 1000", got)
	}
	expect("a cut from the ceiling, then back", rtt, true, 900)
	expect("climbing back", rtt, false, 950, 975, 987, 993, 996, 998, 999, 1000, 1000)
}

// Answers fill a window one mean round trip long; the answer that ends it
// decides for all of them: forty 429s in one window are one decrease.
func TestAdaptiveConcurrencyOneDecreasePerWindow(t *testing.T) {
	var reported []int
	c := newConcurrency(64, 64, true, func(n int) { reported = append(reported, n) })
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const rtt = 100 * time.Millisecond
	c.observe(start, rtt, false) // the first window: the baseline round trip
	if c.pastRTT != rtt.Seconds() {
		t.Fatalf("past round trip %v, want %v", c.pastRTT, rtt.Seconds())
	}
	for i := range 40 {
		c.observe(start.Add(time.Duration(i+1)*time.Millisecond), rtt, true)
	}
	if got := c.current(); got != 64 {
		t.Fatalf("limit %d before the window ended, want 64", got)
	}
	c.observe(start.Add(rtt), rtt, true)
	if got := c.current(); got != 57 {
		t.Fatalf("limit %d after a window of 41 429s, want 57 (64 × 0.9, once)", got)
	}
	if len(reported) != 1 || reported[0] != 57 {
		t.Fatalf("changes reported %v, want [57]", reported)
	}
}

// A limit the sender does not reach is not raised: more room than the
// traffic needs would only let a burst through unmeasured.
func TestAdaptiveConcurrencyNotRaisedUnused(t *testing.T) {
	c := newConcurrency(256, 16, true, nil)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for range 20 {
		for range 4 { // 4 of 16 slots used
			if err := c.acquire(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		now = now.Add(100 * time.Millisecond)
		for range 4 {
			c.observe(now, 100*time.Millisecond, false)
			c.release()
		}
	}
	if got := c.current(); got != 16 {
		t.Fatalf("limit %d, want 16: it was never reached", got)
	}
}

// A fixed limit ignores what the tool says.
func TestFixedConcurrencyIgnoresAnswers(t *testing.T) {
	c := newConcurrency(8, 2, false, func(int) { t.Fatal("a fixed limit reported a change") })
	now := time.Now()
	for i := range 50 {
		c.observe(now.Add(time.Duration(i)*time.Second), time.Second, i%2 == 0)
	}
	if got := c.current(); got != 8 {
		t.Fatalf("limit %d, want 8", got)
	}
}

// Against a real tool, through the Sender: while the tool answers 200 and
// requests wait, the limit climbs to its ceiling and the tool never sees
// more requests at once than the limit allows; a run of 429s brings it
// down; answers of 200 raise it again. The clock is frozen, so every
// answer is a window of its own and no decision depends on how long the
// machine took.
func TestSenderAdaptiveConcurrency(t *testing.T) {
	var status atomic.Int32
	status.Store(200)
	var inTool, maxInTool atomic.Int32
	release := make(chan struct{})
	tool := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inTool.Add(1)
		for m := maxInTool.Load(); n > m && !maxInTool.CompareAndSwap(m, n); m = maxInTool.Load() {
		}
		<-release
		inTool.Add(-1)
		w.WriteHeader(int(status.Load()))
	}))
	defer tool.Close()
	const ceiling = 12
	s, err := NewSender(SenderConfig{
		Name: "slow", Attempts: 1, Timeout: 30 * time.Second,
		Breaker: BreakerConfig{ConsecutiveFailures: 1 << 20},
		Rate:    RateConfig{Concurrency: ceiling, InitialConcurrency: 2, AdaptiveConcurrency: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	frozen := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.limit.now = func() time.Time { return frozen }
	if got := s.Concurrency(); got != 2 {
		t.Fatalf("initial limit %d, want 2", got)
	}

	// Keep more requests waiting than the ceiling, answering one at a time.
	var wg sync.WaitGroup
	send := func(n int) {
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.Send(context.Background(), &Request{Method: http.MethodPost, URL: tool.URL, Body: []byte(`{}`)})
			}()
		}
	}
	answer := func(n int) {
		for range n {
			poll.Until(t, 10*time.Second, func() bool { return inTool.Load() != 0 },
				func() string { return "no request reached the tool" })
			release <- struct{}{}
		}
	}
	waitLimit := func(cond func(int) bool, what string) {
		poll.Until(t, 10*time.Second, func() bool { return cond(s.Concurrency()) },
			func() string { return fmt.Sprintf("limit %d: want %s", s.Concurrency(), what) })
	}
	send(60)
	answer(20)
	waitLimit(func(n int) bool { return n == ceiling }, "the ceiling")
	if m := maxInTool.Load(); m > ceiling {
		t.Fatalf("the tool saw %d requests at once, above the ceiling %d", m, ceiling)
	}

	status.Store(429)
	answer(10)
	waitLimit(func(n int) bool { return n < ceiling }, "below the ceiling after 429s")
	low := s.Concurrency()

	status.Store(200)
	answer(25)
	waitLimit(func(n int) bool { return n > low }, "raised again once the tool answers 200")
	close(release) // let the rest through
	wg.Wait()
	if m := maxInTool.Load(); m > ceiling {
		t.Fatalf("the tool saw %d requests at once, above the ceiling %d", m, ceiling)
	}
}

// Sending counts the attempts on the wire: past the limits, their answer
// not yet read. An attempt waiting for its rate turn is not counted, so a
// rate-bound sender whose answers are all back says none (the router ends
// its acknowledgement round then).
func TestSenderSendingCountsAttemptsOnTheWire(t *testing.T) {
	arrived := make(chan struct{}, 2)
	answer := make(chan struct{})
	answerAll := sync.OnceFunc(func() { close(answer) })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-answer
	}))
	defer srv.Close()
	defer answerAll() // before Close, which waits for the handlers, on every path
	cfg := fastConfig("wire")
	cfg.Attempts = 1
	cfg.Rate = RateConfig{RPS: 1.0 / 60, Concurrency: 4} // the second turn is a minute after the first
	s := newSender(t, cfg)
	if n := s.Sending(); n != 0 {
		t.Fatalf("idle sender: Sending() = %d", n)
	}
	first := make(chan Result, 1)
	go func() { first <- s.Send(context.Background(), post(srv.URL)) }()
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the first request did not reach the tool")
	}
	if n := s.Sending(); n != 1 {
		t.Fatalf("one request at the tool: Sending() = %d, want 1", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	second := make(chan Result, 1)
	go func() { second <- s.Send(ctx, post(srv.URL)) }()
	answerAll()
	if res := <-first; res.Class != OK {
		t.Fatalf("first send: %+v", res)
	}
	// The second waits a minute for its turn: the first's answer is read,
	// so nothing is on the wire.
	if n := s.Sending(); n != 0 {
		t.Fatalf("the answer read, the next attempt waiting for its turn: Sending() = %d, want 0", n)
	}
	select {
	case <-arrived:
		t.Fatal("the second request reached the tool before its turn (the precondition: it waits)")
	default:
	}
	cancel()
	if res := <-second; res.Class != Retryable || res.Err == nil {
		t.Fatalf("cancelled send: %+v", res)
	}
	if n := s.Sending(); n != 0 {
		t.Fatalf("after a cancelled wait: Sending() = %d, want 0", n)
	}
}
