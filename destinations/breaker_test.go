package destinations

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/poll"
)

// An open breaker refuses sends without making a request, and says how
// long it stays open. The cooldown is an hour, so the test cannot be
// overtaken by it on a slow machine.
func TestSenderBreakerOpensAndRefuses(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer srv.Close()
	cfg := fastConfig("breaker")
	cfg.Attempts = 2
	cfg.Breaker = BreakerConfig{ConsecutiveFailures: 3, Cooldown: time.Hour}
	s := newSender(t, cfg)
	for i := range 3 {
		if open, _ := s.Open(); open {
			t.Fatalf("open after %d failures", i)
		}
		if res := s.Send(context.Background(), post(srv.URL)); res.Class != Retryable || res.BreakerOpen {
			t.Fatalf("send %d: %+v", i, res)
		}
	}
	open, wait := s.Open()
	if !open || wait <= 0 || wait > time.Hour || s.State() != "open" {
		t.Fatalf("Open() = %v, %s; state %s", open, wait, s.State())
	}
	before := n.Load()
	res := s.Send(context.Background(), post(srv.URL))
	if res.Class != Retryable || !res.BreakerOpen || res.Attempts != 0 || n.Load() != before {
		t.Fatalf("send while open: %+v, server saw %d new requests", res, n.Load()-before)
	}
}

// After the cooldown one probe goes through; its success closes the
// breaker. The states are read from the observer, which sees every
// transition whatever the scheduler does.
func TestSenderBreakerProbeCloses(t *testing.T) {
	var healthy atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	rec := &recorder{}
	cfg := fastConfig("probe")
	cfg.Attempts = 1
	cfg.Breaker = BreakerConfig{ConsecutiveFailures: 1, Cooldown: 50 * time.Millisecond}
	cfg.Observer = rec
	s := newSender(t, cfg)
	s.Send(context.Background(), post(srv.URL))
	healthy.Store(true)
	waitState(t, s, "half-open")
	if open, _ := s.Open(); open {
		t.Fatal("Open() while half-open")
	}
	if res := s.Send(context.Background(), post(srv.URL)); res.Class != OK || res.Attempts != 1 {
		t.Fatalf("probe: %+v", res)
	}
	if s.State() != "closed" {
		t.Fatalf("state after successful probe: %s", s.State())
	}
	_, states, _ := rec.snapshot()
	if strings.Join(states, ",") != "open,half-open,closed" {
		t.Errorf("observed states %v", states)
	}
}

// A failed probe opens the breaker again.
func TestSenderBreakerReopensOnFailedProbe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	rec := &recorder{}
	cfg := fastConfig("reopen")
	cfg.Attempts = 1
	cfg.Breaker = BreakerConfig{ConsecutiveFailures: 1, Cooldown: 50 * time.Millisecond}
	cfg.Observer = rec
	s := newSender(t, cfg)
	s.Send(context.Background(), post(srv.URL))
	waitState(t, s, "half-open")
	if res := s.Send(context.Background(), post(srv.URL)); res.BreakerOpen || res.Attempts != 1 {
		t.Fatalf("probe: %+v", res)
	}
	_, states, _ := rec.snapshot()
	if strings.Join(states, ",") != "open,half-open,open" {
		t.Errorf("observed states %v, want the failed probe to open the breaker again", states)
	}
}

// waitState polls for a breaker state: the cooldown ends when it ends, and
// the test only needs that it does.
func waitState(t *testing.T, s *Sender, want string) {
	t.Helper()
	poll.Until(t, 10*time.Second, func() bool { return s.State() == want },
		func() string { return "breaker state " + s.State() + ", want " + want })
}

func TestSenderCancelledDoesNotTrip(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	cfg := fastConfig("cancel")
	cfg.RetryWaitMin, cfg.RetryWaitMax = 10*time.Second, 10*time.Second
	cfg.Breaker.ConsecutiveFailures = 1
	s := newSender(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for n.Load() == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	start := time.Now()
	res := s.Send(ctx, post(srv.URL))
	if res.Class != Retryable || !errors.Is(res.Err, context.Canceled) || res.Attempts != 1 {
		t.Fatalf("got %+v", res)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("cancellation did not stop the backoff wait")
	}
	if s.State() != "closed" {
		t.Fatalf("a cancelled send tripped the breaker")
	}
}

// A tool that hangs: each send times out once, without in-process retries,
// and counts once against the breaker, so the breaker opens after
// breaker.failures sends, about failures × timeout, not attempts times
// that.
func TestHangingToolOpensTheBreakerAfterFailuresTimeouts(t *testing.T) {
	release := make(chan struct{})
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	cfg := fastConfig("hang")
	cfg.Timeout = 100 * time.Millisecond
	cfg.Attempts = 3
	cfg.Breaker = BreakerConfig{ConsecutiveFailures: 3, Cooldown: time.Hour}
	s := newSender(t, cfg)
	for i := range 3 {
		res := s.Send(context.Background(), post(srv.URL))
		if res.Class != Retryable || res.Attempts != 1 || !strings.Contains(res.Err.Error(), "no response within the 100ms timeout") {
			t.Fatalf("send %d: class %v, %d attempts, %v; want one timed-out attempt, retryable", i, res.Class, res.Attempts, res.Err)
		}
	}
	if open, _ := s.Open(); !open {
		t.Fatal("the breaker is not open after 3 timed-out sends")
	}
	if n := hits.Load(); n != 3 {
		t.Errorf("the tool got %d requests, want 3 (no in-process retry of a timeout)", n)
	}
}
