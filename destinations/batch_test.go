package destinations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeTool records the batches it is sent and answers with reply.
type fakeTool struct {
	mu      sync.Mutex
	batches []*Request
	sent    chan *Request
	reply   func(r *Request) Result
}

func newFakeTool() *fakeTool {
	return &fakeTool{sent: make(chan *Request, 100)}
}

func (f *fakeTool) send(ctx context.Context, r *Request) Result {
	f.mu.Lock()
	f.batches = append(f.batches, r)
	f.mu.Unlock()
	f.sent <- r
	if f.reply != nil {
		return f.reply(r)
	}
	return Result{Class: OK, Status: 200, Attempts: 1}
}

func (f *fakeTool) wait(t *testing.T) *Request {
	t.Helper()
	select {
	case r := <-f.sent:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no batch sent")
		return nil
	}
}

func (f *fakeTool) none(t *testing.T) {
	t.Helper()
	select {
	case r := <-f.sent:
		t.Fatalf("unexpected batch of %d: %s", r.Items, r.Body)
	default:
	}
}

// results collects each item's Result, checking done runs once per item.
type results struct {
	mu  sync.Mutex
	got map[int][]Result
	wg  sync.WaitGroup
}

func newResults() *results { return &results{got: map[int][]Result{}} }

func (rs *results) done(i int) func(Result) {
	rs.wg.Add(1)
	return func(r Result) {
		rs.mu.Lock()
		rs.got[i] = append(rs.got[i], r)
		rs.mu.Unlock()
		rs.wg.Done()
	}
}

func (rs *results) check(t *testing.T, n int) map[int]Result {
	t.Helper()
	rs.wg.Wait()
	rs.mu.Lock()
	defer rs.mu.Unlock()
	out := map[int]Result{}
	for i := range n {
		if len(rs.got[i]) != 1 {
			t.Fatalf("item %d: done called %d times", i, len(rs.got[i]))
		}
		out[i] = rs.got[i][0]
	}
	return out
}

func item(i int) *Request {
	return &Request{Method: "POST", URL: "https://tool.example/batch", Body: fmt.Appendf(nil, `{"n":%d}`, i), Items: 1, Action: "track"}
}

func TestBatcherFlushesByCount(t *testing.T) {
	tool := newFakeTool()
	var hooked []int
	var hmu sync.Mutex
	b := NewBatcher(BatchSpec{MaxItems: 3, Linger: time.Hour, OnBatch: func(action string, n int) {
		hmu.Lock()
		hooked = append(hooked, n)
		hmu.Unlock()
	}}, tool.send)
	rs := newResults()
	for i := range 7 {
		b.Add(item(i), rs.done(i))
	}
	for range 2 {
		r := tool.wait(t)
		if r.Items != 3 {
			t.Fatalf("batch of %d", r.Items)
		}
		var arr []map[string]int
		if err := json.Unmarshal(r.Body, &arr); err != nil || len(arr) != 3 {
			t.Fatalf("body %s: %v", r.Body, err)
		}
	}
	tool.none(t)
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := tool.wait(t); r.Items != 1 || string(r.Body) != `[{"n":6}]` {
		t.Fatalf("last batch %d: %s", r.Items, r.Body)
	}
	for i, r := range rs.check(t, 7) {
		if r.Class != OK {
			t.Errorf("item %d: %+v", i, r)
		}
	}
	hmu.Lock()
	defer hmu.Unlock()
	if fmt.Sprint(hooked) != "[3 3 1]" {
		t.Errorf("OnBatch sizes %v", hooked)
	}
}

func TestBatcherFlushesByBytes(t *testing.T) {
	tool := newFakeTool()
	// Items are 8 bytes ({"n":1}): [a,b,c] = 2+24+2 = 28 bytes; a fourth would make 37.
	b := NewBatcher(BatchSpec{MaxItems: 100, MaxBytes: 30, Linger: time.Hour}, tool.send)
	rs := newResults()
	for i := range 4 {
		b.Add(item(i), rs.done(i))
	}
	r := tool.wait(t)
	if r.Items != 3 || len(r.Body) > 30 || string(r.Body) != `[{"n":0},{"n":1},{"n":2}]` {
		t.Fatalf("batch %d items, %d bytes: %s", r.Items, len(r.Body), r.Body)
	}
	tool.none(t)
	b.Close(context.Background())
	if r := tool.wait(t); r.Items != 1 {
		t.Fatalf("rest: %d", r.Items)
	}
	rs.check(t, 4)
}

