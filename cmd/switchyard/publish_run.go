package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/schollz/progressbar/v3"

	"github.com/switchyard/switchyard/mappings"
)

// publisher publishes a stream of events with a bounded window of
// unacknowledged publishes. Three goroutines: the reader decodes and checks
// events, run publishes them, the collector waits for each ack in order.
// Every ack resolves within ackTimeout (the future's own timer), so the
// collector always finishes; only the reader may stay blocked in a read of
// stdin, and run does not wait for it once it stops.
type publisher struct {
	js         jetstream.JetStream
	source     string
	window     int
	ackTimeout time.Duration
	lim        mappings.Limits
	bar        *progressbar.ProgressBar

	mu  sync.Mutex // guards res
	res publishResult
	rej rejects // has its own lock
}

// publishResult accounts for every event read.
type publishResult struct {
	read, generated int
	lastSent        int // position of the last event handed to JetStream
	published, dups int
	unacked         int    // no ack within ackTimeout: may or may not be stored
	unstored        int    // no stream takes the subject: not stored
	fatal           string // why publishing stopped before the input's end
	readErr         error
	eof             bool // the input was read to its end
	interrupted     bool
	rej             *rejects
}

type outgoing struct {
	n   int
	msg *nats.Msg
}

type inflight struct {
	n   int
	fut jetstream.PubAckFuture
}

func (p *publisher) run(sigCtx context.Context, stopSignals func(), in io.Reader, stderr io.Writer) publishResult {
	// halt stops reading and publishing: on a fatal error or a signal.
	ctx, halt := context.WithCancel(sigCtx)
	defer halt()
	events := make(chan outgoing)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		err := eachEvent(in, func(n int, raw json.RawMessage) error {
			msg, ok := p.prepare(n, raw)
			if !ok {
				return nil
			}
			select {
			case events <- outgoing{n, msg}:
				return nil
			case <-ctx.Done():
				return context.Canceled
			}
		})
		p.mu.Lock()
		switch {
		case err == nil:
			p.res.eof = true
		case !errors.Is(err, context.Canceled):
			p.res.readErr = err
		}
		p.mu.Unlock()
	}()

	slots := make(chan struct{}, p.window)
	futs := make(chan inflight, p.window)
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		for f := range futs {
			p.settle(f, halt)
			<-slots
			_ = p.bar.Add(1)
		}
	}()

loop:
	for {
		var ev outgoing
		select {
		case ev = <-events:
		case <-readDone: // events is unbuffered: nothing is left in it
			break loop
		case <-ctx.Done():
			break loop
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			break loop
		}
		fut, err := p.js.PublishMsgAsync(ev.msg)
		if err != nil {
			<-slots
			p.rej.add(ev.n, "publish: "+err.Error())
			continue
		}
		p.mu.Lock()
		p.res.lastSent = ev.n
		p.mu.Unlock()
		futs <- inflight{ev.n, fut} // never blocks: a slot is held
	}
	close(futs)
	// Every future resolves within ackTimeout; wait for them, saying so on
	// a signal (the first one, before or during this wait), after which a
	// second signal kills the process as usual.
	interrupted := false
	sig := sigCtx.Done()
	announce := func() {
		interrupted, sig = true, nil
		stopSignals()
		fmt.Fprintf(stderr, "publish: interrupted: waiting up to %s for the acks of what was sent (Ctrl-C again to quit now)\n", p.ackTimeout)
	}
	if sigCtx.Err() != nil {
		announce()
	}
	guard := time.After(p.ackTimeout + 5*time.Second)
