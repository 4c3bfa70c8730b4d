package router

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"time"

	fastjson "github.com/goccy/go-json"

	"github.com/switchyard/switchyard/destinations"
	"github.com/switchyard/switchyard/mappings"
)

// Outcome is how an (event, destination) pair ended. Every pair ends in
// exactly one of delivered, filtered, unmatched, invalid or dead_lettered;
// retried counts redeliveries on the way.
type Outcome string

// The outcome label values of switchyard_events_total (pinned).
const (
	Delivered    Outcome = "delivered"
	Filtered     Outcome = "filtered"
	Unmatched    Outcome = "unmatched"
	Retried      Outcome = "retried"
	DeadLettered Outcome = "dead_lettered"
	Invalid      Outcome = "invalid"
)

// Outbound is one request an event maps to.
type Outbound struct {
	Action string
	// Key identifies the request within its event (action, and foreach
	// index), so that a redelivery skips what already went through.
	Key string
	// Req's Body is the whole body, or the item when Batch is set.
	Req   *destinations.Request
	Batch *destinations.BatchSpec
}

// Skip says why an action did not match.
type Skip struct {
	Action string
	Reason string
}

// Failure is an action that failed to render for this event: a permanent
// failure of the event for that action.
type Failure struct {
	Action string
	Err    error
}

// Routing is what a destination makes of one event.
type Routing struct {
	// Outcome is Filtered or Unmatched when nothing is to be sent, with
	// Reason; empty otherwise.
	Outcome  Outcome
	Reason   string
	Requests []Outbound
	Skipped  []Skip
	Failures []Failure
}

// Route maps one event for this destination. raw is the event as it came
// (forwarded as is by a webhook without actions). only, when not empty,
// limits the actions considered (a DLQ replay of the actions that failed).
func (p *Plan) Route(ev *mappings.Event, source string, raw []byte, env *mappings.Env, only map[string]bool) Routing {
	var r Routing
	if !ev.Enabled(p.Names...) {
		r.Outcome, r.Reason = Filtered, "the event's integrations object turns this destination off"
		return r
	}
	env.Reset(ev, source, p.Settings)
	if p.Filter != nil {
		ok, err := p.Filter.Bool(env)
		if err != nil {
			r.Failures = append(r.Failures, Failure{Action: "filter", Err: err})
			return r
		}
		if !ok {
			r.Outcome, r.Reason = Filtered, "filter is false: "+p.Filter.Source()
			return r
		}
	}
	if p.forward {
		// raw decoded as an event above, so it is valid JSON.
		req := &destinations.Request{Method: http.MethodPost, URL: p.webhook.url, Header: p.baseHeader(), Body: raw, Items: 1, Action: "forward", ValidJSON: true}
		if p.forwardBatch == nil {
			req.Header.Set("webhook-id", ev.MessageID)
		}
		r.Requests = append(r.Requests, Outbound{Action: "forward", Key: "forward", Req: req, Batch: p.forwardBatch})
		return r
	}
	for _, a := range p.Actions {
		if only != nil && !only[a.Name] {
			continue
		}
		ok, err := a.Matches(env)
		if err != nil {
			r.Failures = append(r.Failures, Failure{Action: a.Name, Err: err})
			continue
		}
		if !ok {
			r.Skipped = append(r.Skipped, Skip{Action: a.Name, Reason: "trigger is false: " + a.TriggerSource()})
			continue
		}
		rendered, err := a.Render(env)
		if err != nil {
			r.Failures = append(r.Failures, Failure{Action: a.Name, Err: err})
			continue
		}
		if len(rendered) == 0 {
			r.Skipped = append(r.Skipped, Skip{Action: a.Name, Reason: "foreach yields no items"})
			continue
		}
		for _, one := range rendered {
			out, err := p.outbound(a, one, ev.MessageID, len(rendered) > 1 || len(p.Actions) > 1)
			if err != nil {
				r.Failures = append(r.Failures, Failure{Action: a.Name, Err: err})
				break
			}
			r.Requests = append(r.Requests, out)
		}
	}
	if len(r.Requests) == 0 && len(r.Failures) == 0 {
		r.Outcome, r.Reason = Unmatched, "no action's trigger matches"
	}
	return r
}

