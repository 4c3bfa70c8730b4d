package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard/switchyard/bench/workload"
	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/router"
)

// startNATS runs the bench's nats-server with JetStream, storing in dir.
func startNATS(dir string) (*server.Server, error) {
	s, err := server.NewServer(&server.Options{
		ServerName: "bench",
		Host:       "127.0.0.1",
		Port:       -1,
		JetStream:  true,
		StoreDir:   dir,
		NoLog:      true,
		NoSigs:     true,
	})
	if err != nil {
		return nil, err
	}
	go s.Start()
	if !s.ReadyForConnections(15 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("nats-server did not start")
	}
	return s, nil
}

type natsClient struct {
	url string
	nc  *nats.Conn
	js  jetstream.JetStream
}

func connectNATS(ctx context.Context, url string) (*natsClient, error) {
	nc, err := nats.Connect(url, nats.Name("switchyard-bench"))
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return nil, err
	}
	// The streams as switchyard creates them (a collector may publish
	// before the router first starts).
	if err := router.EnsureStreams(ctx, js, config.Streams{}); err != nil {
		return nil, err
	}
	return &natsClient{url: url, nc: nc, js: js}, nil
}

// events returns the i-th event of the workload for a phase: the same
// seed gives every phase the same N events, only ids and subjects differ.
type eventSource struct {
	gen    *workload.Gen
	phase  byte
	source string
}

func newEvents(seed uint64, phase byte, source string) *eventSource {
	return &eventSource{gen: workload.New(seed), phase: phase, source: source}
}

func (e *eventSource) next(i int) (string, []byte) {
	kind, data := e.gen.Next(e.phase, i)
	return "events." + e.source + "." + workload.TypeOf(kind), data
}

// publish publishes n events with async publishes (at most 4096 awaiting
// their ack), each with its messageId as Nats-Msg-Id, as a collector does.
// It returns how long it took.
func (c *natsClient) publish(ctx context.Context, n int, mk func(i int) (subject string, data []byte, id string)) (time.Duration, error) {
	start := time.Now()
	for i := range n {
		subj, data, id := mk(i)
		if _, err := c.js.PublishMsgAsync(newMsg(subj, data, id), jetstream.WithStallWait(30*time.Second)); err != nil {
			return 0, fmt.Errorf("publishing %s: %w", id, err)
		}
		if i%10000 == 0 && ctx.Err() != nil {
			return 0, ctx.Err()
		}
	}
	select {
	case <-c.js.PublishAsyncComplete():
	case <-time.After(5 * time.Minute):
		return 0, fmt.Errorf("publish acks timed out")
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return time.Since(start), nil
}

// resetStream purges EVENTS and deletes the consumers of earlier phases, so
// every phase starts from an empty stream.
func (c *natsClient) resetStream(ctx context.Context) error {
	st, err := c.js.Stream(ctx, router.EventsStream)
	if err != nil {
		return err
	}
	names := st.ConsumerNames(ctx)
	for name := range names.Name() {
		_ = st.DeleteConsumer(ctx, name)
	}
	return st.Purge(ctx)
}

// ceilingStyle is how the no-work consumer reads.
type ceilingStyle string

const (
	styleFetch    ceilingStyle = "Fetch(1000) + Ack"
	styleConsume  ceilingStyle = "Consume + Ack"
	styleMessages ceilingStyle = "Messages + Ack"
)

// jetStreamCeiling publishes the workload's n events under source, then
// reads and acks all of them from a new durable consumer, on its own
// connection, doing no other work. The consumer is configured as the
// router's (explicit ack, same AckWait, MaxAckPending and MaxWaiting). It
// returns events/s from the first pull to the last ack flushed, and the
// machine's CPU per event meanwhile (the consumer's and the server's).
func jetStreamCeiling(ctx context.Context, c *natsClient, seed uint64, n int, phase byte, source string, style ceilingStyle, round int) (eps float64, elapsed time.Duration, others float64, perEvent time.Duration, err error) {
	ev := newEvents(seed, phase, source)
	if _, err := c.publish(ctx, n, func(i int) (string, []byte, string) {
		s, d := ev.next(i)
		return s, d, roundID(phase, i, round)
	}); err != nil {
		return 0, 0, 0, 0, err
	}
	nc, err := nats.Connect(c.url, nats.Name("bench-ceiling"))
	if err != nil {
		return 0, 0, 0, 0, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, router.EventsStream, jetstream.ConsumerConfig{
		Durable:       "ceiling_" + source,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		MaxDeliver:    -1,
		MaxAckPending: 20_000,
		MaxWaiting:    512,
		FilterSubject: "events." + source + ".>",
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return 0, 0, 0, 0, err
	}
	var got atomic.Int64
	load := startLoad(nil)
	start := time.Now()
	switch style {
	case styleFetch:
		for got.Load() < int64(n) {
			batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(time.Second))
			if err != nil {
				return 0, 0, 0, 0, err
			}
			for m := range batch.Messages() {
				_ = m.Ack()
				got.Add(1)
			}
			if ctx.Err() != nil {
				return 0, 0, 0, 0, ctx.Err()
			}
		}
	case styleConsume:
		done := make(chan struct{})
		cc, err := cons.Consume(func(m jetstream.Msg) {
			_ = m.Ack()
			if got.Add(1) == int64(n) {
				close(done)
			}
		}, jetstream.PullMaxMessages(1000))
		if err != nil {
			return 0, 0, 0, 0, err
		}
		select {
		case <-done:
		case <-ctx.Done():
			cc.Stop()
			return 0, 0, 0, 0, ctx.Err()
		}
		cc.Stop()
	case styleMessages:
		it, err := cons.Messages(jetstream.PullMaxMessages(1000))
		if err != nil {
			return 0, 0, 0, 0, err
		}
		for got.Load() < int64(n) {
			m, err := it.Next()
			if err != nil {
				it.Stop()
				return 0, 0, 0, 0, err
			}
			_ = m.Ack()
			got.Add(1)
		}
		it.Stop()
	}
	if err := nc.Flush(); err != nil {
		return 0, 0, 0, 0, err
	}
	elapsed = time.Since(start)
	others = load.others()
	perEvent = load.ours() / time.Duration(n)
	// The acks have reached the server: nothing is left pending.
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := cons.Info(ctx)
		if err == nil && info.NumAckPending == 0 && info.NumPending == 0 {
			break
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "bench: warning: ceiling consumer still has acks pending: %+v\n", info)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return float64(n) / elapsed.Seconds(), elapsed, others, perEvent, nil
}

func newMsg(subject string, data []byte, id string) *nats.Msg {
	return &nats.Msg{Subject: subject, Data: data, Header: nats.Header{jetstream.MsgIDHeader: []string{id}}}
}

// roundID is the Nats-Msg-Id of event seq of a phase's round: a purge
// leaves the stream's duplicate window, which would drop a later round's
// events as repeats of the first's. The event's own messageId, which the
// sink reads, stays workload.ID.
func roundID(phase byte, seq, round int) string {
	if round == 0 {
		return workload.ID(phase, seq)
	}
	return workload.ID(phase, seq) + ".r" + strconv.Itoa(round)
}
