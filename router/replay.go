package router

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard/switchyard/destinations"
	"github.com/switchyard/switchyard/mappings"
)

// Replayer delivers events to one destination outside the lanes: the DLQ
// replay and `switchyard replay` use it. It applies the destination's
// filter, integrations and triggers, batching and delivery policy exactly
// as its lane does, but settles nothing in JetStream: the caller decides
// what a result means for the message it came from.
type Replayer struct {
	plan   *Plan
	sender *destinations.Sender

	mu       sync.Mutex
	batchers map[*destinations.BatchSpec]*destinations.Batcher
	wg       sync.WaitGroup
}

// ReplayResult is how one event ended.
type ReplayResult struct {
	Outcome Outcome // Delivered, Filtered, Unmatched, Invalid or DeadLettered (failed)
	// Retryable is set on a failure that may succeed later (the tool was
	// down); a permanent failure leaves it false.
	Retryable bool
	Reason    string
	Status    int
	Response  []byte
	Actions   []string // actions that failed
	Attempts  int
}

// NewReplayer prepares a replayer for a plan.
func NewReplayer(p *Plan) (*Replayer, error) {
	cfg := p.Policy.Sender
	cfg.ItemErrors = p.itemErrs
	s, err := destinations.NewSender(cfg)
	if err != nil {
		return nil, err
	}
	return &Replayer{plan: p, sender: s, batchers: map[*destinations.BatchSpec]*destinations.Batcher{}}, nil
}

// Deliver routes and sends one event; done is called once, from any
// goroutine. only limits the actions considered (those a dead letter
// names); nil means all.
func (rp *Replayer) Deliver(ctx context.Context, raw []byte, source string, receivedAt time.Time, only map[string]bool, done func(ReplayResult)) {
	ev, err := mappings.Decode(raw, receivedAt, rp.plan.limits)
	if err != nil {
		done(ReplayResult{Outcome: Invalid, Reason: err.Error()})
		return
	}
	rt := rp.plan.Route(ev, source, raw, &mappings.Env{}, only)
	if rt.Outcome != "" && len(rt.Failures) == 0 {
		done(ReplayResult{Outcome: rt.Outcome, Reason: rt.Reason})
		return
	}
	var (
		mu      sync.Mutex
		res     = ReplayResult{Outcome: Delivered}
		pending = len(rt.Requests)
	)
	fail := func(action string, r *destinations.Result, err error) {
		res.Outcome = DeadLettered
		res.Actions = append(res.Actions, action)
		if res.Reason == "" {
			res.Reason = fmt.Sprintf("%s: %v", action, err)
		}
		if r != nil {
			res.Status, res.Response = r.Status, r.Body
			res.Retryable = res.Retryable || r.Class == destinations.Retryable
		}
	}
	for _, f := range rt.Failures {
		fail(f.Action, nil, f.Err)
	}
	if pending == 0 {
		done(res)
		return
	}
	for _, o := range rt.Requests {
		o := o
		complete := func(r destinations.Result) {
			mu.Lock()
			res.Attempts += r.Attempts
			if r.Class != destinations.OK {
				fail(o.Action, &r, resultErr(&r))
			}
			pending--
			last := pending == 0
			out := res
			mu.Unlock()
			if last {
				done(out)
			}
		}
		if o.Batch != nil {
			rp.batcher(o.Batch).Add(o.Req, complete)
			continue
		}
		rp.wg.Add(1)
		go func() {
			defer rp.wg.Done()
			complete(rp.send(ctx, o.Req))
		}()
	}
}

func (rp *Replayer) send(ctx context.Context, r *destinations.Request) destinations.Result {
	return rp.plan.send(ctx, rp.sender, r)
}

func (rp *Replayer) batcher(spec *destinations.BatchSpec) *destinations.Batcher {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	b, ok := rp.batchers[spec]
	if !ok {
		b = destinations.NewBatcher(*spec, func(ctx context.Context, r *destinations.Request) destinations.Result {
			return rp.send(ctx, r)
		})
		rp.batchers[spec] = b
	}
	return b
}

// Flush sends pending batches now.
func (rp *Replayer) Flush() {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	for _, b := range rp.batchers {
		b.Flush()
	}
}

// Close sends what is pending and waits for every send.
func (rp *Replayer) Close(ctx context.Context) {
	rp.mu.Lock()
	for _, b := range rp.batchers {
		_ = b.Close(ctx)
	}
	rp.mu.Unlock()
	rp.wg.Wait()
	rp.sender.Close()
}

// DeadLetterAgain builds the DLQ entry for an event that failed again on
// replay: the same event, the new reason.
func DeadLetterAgain(old *DeadLetter, res ReplayResult) *DeadLetter {
	dl := *old
	dl.Reason = "replay: " + res.Reason
	dl.Status, dl.Response = res.Status, res.Response
	dl.Attempts = old.Attempts + res.Attempts
	dl.FailedAt = time.Now()
	if len(res.Actions) > 0 {
		dl.Actions = res.Actions
	}
	dl.StreamSeq = 0 // a new entry, not a redelivery of the old one
	return &dl
}

// PublishDeadLetter writes a DLQ entry with the plan's redaction.
func (p *Plan) PublishDeadLetter(ctx context.Context, js interface {
	PublishMsg(context.Context, *nats.Msg, ...jetstream.PublishOpt) (*jetstream.PubAck, error)
}, dl *DeadLetter, maxHeader int) error {
	_, err := js.PublishMsg(ctx, dl.Msg(p.Redactor, maxHeader))
	return err
}
