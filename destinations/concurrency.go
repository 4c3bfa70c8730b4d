package destinations

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"
)

// Adaptive concurrency (RateConfig.AdaptiveConcurrency) is AIMD on
// latency, after Vector's adaptive request concurrency
// (https://vector.dev/docs/architecture/arc/): the limit on attempts in
// flight moves with what the tool's answers say, between 1 and
// RateConfig.Concurrency, in windows one mean round trip long.
//
//   - Measure: each answer's time to response headers is a sample of the
//     window. A 429, a 5xx other than 501, a timeout or a failed
//     connection is a back-pressure signal instead (its time says nothing
//     of the tool's queue).
//   - Decrease: a window with a signal, or whose mean round trip exceeds
//     the past mean by more than acDeviationScale mean deviations (and by
//     more than acTolerance of it), multiplies the limit by acDecrease
//     (floor 1). It decreases once per window however many answers said
//     so: the requests in flight when a tool starts to refuse count as
//     one signal.
//   - Increase: a window whose round trip held, during which the limit
//     was reached (attempts were waiting for it, or all of it in flight),
//     raises the limit: doubling it until the first decrease (slow start,
//     so that a tool answering in 2 s reaches the ceiling in a few round
//     trips, not hundreds). After a cut it climbs back halfway to the
//     limit it was cut from each window (binary increase, as TCP BIC
//     does: a round trip that rose with this process's own load, on a
//     busy machine, costs a few windows, not one per unit), then probes
//     past it by 1, 2, 4... per window while the round trip holds, so that
//     a cut early in the slow start does not leave a slow tool at a tenth
//     of its ceiling for minutes.
//   - Past: the mean round trip and its mean deviation are moving averages
//     of the windows' means, weighted acAlpha for the newest.
//
// The limit never exceeds RateConfig.Concurrency, which the router sets to
// the tool's documented concurrency, rate.concurrency, or else
// delivery.max_in_flight (docs/delivery.md): the events a lane holds bound
// what it sends at once, so a slow tool raises neither memory nor
// goroutines beyond them. The token bucket (rate.rps) applies on top.
const (
	acDecrease       = 0.9
	acAlpha          = 0.4
	acDeviationScale = 2.5
	acTolerance      = 0.1
)

// ConcurrencyObserver is an Observer that also follows the limit on
// attempts in flight: called once when the Sender is built, then on every
// change of the adaptive limit. It must be cheap and must not block.
type ConcurrencyObserver interface {
	Concurrency(destination string, limit int)
}

// Concurrency is the limit on attempts in flight now in force.
func (s *Sender) Concurrency() int { return s.limit.conc.current() }

// Sending is how many attempts are on the wire now: past the rate limit
// and the concurrency limit, their answer not yet read. Attempts waiting
// for their turn are not counted: a rate-bound sender whose answers are
// all back has none until its next turn.
func (s *Sender) Sending() int { return int(s.limit.passed.Load()) }

// concurrencyObserver reports the limit to the Observer, when it follows it.
func (s *Sender) concurrencyObserver() func(int) {
	if co, ok := s.obs.(ConcurrencyObserver); ok {
		return func(n int) { co.Concurrency(s.cfg.Name, n) }
	}
	return func(int) {}
}

// concurrency bounds the attempts in flight: a fixed limit, or with
// adaptive set, the AIMD limit above. Waiters are served in arrival order.
//
// Lock order: mu is a leaf; onLimit is called with it released.
type concurrency struct {
	adaptive bool
	max      int
	onLimit  func(int)

	mu       sync.Mutex
	limit    int
	inFlight int
	waiters  []chan struct{} // buffered 1; granted in order

	slowStart bool
	// cutFrom is the limit before the last cut, which the limit climbs
	// back to by halves; step is the next increase past it, doubling each
	// window the round trip holds.
	cutFrom int
	step    int
	win     acWindow
	pastRTT float64 // seconds; 0 before the first window with samples
	pastDev float64
}

// acWindow is what one window of answers said.
type acWindow struct {
	start   time.Time
	sum     time.Duration // round trips of the samples
	n       int           // samples
	reached bool          // the limit was reached during the window
	signal  bool          // back-pressure came back
}

// newConcurrency returns a limit of ceiling attempts, or with adaptive
// one starting at initial (DefaultConcurrency when 0), within [1, ceiling].
func newConcurrency(ceiling, initial int, adaptive bool, onLimit func(int)) *concurrency {
	ceiling = max(1, ceiling)
	c := &concurrency{adaptive: adaptive, max: ceiling, limit: ceiling, onLimit: onLimit, slowStart: true}
	if adaptive {
		if initial <= 0 {
			initial = DefaultConcurrency
		}
		c.limit = min(ceiling, max(1, initial))
	}
	return c
}

