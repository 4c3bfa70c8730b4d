package router

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/switchyard/switchyard/destinations"
	"github.com/switchyard/switchyard/router/dispatch"
	"github.com/switchyard/switchyard/router/plan"
)

// Settling: every message a lane holds ends exactly once, as an ack
// (delivered, filtered, unmatched), a nak with a delay (retried), or a dead
// letter followed by an ack (dead_lettered, invalid).

// complete records the results of a delivery's requests, then settles it.
// It runs once per dispatch, on the dispatcher's completion, which owns the
// delivery until it returns.
func (l *lane) complete(d *delivery, results []dispatch.Result) {
	failed := len(d.failures)
	for i := range results {
		r := &results[i]
		l.sample(d, r.Out, &r.Result)
		d.attempts += r.Attempts
		switch r.Class {
		case destinations.OK:
		case destinations.Permanent:
			d.last, d.lastKey = &r.Result, r.Out.Key
			d.failures = append(d.failures, plan.Failure{Action: r.Out.Action, Key: r.Out.Key, Err: dispatch.ResultErr(&r.Result)})
		default:
			d.retry = &r.Result
			if !r.BreakerOpen || d.last == nil {
				// A send the breaker refused made no request: the tool's last
				// real answer stays the one a dead letter reports.
				d.last, d.lastKey = &r.Result, r.Out.Key
			}
			d.retryReqs = append(d.retryReqs, r.Out)
		}
	}
	l.recordReceipts(d, results)
	if d.retry != nil || len(d.failures) > 0 {
		// It goes back to JetStream, waits for an in-process retry, or is
		// dead-lettered (nak'd if the DLQ refuses the entry): its next
		// delivery skips what ended here. A delivery whose requests all
		// went through settles now and needs no trail (settling drops it):
		// most of them, so most pay for no map.
		ended := make(map[string]*plan.Failure, len(results))
		next := failed
		for i := range results {
			switch r := &results[i]; r.Class {
			case destinations.OK:
				ended[r.Out.Key] = nil
			case destinations.Permanent:
				f := d.failures[next]
				ended[r.Out.Key] = &f
				next++
			}
		}
		l.remember(d, ended)
	}
	l.finish(d)
	if l.sender.Sending() == 0 && !batched(results) {
		// Every answer of this destination is back: a rate-bound lane's
		// burst is over until its next turn. Its acks leave now rather
		// than in a wake-up of their own when the round's timer fires. (A
		// batch's events complete one after another: each would end a
		// round of one; their round amortises its wake-up anyway.)
		l.r.acks.soon()
	}
}

// batched reports whether any of the results is of a request sent in a
// batch.
func batched(results []dispatch.Result) bool {
	for i := range results {
		if results[i].Out.Batch != nil {
			return true
		}
	}
	return false
}

// sample keeps a delivery sample of a request's result: every failure, and
// a success now and then.
func (l *lane) sample(d *delivery, o plan.Outbound, res *destinations.Result) {
	id := d.eventID
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
	if retry := d.retry; retry != nil {
		l.retryOrGiveUp(d, retry)
		return
	}
	if len(d.failures) > 0 {
		// The entry's action header names every key that failed; the reason
		// is the first one's, prefixed by its key when there are several.
		f := d.failures[0]
		reason := f.Err.Error()
		if len(d.failures) > 1 {
			reason = fmt.Sprintf("%s: %s (and %d more failed)", f.Key, reason, len(d.failures)-1)
		}
		code := plan.ReasonMapping
		if d.last != nil && d.lastKey == f.Key {
			code = dispatch.StatusReason(d.last)
		}
		l.deadLetter(d, DeadLettered, code, reason, failedKeys(d.failures))
		return
	}
	l.r.acks.ack(d.msg, d.seq, l.log, "ack failed (the event may be delivered again)")
	l.settle(d, Delivered, plan.ReasonOK, "")
}

// failedKeys lists the keys (action, or action#i) that failed, each once.
func failedKeys(fs []plan.Failure) []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range fs {
		if !seen[f.Key] {
			seen[f.Key] = true
			out = append(out, f.Key)
		}
	}
	return out
}

// backoff is the lane's own redelivery delay: exponential with equal
// jitter, from the initial backoff up to the maximum. A tool's Retry-After
// and an open breaker lengthen it (retryOrGiveUp).
func (l *lane) backoff(d *delivery) time.Duration {
	pol := l.plan.Policy
	base := pol.Backoff
	for i := 1; i < d.tries && base < pol.BackoffMax; i++ {
		base *= 2
	}
	base = min(base, pol.BackoffMax)
	return base/2 + rand.N(base/2+1)
}

func (l *lane) nak(d *delivery, delay time.Duration) {
	if err := d.msg.NakWithDelay(delay); err != nil {
		l.log.Warn("nak failed (the event is redelivered after the ack wait)", "seq", d.seq, "err", err)
	}
	l.release(d, false)
}

