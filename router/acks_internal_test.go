package router

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard/switchyard/internal/natstest"
	"github.com/switchyard/switchyard/internal/poll"
)

// ackPending is the consumer's count of delivered, unacknowledged messages
// (the server counts acks asynchronously: poll it).
func ackPending(t *testing.T, ctx context.Context, c jetstream.Consumer) int {
	t.Helper()
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.NumAckPending
}

// Acks sent from many goroutines in rounds all reach the server; a flush
// sends what is gathered at once, and a stopped acker sends each ack on
// the caller's goroutine.
func TestAckerAcknowledgesEverything(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	nc, js := srv.Connect(t)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}}); err != nil {
		t.Fatal(err)
	}
	const n = 2100
	for i := range n {
		if _, err := js.Publish(ctx, fmt.Sprintf("t.%d", i%7), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	c, err := js.CreateConsumer(ctx, "T", jetstream.ConsumerConfig{Durable: "c", AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute, MaxAckPending: n})
	if err != nil {
		t.Fatal(err)
	}
	fetch := func(k int) []jetstream.Msg {
		t.Helper()
		b, err := c.Fetch(k, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		var out []jetstream.Msg
		for m := range b.Messages() {
			out = append(out, m)
		}
		if len(out) != k {
			t.Fatalf("fetched %d of %d (%v)", len(out), k, b.Error())
		}
		return out
	}
	log := slog.New(slog.DiscardHandler)
	a := newAcker(ackGather)

	// 1500 acks from 8 goroutines, in rounds.
	msgs := fetch(1500)
	if got := ackPending(t, ctx, c); got != 1500 {
		t.Fatalf("before any ack: %d pending, want 1500", got)
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(msgs); i += 8 {
				a.ack(msgs[i], uint64(i), log, "ack failed")
			}
		}()
	}
	wg.Wait()
	poll.Until(t, 10*time.Second, func() bool { return ackPending(t, ctx, c) == 0 },
		func() string { return fmt.Sprintf("the rounds left %d unacknowledged", ackPending(t, ctx, c)) })

	// A flush sends what is gathered now: nothing waits for the round
	// (here an hour long, so only the flush can have sent them).
	a.stop()
	a = newAcker(time.Hour)
	msgs = fetch(300)
	for i, m := range msgs {
		a.ack(m, uint64(i), log, "ack failed")
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := ackPending(t, ctx, c); got != 300 {
		t.Fatalf("gathering: %d unacknowledged, want all 300 still waiting for the round", got)
	}
	a.flush()
	poll.Until(t, 10*time.Second, func() bool { return ackPending(t, ctx, c) == 0 },
		func() string { return fmt.Sprintf("after flush: %d unacknowledged", ackPending(t, ctx, c)) })

	// soon ends a round at once, on the caller's goroutine: the round
	// would otherwise gather for an hour.
	msgs = fetch(50)
	for i, m := range msgs {
		a.ack(m, uint64(i), log, "ack failed")
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := ackPending(t, ctx, c); got != 50 {
		t.Fatalf("gathering: %d unacknowledged, want all 50 still waiting for the round", got)
	}
	a.soon()
	poll.Until(t, 10*time.Second, func() bool { return ackPending(t, ctx, c) == 0 },
		func() string { return fmt.Sprintf("after soon: %d unacknowledged", ackPending(t, ctx, c)) })
	a.soon() // nothing gathering: harmless
	// The round soon ended left the timer stopped: the next ack starts a
	// round of its own, which soon ends again.
	msgs = fetch(1)
	a.ack(msgs[0], 0, log, "ack failed")
	a.soon()
	poll.Until(t, 10*time.Second, func() bool { return ackPending(t, ctx, c) == 0 },
		func() string { return "the second round's ack was not sent" })

	// Stopped: each ack is sent by the call itself.
	a.stop()
	a.stop() // twice is harmless
	msgs = fetch(200)
	for i, m := range msgs {
		a.ack(m, uint64(i), log, "ack failed")
	}
	poll.Until(t, 10*time.Second, func() bool { return ackPending(t, ctx, c) == 0 },
		func() string { return fmt.Sprintf("after stop: %d unacknowledged", ackPending(t, ctx, c)) })
	a.soon() // stopped: harmless
}

// A round's timer flushes it on its own: acks sent from many goroutines
// with a short gather all reach the server, and a round started while
// another is being sent is not lost.
func TestAckerRoundsEndOnTheirTimer(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}}); err != nil {
		t.Fatal(err)
	}
	const n = 3000
	for i := range n {
		if _, err := js.PublishAsync(fmt.Sprintf("t.%d", i%5), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(10 * time.Second):
		t.Fatal("publishing did not complete")
	}
	c, err := js.CreateConsumer(ctx, "T", jetstream.ConsumerConfig{Durable: "c", AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute, MaxAckPending: n})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Fetch(n, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var msgs []jetstream.Msg
	for m := range b.Messages() {
		msgs = append(msgs, m)
	}
	if len(msgs) != n {
		t.Fatalf("fetched %d of %d (%v)", len(msgs), n, b.Error())
	}
	log := slog.New(slog.DiscardHandler)
	a := newAcker(100 * time.Microsecond)
	defer a.stop()
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 6 {
				a.ack(msgs[i], uint64(i), log, "ack failed")
			}
		}()
	}
	wg.Wait()
	// Nothing flushes here but the rounds' timers.
	poll.Until(t, 10*time.Second, func() bool { return ackPending(t, ctx, c) == 0 },
		func() string { return fmt.Sprintf("the timers' rounds left %d unacknowledged", ackPending(t, ctx, c)) })
}

