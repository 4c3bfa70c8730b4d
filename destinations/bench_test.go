package destinations

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

func sink(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte(`{"ok":true}`))
	}))
	b.Cleanup(srv.Close)
	return srv
}

var benchEvent = []byte(`{"event":"Order Completed","properties":{"order_id":"o-123","revenue":42.5,"currency":"USD"},"userId":"u-1","messageId":"m-1"}`)

func BenchmarkSenderNoBatch(b *testing.B) {
	srv := sink(b)
	s := newSender(b, SenderConfig{Name: "bench", Rate: RateConfig{Concurrency: 64}})
	req := &Request{Method: "POST", URL: srv.URL, Body: benchEvent, Items: 1, Action: "track"}
	b.ReportAllocs()
	b.SetBytes(int64(len(benchEvent)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if res := s.Send(context.Background(), req); res.Class != OK {
				b.Fatalf("%+v", res)
			}
		}
	})
}

func BenchmarkBatcher(b *testing.B) { benchBatcher(b, false) }

// BenchmarkBatcherValidJSON: items the router encoded or decoded itself
// (Request.ValidJSON), the lane's common case.
func BenchmarkBatcherValidJSON(b *testing.B) { benchBatcher(b, true) }

func benchBatcher(b *testing.B, valid bool) {
	srv := sink(b)
	s := newSender(b, SenderConfig{Name: "bench", Rate: RateConfig{Concurrency: 64}})
	bt := NewBatcher(BatchSpec{MaxItems: 100, Linger: 50 * time.Millisecond}, s.Send)
	var wg sync.WaitGroup
	done := func(r Result) {
		if r.Class != OK {
			panic(r.Err)
		}
		wg.Done()
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(benchEvent)))
	for b.Loop() {
		wg.Add(1)
		bt.Add(&Request{Method: "POST", URL: srv.URL, Body: benchEvent, Items: 1, Action: "track", ValidJSON: valid}, done)
	}
	if err := bt.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	wg.Wait()
}