// acquire waits for a slot. On success the caller must call release once.
func (c *concurrency) acquire(ctx context.Context) error {
	c.mu.Lock()
	if c.inFlight < c.limit && len(c.waiters) == 0 {
		c.takeLocked()
		c.mu.Unlock()
		return nil
	}
	c.win.reached = true // someone waits for the limit
	w := waiterPool.Get().(chan struct{})
	c.waiters = append(c.waiters, w)
	c.mu.Unlock()
	select {
	case <-w:
		waiterPool.Put(w) // empty again: its one grant is received
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		if i := slices.Index(c.waiters, w); i >= 0 {
			c.waiters = slices.Delete(c.waiters, i, i+1)
			c.mu.Unlock()
			waiterPool.Put(w) // never granted: empty
			return ctx.Err()
		}
		c.mu.Unlock()
		// Granted while the context ended: the grant was sent under mu,
		// before w left the list, so it is there to take. Hand the slot on.
		<-w
		waiterPool.Put(w)
		c.release()
		return ctx.Err()
	}
}

// waiterPool holds the channels a waiter is granted its slot on (buffered
// 1): one goes back empty, so that waiting costs no allocation.
var waiterPool = sync.Pool{New: func() any { return make(chan struct{}, 1) }}

func (c *concurrency) takeLocked() {
	c.inFlight++
	if c.inFlight >= c.limit {
		c.win.reached = true
	}
}

// release ends an attempt.
func (c *concurrency) release() {
	c.mu.Lock()
	c.inFlight--
	c.grantLocked()
	c.mu.Unlock()
}

// grantLocked lets waiters in while the limit allows.
func (c *concurrency) grantLocked() {
	for len(c.waiters) > 0 && c.inFlight < c.limit {
		w := c.waiters[0]
		c.waiters = c.waiters[1:]
		if len(c.waiters) == 0 {
			c.waiters = nil
		}
		c.takeLocked()
		w <- struct{}{}
	}
}

// observe feeds one attempt's answer to the adaptive limit: its time to
// response headers, or signal for back-pressure. now is when it ended.
func (c *concurrency) observe(now time.Time, rtt time.Duration, signal bool) {
	if !c.adaptive {
		return
	}
	c.mu.Lock()
	if c.win.start.IsZero() {
		c.win.start = now
	}
	if signal {
		c.win.signal = true
	} else {
		c.win.sum += rtt
		c.win.n++
	}
	if now.Sub(c.win.start) < time.Duration(c.pastRTT*float64(time.Second)) {
		c.mu.Unlock()
		return
	}
	before := c.limit
	c.adjustLocked(now)
	after := c.limit
	c.mu.Unlock()
	if after != before && c.onLimit != nil {
		c.onLimit(after)
	}
}

// adjustLocked ends a window: it moves the limit, updates the past round
// trip and opens the next window at now.
func (c *concurrency) adjustLocked(now time.Time) {
	w := c.win
	var mean float64
	if w.n > 0 {
		mean = (w.sum / time.Duration(w.n)).Seconds()
	}
	threshold := math.Max(acDeviationScale*c.pastDev, acTolerance*c.pastRTT)
	switch {
	case w.signal, w.n > 0 && c.pastRTT > 0 && mean > c.pastRTT+threshold:
		c.decreaseLocked()
	case w.n == 0:
	case w.reached:
		switch {
		case c.slowStart:
			c.limit *= 2
		case c.limit < c.cutFrom:
			c.limit += max(1, (c.cutFrom-c.limit)/2)
		default:
			c.limit += c.step
			c.step = min(2*c.step, c.max) // bounded: it doubles every window the limit holds
		}
		c.limit = min(c.max, c.limit)
		c.grantLocked()
	}
	if w.n > 0 {
		if c.pastRTT == 0 {
			c.pastRTT = mean
		} else {
			c.pastDev = acAlpha*math.Abs(mean-c.pastRTT) + (1-acAlpha)*c.pastDev
			c.pastRTT = acAlpha*mean + (1-acAlpha)*c.pastRTT
		}
	}
	c.win = acWindow{start: now, reached: c.inFlight >= c.limit || len(c.waiters) > 0}
}

func (c *concurrency) decreaseLocked() {
	c.slowStart = false
	c.cutFrom, c.step = c.limit, 1
	c.limit = max(1, int(float64(c.limit)*acDecrease))
}

// current is the limit in force.
func (c *concurrency) current() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.limit
}

// backPressure reports whether an answer asks the sender to slow down: a
// 429, or a 5xx other than 501 Not Implemented (which says nothing of
// load).
func backPressure(status int) bool {
	return status == 429 || (status >= 500 && status != 501)
}
