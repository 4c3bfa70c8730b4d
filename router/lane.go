package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard/switchyard/destinations"
	"github.com/switchyard/switchyard/mappings"
	"github.com/switchyard/switchyard/router/dispatch"
	"github.com/switchyard/switchyard/router/plan"
)

// ackWait is the consumers' AckWait. Held messages are kept alive with
// InProgress well before it runs out, so a slow tool never causes a
// redelivery of what is still being sent.
const ackWait = 30 * time.Second

// fetchMax bounds one pull request, and fetchWait its life: a stopping
// lane waits at most that long for its last pull to end. sweepBatch bounds
// a pull made while the breaker is open, to dead-letter what is due.
// tickEvery is the period of a lane's tick (keepalives, gauges, the expiry
// watch).
const (
	fetchMax   = 1000
	fetchWait  = time.Second
	sweepBatch = 256
	tickEvery  = 2 * time.Second
)

// pullWait is how long a pull request made at now may wait for messages:
// between half of fetchWait and fetchWait, ending on the process-wide grid
// (destinations.OnGrid). An idle lane's pull expires, and the server's
// answer wakes the router, on the same half-second instants as every
// other idle lane's, instead of once a second for each of them on its own.
func pullWait(now time.Time) time.Duration {
	return destinations.OnGrid(now.Add(fetchWait/2), fetchWait/2).Sub(now)
}

// lane runs one destination: it pulls from the destination's durable
// consumer, routes each event, hands the requests to its dispatcher, and
// settles each message exactly once: ack, nak with a delay, or dead letter
// then ack.
//
// Lock order: l.mu is a leaf. Nothing else is locked, and nothing is sent,
// published or dispatched, while it is held; the dispatcher's locks are
// never held when it calls back into the lane. A delivery has no lock of
// its own: it is owned by one goroutine at a time (the worker that routes
// it, then the dispatcher's completion, then an ordering timer), and only
// its timer and progress, which the stop and tick goroutines touch, are
// read and written under l.mu.
type lane struct {
	r       *Router
	plan    *plan.Plan
	cons    atomic.Pointer[consumerRef] // pull re-creates it; tick reads it
	sender  *destinations.Sender
	disp    *dispatch.Dispatcher
	samples *samples
	log     *slog.Logger
	env     *mappings.Env      // owned by the pull goroutine (ordering: user)
	work    chan jetstream.Msg // to the route workers; nil with ordering: user

	slots chan struct{} // one per held message
	freed chan struct{} // a slot came free

	mu   sync.Mutex
	held map[uint64]*delivery // by stream sequence
	// trails remember, per message and across its redeliveries, what this
	// router already did with it: the requests that ended (a redelivery
	// sends neither a delivered nor a permanently failed one again), the
	// attempts made and the tool's last answer (a dead letter reports them,
	// not just the last round's).
	trails map[uint64]*trail
	queues map[string][]*delivery // ordering: user -> waiting deliveries (head is in progress)

	dlLog logSampler // dead letters logged one by one, up to a rate
	// receipts checks the tickets of delivered messages, when the tool
	// confirms later (receiptcheck.go); nil otherwise.
	receipts *receiptChecker

	// watch is the expiry watch's state: oldest is atomic, the rest is the
	// tick goroutine's.
	watch  expiryWatch
	maxAge time.Duration // EVENTS' max age, for the expiry watch

	ctx     context.Context // cancelled on stop: no more pulling
	cancel  context.CancelFunc
	pulling sync.WaitGroup // the pull, tick and route goroutines
	settled sync.WaitGroup // one per held message
}

// trail is what a router remembers of one message across redeliveries.
type trail struct {
	// ended: nil for a delivered request, the failure of a permanent one.
	ended    map[string]*plan.Failure
	attempts int
	last     *destinations.Result
	lastKey  string
}

// maxTrails bounds the memory of trails: forgetting one only costs a
// repeated send, and a dead letter that knows fewer attempts.
const maxTrails = 100_000

