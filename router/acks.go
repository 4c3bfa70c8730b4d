package router

import (
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ackGather is how long the acker lets acknowledgements gather after the
// first one of a round: long enough that a lane settling thousands of
// events a second sends them in one write, short against the consumers'
// ack wait (30 s). A round ends sooner when a lane that settled an event
// has nothing more on the wire (soon).
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
// A rate-bound lane settles a few events at each instant of the pacing
// grid (destinations/pace.go) and then has nothing in flight until the
// next one: its round ends with its last answer (soon), in the same
// wake-up of the process, instead of in a wake-up of its own a
// millisecond later (docs/performance.md, phase R).
//
// Lock order: a.mu is a leaf. No lock is held while acks are sent or
// while a flush waits for earlier rounds (a.sent releases a.mu).
//
// Goroutines: none of its own. A round's timer (time.AfterFunc) flushes
// on the timer's goroutine; soon, flush and stop flush on the caller's.
// stop (Router.Stop, after the lanes) waits for a flush in progress; an
// ack arriving after stop is sent on its caller's goroutine.
type acker struct {
	gather time.Duration // ackGather; longer in tests
	timer  *time.Timer   // the round's end; armed by its first ack

	mu sync.Mutex
	// sent is signalled (on mu) each time a round has been sent: a flush
	// returns once every round taken before its own has, so that stop and
	// a stopping lane return with what was gathered before them sent.
	sent *sync.Cond
	// sending holds the rounds taken and not yet sent, by their number;
	// next numbers the next round.
	sending map[uint64]struct{}
	next    uint64
	pending []pendingAck
	waking  bool // a round is gathering: its timer is (about to be) armed
	stopped bool // acks go out at once, on the caller's goroutine
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
	a := &acker{gather: gather, sending: map[uint64]struct{}{}}
	a.sent = sync.NewCond(&a.mu)
	a.timer = time.AfterFunc(time.Hour, a.flush)
	a.timer.Stop()
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
	first := !a.waking
	a.waking = true
	a.mu.Unlock()
	if first {
		// Armed outside a.mu: a round whose timer fires before this Reset
		// finds the ack already in it; the Reset then ends a later, maybe
		// empty, round.
		a.timer.Reset(a.gather)
	}
}

// soon ends the round now, on the caller's goroutine, if one is gathering:
// the caller knows that no answer is coming back to it soon, so waiting
// longer would only cost a wake-up of its own. A timer that already fired
// flushes on its own goroutine.
func (a *acker) soon() {
	if a == nil {
		return
	}
	a.mu.Lock()
	gathering := a.waking && !a.stopped
	a.mu.Unlock()
	if gathering && a.timer.Stop() {
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
	n := a.next
	a.next++
	a.sending[n] = struct{}{}
	a.mu.Unlock()
	for _, p := range round {
		sendAck(p)
	}
	a.mu.Lock()
	delete(a.sending, n)
	a.sent.Broadcast()
	for a.sendingBefore(n) {
		a.sent.Wait()
	}
	a.mu.Unlock()
}

// sendingBefore reports whether a round taken before round n is still
// being sent. a.mu is held.
func (a *acker) sendingBefore(n uint64) bool {
	for m := range a.sending {
		if m < n {
			return true
		}
	}
	return false
}

func sendAck(p pendingAck) {
	if err := p.msg.Ack(); err != nil {
		p.log.Warn(p.failure, "seq", p.seq, "err", err)
	}
}

// stop sends what is gathered, after any round being sent; later acks go
// out at once.
func (a *acker) stop() {
	if a == nil {
		return
	}
	a.mu.Lock()
	a.stopped = true
	a.mu.Unlock()
	a.timer.Stop()
	a.flush()
}
