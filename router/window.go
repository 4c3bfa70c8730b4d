package router

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard/switchyard/destinations"
	"github.com/switchyard/switchyard/router/dispatch"
	"github.com/switchyard/switchyard/router/plan"
)

// The retry window (delivery.retry_window) is counted from an event's
// stream time. An event is dead-lettered as soon as no further attempt can
// happen inside it, and never later than one sweep interval after it
// closes, whatever the breaker does:
//
//   - at a retryable failure, the next attempt is scheduled at the latest
//     at the window's end; when the tool (Retry-After) or the open breaker
//     puts the next attempt after the end, the event is dead-lettered now,
//     "next attempt would fall after the window";
//   - an event that reaches the lane past its window (a redelivery at the
//     window's end, a backlog that waited) is dead-lettered without being
//     sent, "window closed", with the attempts and the last answer this
//     router saw;
//   - while the breaker is open the lane does not pull, but the expiry watch
//     knows the oldest unacknowledged message; when its window closes
//     before the breaker would let a request out, the lane sweeps: it pulls
//     anyway, and what is due is dead-lettered without a send.
//
// See docs/delivery.md.

// sweepInterval is how often the watch looks at the oldest unacknowledged
// message, and so the most a due event waits past its window.
const sweepInterval = 5 * time.Second

// Reasons of dead letters about time.
const (
	ReasonWindowClosed     plan.Reason = "window_closed"
	ReasonWindowWouldClose plan.Reason = "window_would_close"
)

// closedOnArrival dead-letters a delivery that reached the lane past its
// retry window, without sending it. It reports whether it did.
func (l *lane) closedOnArrival(d *delivery) bool {
	window := l.plan.Policy.RetryWindow
	if d.streamTime.IsZero() || time.Since(d.streamTime) <= window {
		return false
	}
	l.recall(d, nil)
	last := "no answer was seen by this router"
	if d.last != nil {
		last = "last: " + dispatch.ResultErr(d.last).Error()
	}
	reason := fmt.Sprintf("retry window of %s closed %s after the event arrived, after %d deliveries (%s); not sent again",
		window, time.Since(d.streamTime).Round(time.Second), d.delivered, last)
	l.deadLetter(d, DeadLettered, ReasonWindowClosed, reason, failedKeys(d.failures))
	return true
}

// retryOrGiveUp schedules a retryable delivery's next attempt inside its
// window, or dead-letters it when none can happen there.
func (l *lane) retryOrGiveUp(d *delivery, retry *destinations.Result) {
	d.tries++
	window := l.plan.Policy.RetryWindow
	delay := l.backoff(d)
	// What the tool or the breaker imposes cannot be shortened.
	floor, why := time.Duration(0), ""
	if retry.RetryAfter > 0 {
		floor, why = retry.RetryAfter, fmt.Sprintf("the tool's Retry-After is %s", retry.RetryAfter)
	}
	if retry.BreakerOpen {
		if open, wait := l.sender.Open(); open && wait > floor {
			floor, why = wait, fmt.Sprintf("the circuit breaker stays open %s more", wait.Round(time.Millisecond))
		}
	}
	if !d.streamTime.IsZero() {
		left := window - time.Since(d.streamTime)
		keys := append(failedKeys(d.failures), d.lastKey)
		switch {
		case left <= 0:
			l.deadLetter(d, DeadLettered, ReasonWindowClosed, fmt.Sprintf("retry window of %s closed: %s", window, l.lastAnswer(d, retry)), keys)
			return
		case floor > left:
			l.deadLetter(d, DeadLettered, ReasonWindowWouldClose, fmt.Sprintf("next attempt would fall after the retry window of %s (%s; the window closes in %s): %s",
				window, why, left.Round(time.Millisecond), l.lastAnswer(d, retry)), keys)
			return
		}
		// The last attempt may come at the window's very end.
		delay = min(max(delay, floor), left)
	} else {
		delay = max(delay, floor)
	}
	l.r.metrics.Outcome(l.plan.Name, Retried, "")
	if l.plan.Policy.OrderingUser && l.ctx.Err() == nil {
		// Hold it: later events of this user wait behind it, others go on.
		reqs := d.retryReqs
		l.mu.Lock()
		d.timer = time.AfterFunc(delay, func() {
			l.mu.Lock()
			d.timer = nil
			l.mu.Unlock()
			l.dispatch(d, reqs)
		})
		l.mu.Unlock()
		return
	}
	l.nak(d, delay)
}

// lastAnswer says what the tool last answered and what this round did: a
// round the breaker refused sent nothing, and says so next to the tool's
// last real answer, so that a reason never reads "nothing was sent" above
// attempts that were made.
func (l *lane) lastAnswer(d *delivery, retry *destinations.Result) string {
	if !retry.BreakerOpen {
		return dispatch.ResultErr(retry).Error()
	}
	if d.last == nil || d.last.BreakerOpen {
		return fmt.Sprintf("the circuit breaker was open, so nothing was sent (%d attempts in all)", d.attempts)
	}
	return fmt.Sprintf("the circuit breaker is open; the tool's last answer, after %d attempts: %v", d.attempts, dispatch.ResultErr(d.last))
}