func (p *Plan) baseHeader() http.Header {
	h := http.Header{}
	if p.webhook != nil {
		for k, v := range p.webhook.headers {
			h.Set(k, v)
		}
	}
	h.Set("Content-Type", "application/json")
	return h
}

func (p *Plan) outbound(a *PlannedAction, one mappings.Rendered, messageID string, qualify bool) (Outbound, error) {
	key := a.Name
	if one.Index > 0 {
		key += "#" + strconv.Itoa(one.Index)
	}
	h := http.Header{}
	hasCT := false
	for _, kv := range one.Headers {
		h.Set(kv[0], kv[1])
		hasCT = hasCT || http.CanonicalHeaderKey(kv[0]) == "Content-Type"
	}
	var body []byte
	form := p.Def != nil && a.Preset != "" && p.Def.BodyEncoding(a.Preset) == destinations.EncodingForm
	if one.Body != nil {
		var err error
		ct := "application/json"
		if form {
			body, err = encodeForm(one.Body)
			ct = "application/x-www-form-urlencoded"
		} else {
			body, err = encodeJSON(one.Body)
		}
		if err != nil {
			return Outbound{}, fmt.Errorf("encoding the body: %w", err)
		}
		if !hasCT {
			h.Set("Content-Type", ct)
		}
	}
	if p.webhook != nil && a.Batch == nil {
		id := messageID
		if qualify {
			id += ":" + key
		}
		h.Set("webhook-id", id)
	}
	return Outbound{
		Action: a.Name, Key: key, Batch: a.Batch,
		Req: &destinations.Request{Method: one.Method, URL: one.URL, Header: h, Body: body, Items: 1, Action: a.Name, ValidJSON: body != nil && !form},
	}, nil
}

// encodeJSON encodes a rendered body: keys sorted, without HTML escaping
// (tools receive "<" as "<"), with goccy/go-json, which writes the same
// bytes as encoding/json faster.
func encodeJSON(v any) ([]byte, error) {
	return fastjson.MarshalWithOption(v, fastjson.DisableHTMLEscape())
}

// send completes a request at send time, then sends it: webhook requests
// are signed (the signature covers the final body, a batch's included, and
// carries the time of sending) and credentials an Authorizer mints are
// added. The lane, the replayer and preview --send all send through here.
func (p *Plan) send(ctx context.Context, s *destinations.Sender, r *destinations.Request) destinations.Result {
	if p.webhook != nil {
		if err := p.sign(r, time.Now()); err != nil {
			return destinations.Result{Class: destinations.Permanent, Err: err}
		}
	}
	if p.auth != nil {
		if err := p.auth.Authorize(ctx, r); err != nil {
			// Minting credentials fails for passing reasons (the token
			// endpoint is down) far more often than for lasting ones, and a
			// bad key is caught by validate.
			return destinations.Result{Class: destinations.Retryable, Err: fmt.Errorf("authorizing: %w", err)}
		}
	}
	return s.Send(ctx, r)
}

// sign adds the Standard Webhooks headers: webhook-id (the messageId, set
// at routing; a batch gets an id derived from its body), webhook-timestamp
// and, with a secret, webhook-signature.
func (p *Plan) sign(r *destinations.Request, now time.Time) error {
	if r.Header == nil {
		r.Header = http.Header{}
	}
	id := r.Header.Get("webhook-id")
	if id == "" {
		sum := sha256.Sum256(r.Body)
		id = "batch_" + hex.EncodeToString(sum[:12])
		r.Header.Set("webhook-id", id)
	}
	if p.webhook.secret == "" {
		r.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
		return nil
	}
	h, err := destinations.WebhookHeaders(p.webhook.secret, id, now, r.Body)
	if err != nil {
		return err
	}
	for k, v := range h {
		r.Header[k] = v
	}
	return nil
}