// consumerRef boxes the consumer interface for the atomic pointer.
type consumerRef struct{ c jetstream.Consumer }

// delivery is one message held by a lane.
type delivery struct {
	msg        jetstream.Msg
	seq        uint64
	streamTime time.Time
	delivered  uint64 // JetStream's delivery count
	subject    string
	source     string
	// eventID is the decoded event's messageId. The decoded event itself
	// is not kept once routed: a batching lane holds thousands of
	// deliveries, and their maps were most of its heap (and of the
	// garbage collector's marking).
	eventID   string
	userKey   string
	msgID     string // the Nats-Msg-Id header: names an event that does not decode
	firstSeen time.Time
	progress  time.Time // last InProgress (or receipt); under l.mu

	tries     int // failed rounds, across redeliveries and in-process holds
	failures  []plan.Failure
	retry     *destinations.Result
	retryReqs []plan.Outbound
	last      *destinations.Result
	lastKey   string
	attempts  int
	timer     *time.Timer // ordering: an in-process retry; under l.mu
}

func newLane(r *Router, p *plan.Plan, cons jetstream.Consumer, maxAge time.Duration) (*lane, error) {
	cfg := p.SenderConfig()
	cfg.Observer = observer{r.metrics}
	s, err := destinations.NewSender(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Name, err)
	}
	l := &lane{
		r: r, plan: p, sender: s, maxAge: maxAge,
		samples: newSamples(p.Redactor),
		log:     r.log.With("destination", p.Name),
		env:     &mappings.Env{},
		slots:   make(chan struct{}, p.Policy.MaxInFlight),
		freed:   make(chan struct{}, 1),
		held:    map[uint64]*delivery{},
		trails:  map[uint64]*trail{},
		queues:  map[string][]*delivery{},
	}
	l.cons.Store(&consumerRef{cons})
	l.disp = dispatch.New(p, s, dispatch.Options{
		OnBatch: func(action string, n int) {
			r.metrics.BatchSize.WithLabelValues(p.Name, action).Observe(float64(n))
		},
	})
	l.ctx, l.cancel = context.WithCancel(context.Background())
	r.metrics.touch(p.Name)
	return l, nil
}

func (l *lane) consumer() jetstream.Consumer { return l.cons.Load().c }

func (l *lane) start() {
	n := 2
	workers := 0
	if !l.plan.Policy.OrderingUser {
		// Routing runs on every core; with ordering: user it stays on the
		// pull goroutine, which keeps each user's stream order.
		workers = runtime.GOMAXPROCS(0)
		l.work = make(chan jetstream.Msg, 64)
	}
	l.pulling.Add(n + workers)
	for range workers {
		go func() {
			defer l.pulling.Done()
			env := &mappings.Env{}
			for msg := range l.work {
				l.handle(msg, env)
			}
		}()
	}
	go l.pull()
	go l.tick()
}

// stop ends pulling, sends what is pending and waits for every held
// message to be settled. After timeout, in-flight sends are cancelled:
// their messages are nak'd, never acked undelivered.
func (l *lane) stop(timeout time.Duration) {
	l.cancel()
	l.pulling.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	if err := l.disp.Close(ctx); err != nil {
		l.log.Warn("stop: in-flight sends did not finish in time; cancelled them (their events are redelivered)", "timeout", timeout)
	}
	cancel()
	// Deliveries waiting on an in-process retry (ordering) go back to
	// JetStream now; a timer that already fired dispatches, is refused by
	// the closed dispatcher, and naks its delivery itself.
	l.mu.Lock()
	var waiting []*delivery
	for _, d := range l.held {
		if d.timer != nil && d.timer.Stop() {
			d.timer = nil
			waiting = append(waiting, d)
		}
	}
	l.mu.Unlock()
	for _, d := range waiting {
		l.nak(d, 0)
	}
	l.settled.Wait()
	// Its settled events' acks leave now, not a round later: a stopped
	// lane has acknowledged everything it settled.
	l.r.acks.flush()
	if l.receipts != nil {
		// After the sends: the last deliveries' tickets are stored, and
		// checked by the next checker.
		l.receipts.stop()
	}
}

