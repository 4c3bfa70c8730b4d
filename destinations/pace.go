package destinations

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/time/rate"
)

// Pacing: a rate-limited sender's attempts start on a shared grid of
// instants, a few at a time, rather than each on its own instant.
//
// A token bucket at 100 requests/s with a burst of 1 lets one attempt go
// every 10 ms. A lane draining a backlog at that rate woke the whole
// process 100 times a second for one request each: a timer, a thread
// switch, the HTTP exchange's goroutines, an ack, and Go's sysmon, which
// wakes with the process and polls every 20 µs while it runs. In that tail
// the router spent about 560 µs of CPU per event against 48 µs for an
// unthrottled destination (docs/performance.md, phases E and R).
//
// So the moment the bucket grants is rounded up to the next multiple of a
// quantum, counted from one process-wide epoch: the bucket grants at 10,
// 20, ..., 100 ms, and all ten attempts start at 100 ms, waking the process
// once. Every lane's grid instants are those of a 50 ms grid (a quantum of
// 100 ms) or include them (50 ms and its divisors), so rate-bound lanes
// also wake together.
//
// The rate holds over every window whose length is a multiple of the
// quantum, 1 s included (the quantum divides 1 s). Rounding up is monotone,
// so the attempts starting in a half-open window [t, t+W) are exactly those
// the bucket granted in (B-q, B+W-q] for the window's first grid instant
// B: an interval of length W, in which the bucket grants no more than it
// would have started in a window of length W unrounded (at most RPS in any
// second with the default burst of 1). Nothing starts earlier than the
// bucket allows; each attempt waits at most one quantum more (50 ms on
// average at 100/s, against tools that answer in 50-300 ms, on a lane whose
// events wait for their turn anyway).
// TestPacingNeverExceedsTheRate checks this on a fake clock. (An adaptive
// limit's changes act on turns not yet reserved, so the bucket's own
// grants can be denser than the current limit for a moment; the grid adds
// nothing to that, and the configured rate still holds over each second.)

// paceGroup is about how many attempts a quantum should gather at the
// configured rate: enough to amortise a wake-up, few enough that a tool
// sees small bursts (10 at once for Customer.io's 100/s, 16 for Intercom's
// 160/s) and that a lane bound by concurrency rather than by its rate
// waits little for the grid.
//
// Every catalog tool documents its limit over a second or more (Customer.io,
// Expo, Iterable, OneSignal and Segment per second, Braze per 3 s, Intercom
// and HubSpot per 10 s, FCM per minute, Brevo per hour): no such window
// sees more than the rate allows, however the quantum gathers them, and the
// concurrency limit still bounds what is in flight at once. 16 at 100 ms
// costs a paced event about 30% less CPU than 8 at 50 ms (130-140 against
// 190-200 µs at Customer.io's 100/s, 2.4-2.7 against 4.8-5.5 context
// switches per event: bench phase R, docs/performance.md): most of a paced
// request's cost is the process waking for it, Go's sysmon polling every
// 20 µs while it is awake included.
const paceGroup = 16

// paceQuanta are the quanta a limiter may use, largest first: each divides
// 1 s (so the rate holds over 1 s windows), and is 100 ms, whose instants
// are every other one of the 50 ms grid, or divides 50 ms (so its instants
// include the 50 ms grid's): rate-bound lanes wake together.
var paceQuanta = []time.Duration{100 * time.Millisecond, 50 * time.Millisecond, 25 * time.Millisecond, 10 * time.Millisecond, 5 * time.Millisecond, 2 * time.Millisecond, time.Millisecond}

// paceEpoch is the process-wide origin of the grid (monotonic).
var paceEpoch = time.Now()

// paceQuantum is the quantum for a limiter whose rate never goes above
// rps: the largest that gathers at most paceGroup attempts, 0 (no
// rounding) above 16,000/s, where each of them would wait for the grid
// longer than the bucket makes it. A limiter keeps its quantum for its
// life, as adaptive changes to its rate come and go: rounding to one grid
// is what keeps the starts in the order of the grants.
func paceQuantum(rps float64) time.Duration {
	if rps <= 0 {
		// Unlimited until a 429, then capped at aimdUnlimitedCap at most.
		rps = aimdUnlimitedCap
	}
	for _, q := range paceQuanta {
		if rps*q.Seconds() <= paceGroup {
			return q
		}
	}
	return 0
}

// OnGrid is the first instant of the process-wide grid of the given step at
// or after t. The rate-limited senders start their attempts on it (step
// 100 ms, 50 ms or a divisor of 50 ms); the router's lanes end their idle pulls and run
// their ticks on it (steps that are multiples of 50 ms), so that an idle or
// rate-bound router wakes once for all of them rather than once for each.
func OnGrid(t time.Time, step time.Duration) time.Time { return onGrid(t, paceEpoch, step) }

// onGrid rounds t up to the next instant epoch + k·q.
func onGrid(t, epoch time.Time, q time.Duration) time.Time {
	if q <= 0 {
		return t
	}
	d := t.Sub(epoch)
	k := d / q
	if d > k*q { // d - k·q is in (-q, q): round toward +∞
		k++
	}
	return epoch.Add(k * q)
}

// turn is one attempt's place under the token bucket.
type turn struct {
	grant time.Time // when the bucket lets it go
	start time.Time // when it goes: grant on the grid
	// cancel gives the token back (an attempt that will not wait for its
	// turn), as far as later reservations allow (rate.Reservation.CancelAt).
	cancel func(time.Time)
}

// reserve takes one token at now. With no rate limit the attempt starts
// now.
func (l *limiter) reserve(now time.Time) turn {
	r := l.rl.ReserveN(now, 1)
	if !r.OK() {
		// Burst is at least 1 and never shrinks below it: not reached.
		return turn{grant: now, start: now, cancel: func(time.Time) {}}
	}
	if l.rl.Limit() == rate.Inf {
		return turn{grant: now, start: now, cancel: r.CancelAt}
	}
	grant := now.Add(r.DelayFrom(now))
	return turn{grant: grant, start: onGrid(grant, l.epoch, l.quantum), cancel: r.CancelAt}
}

// waitToken waits for the attempt's turn under the token bucket, on the
// grid. Cancelled, or when its turn would come after ctx's deadline, it
// gives the token back and returns the context's error.
func (l *limiter) waitToken(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if l.unlimited.Load() {
		return nil
	}
	now := time.Now()
	tn := l.reserve(now)
	d := tn.start.Sub(now)
	if d <= 0 {
		return nil
	}
	if dl, ok := ctx.Deadline(); ok && dl.Before(tn.start) {
		tn.cancel(now)
		return fmt.Errorf("the rate limit's next turn (in %s) is after the deadline: %w", d.Round(time.Millisecond), context.DeadlineExceeded)
	}
	t := time.NewTimer(d)
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		t.Stop()
		tn.cancel(time.Now())
		return ctx.Err()
	}
}