// expiryWatch is what the tick goroutine knows of the destination's oldest
// unacknowledged message and of the stream's first sequence.
type expiryWatch struct {
	oldest    atomic.Int64 // stream time (unix ns) of the oldest unacked message; 0: none
	lastFirst uint64       // the stream's first sequence at the last look
	lastFloor uint64       // the consumer's ack floor at the last look
}

// look updates the watch: the oldest unacknowledged message's age (the
// gauge), an error log when it nears the stream's max age, and, when the
// stream's first sequence passed unacknowledged messages, the expired
// count and a log of the range.
func (l *lane) look(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	info, err := l.consumer().Info(ctx)
	if err != nil {
		return
	}
	l.r.metrics.Lag.WithLabelValues(l.plan.Name).Set(float64(info.NumPending + uint64(info.NumAckPending)))
	stream, err := l.r.js.Stream(ctx, EventsStream)
	if err != nil {
		return
	}
	floor := info.AckFloor.Stream
	first := stream.CachedInfo().State.FirstSeq
	if si, err := stream.Info(ctx); err == nil {
		first = si.State.FirstSeq
	}
	if age, ok := l.refreshOldest(ctx, info, stream); ok && l.maxAge > 0 && age > l.maxAge-l.maxAge/10 {
		l.log.Error("an unacknowledged event is close to its removal from EVENTS (streams.max_age): check the destination's retry window and its dead letters", "age", age.Round(time.Second), "max_age", l.maxAge)
	}
	// Messages the stream dropped past the ack floor were never settled
	// here: lost. The count is exact for a destination reading every
	// source and an upper bound otherwise (the range may hold other
	// sources' events, and events acked out of order).
	if l.watch.lastFirst != 0 && first > floor+1 && first > l.watch.lastFirst {
		from := max(floor, l.watch.lastFloor) + 1
		if first > from {
			n := first - from
			l.r.metrics.Expired.WithLabelValues(l.plan.Name).Add(float64(n))
			l.log.Error("events were removed from EVENTS before this destination settled them (streams.max_age or max_bytes): lost", "from_seq", from, "to_seq", first-1, "count", n)
		}
	}
	l.watch.lastFirst, l.watch.lastFloor = max(first, 1), max(floor, first-1)
}

// refreshOldest finds the oldest unacknowledged message from the
// consumer's ack floor and publishes its age; ok is false when there is
// none. The pull goroutine calls it between sweep batches, the tick
// goroutine on its round; info and stream may be nil.
func (l *lane) refreshOldest(ctx context.Context, info *jetstream.ConsumerInfo, stream jetstream.Stream) (age time.Duration, ok bool) {
	var err error
	if info == nil {
		if info, err = l.consumer().Info(ctx); err != nil {
			return 0, false
		}
	}
	if stream == nil {
		if stream, err = l.r.js.Stream(ctx, EventsStream); err != nil {
			return 0, false
		}
	}
	if info.NumPending+uint64(info.NumAckPending) == 0 {
		l.watch.oldest.Store(0)
		l.r.metrics.OldestUnacked.WithLabelValues(l.plan.Name).Set(0)
		return 0, false
	}
	m := l.oldestUnacked(ctx, stream, info.AckFloor.Stream+1)
	if m == nil {
		return 0, false
	}
	l.watch.oldest.Store(m.Time.UnixNano())
	age = time.Since(m.Time)
	l.r.metrics.OldestUnacked.WithLabelValues(l.plan.Name).Set(age.Seconds())
	return age, true
}

// oldestUnacked finds the first message at or after seq that this
// destination reads.
func (l *lane) oldestUnacked(ctx context.Context, stream jetstream.Stream, seq uint64) *jetstream.RawStreamMsg {
	var oldest *jetstream.RawStreamMsg
	for _, subj := range FilterSubjects(l.plan.Sources) {
		m, err := stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subj))
		if err == nil && (oldest == nil || m.Sequence < oldest.Sequence) {
			oldest = m
		}
	}
	return oldest
}

// sweepDue reports, while the breaker is open, whether the oldest
// unacknowledged message's window closes before the breaker lets a request
// out (and a sweep interval): then the lane pulls anyway, and what is due
// is dead-lettered without a send.
func (l *lane) sweepDue(breakerWait time.Duration) bool {
	at := l.watch.oldest.Load()
	if at == 0 {
		return false
	}
	closes := time.Unix(0, at).Add(l.plan.Policy.RetryWindow)
	return time.Until(closes) < breakerWait+sweepInterval
}
