package plan

import (
	"bytes"
	"fmt"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	fastjson "github.com/goccy/go-json"

	"github.com/switchyard/switchyard/destinations"
	"github.com/switchyard/switchyard/mappings"
)

// Outcome is how an (event, destination) pair ended. Every pair ends in
// exactly one of delivered, filtered, unmatched, invalid or dead_lettered;
// retried counts redeliveries on the way. The values are the outcome label
// of switchyard_events_total (pinned); why an outcome happened is its
// Reason, counted apart (switchyard_event_reasons_total).
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

// Reason is the machine-readable why of an outcome: the reason label of
// switchyard_event_reasons_total, a small fixed set (docs/metrics.md), so
// that a console and alerts can group by it. The text a person reads comes
// with it, as Routing.Reason or a dead letter's reason.
type Reason string

// Reasons. Filtered: a regulation suppressing the user, the integrations
// object, consent, the filter expression, sampling, and an action that
// matched but had nothing to send. Unmatched: no trigger. Dead-lettered: a
// mapping failure, the tool's answer by status class, the retry window.
// Invalid: the event itself (the field at fault is in the dead letter).
const (
	ReasonOK            Reason = "ok"
	ReasonSuppressed    Reason = "suppressed"
	ReasonIntegrations  Reason = "integrations"
	ReasonConsent       Reason = "consent"
	ReasonFilter        Reason = "filter"
	ReasonFilterError   Reason = "filter_error"
	ReasonSample        Reason = "sample"
	ReasonNothingToSend Reason = "nothing_to_send"
	ReasonNoTrigger     Reason = "no_trigger"
	ReasonMapping       Reason = "mapping"
	ReasonInvalid       Reason = "invalid"
	// ReasonSource is preview's only: the destination does not read the
	// source (its consumer's filter never delivers such an event).
	ReasonSource Reason = "source"
)

// Outbound is one request an event maps to.
type Outbound struct {
	Action string
	// Key identifies the request within its event: the action's name, or
	// name#i for the i-th element of its foreach. A redelivery skips the
	// keys that already went through, and a DLQ replay can name one.
	Key string
	// Req's Body is the whole body, or the item when Batch is set.
	Req   *destinations.Request
	Batch *destinations.BatchSpec
}

// Skip says why an action sent nothing for this event.
type Skip struct {
	Action string `json:"action"`
	Reason string `json:"reason"`
}

// Failure is an action, or one element of its foreach, that failed to
// render for this event: a permanent failure of the event for that key.
type Failure struct {
	Action string
	// Key is the action's name, or name#i for one element of its foreach.
	Key string
	Err error
}

// Routing is what a destination makes of one event.
type Routing struct {
	// Outcome is Filtered or Unmatched when nothing is to be sent and
	// nothing failed, with Code and Reason; empty otherwise.
	Outcome Outcome
	Code    Reason
	Reason  string
	// Gates are the verdicts of the destination's gates, with
	// RouteOptions.Trace only.
	Gates []GateResult
	// Matched counts the actions whose trigger matched.
	Matched  int
	Requests []Outbound
	Skipped  []Skip
	Failures []Failure
}

