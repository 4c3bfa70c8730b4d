package dispatch

import (
	"context"
	"fmt"
	"time"

	"github.com/switchyard/switchyard/destinations"
	"github.com/switchyard/switchyard/mappings"
	"github.com/switchyard/switchyard/router/plan"
)

// Replayer delivers events to one destination outside its lane: the DLQ
// replay and `switchyard replay` use it. It routes each event exactly as
// the lane does (integrations, filter, triggers, batching, delivery
// policy) and sends through a Dispatcher, but settles nothing in
// JetStream: the caller decides what a result means for the message it
// came from.
type Replayer struct {
	plan *plan.Plan
	d    *Dispatcher
	regs plan.Regulations
}

// ReplayResult is how one replayed event ended.
type ReplayResult struct {
	Outcome plan.Outcome // Delivered, Filtered, Unmatched, Invalid or DeadLettered (failed)
	Code    plan.Reason
	// Retryable is set on a failure that may succeed later (the tool was
	// down); a permanent failure leaves it false.
	Retryable bool
	Reason    string
	Status    int
	Response  []byte
	Actions   []string // the keys that failed (action, or action#i)
	Attempts  int
	// MessageID is the event's; Tickets are those of its delivered
	// requests, for a tool that confirms later (receipts).
	MessageID string
	Tickets   []Ticket
}

// Ticket is a delivered request's ticket (destinations.Result.Ticket),
// with its action and the item's body (whom it addressed).
type Ticket struct {
	ID     string
	Action string
	Item   []byte
}

// NewReplayer prepares a replayer for a plan, with a sender of its own.
// observer may be nil. regs are the regulations in force: a replay never
// delivers an event of a user suppressed at the destination.
func NewReplayer(p *plan.Plan, observer destinations.Observer, regs plan.Regulations) (*Replayer, error) {
	cfg := p.SenderConfig()
	cfg.Observer = observer
	s, err := destinations.NewSender(cfg)
	if err != nil {
		return nil, err
	}
	return &Replayer{plan: p, d: New(p, s, Options{}), regs: regs}, nil
}

// Deliver routes and sends one event; done is called once, from any
// goroutine. only limits what is considered to the actions and keys a
// dead letter names; nil means all.
func (rp *Replayer) Deliver(raw []byte, source string, receivedAt time.Time, only map[string]bool, done func(ReplayResult)) {
	ev, err := mappings.Decode(raw, receivedAt, rp.plan.Limits())
	if err != nil {
		done(ReplayResult{Outcome: plan.Invalid, Code: plan.ReasonInvalid, Reason: err.Error()})
		return
	}
	rt := rp.plan.Route(ev, source, raw, &mappings.Env{}, plan.RouteOptions{Only: only, Regulations: rp.regs})
	if rt.Outcome != "" {
		done(ReplayResult{Outcome: rt.Outcome, Code: rt.Code, Reason: rt.Reason})
		return
	}
	rp.d.Dispatch(rt.Requests, func(results []Result) {
		res := Summarize(rt.Failures, results)
		res.MessageID = ev.MessageID
		done(res)
	})
}

// Summarize is what an event's routing failures and request results add
// up to: delivered when nothing failed, otherwise dead_lettered with the
// first reason, the keys that failed and the tool's last answer.
func Summarize(failures []plan.Failure, results []Result) ReplayResult {
	res := ReplayResult{Outcome: plan.Delivered, Code: plan.ReasonOK}
	fail := func(key string, r *destinations.Result, err error) {
		if res.Outcome != plan.DeadLettered {
			res.Outcome, res.Reason = plan.DeadLettered, fmt.Sprintf("%s: %v", key, err)
			res.Code = plan.ReasonMapping
			if r != nil {
				res.Code = StatusReason(r)
			}
		}
		res.Actions = append(res.Actions, key)
		if r != nil {
			res.Status, res.Response = r.Status, r.Body
			res.Retryable = res.Retryable || r.Class == destinations.Retryable
		}
	}
	for _, f := range failures {
		fail(f.Key, nil, f.Err)
	}
	for _, r := range results {
		res.Attempts += r.Attempts
		if r.Class != destinations.OK {
			fail(r.Out.Key, &r.Result, ResultErr(&r.Result))
			continue
		}
		if r.Ticket != "" {
			t := Ticket{ID: r.Ticket, Action: r.Out.Action}
			if r.Out.Req != nil {
				t.Item = r.Out.Req.Body
			}
			res.Tickets = append(res.Tickets, t)
		}
	}
	return res
}

// ResultErr is the error a failed result reports.
func ResultErr(res *destinations.Result) error {
	if res.Err != nil {
		return res.Err
	}
	return fmt.Errorf("HTTP %d", res.Status)
}

// StatusReason classes a failed request's result for the reason label:
// the tool's answer by status class, or no answer at all.
func StatusReason(res *destinations.Result) plan.Reason {
	switch {
	case res.BreakerOpen:
		return "breaker_open"
	case res.Status == 0:
		return "no_response"
	case res.Status == 429:
		return "http_429"
	case res.Status >= 500:
		return "http_5xx"
	case res.Status >= 400:
		return "http_4xx"
	case res.Status >= 300:
		return "http_3xx"
	}
	return "item_rejected" // a 2xx whose per-item report refused this item
}

// Flush sends pending batches now.
func (rp *Replayer) Flush() { rp.d.Flush() }

// Close sends what is pending and waits for every send; when ctx ends
// first, what is still in flight is cancelled (and ends Retryable).
func (rp *Replayer) Close(ctx context.Context) error { return rp.d.Close(ctx) }
