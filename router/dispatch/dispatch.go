// Package dispatch sends what a plan routes. A Dispatcher is the one place
// where requests of one destination are handed to its sender: it owns the
// destination's batchers, counts what each routed event still waits for,
// and calls the event's completion exactly once, with every request's
// result. The router's lanes, the replays (`switchyard replay`,
// `switchyard dlq replay`) and `preview --send` all send through it.
//
// It knows nothing of NATS: settling a message (ack, nak, dead letter) is
// the caller's business, decided from the results. See
// docs/architecture.md for the lock order and the outcome ledger.
package dispatch

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/switchyard/switchyard/destinations"
	"github.com/switchyard/switchyard/router/plan"
)

// ErrClosed ends each request dispatched after Close: it was not sent, so
// it is Retryable.
var ErrClosed = errors.New("dispatcher is closed; not sent")

// Options tune a Dispatcher.
type Options struct {
	// Unbatched sends every request alone, a batching action's item as a
	// batch holding only it (preview --send).
	Unbatched bool
	// OnBatch, when set, observes each batch's action and size just before
	// it is sent. It must be cheap and must not block.
	OnBatch func(action string, n int)
	// OnResult, when set, is called once per request with its result,
	// before the event's completion. It must not block.
	OnResult func(o plan.Outbound, res destinations.Result)
}

// Result is how one request of a dispatched event ended.
type Result struct {
	Out plan.Outbound
	destinations.Result
}

// Dispatcher sends the routed requests of one destination.
//
// Lock order: d.mu, then a Batcher's own lock (taken inside Batcher.Add,
// Flush and Close, which are called with d.mu released except for
// creating a batcher), or the sender's concurrency lock (a leaf: reading
// the limit to size the workers). No lock is held while a request is sent
// or while a completion runs; completions may call Dispatch again.
//
// Goroutines: the send workers, each added to wg under d.mu before it
// starts; a worker ends when the queue is empty or the limit fell below
// the workers running, and Close waits for them (cancelling d.ctx, which
// every send honours, when its own context ends first).
type Dispatcher struct {
	plan   *plan.Plan
	sender *destinations.Sender
	opts   Options

	ctx    context.Context // unbatched sends; cancelled when Close gives up
	cancel context.CancelFunc
	wg     sync.WaitGroup // the send workers; Add under mu, before go

	mu       sync.Mutex
	closed   bool
	batchers map[*destinations.BatchSpec]*destinations.Batcher
	// queue holds the unbatched requests no worker has taken yet, oldest
	// at head; workers is how many goroutines send them. A worker sends
	// one request after another until the queue is empty; there are at
	// most as many as the sender's concurrency limit allows in flight.
	// (One goroutine per request, parked on the limiter until a slot
	// freed, cost a park and a wake-up per request: 256 of them for 32
	// slots in bench phase B.)
	queue   []job
	head    int
	workers int
}

// job is one unbatched request of a dispatched event.
type job struct {
	p *pending
	i int
	o plan.Outbound
}

// New returns a Dispatcher sending p's requests through s.
func New(p *plan.Plan, s *destinations.Sender, opts Options) *Dispatcher {
	d := &Dispatcher{plan: p, sender: s, opts: opts, batchers: map[*destinations.BatchSpec]*destinations.Batcher{}}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	return d
}

// Sender is the dispatcher's sender (its breaker and rate limit).
func (d *Dispatcher) Sender() *destinations.Sender { return d.sender }

// pending is one dispatched event: its results, filled by each request's
// own goroutine in its own slot, and the count of requests still out. The
// request that brings left to zero calls done; the atomic decrement orders
// every slot's write before it.
type pending struct {
	results []Result
	left    atomic.Int32
	done    func([]Result)
}

func (p *pending) finish(i int, res Result) {
	p.results[i] = res
	if p.left.Add(-1) == 0 {
		p.done(p.results)
	}
}

// Dispatch sends reqs and calls done exactly once, when every request has
// ended, with their results in the order of reqs. done may run on any
// goroutine, including the caller's before Dispatch returns (no request;
// the dispatcher closed). Unbatched requests start on goroutines of their
// own; batched ones wait in their action's batcher.
func (d *Dispatcher) Dispatch(reqs []plan.Outbound, done func([]Result)) {
	if len(reqs) == 0 {
		done(nil)
		return
	}
	p := &pending{results: make([]Result, len(reqs)), done: done}
	p.left.Store(int32(len(reqs)))
	batchers := make([]*destinations.Batcher, len(reqs))
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		for i, o := range reqs {
			d.end(p, i, o, destinations.Result{Class: destinations.Retryable, Err: ErrClosed})
		}
		return
	}
	for i, o := range reqs {
		if o.Batch != nil && !d.opts.Unbatched {
			batchers[i] = d.batcherLocked(o.Batch)
		} else {
			d.queue = append(d.queue, job{p: p, i: i, o: o})
		}
	}
	start := d.moreWorkersLocked()
	d.mu.Unlock()
	for range start {
		go d.work()
	}
	for i, o := range reqs {
		if b := batchers[i]; b != nil {
			b.Add(o.Req, func(res destinations.Result) { d.end(p, i, o, res) })
		}
	}
}