// Route maps one event for this destination. raw is the event as it came
// (forwarded by a webhook without actions). o.Only, when not empty, limits
// what is considered to the actions and keys (name#i) it names: a DLQ
// replay of what failed, and nothing that already went through.
//
// The gates come first (gates.go): a regulation suppressing the user, the
// integrations object, consent, the filter, sampling; then allow_fields and
// block_fields remove what the destination must not see, and the actions
// map what is left.
//
// An action whose trigger matches but that yields no request explains
// itself: a foreach that yields no element is a failure of the action
// (the tool needs what is missing: a Braze purchase needs products)
// unless the action declares an empty list fine (foreach_empty: skip); one
// element that fails to render fails alone, its siblings are sent.
// Unmatched means that no trigger matched, and nothing else.
func (p *Plan) Route(ev *mappings.Event, source string, raw []byte, env *mappings.Env, o RouteOptions) Routing {
	var r Routing
	gate := func(name, result, detail string) {
		if o.Trace {
			r.Gates = append(r.Gates, GateResult{Gate: name, Result: result, Detail: detail})
		}
	}
	drop := func(name string, code Reason, reason string) Routing {
		gate(name, GateDropped, reason)
		r.Outcome, r.Code, r.Reason = Filtered, code, reason
		return r
	}
	if !ev.Projection().Covers(p.projection) {
		// A caller's defect, never an event's: routing what was not decoded
		// would send a payload without it. The event fails whole, to be
		// dead-lettered with its bytes and replayed.
		r.Failures = append(r.Failures, Failure{Action: "route", Key: "route",
			Err: fmt.Errorf("internal error: the event was decoded in part (%s), and this destination reads %s", ev.Projection(), p.projection)})
		return r
	}
	if o.Regulations != nil {
		if id, ok := o.Regulations.Suppressed(p.Name, ev.UserID, ev.AnonymousID); ok {
			return drop("suppression", ReasonSuppressed, "the user is suppressed at this destination (regulation "+id+")")
		}
		gate("suppression", GatePassed, "no regulation suppresses this user here")
	}
	if !ev.Enabled(p.Names...) {
		// Every destination has this gate: it is not traced, its reason says it.
		r.Outcome, r.Code, r.Reason = Filtered, ReasonIntegrations, "the event's integrations object turns this destination off"
		return r
	}
	if len(p.gates.consent) > 0 {
		ok, detail := p.gates.consentVerdict(ev.Context)
		if !ok {
			return drop("consent", ReasonConsent, detail)
		}
		gate("consent", GatePassed, detail)
	}
	// env is set for ev when an expression first needs it: a forwarding
	// webhook without a filter evaluates none.
	var envOf *mappings.Event
	if p.Filter != nil {
		env.Reset(ev, source, p.Settings)
		envOf = ev
		ok, err := p.Filter.Bool(env)
		if err != nil {
			// Fail closed, as Segment's destination filters do: an event the
			// filter cannot judge is not sent, and the reason says why.
			return drop("filter", ReasonFilterError, "filter failed, so the event is not sent: "+err.Error())
		}
		if !ok {
			return drop("filter", ReasonFilter, "filter is false: "+p.Filter.Source())
		}
		gate("filter", GatePassed, "filter is true: "+p.Filter.Source())
	}
	if p.gates.sampled {
		ok, detail := p.gates.sampleVerdict(ev)
		if !ok {
			return drop("sample", ReasonSample, detail)
		}
		gate("sample", GatePassed, detail)
	}
	if p.gates.hasFieldFilters() {
		pruned, removed := p.gates.pruneFields(ev)
		name := "block_fields"
		if p.gates.allow != nil {
			name = "allow_fields"
			if len(p.gates.block) > 0 {
				name = "allow_fields, block_fields"
			}
		}
		if pruned != ev {
			gate(name, GateChanged, "removed "+strings.Join(removed, ", "))
			ev, raw = pruned, nil
		} else {
			gate(name, GatePassed, "nothing to remove")
		}
	}
	if p.forward {
		r.Matched = 1
		req := &destinations.Request{Method: http.MethodPost, URL: p.webhook.url, Body: forwardBody(ev, raw), Items: 1, Action: "forward", ValidJSON: true}
		if p.forwardBatch != nil {
			// The batch a forwarded event joins takes its header from its
			// first item, copied (Batcher): each item shares the plan's.
			req.Header = p.forwardHeader
		} else {
			req.Header = p.baseHeader()
			req.Header.Set("webhook-id", ev.MessageID)
		}
		r.Requests = append(r.Requests, Outbound{Action: "forward", Key: "forward", Req: req, Batch: p.forwardBatch})
		return r
	}
	if envOf != ev {
		env.Reset(ev, source, p.Settings)
	}
	only := o.Only
	for _, a := range p.Actions {
		if !considered(only, a.Name) {
			continue
		}
		ok, err := a.Matches(env)
		if err != nil {
			r.Failures = append(r.Failures, Failure{Action: a.Name, Key: a.Name, Err: err})
			continue
		}
		if !ok {
			if r.Skipped == nil {
				r.Skipped = make([]Skip, 0, len(p.Actions))
			}
			r.Skipped = append(r.Skipped, Skip{Action: a.Name, Reason: a.falseTrigger})
			continue
		}
		r.Matched++
		p.render(a, ev.MessageID, env, only, &r)
	}
	if len(r.Requests) == 0 && len(r.Failures) == 0 {
		if r.Matched == 0 {
			r.Outcome, r.Code, r.Reason = Unmatched, ReasonNoTrigger, "no action's trigger matches"
		} else {
			r.Outcome, r.Code, r.Reason = Filtered, ReasonNothingToSend, "the matching actions had nothing to send: "+skipReasons(r.Skipped)
		}
	}
	return r
}

// render adds a matched action's requests, or its failures, to r.
func (p *Plan) render(a *PlannedAction, messageID string, env *mappings.Env, only map[string]bool, r *Routing) {
	rendered, failed, err := a.Render(env)
	if err != nil {
		r.Failures = append(r.Failures, Failure{Action: a.Name, Key: a.Name, Err: err})
		return
	}
	for _, f := range failed {
		if key := itemKey(a, f.Index); wanted(only, a.Name, key) {
			r.Failures = append(r.Failures, Failure{Action: a.Name, Key: key, Err: f.Err})
		}
	}
	if len(rendered) == 0 && len(failed) == 0 {
		if a.ForEachEmpty == ForEachEmptySkip {
			r.Skipped = append(r.Skipped, Skip{Action: a.Name, Reason: "foreach " + a.ForEachSource() + " yields no element"})
			return
		}
		r.Failures = append(r.Failures, Failure{Action: a.Name, Key: a.Name,
			Err: fmt.Errorf("foreach %s yields no element, and the action sends one request per element: the event lacks what %s needs", a.ForEachSource(), a.Name)})
		return
	}
	qualify := len(rendered)+len(failed) > 1 || len(p.Actions) > 1 || a.HasForEach()
	for _, one := range rendered {
		key := itemKey(a, one.Index)
		if !wanted(only, a.Name, key) {
			continue
		}
		out, err := p.outbound(a, key, one, messageID, qualify)
		if err != nil {
			r.Failures = append(r.Failures, Failure{Action: a.Name, Key: key, Err: err})
			continue
		}
		r.Requests = append(r.Requests, out)
	}
}