// pull fetches messages while there is room and the breaker allows.
func (l *lane) pull() {
	defer l.pulling.Done()
	if l.work != nil {
		defer close(l.work)
	}
	lastErr := time.Time{}
	for l.ctx.Err() == nil {
		if !l.plan.Enabled {
			<-l.ctx.Done()
			return
		}
		free := cap(l.slots) - len(l.slots)
		sweeping := false
		if open, wait := l.sender.Open(); open || l.sender.State() == "half-open" {
			switch {
			case l.sweepDue(wait):
				// The oldest event's window closes before a request could go
				// out: pull a bounded batch anyway. What is due is
				// dead-lettered without a send; the rest is refused by the
				// breaker, nothing sent, and comes back at the latest at its
				// window's end.
				sweeping, free = true, min(free, sweepBatch)
			case open:
				// The backlog waits in JetStream, not here.
				l.sleep(min(max(wait, 50*time.Millisecond), time.Second))
				continue
			case len(l.slots) > 0:
				// Half-open: one probe at a time; whatever else it pulled
				// would only be refused by the breaker and nak'd.
				l.sleep(20 * time.Millisecond)
				continue
			default:
				free = 1
			}
		}
		if free == 0 || (free < l.minPull() && len(l.slots) > 0 && !sweeping) {
			// Every slot is taken, or too few are free to be worth a pull
			// while the lane still holds events to send: wait for more.
			// (One pull per freed slot, on a rate-bound lane, costs a pull
			// request and its reply per event: minPull.) A batch waiting for
			// company would get none until slots free, while its own
			// events hold them: flush first.
			l.disp.Flush()
			select {
			case <-l.freed:
			case <-l.ctx.Done():
			}
			continue
		}
		batch, err := l.consumer().Fetch(min(free, fetchMax), jetstream.FetchMaxWait(pullWait(time.Now())))
		if err != nil {
			if time.Since(lastErr) > 10*time.Second {
				l.log.Error("pull failed; retrying", "err", err)
				lastErr = time.Now()
			}
			l.recreateIfGone()
			l.sleep(time.Second)
			continue
		}
		for msg := range batch.Messages() {
			if l.ctx.Err() != nil {
				// Stopping: what still arrives on the open pull request goes
				// back, late enough to land on the next puller, not this one.
				_ = msg.NakWithDelay(fetchWait)
				continue
			}
			l.slots <- struct{}{}
			if l.work != nil {
				l.work <- msg
			} else {
				l.handle(msg, l.env)
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
			if !errors.Is(err, jetstream.ErrNoHeartbeat) && time.Since(lastErr) > 10*time.Second {
				l.log.Warn("pull ended with an error", "err", err)
				lastErr = time.Now()
			}
			// A deleted consumer ends a pull with 409 Consumer Deleted, or
			// with missed heartbeats; the next pulls find no responder.
			l.recreateIfGone()
		}
		if sweeping {
			// Look again before the next batch: the next oldest may not be due.
			ctx, cancel := context.WithTimeout(l.ctx, 2*time.Second)
			l.refreshOldest(ctx, nil, nil)
			cancel()
		}
	}
}

// pullWants reports whether a pull waiting for slots (pull's select on
// freed) would pull now: the lane holds nothing, or enough slots are free.
// A release wakes the pull goroutine only then. Woken for every freed
// slot, a rate-bound lane's pull goroutine woke once per event to find it
// had too few to pull, and each wake-up of a parked goroutine can cost a
// thread's (docs/performance.md, phase R).
func (l *lane) pullWants() bool {
	held := len(l.slots)
	return held == 0 || cap(l.slots)-held >= l.minPull()
}

// minPull is the fewest free slots worth a pull while the lane holds
// events, at most a pull's worth: half of max_in_flight while the tool
// holds at most a quarter of the lane's events on the wire, else an
// eighth. A lane that holds nothing pulls for any free slot.
//
// A lane whose events mostly wait for their rate turn, a concurrency slot
// or a batch keeps its tool busy on the half it still holds while the
// pull's reply comes; each pull costs the router a wake-up or two (in
// bench phase R, pulling at half instead of an eighth saved 15 µs of its
// 190 µs per event: docs/performance.md). A lane whose tool holds most of
// its events (a slow tool, bound by max_in_flight) refills sooner: what it
// holds is what it sends.
func (l *lane) minPull() int {
	n := cap(l.slots) / 8
	if l.sender.Sending() <= cap(l.slots)/4 {
		n = cap(l.slots) / 2
	}
	return max(1, min(fetchMax, n))
}

// recreateIfGone checks, after a failed pull, whether the destination's
// consumer still exists, and creates it again when someone deleted it. A
// destination that starts at new events starts there again, so what
// waited in the deleted consumer is not redelivered: that is logged as an
// error, with the way back (`switchyard replay`).
func (l *lane) recreateIfGone() {
	ctx, cancel := context.WithTimeout(l.ctx, 5*time.Second)
	defer cancel()
	_, err := l.r.js.Consumer(ctx, EventsStream, ConsumerName(l.plan.Name))
	if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return // it exists, or JetStream cannot say: retry the pull
	}
	c, err := l.r.ensureConsumer(ctx, l.plan)
	if err != nil {
		l.log.Error("the destination's consumer was deleted; creating it again failed (retried at the next pull)", "err", err)
		return
	}
	l.cons.Store(&consumerRef{c})
	l.log.Error("the destination's consumer was deleted by someone else; created it again: events it held are redelivered only if the destination starts at all or a time (start), else replay them with switchyard replay",
		"consumer", ConsumerName(l.plan.Name), "start", l.plan.Config.Start)
}