// deadLetter writes the DLQ entry, then acks. If the DLQ cannot be written
// the message is nak'd: it is never acked without a trace.
func (l *lane) deadLetter(d *delivery, o Outcome, code plan.Reason, reason string, actions []string) {
	dl := &DeadLetter{
		Destination: l.plan.Name, Subject: d.subject, Data: d.msg.Data(), Reason: reason,
		FirstAttempt: d.firstSeen, FailedAt: time.Now(), Actions: actions, StreamSeq: d.seq,
		Attempts: d.attempts,
	}
	dl.MessageID = d.msgID
	if d.eventID != "" {
		dl.MessageID = d.eventID
	}
	if d.last != nil {
		dl.Status, dl.Response = d.last.Status, d.last.Body
	}
	if d.streamTime.Before(dl.FirstAttempt) && d.delivered > 1 {
		// Earlier deliveries happened before this process saw the event.
		dl.FirstAttempt = d.streamTime
	}
	if o == Invalid {
		// Invalid for every destination that reads it: stored once.
		dl.Shared, dl.Destinations = true, l.r.readersOf(d.subject)
		if l.r.invalid.seen(d.seq) {
			// Another lane of this router wrote it already.
			l.ackAndSettle(d, o, code, reason)
			return
		}
	}
	err := PublishDeadLetter(context.Background(), l.r.js, dl, l.plan.Redactor, l.plan.DLQHeaderBytes())
	l.r.noteWrite(err)
	if err != nil {
		l.r.metrics.DLQFailures.WithLabelValues(l.plan.Name).Inc()
		l.log.Error("writing a dead letter failed; the event will be retried", "seq", d.seq, "err", err)
		l.nak(d, 5*time.Second)
		return
	}
	if dl.Shared {
		l.r.invalid.add(d.seq)
	}
	l.ackAndSettle(d, o, code, reason)
}

func (l *lane) ackAndSettle(d *delivery, o Outcome, code plan.Reason, reason string) {
	l.r.acks.ack(d.msg, d.seq, l.log, "ack after dead letter failed (the DLQ dedupes a repeat)")
	l.settle(d, o, code, reason)
}

// settle counts the final outcome with its reason, logs it, and frees the
// slot.
func (l *lane) settle(d *delivery, o Outcome, code plan.Reason, reason string) {
	l.r.metrics.Outcome(l.plan.Name, o, code)
	id := d.msgID
	if d.eventID != "" {
		id = d.eventID
	}
	switch o {
	case DeadLettered, Invalid:
		if more, ok := l.dlLog.allow(time.Now()); ok {
			args := []any{"messageId", id, "outcome", string(o), "reason", string(code), "detail", l.plan.Redactor.String(reason)}
			if more > 0 {
				args = append(args, "not_logged_since", more)
			}
			l.log.Warn("dead-lettered", args...)
		}
	default:
		// Checked first: the arguments (boxed, the reason redacted) cost
		// more than the call when debug logging is off, as it is by default.
		if l.log.Enabled(context.Background(), slog.LevelDebug) {
			l.log.Debug("settled", "messageId", id, "seq", d.seq, "outcome", string(o), "reason", string(code), "detail", l.plan.Redactor.String(reason))
		}
	}
	l.release(d, true)
}

// release frees a delivery's slot; final says the message is done for good.
func (l *lane) release(d *delivery, final bool) {
	var next *delivery
	l.mu.Lock()
	delete(l.held, d.seq)
	if final {
		delete(l.trails, d.seq)
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
	if l.pullWants() {
		select {
		case l.freed <- struct{}{}:
		default:
		}
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

// logSampler bounds the dead letters a lane logs one by one: a flood of
// garbage must not become a flood of log lines. Every dead letter is
// counted (switchyard_event_reasons_total) and stored in the DLQ; past
// logBurst in a second, lines are skipped, and the next line logged says
// how many were. Its lock is a leaf.
type logSampler struct {
	mu      sync.Mutex
	window  time.Time
	n       int
	skipped int
}

const logBurst = 20

// allow reports whether to log now, and how many were skipped before.
func (s *logSampler) allow(now time.Time) (skipped int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.window) >= time.Second {
		s.window, s.n = now, 0
	}
	if s.n >= logBurst {
		s.skipped++
		return 0, false
	}
	s.n++
	skipped, s.skipped = s.skipped, 0
	return skipped, true
}

// drain returns the lines skipped in a window that has ended, for a
// summary line when no later dead letter carried their count.
func (s *logSampler) drain(now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.skipped == 0 || now.Sub(s.window) < time.Second {
		return 0
	}
	n := s.skipped
	s.skipped = 0
	return n
}