wait:
	for {
		select {
		case <-collected:
			break wait
		case <-sig:
			announce()
		case <-guard:
			// Each future has its own timer; this guards against a client
			// library that failed to fire one.
			p.mu.Lock()
			p.res.fatal = "gave up waiting for JetStream's acks"
			p.mu.Unlock()
			break wait
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.res
	r.interrupted = interrupted
	r.rej = &p.rej
	return r
}

// prepare checks one event as the router would, and builds its message.
func (p *publisher) prepare(n int, raw json.RawMessage) (*nats.Msg, bool) {
	p.mu.Lock()
	p.res.read = n
	p.mu.Unlock()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		p.rej.add(n, "not a JSON object")
		return nil, false
	}
	if _, has := m["messageId"]; !has {
		m["messageId"] = newMessageID()
		p.mu.Lock()
		p.res.generated++
		p.mu.Unlock()
		raw, _ = json.Marshal(m)
	}
	ev, err := mappings.Decode(raw, time.Now(), p.lim)
	if err != nil {
		var ie *mappings.InvalidError
		if errors.As(err, &ie) {
			ie.MessageID = ""
		}
		p.rej.add(n, err.Error())
		return nil, false
	}
	msg := nats.NewMsg("events." + p.source + "." + ev.Type)
	msg.Data = raw
	msg.Header.Set(jetstream.MsgIDHeader, ev.MessageID)
	return msg, true
}

// settle waits for one publish's outcome. A timeout or a subject no
// stream takes means every later publish fails the same way: halt.
func (p *publisher) settle(f inflight, halt func()) {
	select {
	case ack := <-f.fut.Ok():
		p.mu.Lock()
		if ack.Duplicate {
			p.res.dups++
		} else {
			p.res.published++
		}
		p.mu.Unlock()
	case err := <-f.fut.Err():
		switch {
		case errors.Is(err, jetstream.ErrAsyncPublishTimeout):
			p.fail(func(r *publishResult) {
				r.unacked++
				if r.fatal == "" {
					r.fatal = fmt.Sprintf("JetStream did not acknowledge event #%d within %s (--ack-timeout)", f.n, p.ackTimeout)
				}
			}, halt)
		case errors.Is(err, jetstream.ErrNoStreamResponse):
			p.fail(func(r *publishResult) {
				r.unstored++
				if r.fatal == "" {
					r.fatal = fmt.Sprintf("no JetStream stream takes %s (is `switchyard serve` running? it creates the EVENTS stream)", f.fut.Msg().Subject)
				}
			}, halt)
		default:
			p.rej.add(f.n, "JetStream refused: "+err.Error())
		}
	}
}

func (p *publisher) fail(update func(*publishResult), halt func()) {
	p.mu.Lock()
	update(&p.res)
	p.mu.Unlock()
	halt()
}

// report prints the accounting and returns the exit code.
func (r publishResult) report(stdout, stderr io.Writer, name string, ackTimeout time.Duration) int {
	rejected := r.rej.count()
	fmt.Fprintf(stdout, "published %d, duplicates %d, rejected %d", r.published, r.dups, rejected)
	if r.unacked > 0 {
		fmt.Fprintf(stdout, ", not acknowledged %d", r.unacked)
	}
	if r.unstored > 0 {
		fmt.Fprintf(stdout, ", not stored %d", r.unstored)
	}
	if r.generated > 0 {
		fmt.Fprintf(stdout, " (%d without messageId got a generated one)", r.generated)
	}
	fmt.Fprintln(stdout)
	if rejected > 0 {
		r.rej.print(stdout)
	}
	if r.unacked > 0 {
		fmt.Fprintf(stdout, "  %6d  not acknowledged within %s: they may or may not be stored; publishing them again is safe (JetStream drops duplicates by messageId)\n", r.unacked, ackTimeout)
	}
	if r.unstored > 0 {
		fmt.Fprintf(stdout, "  %6d  not stored: no JetStream stream takes their subject\n", r.unstored)
	}
	if r.fatal != "" {
		fmt.Fprintln(stderr, "publish: stopped:", r.fatal)
	}
	if !r.eof && r.readErr == nil {
		fmt.Fprintf(stderr, "publish: stopped before the end of %s: the events after #%d were not published\n", name, r.lastSent)
	}
	if r.readErr != nil {
		fmt.Fprintln(stderr, "publish: reading", name+":", r.readErr)
	}
	switch {
	case r.interrupted:
		fmt.Fprintln(stderr, "publish: interrupted")
		return exitInterrupted
	case r.readErr != nil || rejected > 0 || r.unacked > 0 || r.unstored > 0 || r.fatal != "":
		return exitFailure
	}
	return exitOK
}