func (l *lane) sleep(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-l.ctx.Done():
	}
}

// tick keeps held messages alive, publishes the lane's gauges and runs
// the expiry watch. Its ticks fall on the process-wide grid: every lane's
// wake the router at once.
func (l *lane) tick() {
	defer l.pulling.Done()
	watched := time.Now()
	l.look(l.ctx)
	l.sleep(time.Until(destinations.OnGrid(time.Now(), tickEvery)))
	t := time.NewTicker(tickEvery)
	defer t.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return
		case now := <-t.C:
			l.mu.Lock()
			var stale []*delivery
			for _, d := range l.held {
				if now.Sub(d.progress) > ackWait/3 {
					d.progress = now
					stale = append(stale, d)
				}
			}
			n := len(l.held)
			l.mu.Unlock()
			for _, d := range stale {
				_ = d.msg.InProgress()
			}
			if skipped := l.dlLog.drain(now); skipped > 0 {
				l.log.Warn("dead letters not logged one by one (over 20 a second): they are in the DLQ and in switchyard_event_reasons_total", "count", skipped)
			}
			l.r.metrics.InFlight.WithLabelValues(l.plan.Name).Set(float64(n))
			l.r.metrics.RateLimit.WithLabelValues(l.plan.Name).Set(l.sender.Rate())
			if now.Sub(watched) >= sweepInterval {
				watched = now
				l.look(l.ctx)
			}
		}
	}
}

