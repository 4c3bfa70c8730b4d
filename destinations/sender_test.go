package destinations

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recorder is an Observer that keeps what it is told.
type recorder struct {
	mu       sync.Mutex
	requests []observed
	states   []string
	rates    []float64
}

type observed struct {
	action string
	status int
	class  Class
}

func (r *recorder) Request(_, action string, status int, class Class, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = append(r.requests, observed{action, status, class})
}

func (r *recorder) BreakerState(_ string, state string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.states = append(r.states, state)
}

func (r *recorder) Rate(_ string, rps float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rates = append(r.rates, rps)
}

func (r *recorder) snapshot() ([]observed, []string, []float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]observed(nil), r.requests...), append([]string(nil), r.states...), append([]float64(nil), r.rates...)
}

// fastConfig is a SenderConfig with short waits, for tests.
func fastConfig(name string) SenderConfig {
	return SenderConfig{
		Name:         name,
		Timeout:      5 * time.Second,
		RetryWaitMin: time.Millisecond,
		RetryWaitMax: 5 * time.Millisecond,
	}
}

func newSender(t testing.TB, cfg SenderConfig) *Sender {
	t.Helper()
	s, err := NewSender(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func post(url string) *Request {
	return &Request{Method: http.MethodPost, URL: url, Body: []byte(`{"a":1}`), Items: 1, Action: "track"}
}

func TestSenderRetriesUntilOK(t *testing.T) {
	const failures = 2
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= failures {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	rec := &recorder{}
	cfg := fastConfig("flaky")
	cfg.Observer = rec
	s := newSender(t, cfg)

	res := s.Send(context.Background(), post(srv.URL))
	if res.Class != OK || res.Attempts != failures+1 || res.Status != 200 || res.Err != nil {
		t.Fatalf("got %+v, want OK after %d attempts", res, failures+1)
	}
	if string(res.Body) != `{"ok":true}` {
		t.Errorf("body excerpt %q", res.Body)
	}
	reqs, _, _ := rec.snapshot()
	if len(reqs) != failures+1 || reqs[0].status != 500 || reqs[0].class != Retryable || reqs[2].class != OK || reqs[2].action != "track" {
		t.Errorf("observed attempts %+v", reqs)
	}
}

func TestSenderExhaustsAttempts(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("down for maintenance"))
	}))
	defer srv.Close()
	s := newSender(t, fastConfig("down"))
	res := s.Send(context.Background(), post(srv.URL))
	if res.Class != Retryable || res.Attempts != DefaultAttempts || res.Status != 503 || n.Load() != DefaultAttempts {
		t.Fatalf("got %+v after %d requests", res, n.Load())
	}
	if string(res.Body) != "down for maintenance" || res.Err == nil || !strings.Contains(res.Err.Error(), "503") {
		t.Errorf("last response not kept: body %q err %v", res.Body, res.Err)
	}
}

func TestSenderPermanent4xx(t *testing.T) {
	var n atomic.Int32
	big := strings.Repeat("x", 3000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error":"invalid email"}` + big))
	}))
	defer srv.Close()
	cfg := fastConfig("strict")
	cfg.Breaker.ConsecutiveFailures = 3
	s := newSender(t, cfg)
	for i := range 20 {
		res := s.Send(context.Background(), post(srv.URL))
		if res.Class != Permanent || res.Attempts != 1 || res.Status != 400 || res.BreakerOpen {
			t.Fatalf("send %d: %+v", i, res)
		}
		if len(res.Body) != ResponseExcerptBytes || !strings.HasPrefix(string(res.Body), `{"error":"invalid email"}`) {
			t.Fatalf("body excerpt: %d bytes %.40q", len(res.Body), res.Body)
		}
	}
	if n.Load() != 20 || s.State() != "closed" {
		t.Fatalf("%d requests, breaker %s; want 20 and closed", n.Load(), s.State())
	}
	if open, _ := s.Open(); open {
		t.Fatal("Open() after permanent failures")
	}
}

func TestSenderStatusClasses(t *testing.T) {
	cases := []struct {
		status   int
		class    Class
		attempts int
	}{
		{200, OK, 1}, {204, OK, 1}, {302, Permanent, 1}, {400, Permanent, 1}, {401, Permanent, 1},
		{404, Permanent, 1}, {408, Retryable, 2}, {409, Permanent, 1}, {423, Retryable, 2},
		{429, Retryable, 2}, {500, Retryable, 2}, {501, Permanent, 1}, {502, Retryable, 2}, {599, Retryable, 2},
	}
	for _, c := range cases {
		var n atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			if c.status == 302 {
				w.Header().Set("Location", "/elsewhere")
			}
			w.WriteHeader(c.status)
		}))
		cfg := fastConfig("classes")
		cfg.Attempts = 2
		s := newSender(t, cfg)
		res := s.Send(context.Background(), post(srv.URL))
		srv.Close()
		if res.Class != c.class || res.Attempts != c.attempts || int(n.Load()) != c.attempts || res.Status != c.status {
			t.Errorf("status %d: got class %s attempts %d (server saw %d), status %d; want %s, %d",
				c.status, res.Class, res.Attempts, n.Load(), res.Status, c.class, c.attempts)
		}
		if (res.Err == nil) != (c.class == OK) {
			t.Errorf("status %d: err %v", c.status, res.Err)
		}
	}
}

