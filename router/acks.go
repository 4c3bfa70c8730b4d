package router

import (
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ackGather is how long the acker lets acknowledgements gather after the
// first one of a round: long enough that a lane settling thousands of
// events a second, or a rate-limited lane settling a few on the same grid
// instant (destinations/pace.go), sends them in one write, short against
// the consumers' ack wait (30 s).
const ackGather = time.Millisecond

// acker sends the lanes' acknowledgements in rounds.
//
// An ack is one small NATS publish. Sent as each event settles, every one
// woke nats.go's flusher for a write of its own, and the server's reader
// for a read of its own: in a non-batching drain (bench phase B) the
// flusher alone was 8% of the router's CPU. Gathered for ackGather, the
// acks of a round leave in one or two writes. An event whose ack is still
// gathering when the process dies is delivered again, as one whose ack was
// lost would be: delivery is at least once either way.
//
// Lock order: a.mu is a leaf; no ack is sent while it is held.
//
// Goroutines: one, run, started by newAcker (Router.Start) and ended by
// stop (Router.Stop, after the lanes), which closes quit and waits on done;
// an ack arriving after stop is sent on its caller's goroutine.
type acker struct {
	gather time.Duration // ackGather; longer in tests

	mu      sync.Mutex
	pending []pendingAck
	waking  bool // a round is gathering: the loop has been kicked
	stopped bool // acks go out at once, on the caller's goroutine

	kick chan struct{} // cap 1
	quit chan struct{}
	done chan struct{}
}

// pendingAck is one event's acknowledgement and what to log, on which
// lane's logger, if it fails.
type pendingAck struct {
	msg     jetstream.Msg
	seq     uint64
	failure string
	log     *slog.Logger
}

func newAcker(gather time.Duration) *acker {
	a := &acker{gather: gather, kick: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go a.run()
	return a
}

// ack acknowledges msg in the next round; failure is the warning logged on
// log if the ack cannot be sent. A nil or stopped acker sends it at once.
func (a *acker) ack(msg jetstream.Msg, seq uint64, log *slog.Logger, failure string) {
	p := pendingAck{msg: msg, seq: seq, failure: failure, log: log}
	if a == nil {
		sendAck(p)
		return
	}
	a.mu.Lock()
	if a.stopped {
		a.mu.Unlock()
		sendAck(p)
		return
	}
	a.pending = append(a.pending, p)
	wake := !a.waking
	a.waking = true
	a.mu.Unlock()
	if wake {
		select {
		case a.kick <- struct{}{}:
		default:
		}
	}
}

func (a *acker) run() {
	defer close(a.done)
	t := time.NewTimer(time.Hour)
	t.Stop()
	for {
		select {
		case <-a.quit:
			a.flush()
			return
		case <-a.kick:
		}
		t.Reset(a.gather)
		select {
		case <-t.C:
		case <-a.quit:
			t.Stop()
			a.flush()
			return
		}
		a.flush()
	}
}

// flush sends every ack gathered so far, on the caller's goroutine. A lane
// that stops flushes, so that its stop returns with its settled events
// acknowledged.
func (a *acker) flush() {
	if a == nil {
		return
	}
	a.mu.Lock()
	round := a.pending
	a.pending, a.waking = nil, false
	a.mu.Unlock()
	for _, p := range round {
		sendAck(p)
	}
}

func sendAck(p pendingAck) {
	if err := p.msg.Ack(); err != nil {
		p.log.Warn(p.failure, "seq", p.seq, "err", err)
	}
}

// stop sends what is gathered and ends the loop; later acks go out at once.
func (a *acker) stop() {
	if a == nil {
		return
	}
	a.mu.Lock()
	if a.stopped {
		a.mu.Unlock()
		return
	}
	a.stopped = true
	a.mu.Unlock()
	close(a.quit)
	<-a.done
	a.flush()
}
