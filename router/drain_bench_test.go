package router_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchyard/switchyard/bench/workload"
	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/natstest"
	"github.com/switchyard/switchyard/internal/poll"
	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/router/plan"
)

// BenchmarkDrainMapped is bench phase B in one process: b.N events of the
// bench's mix are published (timer stopped), then a router starts with
// phase B's mapped http destination (one request per event, concurrency
// 32, max_in_flight 256) and the timer runs until a loopback tool has
// answered every request and the consumer holds no ack pending. Per op is
// per event, the whole path: pull, decode, route, dispatch, send, ack.
//
// The nats-server and the tool run in this process too, so allocs/op and
// a callgrind count cover all three, as phase B's drain CPU does.
// Instructions per event: the difference between runs of N and 3N events
// (the router's start cancels), minus BenchmarkDrainMapped/publish, which
// publishes the same events and drains nothing (its publishing is in the
// drain's count, done with the timer stopped):
//
//	go test -c -o /tmp/router.test ./router
//	valgrind --tool=callgrind /tmp/router.test -test.run '^$' -test.bench 'DrainMapped/drain' -test.benchtime 10000x
//
// (docs/performance.md, "Instructions per op"). It is not a ceiling ratio:
// phase B of `make bench` is the figure of record.
func BenchmarkDrainMapped(b *testing.B) {
	b.Run("drain", func(b *testing.B) { benchDrain(b, true) })
	b.Run("publish", func(b *testing.B) { benchDrain(b, false) })
}

func benchDrain(b *testing.B, drain bool) {
	s := natstest.Start(b)
	_, js := s.Connect(b)
	var answered atomic.Int64
	tl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
		answered.Add(1)
	}))
	b.Cleanup(tl.Close)
	dir := b.TempDir()
	must(b, os.WriteFile(filepath.Join(dir, "switchyard.yaml"), []byte("nats:\n  url: "+s.ClientURL()+"\n"), 0o644))
	must(b, os.MkdirAll(filepath.Join(dir, "destinations"), 0o755))
	must(b, os.WriteFile(filepath.Join(dir, "destinations", "web.yaml"), []byte(workload.MappedDestination("pb", tl.URL, 32, 256)), 0o644))
	cfg, diags := config.Load(dir, config.Options{})
	if diags.Err() != nil {
		b.Fatal(diags)
	}
	plans, diags := plan.Build(cfg)
	if diags.Err() != nil {
		b.Fatal(diags)
	}
	ctx := context.Background()
	must(b, router.EnsureStreams(ctx, js, config.Streams{}))

	b.StopTimer()
	gen := workload.New(1)
	for i := range b.N {
		kind, data := gen.Next('B', i)
		m := nats.NewMsg("events.pb." + workload.TypeOf(kind))
		m.Data = data
		m.Header.Set(jetstream.MsgIDHeader, workload.ID('B', i))
		if _, err := js.PublishMsgAsync(m, jetstream.WithStallWait(30*time.Second)); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		b.Fatal("publishing did not complete in a minute")
	}
	if !drain {
		return
	}
	r := router.New(cfg, plans, router.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), StopTimeout: 5 * time.Second})
	b.ReportAllocs()
	b.StartTimer()
	must(b, r.Start(ctx))
	cons, err := js.Consumer(ctx, router.EventsStream, router.ConsumerName("web"))
	must(b, err)
	// Settled: the tool answered every request and the consumer holds no
	// ack pending (poll's 5 ms interval adds at most that to the drain).
	poll.Until(b, 2*time.Minute, func() bool {
		if answered.Load() < int64(b.N) {
			return false
		}
		info, err := cons.Info(ctx)
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0
	}, func() string { return fmt.Sprintf("the tool answered %d of %d requests", answered.Load(), b.N) })
	b.StopTimer()
	r.Stop()
	if got := answered.Load(); got != int64(b.N) {
		b.Fatalf("the tool answered %d requests for %d events (retries?)", got, b.N)
	}
	if n := int(testutil.ToFloat64(r.Metrics().Events.WithLabelValues("web", string(router.Delivered)))); n != b.N {
		b.Fatalf("%d events delivered, want %d", n, b.N)
	}
}