func TestSenderTimeout(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		io.Copy(io.Discard, r.Body) // the request context ends on disconnect once the body is read
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer srv.Close()
	cfg := fastConfig("slow")
	cfg.Timeout = 100 * time.Millisecond
	cfg.Attempts = 2
	s := newSender(t, cfg)
	res := s.Send(context.Background(), post(srv.URL))
	// A timed-out attempt is not retried in-process (the breaker counts
	// each timed-out send once); the lane redelivers it.
	if res.Class != Retryable || res.Attempts != 1 || res.Status != 0 {
		t.Fatalf("got %+v", res)
	}
	if !strings.Contains(res.Err.Error(), "timeout") || strings.Contains(res.Err.Error(), srv.URL+"/") {
		t.Errorf("err = %v", res.Err)
	}
	if res.Duration < 100*time.Millisecond || n.Load() != 1 {
		t.Errorf("%d requests in %s; want one attempt that waited its whole timeout", n.Load(), res.Duration)
	}
}

func TestSenderSlowBodyTimesOut(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer srv.Close()
	cfg := fastConfig("dribble")
	cfg.Timeout = 200 * time.Millisecond
	s := newSender(t, cfg)
	start := time.Now()
	res := s.Send(context.Background(), post(srv.URL))
	if res.Class != OK || time.Since(start) > 4*time.Second {
		t.Fatalf("got %+v after %s", res, time.Since(start))
	}
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestSenderConnectionRefused(t *testing.T) {
	s := newSender(t, fastConfig("gone"))
	res := s.Send(context.Background(), post("http://"+freePort(t)+"/v1/track?api_key=secret"))
	if res.Class != Retryable || res.Attempts != DefaultAttempts || res.Status != 0 || res.Err == nil {
		t.Fatalf("got %+v", res)
	}
	if strings.Contains(res.Err.Error(), "secret") || strings.Contains(res.Err.Error(), "/v1/track") {
		t.Errorf("error leaks the URL's path or query: %v", res.Err)
	}
}

func TestSenderBadRequestIsPermanent(t *testing.T) {
	s := newSender(t, fastConfig("bad"))
	for _, u := range []string{"ftp://example.com/x", "not a url", "/relative"} {
		res := s.Send(context.Background(), post(u))
		if res.Class != Permanent || res.Attempts != 0 || res.Err == nil {
			t.Errorf("%q: got %+v", u, res)
		}
	}
	if res := s.Send(context.Background(), &Request{Method: "BAD METHOD", URL: "http://example.com"}); res.Class != Permanent {
		t.Errorf("bad method: %+v", res)
	}
}

func TestSenderHeaders(t *testing.T) {
	got := make(chan http.Header, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Clone()
		h.Set("X-Method", r.Method)
		got <- h
	}))
	defer srv.Close()
	s := newSender(t, fastConfig("headers"))
	req := post(srv.URL)
	req.Method = ""
	req.Header = http.Header{"Authorization": {"Bearer t"}}
	s.Send(context.Background(), req)
	h := <-got
	if h.Get("Content-Type") != "application/json" || h.Get("User-Agent") != UserAgent ||
		h.Get("Authorization") != "Bearer t" || h.Get("X-Method") != "POST" {
		t.Errorf("headers %v", h)
	}
	if len(req.Header) != 1 {
		t.Errorf("the caller's header was modified: %v", req.Header)
	}
	req = &Request{Method: "PUT", URL: srv.URL, Body: []byte("a=b"), Header: http.Header{"content-type": {"text/plain"}}}
	s.Send(context.Background(), req)
	if h := <-got; len(h.Values("Content-Type")) != 1 || h.Get("Content-Type") != "text/plain" || h.Get("X-Method") != "PUT" {
		t.Errorf("headers %v", h)
	}
}

// TestSendersDoNotShareConnections: a failing destination's sends end with
// retryablehttp closing idle connections; that must not reach another
// destination's pool.
func TestSendersDoNotShareConnections(t *testing.T) {
	var newConns atomic.Int32
	healthy := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok"))
	}))
	healthy.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			newConns.Add(1)
		}
	}
	healthy.Start()
	defer healthy.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer failing.Close()

	good := newSender(t, fastConfig("good"))
	bad := newSender(t, fastConfig("bad"))
	for i := range 5 {
		if res := good.Send(context.Background(), post(healthy.URL)); res.Class != OK {
			t.Fatalf("good %d: %+v", i, res)
		}
		if res := bad.Send(context.Background(), post(failing.URL)); res.Class != Retryable {
			t.Fatalf("bad %d: %+v", i, res)
		}
	}
	if n := newConns.Load(); n != 1 {
		t.Fatalf("healthy server saw %d new connections, want 1 reused", n)
	}
}