func TestBatcherOversizedItemAlone(t *testing.T) {
	tool := newFakeTool()
	b := NewBatcher(BatchSpec{MaxBytes: 30, Linger: time.Hour}, tool.send)
	rs := newResults()
	b.Add(item(0), rs.done(0))
	big := item(1)
	big.Body = []byte(`{"text":"` + strings.Repeat("z", 100) + `"}`)
	b.Add(big, rs.done(1))
	first, second := tool.wait(t), tool.wait(t) // sent concurrently: any order
	if strings.Contains(string(first.Body), "zzz") {
		first, second = second, first
	}
	if first.Items != 1 || second.Items != 1 || string(first.Body) != `[{"n":0}]` || !strings.Contains(string(second.Body), "zzz") {
		t.Fatalf("batches %s / %s", first.Body, second.Body)
	}
	b.Close(context.Background())
	rs.check(t, 2)
}

func TestBatcherFlushesByLinger(t *testing.T) {
	tool := newFakeTool()
	b := NewBatcher(BatchSpec{MaxItems: 100, Linger: 50 * time.Millisecond}, tool.send)
	defer b.Close(context.Background())
	rs := newResults()
	start := time.Now()
	b.Add(item(0), rs.done(0))
	b.Add(item(1), rs.done(1))
	r := tool.wait(t)
	if el := time.Since(start); el < 40*time.Millisecond {
		t.Fatalf("flushed after %s, before the linger", el)
	}
	if r.Items != 2 {
		t.Fatalf("batch of %d", r.Items)
	}
	rs.check(t, 2)
}

func TestBatcherEnvelope(t *testing.T) {
	tool := newFakeTool()
	b := NewBatcher(BatchSpec{Key: "events", Envelope: map[string]any{"api_key": "k", "events": "dropped", "options": map[string]int{"min_id_length": 1}}, Linger: time.Hour}, tool.send)
	rs := newResults()
	b.Add(item(0), rs.done(0))
	b.Add(item(1), rs.done(1))
	b.Flush()
	r := tool.wait(t)
	want := `{"api_key":"k","options":{"min_id_length":1},"events":[{"n":0},{"n":1}]}`
	if string(r.Body) != want {
		t.Fatalf("body\n got %s\nwant %s", r.Body, want)
	}
	b.Close(context.Background())
	rs.check(t, 2)

	b = NewBatcher(BatchSpec{Key: "batch", Linger: time.Hour}, tool.send)
	b.Add(item(0), newResults().done(0))
	b.Close(context.Background())
	if r := tool.wait(t); string(r.Body) != `{"batch":[{"n":0}]}` {
		t.Fatalf("no envelope: %s", r.Body)
	}

	b = NewBatcher(BatchSpec{Key: "x", Envelope: map[string]any{"bad": func() {}}}, tool.send)
	var got Result
	b.Add(item(0), func(r Result) { got = r })
	if got.Class != Permanent || got.Err == nil {
		t.Fatalf("unencodable envelope: %+v", got)
	}
}

func TestBatcherGroupsByRequest(t *testing.T) {
	tool := newFakeTool()
	b := NewBatcher(BatchSpec{Linger: time.Hour}, tool.send)
	rs := newResults()
	a := item(0)
	a.Header = http.Header{"Authorization": {"Bearer a"}}
	c := item(1)
	c.Header = http.Header{"Authorization": {"Bearer c"}}
	d := item(2)
	d.URL = "https://tool.example/other"
	e := item(3)
	e.Header = http.Header{"authorization": {"Bearer a"}} // same header, other spelling
	for i, r := range []*Request{a, c, d, e} {
		b.Add(r, rs.done(i))
	}
	b.Close(context.Background())
	rs.check(t, 4)
	tool.mu.Lock()
	defer tool.mu.Unlock()
	if len(tool.batches) != 3 {
		t.Fatalf("%d batches, want 3", len(tool.batches))
	}
	for _, r := range tool.batches {
		if r.Items == 2 && r.Header.Get("Authorization") != "Bearer a" {
			t.Errorf("mixed batch %v", r.Header)
		}
	}
}

func TestBatcherRejectsInvalidItemAndClosed(t *testing.T) {
	tool := newFakeTool()
	b := NewBatcher(BatchSpec{Linger: time.Hour}, tool.send)
	var got Result
	bad := item(0)
	bad.Body = []byte(`{"n":`)
	b.Add(bad, func(r Result) { got = r })
	if got.Class != Permanent {
		t.Fatalf("invalid item: %+v", got)
	}
	b.Close(context.Background())
	b.Add(item(1), func(r Result) { got = r })
	if got.Class != Retryable || !errors.Is(got.Err, ErrBatcherClosed) {
		t.Fatalf("after close: %+v", got)
	}
	tool.none(t)
}