// heldMsg is a real message whose Ack waits for release: a round being
// sent, held in the middle of its write.
type heldMsg struct {
	jetstream.Msg
	entered, release chan struct{}
	done             *atomic.Bool
}

func (m heldMsg) Ack() error {
	close(m.entered)
	<-m.release
	err := m.Msg.Ack()
	m.done.Store(true)
	return err
}

// A flush returns only once every round taken before its own has been
// sent, without holding a lock while either is sent: a lane's stop, which
// flushes, returns with what it settled before acknowledged even when the
// round's timer is sending it. Its own round goes out meanwhile.
func TestAFlushWaitsForEarlierRoundsOnly(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := js.Publish(ctx, fmt.Sprintf("t.%d", i), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	c, err := js.CreateConsumer(ctx, "T", jetstream.ConsumerConfig{Durable: "c", AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Fetch(2, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var msgs []jetstream.Msg
	for m := range b.Messages() {
		msgs = append(msgs, m)
	}
	if len(msgs) != 2 {
		t.Fatalf("fetched %d of 2 (%v)", len(msgs), b.Error())
	}
	log := slog.New(slog.DiscardHandler)
	a := newAcker(time.Hour)
	var firstDone atomic.Bool
	held := heldMsg{Msg: msgs[0], entered: make(chan struct{}), release: make(chan struct{}), done: &firstDone}
	release := sync.OnceFunc(func() { close(held.release) })
	a.ack(held, 1, log, "ack failed")
	earlier := make(chan struct{})
	go func() { defer close(earlier); a.flush() }() // round 0, held in its Ack
	// On every path, the held round is let go and both flushes end.
	defer func() { release(); <-earlier }()
	<-held.entered

	a.ack(msgs[1], 2, log, "ack failed")
	later := make(chan bool, 1)
	go func() { a.flush(); later <- firstDone.Load() }() // round 1: sent, then waits for round 0
	// Round 1 goes out while round 0 is held: no lock keeps it back.
	poll.Until(t, 10*time.Second, func() bool { return ackPending(t, ctx, c) == 1 },
		func() string { return fmt.Sprintf("%d unacknowledged, want round 1's sent", ackPending(t, ctx, c)) })
	select {
	case <-later:
		t.Fatal("the later flush returned while an earlier round was still being sent")
	default:
	}
	release()
	if !<-later {
		t.Fatal("the later flush returned before the earlier round was sent")
	}
	<-earlier
	poll.Until(t, 10*time.Second, func() bool { return ackPending(t, ctx, c) == 0 },
		func() string { return fmt.Sprintf("%d unacknowledged", ackPending(t, ctx, c)) })
	a.stop()
}