func TestSenderDenyPrivate(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1) }))
	defer srv.Close()
	cfg := fastConfig("guarded")
	cfg.DenyPrivate = true
	cfg.Breaker.ConsecutiveFailures = 1
	s := newSender(t, cfg)
	res := s.Send(context.Background(), post(srv.URL))
	want := "destination address 127.0.0.1 is in a loopback range; refused because security.deny_private_destinations is on"
	if res.Class != Permanent || res.Attempts != 1 || n.Load() != 0 || res.Err == nil || !strings.Contains(res.Err.Error(), want) {
		t.Fatalf("got %+v (server saw %d)", res, n.Load())
	}
	if s.State() != "closed" {
		t.Error("a refused address tripped the breaker")
	}
	// Localhost by name resolves to loopback and is refused the same way.
	res = s.Send(context.Background(), post(strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)))
	if res.Class != Permanent || n.Load() != 0 {
		t.Fatalf("localhost: %+v", res)
	}
}

func TestSenderBoundsResponseBody(t *testing.T) {
	const limit = 4096
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusMultiStatus)
		chunk := []byte(strings.Repeat("y", 64<<10))
		for range 160 { // 10 MiB
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	var seen atomic.Int64
	cfg := fastConfig("chatty")
	cfg.MaxResponseBytes = limit
	cfg.ItemErrors = func(status int, body []byte, items int) []ItemError {
		seen.Store(int64(len(body)))
		return nil
	}
	s := newSender(t, cfg)
	req := post(srv.URL)
	req.Items = 3
	res := s.Send(context.Background(), req)
	if res.Class != OK || len(res.Body) != ResponseExcerptBytes || seen.Load() != limit {
		t.Fatalf("got class %s, excerpt %d bytes, parser saw %d bytes; want OK, %d, %d",
			res.Class, len(res.Body), seen.Load(), ResponseExcerptBytes, limit)
	}
}

func TestSenderItemErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusMultiStatus)
		w.Write([]byte(`{"errors":[{"index":0,"status":400,"message":"bad email"}]}`))
	}))
	defer srv.Close()
	p, _ := ItemErrorsParser("standard")
	cfg := fastConfig("items")
	cfg.ItemErrors = p
	s := newSender(t, cfg)

	batch := post(srv.URL)
	batch.Items = 2
	res := s.Send(context.Background(), batch)
	if res.Class != OK || len(res.ItemErrors) != 1 || res.ItemErrors[0].Index != 0 || res.ItemErrors[0].Class != Permanent {
		t.Fatalf("batch: %+v", res)
	}
	// A single item's failure is the request's failure.
	res = s.Send(context.Background(), post(srv.URL))
	if res.Class != Permanent || res.Status != 207 || !strings.Contains(res.Err.Error(), "bad email") {
		t.Fatalf("single: %+v", res)
	}
}

func TestNewSenderRejectsNegative(t *testing.T) {
	if _, err := NewSender(SenderConfig{Name: "x", Attempts: -1}); err == nil {
		t.Fatal("negative attempts accepted")
	}
	s, err := NewSender(SenderConfig{Name: "d"})
	if err != nil {
		t.Fatal(err)
	}
	c := s.cfg
	if c.Timeout != 10*time.Second || c.Attempts != 3 || c.RetryWaitMin != 200*time.Millisecond ||
		c.RetryWaitMax != 2*time.Second || c.MaxRetryAfter != 30*time.Second || c.MaxResponseBytes != 64<<10 ||
		c.Breaker.ConsecutiveFailures != 5 || c.Breaker.Cooldown != 30*time.Second ||
		c.Breaker.HalfOpenRequests != 1 || c.Rate.Concurrency != 16 || s.Rate() != 0 || s.State() != "closed" {
		t.Fatalf("defaults %+v", c)
	}
}

func TestSenderTLS(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1) }))
	defer srv.Close()
	s := newSender(t, fastConfig("tls"))
	res := s.Send(context.Background(), post(srv.URL))
	if res.Class != Retryable || res.Attempts != 1 || n.Load() != 0 || !strings.Contains(res.Err.Error(), "certificate") {
		t.Fatalf("untrusted certificate: %+v", res)
	}
	cfg := fastConfig("tls-insecure")
	cfg.InsecureSkipVerify = true
	s = newSender(t, cfg)
	if res := s.Send(context.Background(), post(srv.URL)); res.Class != OK || n.Load() != 1 {
		t.Fatalf("insecure: %+v", res)
	}
}
