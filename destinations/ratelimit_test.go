package destinations

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestAdaptiveUnlimited(t *testing.T) {
	var rates []float64
	l := newLimiter(RateConfig{Adaptive: true, Concurrency: 1}, func(r float64) { rates = append(rates, r) }, nil)
	if l.current() != 0 {
		t.Fatalf("start %v", l.current())
	}
	l.observe(200, time.Now()) // nothing to recover: stays unlimited
	if len(rates) != 0 {
		t.Fatalf("rate reported while unlimited: %v", rates)
	}
	started := time.Now()
	l.observe(429, started)
	if got := l.current(); got != aimdUnlimitedCap*aimdDecrease {
		t.Fatalf("after first 429: %v", got)
	}
	// A 429 for an attempt sent before the decrease is not a new signal.
	l.observe(429, started)
	if got := l.current(); got != 50 {
		t.Fatalf("stale 429 halved again: %v", got)
	}
	l.observe(429, time.Now())
	if got := l.current(); got != 25 {
		t.Fatalf("after second 429: %v", got)
	}
	n := 0
	for ; n < 5000 && l.current() != 0; n++ {
		l.observe(200, time.Now())
	}
	if l.current() != 0 {
		t.Fatalf("did not recover to unlimited: %v", l.current())
	}
	for i := 1; i < len(rates)-1; i++ {
		if rates[i] > aimdUnlimitedCap {
			t.Fatalf("went above the cap before unlimited: %v", rates[i])
		}
	}
	if rates[len(rates)-1] != 0 {
		t.Fatalf("last reported rate %v, want 0 (unlimited)", rates[len(rates)-1])
	}
}

func TestAdaptiveFloorAndCeiling(t *testing.T) {
	l := newLimiter(RateConfig{RPS: 10, Burst: 5, Adaptive: true, Concurrency: 1}, func(float64) {}, nil)
	for range 20 {
		l.observe(429, time.Now())
		time.Sleep(time.Microsecond)
	}
	if got := l.current(); got != aimdFloor {
		t.Fatalf("floor: %v", got)
	}
	if b := l.rl.Burst(); b != 1 {
		t.Fatalf("burst at 1 rps: %d", b)
	}
	for range 1000 {
		l.observe(204, time.Now())
	}
	if got := l.current(); got != 10 {
		t.Fatalf("ceiling: %v", got)
	}
	if b := l.rl.Burst(); b != 5 {
		t.Fatalf("burst restored: %d", b)
	}
}

func TestNonAdaptiveIgnores429(t *testing.T) {
	l := newLimiter(RateConfig{RPS: 10, Concurrency: 1}, func(float64) { t.Fatal("rate reported") }, nil)
	l.observe(429, time.Now())
	if l.current() != 10 {
		t.Fatal(l.current())
	}
}

func TestLimiterAcquireHonoursContext(t *testing.T) {
	l := newLimiter(RateConfig{Concurrency: 1}, func(float64) {}, nil)
	if err := l.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := l.acquire(ctx); err == nil {
		t.Fatal("acquired a second slot with concurrency 1")
	}
	l.release()
	if err := l.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	l.release()
}

