package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// sink is the receiving tool: one HTTP server, one recorder per path
// /sink/<name>. It finds every event id ("sy-<phase>-<seq>") in a body,
// forwarded events and mapped bodies alike, and keeps each event's first
// arrival time.
type sink struct {
	srv  *http.Server
	base string
	mu   sync.RWMutex
	recs map[string]*recorder
	pool sync.Pool
}

// recorder collects the arrivals of one phase.
type recorder struct {
	status   int
	delay    time.Duration // before answering
	expect   int
	first    []atomic.Int64 // unix nanos of each seq's first arrival; 0: not yet
	distinct atomic.Int64
	dups     atomic.Int64
	requests atomic.Int64
	last     atomic.Int64 // unix nanos of the latest first arrival
	held     atomic.Int64 // requests being answered now (delay)
	maxHeld  atomic.Int64 // the most held at once
	done     chan struct{}
	once     sync.Once
}

func startSink() (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &sink{recs: map[string]*recorder{}, base: "http://" + ln.Addr().String()}
	s.pool.New = func() any { return bytes.NewBuffer(make([]byte, 0, 64<<10)) }
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fatalf("sink: %v", err)
		}
	}()
	return s, nil
}

func (s *sink) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
}

// record starts a recorder for name expecting ids 0..expect-1, answering
// status. Its URL is s.url(name).
func (s *sink) record(name string, expect, status int) *recorder {
	r := &recorder{status: status, expect: expect, first: make([]atomic.Int64, expect), done: make(chan struct{})}
	s.mu.Lock()
	s.recs[name] = r
	s.mu.Unlock()
	return r
}

func (s *sink) url(name string) string { return s.base + "/sink/" + name }

func (s *sink) serve(w http.ResponseWriter, req *http.Request) {
	s.mu.RLock()
	// /sink/<name>, or /sink/<name>/<path> for a catalog tool whose
	// endpoint is /sink/<name>.
	name, _, _ := strings.Cut(strings.TrimPrefix(req.URL.Path, "/sink/"), "/")
	rec := s.recs[name]
	s.mu.RUnlock()
	buf := s.pool.Get().(*bytes.Buffer)
	buf.Reset()
	_, err := io.Copy(buf, req.Body)
	now := time.Now().UnixNano()
	if rec == nil || err != nil {
		s.pool.Put(buf)
		http.Error(w, "no such sink", http.StatusNotFound)
		return
	}
	rec.requests.Add(1)
	if rec.status == http.StatusOK {
		rec.note(buf.Bytes(), now)
	}
	s.pool.Put(buf)
	if rec.delay > 0 {
		n := rec.held.Add(1)
		for m := rec.maxHeld.Load(); n > m && !rec.maxHeld.CompareAndSwap(m, n); m = rec.maxHeld.Load() {
		}
		time.Sleep(rec.delay) // the slow tool
		rec.held.Add(-1)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rec.status)
	_, _ = w.Write([]byte(`{"ok":true}`))
}

var idMark = []byte(`"sy-`)

// note records every id in body.
func (r *recorder) note(body []byte, now int64) {
	for {
		i := bytes.Index(body, idMark)
		if i < 0 {
			return
		}
		body = body[i+len(idMark):]
		// "<phase>-<digits>"
		if len(body) < 3 || body[1] != '-' {
			continue
		}
		seq, j := 0, 2
		for ; j < len(body) && body[j] >= '0' && body[j] <= '9'; j++ {
			seq = seq*10 + int(body[j]-'0')
		}
		body = body[j:]
		if seq >= len(r.first) {
			continue
		}
		if r.first[seq].CompareAndSwap(0, now) {
			r.last.Store(now)
			if r.distinct.Add(1) == int64(r.expect) {
				r.once.Do(func() { close(r.done) })
			}
		} else {
			r.dups.Add(1)
		}
	}
}

// wait waits until every expected id arrived, or the timeout.
func (r *recorder) wait(timeout time.Duration) bool {
	select {
	case <-r.done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// waitIdle waits for all ids, giving up once nothing new arrived for idle.
func (r *recorder) waitIdle(idle time.Duration) bool {
	lastN, lastChange := int64(-1), time.Now()
	for {
		select {
		case <-r.done:
			return true
		case <-time.After(100 * time.Millisecond):
		}
		if n := r.distinct.Load(); n != lastN {
			lastN, lastChange = n, time.Now()
		} else if time.Since(lastChange) > idle {
			return false
		}
	}
}