func TestBatcherSplitsItemErrors(t *testing.T) {
	tool := newFakeTool()
	tool.reply = func(r *Request) Result {
		return Result{Class: OK, Status: 207, Attempts: 1, ItemErrors: []ItemError{
			{Index: 1, Class: Permanent, Status: 400, Message: "bad email"},
			{Index: 3, Class: Retryable, Status: 503, Message: "later"},
			{Index: 9, Class: Permanent, Status: 400, Message: "out of range"},
		}}
	}
	b := NewBatcher(BatchSpec{MaxItems: 4, Linger: time.Hour}, tool.send)
	rs := newResults()
	for i := range 4 {
		b.Add(item(i), rs.done(i))
	}
	got := rs.check(t, 4)
	b.Close(context.Background())
	if got[0].Class != OK || got[2].Class != OK || got[0].ItemErrors != nil {
		t.Errorf("accepted items: %+v %+v", got[0], got[2])
	}
	if got[1].Class != Permanent || got[1].Status != 400 || !strings.Contains(got[1].Err.Error(), "bad email") {
		t.Errorf("item 1: %+v", got[1])
	}
	if got[3].Class != Retryable || got[3].Status != 503 {
		t.Errorf("item 3: %+v", got[3])
	}
}

func TestBatcherWholeBatchFailure(t *testing.T) {
	tool := newFakeTool()
	tool.reply = func(r *Request) Result {
		return Result{Class: Retryable, Status: 500, Attempts: 3, Err: errors.New("HTTP 500")}
	}
	b := NewBatcher(BatchSpec{MaxItems: 2, Linger: time.Hour}, tool.send)
	rs := newResults()
	b.Add(item(0), rs.done(0))
	b.Add(item(1), rs.done(1))
	for i, r := range rs.check(t, 2) {
		if r.Class != Retryable || r.Status != 500 {
			t.Errorf("item %d: %+v", i, r)
		}
	}
	b.Close(context.Background())
}

func TestBatcherCloseBoundedByContext(t *testing.T) {
	release := make(chan struct{})
	b := NewBatcher(BatchSpec{Linger: time.Hour}, func(ctx context.Context, r *Request) Result {
		select {
		case <-ctx.Done():
			return Result{Class: Retryable, Err: ctx.Err()}
		case <-release:
			return Result{Class: OK}
		}
	})
	defer close(release)
	rs := newResults()
	b.Add(item(0), rs.done(0))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := b.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close: %v", err)
	}
	if r := rs.check(t, 1)[0]; r.Class != Retryable {
		t.Fatalf("in-flight item: %+v", r)
	}
}

func TestBatcherConcurrentAdds(t *testing.T) {
	var sent atomic.Int32
	b := NewBatcher(BatchSpec{MaxItems: 7, Linger: time.Millisecond}, func(ctx context.Context, r *Request) Result {
		var arr []json.RawMessage
		if err := json.Unmarshal(r.Body, &arr); err != nil || len(arr) != r.Items {
			return Result{Class: Permanent, Err: fmt.Errorf("bad body %s", r.Body)}
		}
		sent.Add(int32(r.Items))
		return Result{Class: OK}
	})
	rs := newResults()
	var wg sync.WaitGroup
	const workers, per = 8, 250
	for w := range workers {
		wg.Go(func() {
			for i := range per {
				n := w*per + i
				b.Add(item(n), rs.done(n))
			}
		})
	}
	wg.Wait()
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i, r := range rs.check(t, workers*per) {
		if r.Class != OK {
			t.Fatalf("item %d: %+v", i, r)
		}
	}
	if sent.Load() != workers*per {
		t.Fatalf("sent %d items", sent.Load())
	}
}

// TestBatcherThroughSender: a real tool answering 207 for some items.
func TestBatcherThroughSender(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var in struct {
			Batch []struct {
				N     int    `json:"n"`
				Email string `json:"email"`
			} `json:"batch"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		var errs []string
		for i, it := range in.Batch {
			if !strings.Contains(it.Email, "@") {
				errs = append(errs, fmt.Sprintf(`{"index":%d,"status":400,"message":"bad email"}`, i))
			}
		}
		if len(errs) == 0 {
			w.WriteHeader(200)
			return
		}
		w.WriteHeader(http.StatusMultiStatus)
		fmt.Fprintf(w, `{"errors":[%s]}`, strings.Join(errs, ","))
	}))
	defer srv.Close()
	p, _ := ItemErrorsParser("standard")
	cfg := fastConfig("http")
	cfg.ItemErrors = p
	s := newSender(t, cfg)
	b := NewBatcher(BatchSpec{MaxItems: 5, Key: "batch", Linger: time.Hour}, s.Send)
	rs := newResults()
	for i := range 5 {
		email := fmt.Sprintf("u%d@example.com", i)
		if i == 1 || i == 4 {
			email = "nope"
		}
		b.Add(&Request{URL: srv.URL, Body: fmt.Appendf(nil, `{"n":%d,"email":%q}`, i, email), Items: 1, Action: "identify"}, rs.done(i))
	}
	got := rs.check(t, 5)
	b.Close(context.Background())
	for i, r := range got {
		want := OK
		if i == 1 || i == 4 {
			want = Permanent
		}
		if r.Class != want {
			t.Errorf("item %d: %s (%v), want %s", i, r.Class, r.Err, want)
		}
	}
}