// itemKey names a request of an action: the action, or action#i for the
// i-th element of its foreach.
func itemKey(a *PlannedAction, index int) string {
	if !a.HasForEach() {
		return a.Name
	}
	return a.Name + "#" + strconv.Itoa(index)
}

// considered reports whether only lets an action be evaluated at all: it
// names the action or one of its keys.
func considered(only map[string]bool, action string) bool {
	if len(only) == 0 || only[action] {
		return true
	}
	prefix := action + "#"
	for k := range only {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// wanted reports whether only lets one key of an action through.
func wanted(only map[string]bool, action, key string) bool {
	return len(only) == 0 || only[action] || only[key]
}

func skipReasons(skips []Skip) string {
	parts := make([]string, 0, len(skips))
	for _, s := range skips {
		if !strings.HasPrefix(s.Reason, "trigger is false") {
			parts = append(parts, s.Action+": "+s.Reason)
		}
	}
	return strings.Join(parts, "; ")
}

// forwardBody is the event a webhook forwards: the bytes as they came, with
// receivedAt (when the platform received it) and timestamp (skew-corrected)
// added when the event lacks them, as Segment's webhook destination always
// sends both, and with bytes that are not UTF-8 replaced. Strict decoding
// made raw exactly one JSON object, so the two fields go in right after its
// opening brace.
func forwardBody(ev *mappings.Event, raw []byte) []byte {
	if raw == nil {
		// The field filters changed the event: what is forwarded is what
		// is left of it.
		b, err := encodeJSON(ev.Raw)
		if err != nil {
			return nil
		}
		raw = b
	}
	// RFC 8259 requires UTF-8 between systems: bytes that are not become
	// U+FFFD, as the decoder read them (no copy when the event is valid).
	if !ev.ValidUTF8(raw) {
		raw = mappings.ToValidUTF8(raw)
	}
	var add []byte
	if _, ok := ev.Raw["receivedAt"]; !ok && !ev.ReceivedAt.IsZero() {
		add = append(add, `"receivedAt":"`...)
		add = mappings.AppendTimestamp(add, ev.ReceivedAt)
		add = append(add, `",`...)
	}
	if v, ok := ev.Raw["timestamp"]; (!ok || v == nil || v == "") && !ev.Timestamp.IsZero() {
		if ok {
			return raw // present but empty: leave the event as sent rather than hold a duplicate key
		}
		add = append(add, `"timestamp":"`...)
		add = mappings.AppendTimestamp(add, ev.Timestamp)
		add = append(add, `",`...)
	}
	if len(add) == 0 {
		return raw
	}
	open := bytes.IndexByte(raw, '{')
	if open < 0 {
		return raw
	}
	out := make([]byte, 0, len(raw)+len(add))
	out = append(out, raw[:open+1]...)
	out = append(out, add...)
	out = append(out, raw[open+1:]...)
	return out
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

func (p *Plan) outbound(a *PlannedAction, key string, one mappings.Rendered, messageID string, qualify bool) (Outbound, error) {
	h, body, err := headerAndBody(one, a.Form)
	if err != nil {
		return Outbound{}, err
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
		Req: &destinations.Request{Method: one.Method, URL: one.URL, Header: h, Body: body, Items: 1, Action: a.Name, ValidJSON: body != nil && !a.Form},
	}, nil
}

// headerAndBody encodes a rendered request's headers and body: JSON, or
// form-encoded for a form action, with the matching Content-Type unless the
// action set one.
func headerAndBody(one mappings.Rendered, form bool) (http.Header, []byte, error) {
	// One backing array for every value (and the Content-Type and
	// webhook-id the caller may add), not a slice per header as Set makes.
	h := make(http.Header, len(one.Headers)+2)
	vals := make([]string, 0, len(one.Headers)+2)
	set := func(k, v string) string {
		k = textproto.CanonicalMIMEHeaderKey(k)
		vals = append(vals, v)
		h[k] = vals[len(vals)-1 : len(vals) : len(vals)]
		return k
	}
	hasCT := false
	for _, kv := range one.Headers {
		hasCT = set(kv[0], kv[1]) == "Content-Type" || hasCT
	}
	if one.Body == nil {
		return h, nil, nil
	}
	var body []byte
	var err error
	ct := "application/json"
	if form {
		body, err = encodeForm(one.Body)
		ct = "application/x-www-form-urlencoded"
	} else {
		body, err = encodeJSON(one.Body)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("encoding the body: %w", err)
	}
	if !hasCT {
		set("Content-Type", ct)
	}
	return h, body, nil
}

// encodeJSON encodes a rendered body: keys sorted, without HTML escaping
// (tools receive "<" as "<"), with goccy/go-json, which writes the same
// bytes as encoding/json faster.
func encodeJSON(v any) ([]byte, error) {
	return fastjson.MarshalWithOption(v, fastjson.DisableHTMLEscape())
}