// moreWorkersLocked counts the workers to start for what is queued, up to
// the sender's concurrency limit, and adds them to wg: under mu, before
// any goroutine starts, so Close, which sets closed under mu before it
// waits, never waits on a count that can still grow. d.mu is held.
func (d *Dispatcher) moreWorkersLocked() int {
	waiting := len(d.queue) - d.head
	limit := max(1, d.sender.Concurrency())
	n := max(0, min(waiting, limit-d.workers))
	d.workers += n
	d.wg.Add(n)
	return n
}

// work sends queued requests one after another until none is left. It
// ends early when the concurrency limit fell below the workers running
// (an adaptive limit's decrease), and starts another worker when it rose
// with requests waiting.
func (d *Dispatcher) work() {
	defer d.wg.Done()
	for {
		d.mu.Lock()
		if d.head == len(d.queue) || d.workers > max(1, d.sender.Concurrency()) {
			d.workers--
			if d.head == len(d.queue) {
				d.queue, d.head = d.queue[:0], 0
			}
			d.mu.Unlock()
			return
		}
		j := d.queue[d.head]
		d.queue[d.head] = job{}
		d.head++
		if d.head > 1024 && d.head*2 > len(d.queue) {
			// Keep the backing array from growing with the head.
			n := copy(d.queue, d.queue[d.head:])
			d.queue, d.head = d.queue[:n], 0
		}
		start := d.moreWorkersLocked()
		d.mu.Unlock()
		for range start {
			go d.work()
		}
		d.end(j.p, j.i, j.o, d.sendAlone(j.o))
	}
}

func (d *Dispatcher) end(p *pending, i int, o plan.Outbound, res destinations.Result) {
	if d.opts.OnResult != nil {
		d.opts.OnResult(o, res)
	}
	p.finish(i, Result{Out: o, Result: res})
}

// sendAlone sends one request on its own; with Unbatched, a batching
// action's item goes as a batch of one.
func (d *Dispatcher) sendAlone(o plan.Outbound) destinations.Result {
	r := o.Req
	if o.Batch != nil {
		body, err := destinations.BatchBody(*o.Batch, r.Body)
		if err != nil {
			return destinations.Result{Class: destinations.Permanent, Err: err}
		}
		one := *r
		one.Header = r.Header.Clone()
		one.Body = body
		r = &one
	}
	return d.plan.Send(d.ctx, d.sender, r)
}

// batcherLocked returns the batcher of spec, creating it. d.mu is held.
func (d *Dispatcher) batcherLocked(spec *destinations.BatchSpec) *destinations.Batcher {
	b, ok := d.batchers[spec]
	if !ok {
		s := *spec
		s.OnBatch = d.opts.OnBatch
		// The batcher's own context: cancelled when its Close gives up, so
		// that a stop's timeout reaches the sends it has in flight.
		b = destinations.NewBatcher(s, func(ctx context.Context, r *destinations.Request) destinations.Result {
			return d.plan.Send(ctx, d.sender, r)
		})
		d.batchers[spec] = b
	}
	return b
}

func (d *Dispatcher) batcherList() []*destinations.Batcher {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]*destinations.Batcher, 0, len(d.batchers))
	for _, b := range d.batchers {
		out = append(out, b)
	}
	return out
}

// Flush sends every open batch now.
func (d *Dispatcher) Flush() {
	for _, b := range d.batcherList() {
		b.Flush()
	}
}

// Close refuses new dispatches, sends what is pending and waits for every
// send. If ctx ends first, the sends still running are cancelled: their
// requests end Retryable, every completion still runs, and Close returns
// ctx's error once they have. When Close returns, every completion of
// every dispatched event has been called.
func (d *Dispatcher) Close(ctx context.Context) error {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	var err error
	for _, b := range d.batcherList() {
		if e := b.Close(ctx); e != nil && err == nil {
			err = e
		}
	}
	waited := make(chan struct{})
	go func() { d.wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-ctx.Done():
		d.cancel()
		<-waited
		if err == nil {
			err = ctx.Err()
		}
	}
	d.cancel()
	d.sender.Close()
	return err
}
