package router

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/switchyard/switchyard/destinations"
)

// Settling: every message a lane holds ends exactly once, as an ack
// (delivered, filtered, unmatched), a nak with a delay (retried), or a dead
// letter followed by an ack (dead_lettered, invalid).

// complete records one request's result.
func (l *lane) complete(d *delivery, o Outbound, res destinations.Result) {
	l.sample(d, o, &res)
	d.mu.Lock()
	d.attempts += res.Attempts
	switch res.Class {
	case destinations.OK:
		l.markDone(d.seq, o.Key, nil)
	case destinations.Permanent:
		r := res
		d.last, d.lastAct = &r, o.Action
		f := Failure{Action: o.Action, Err: resultErr(&res)}
		d.failures = append(d.failures, f)
		l.markDone(d.seq, o.Key, &f)
	default:
		r := res
		d.retry, d.last, d.lastAct = &r, &r, o.Action
		d.retryReqs = append(d.retryReqs, o)
	}
	d.pending--
	last := d.pending == 0
	d.mu.Unlock()
	if last {
		l.finish(d)
	}
}

func resultErr(res *destinations.Result) error {
	if res.Err != nil {
		return res.Err
	}
	return fmt.Errorf("HTTP %d", res.Status)
}

func (l *lane) sample(d *delivery, o Outbound, res *destinations.Result) {
	id := ""
	if d.ev != nil {
		id = d.ev.MessageID
	}
	if res.Class == destinations.OK {
		if l.samples.wantSuccess(time.Now()) {
			l.samples.record(d.msg.Data(), id, o.Req, res, "ok", "")
		}
		return
	}
	errText := ""
	if res.Err != nil {
		errText = res.Err.Error()
	}
	l.samples.record(d.msg.Data(), id, o.Req, res, res.Class.String(), errText)
}

// finish settles a delivery whose requests have all ended.
func (l *lane) finish(d *delivery) {
	d.mu.Lock()
	retry := d.retry
	d.mu.Unlock()
	if retry != nil {
		d.tries++
		delay := l.retryDelay(d, retry)
		window := l.plan.Policy.RetryWindow
		if !d.streamTime.IsZero() && time.Since(d.streamTime)+delay > window {
			reason := fmt.Sprintf("retry window of %s closed: %v", window, resultErr(retry))
			l.deadLetter(d, DeadLettered, reason, append(failedActions(d.failures), d.lastAct))
			return
		}
		l.r.metrics.Outcome(l.plan.Name, Retried)
		if l.plan.Policy.OrderingUser && l.ctx.Err() == nil {
			// Hold it: later events of this user wait behind it, others go on.
			d.mu.Lock()
			reqs := d.retryReqs
			d.timer = time.AfterFunc(delay, func() {
				d.mu.Lock()
				d.timer = nil
				d.mu.Unlock()
				l.dispatch(d, reqs)
			})
			d.mu.Unlock()
			return
		}
		l.nak(d, delay)
		return
	}
	if len(d.failures) > 0 {
		reason := d.failures[0].Err.Error()
		if len(d.failures) > 1 {
			reason = fmt.Sprintf("%s: %s (and %d more failed actions)", d.failures[0].Action, reason, len(d.failures)-1)
		}
		l.deadLetter(d, DeadLettered, reason, failedActions(d.failures))
		return
	}
	if err := d.msg.Ack(); err != nil {
		l.log.Warn("ack failed (the event may be delivered again)", "seq", d.seq, "err", err)
	}
	l.settle(d, Delivered)
}

func failedActions(fs []Failure) []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range fs {
		if !seen[f.Action] {
			seen[f.Action] = true
			out = append(out, f.Action)
		}
	}
	return out
}