// handle routes one message. It runs on a worker, or on the pull goroutine
// with ordering: user; env is that goroutine's own.
func (l *lane) handle(msg jetstream.Msg, env *mappings.Env) {
	now := time.Now()
	d := &delivery{msg: msg, subject: msg.Subject(), firstSeen: now, progress: now}
	if meta, err := msg.Metadata(); err == nil {
		d.seq, d.streamTime, d.delivered = meta.Sequence.Stream, meta.Timestamp, meta.NumDelivered
	}
	if d.delivered > 1 {
		d.tries = int(d.delivered - 1)
	}
	d.source = sourceOf(d.subject)
	if h := msg.Headers(); h != nil {
		d.msgID = h.Get(jetstream.MsgIDHeader)
	}
	l.mu.Lock()
	l.held[d.seq] = d
	l.mu.Unlock()
	l.settled.Add(1)

	ev, err := mappings.DecodeProjected(msg.Data(), d.streamTime, l.plan.Limits(), l.plan.Projection())
	if err != nil {
		l.samples.record(msg.Data(), d.msgID, nil, nil, "invalid", err.Error())
		l.deadLetter(d, Invalid, plan.ReasonInvalid, err.Error(), nil)
		return
	}
	d.eventID = ev.MessageID
	if l.closedOnArrival(d) {
		return
	}
	rt := l.plan.Route(ev, d.source, msg.Data(), env, plan.RouteOptions{Regulations: l.r.RegulationsView()})
	if rt.Outcome != "" {
		l.r.acks.ack(msg, d.seq, l.log, "ack failed (the event may be delivered again)")
		l.settle(d, rt.Outcome, rt.Code, rt.Reason)
		return
	}
	for _, f := range rt.Failures {
		l.samples.record(msg.Data(), ev.MessageID, &destinations.Request{Action: f.Action}, nil, "render_error", f.Err.Error())
	}
	d.failures = rt.Failures
	reqs := l.recall(d, rt.Requests)
	if l.plan.Policy.OrderingUser {
		d.userKey = ev.UserID
		if d.userKey == "" {
			d.userKey = "anon:" + ev.AnonymousID
		}
		d.retryReqs = reqs
		l.mu.Lock()
		q := l.queues[d.userKey]
		l.queues[d.userKey] = append(q, d)
		l.mu.Unlock()
		if len(q) > 0 {
			return // an earlier event of this user is in progress
		}
	}
	l.dispatch(d, reqs)
}

// sourceOf reads the source id from events.<source>.<type>.
func sourceOf(subject string) string {
	_, rest, ok := strings.Cut(subject, ".")
	if !ok {
		return ""
	}
	source, _, _ := strings.Cut(rest, ".")
	return source
}

// recall loads what an earlier delivery of this message did: it drops the
// requests that already ended, keeping the permanent failures among them
// for the dead letter, and carries over the attempts and the last answer.
func (l *lane) recall(d *delivery, reqs []plan.Outbound) []plan.Outbound {
	l.mu.Lock()
	defer l.mu.Unlock()
	tr := l.trails[d.seq]
	if tr == nil {
		return reqs
	}
	d.attempts, d.last, d.lastKey = tr.attempts, tr.last, tr.lastKey
	if reqs == nil {
		// Not sending again (the window closed): every permanent failure
		// goes into the dead letter.
		for _, f := range tr.ended {
			if f != nil {
				d.failures = append(d.failures, *f)
			}
		}
		return nil
	}
	if len(tr.ended) == 0 {
		return reqs
	}
	out := reqs[:0:0]
	for _, o := range reqs {
		f, ended := tr.ended[o.Key]
		switch {
		case !ended:
			out = append(out, o)
		case f != nil:
			d.failures = append(d.failures, *f)
		}
	}
	return out
}

// remember records what this round of a delivery did, for its next one.
func (l *lane) remember(d *delivery, ended map[string]*plan.Failure) {
	l.mu.Lock()
	defer l.mu.Unlock()
	tr := l.trails[d.seq]
	if tr == nil {
		if len(l.trails) >= maxTrails {
			for k := range l.trails {
				delete(l.trails, k)
				if len(l.trails) <= maxTrails/2 {
					break
				}
			}
		}
		tr = &trail{ended: map[string]*plan.Failure{}}
		l.trails[d.seq] = tr
	}
	for k, f := range ended {
		tr.ended[k] = f
	}
	tr.attempts, tr.last, tr.lastKey = d.attempts, d.last, d.lastKey
}

// dispatch sends a delivery's requests; their completion settles it.
func (l *lane) dispatch(d *delivery, reqs []plan.Outbound) {
	d.retry, d.retryReqs = nil, nil
	if len(reqs) == 0 {
		l.finish(d)
		return
	}
	l.disp.Dispatch(reqs, func(results []dispatch.Result) { l.complete(d, results) })
}