func TestSenderHonoursRetryAfterAndAdapts(t *testing.T) {
	var (
		mu       sync.Mutex
		arrivals []time.Time
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		first := len(arrivals) == 1
		mu.Unlock()
		if first {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	rec := &recorder{}
	cfg := fastConfig("limited")
	cfg.Rate = RateConfig{RPS: 4, Adaptive: true}
	cfg.Observer = rec
	s := newSender(t, cfg)

	res := s.Send(context.Background(), post(srv.URL))
	if res.Class != OK || res.Attempts != 2 || res.RetryAfter != 0 {
		t.Fatalf("got %+v", res)
	}
	mu.Lock()
	gap := arrivals[1].Sub(arrivals[0])
	mu.Unlock()
	if gap < 950*time.Millisecond {
		t.Fatalf("retry arrived %s after the 429 with Retry-After: 1", gap)
	}
	_, _, rates := rec.snapshot()
	if len(rates) == 0 || rates[0] != 2 {
		t.Fatalf("rate after 429 = %v, want halved to 2", rates)
	}
	// Successes bring it back to the configured 4 rps, never above.
	for i := 0; i < 20 && s.Rate() < 4; i++ {
		if r := s.Send(context.Background(), post(srv.URL)); r.Class != OK {
			t.Fatalf("send %d: %+v", i, r)
		}
	}
	if s.Rate() != 4 {
		t.Fatalf("rate did not recover: %v", s.Rate())
	}
	_, _, rates = rec.snapshot()
	for _, r := range rates {
		if r > 4 {
			t.Fatalf("rate went above the ceiling: %v", rates)
		}
	}
}

func TestSenderLongRetryAfterEndsAttempts(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	cfg := fastConfig("slowdown")
	cfg.MaxRetryAfter = time.Second
	s := newSender(t, cfg)
	res := s.Send(context.Background(), post(srv.URL))
	if res.Class != Retryable || res.Attempts != 1 || n.Load() != 1 || res.RetryAfter != 120*time.Second {
		t.Fatalf("got %+v", res)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"1", time.Second, true},
		{"0", 0, true},
		{"120", 2 * time.Minute, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{"", 0, false},
	}
	for _, c := range cases {
		got, ok := parseRetryAfter(c.in, now)
		if got != c.want || ok != c.ok {
			t.Errorf("parseRetryAfter(%q) = %s, %v; want %s, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestSenderConcurrencyLimit(t *testing.T) {
	var inFlight, peak atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := inFlight.Add(1)
		for {
			p := peak.Load()
			if v <= p || peak.CompareAndSwap(p, v) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		inFlight.Add(-1)
	}))
	defer srv.Close()
	cfg := fastConfig("narrow")
	cfg.Rate.Concurrency = 2
	s := newSender(t, cfg)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { s.Send(context.Background(), post(srv.URL)) })
	}
	wg.Wait()
	if p := peak.Load(); p > 2 || p < 1 {
		t.Fatalf("peak in flight %d, limit 2", p)
	}
}

func TestSenderRPS(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	cfg := fastConfig("paced")
	cfg.Rate.RPS = 20
	s := newSender(t, cfg)
	start := time.Now()
	for range 6 {
		s.Send(context.Background(), post(srv.URL))
	}
	// Burst 1: six requests at 20 rps take at least five intervals of 50ms.
	if el := time.Since(start); el < 240*time.Millisecond {
		t.Fatalf("6 requests at 20 rps took %s", el)
	}
	if s.Rate() != 20 {
		t.Fatalf("Rate() = %v", s.Rate())
	}
}

// TestSenderActionRate: an action with a ceiling of its own
// (RateConfig.Actions) is paced at it, and the destination's other
// actions are not held by it.
func TestSenderActionRate(t *testing.T) {
	var byAction sync.Map // action -> *atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := byAction.LoadOrStore(r.URL.Path, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
	}))
	defer srv.Close()
	count := func(path string) int32 {
		n, ok := byAction.Load(path)
		if !ok {
			return 0
		}
		return n.(*atomic.Int32).Load()
	}
	send := func(s *Sender, ctx context.Context, action string) Result {
		return s.Send(ctx, &Request{Method: http.MethodPost, URL: srv.URL + "/" + action, Body: []byte(`{}`), Items: 1, Action: action})
	}

	// One turn an hour: the first send takes the bucket's token, the next
	// one's turn is an hour away.
	cfg := fastConfig("per-action")
	cfg.Attempts = 1
	cfg.Rate.Actions = map[string]float64{"bulk": 1.0 / 3600}
	s := newSender(t, cfg)
	if res := send(s, context.Background(), "bulk"); res.Class != OK {
		t.Fatalf("first bulk send: %+v", res)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res := send(s, ctx, "bulk")
	if res.Class != Retryable || res.Err == nil || !strings.Contains(res.Err.Error(), "action bulk's rate limit") {
		t.Fatalf("second bulk send within the hour: %+v", res)
	}
	for range 20 {
		if res := send(s, context.Background(), "single"); res.Class != OK {
			t.Fatalf("single send: %+v", res)
		}
	}
	if b, o := count("/bulk"), count("/single"); b != 1 || o != 20 {
		t.Fatalf("the tool saw %d bulk and %d single requests, want 1 and 20", b, o)
	}

	// Paced, not refused: six bulk sends at 20/s take at least five
	// intervals of 50ms, whatever the destination's own (unlimited) rate.
	cfg = fastConfig("paced-action")
	cfg.Rate.Actions = map[string]float64{"paced": 20}
	s = newSender(t, cfg)
	start := time.Now()
	for range 6 {
		if res := send(s, context.Background(), "paced"); res.Class != OK {
			t.Fatalf("paced send: %+v", res)
		}
	}
	if el := time.Since(start); el < 240*time.Millisecond {
		t.Fatalf("6 requests at 20 rps took %s", el)
	}
	if s.Rate() != 0 {
		t.Fatalf("the destination's own rate is %v, want unlimited", s.Rate())
	}

	for _, bad := range []float64{0, -1, math.NaN()} {
		if _, err := NewSender(SenderConfig{Name: "x", Rate: RateConfig{Actions: map[string]float64{"a": bad}}}); err == nil {
			t.Errorf("an action rate of %v was accepted", bad)
		}
	}
}

func TestBackoffBounds(t *testing.T) {
	s := newSender(t, SenderConfig{Name: "b"})
	for attempt := range 40 {
		d := s.backoff(200*time.Millisecond, 2*time.Second, attempt, nil)
		if d < 100*time.Millisecond || d > 2*time.Second {
			t.Fatalf("attempt %d: %s", attempt, d)
		}
	}
}