// retryDelay is exponential with equal jitter, from the initial backoff
// up to the maximum; a tool's Retry-After and an open breaker's cooldown
// lengthen it.
func (l *lane) retryDelay(d *delivery, res *destinations.Result) time.Duration {
	pol := l.plan.Policy
	base := pol.Backoff
	for i := 1; i < d.tries && base < pol.BackoffMax; i++ {
		base *= 2
	}
	base = min(base, pol.BackoffMax)
	delay := base/2 + rand.N(base/2+1)
	if res.RetryAfter > delay {
		delay = res.RetryAfter
	}
	if res.BreakerOpen {
		if open, wait := l.sender.Open(); open && wait > delay {
			delay = wait + rand.N(wait/10+1)
		}
	}
	return delay
}

func (l *lane) nak(d *delivery, delay time.Duration) {
	if err := d.msg.NakWithDelay(delay); err != nil {
		l.log.Warn("nak failed (the event is redelivered after the ack wait)", "seq", d.seq, "err", err)
	}
	l.release(d, false)
}

// deadLetter writes the DLQ entry, then acks. If the DLQ cannot be written
// the message is nak'd: it is never acked without a trace.
func (l *lane) deadLetter(d *delivery, o Outcome, reason string, actions []string) {
	dl := &DeadLetter{
		Destination: l.plan.Name, Subject: d.subject, Data: d.msg.Data(), Reason: reason,
		FirstAttempt: d.firstSeen, FailedAt: time.Now(), Actions: actions, StreamSeq: d.seq,
	}
	if d.ev != nil {
		dl.MessageID = d.ev.MessageID
	}
	if d.last != nil {
		dl.Status, dl.Response = d.last.Status, d.last.Body
	}
	dl.Attempts = max(d.attempts, 1)
	if d.streamTime.Before(dl.FirstAttempt) && d.delivered > 1 {
		// Earlier deliveries happened before this process saw the event.
		dl.FirstAttempt = d.streamTime
	}
	err := publishDeadLetter(context.Background(), l.r.js, dl, l.plan.Redactor, l.plan.dlqHeaderBytes)
	if err != nil {
		l.r.metrics.DLQFailures.WithLabelValues(l.plan.Name).Inc()
		l.log.Error("writing a dead letter failed; the event will be retried", "seq", d.seq, "err", err)
		l.nak(d, 5*time.Second)
		return
	}
	l.log.Info("dead-lettered", "messageId", dl.MessageID, "reason", l.plan.Redactor.String(reason), "status", dl.Status, "actions", strings.Join(actions, ","))
	if err := d.msg.Ack(); err != nil {
		l.log.Warn("ack after dead letter failed (the DLQ dedupes a repeat)", "seq", d.seq, "err", err)
	}
	l.settle(d, o)
}

// settle counts the final outcome and frees the slot.
func (l *lane) settle(d *delivery, o Outcome) {
	l.r.metrics.Outcome(l.plan.Name, o)
	l.release(d, true)
}

// release frees a delivery's slot; final says the message is done for good.
func (l *lane) release(d *delivery, final bool) {
	var next *delivery
	l.mu.Lock()
	delete(l.held, d.seq)
	if final {
		delete(l.done, d.seq)
	} else if len(l.done) > 100_000 {
		// Bound the memory: forgetting only costs a repeated send.
		for k := range l.done {
			delete(l.done, k)
			if len(l.done) <= 50_000 {
				break
			}
		}
	}
	if d.userKey != "" {
		q := l.queues[d.userKey]
		if len(q) > 0 && q[0] == d {
			q = q[1:]
		}
		if len(q) == 0 {
			delete(l.queues, d.userKey)
		} else {
			l.queues[d.userKey] = q
			next = q[0]
		}
	}
	l.mu.Unlock()
	<-l.slots
	select {
	case l.freed <- struct{}{}:
	default:
	}
	l.settled.Done()
	if next != nil {
		if !final {
			// The head went back to JetStream: the ones behind it must not
			// overtake it, so they go back too.
			l.nak(next, 0)
			return
		}
		l.dispatch(next, next.retryReqs)
	}
}
