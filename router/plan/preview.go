package plan

import (
	"encoding/json"
	"slices"
	"sort"
	"time"

	"github.com/switchyard/switchyard/destinations"
	"github.com/switchyard/switchyard/mappings"
)

// PreviewRequest is one request as `switchyard preview --json` prints it.
// The field names are pinned: scripts read them.
type PreviewRequest struct {
	Event   string            `json:"event"` // the event's messageId
	Action  string            `json:"action"`
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    any               `json:"body"` // decoded JSON, or the text when not JSON
	// Batched says the action batches: Body is what a batch holding only
	// this event looks like.
	Batched bool `json:"batched,omitempty"`
}

// PreviewEvent is what a destination makes of one event, with the reasons
// for everything that did not match.
type PreviewEvent struct {
	MessageID string `json:"messageId,omitempty"`
	Invalid   string `json:"invalid,omitempty"`
	// Outcome is requests, filtered, unmatched, invalid or failed; with
	// requests, Failures may still list actions (or foreach elements)
	// that fail: the event is then sent and also dead-lettered for those.
	Outcome string `json:"outcome"`
	Code    Reason `json:"code,omitempty"` // the reason label, when nothing is sent
	Reason  string `json:"reason,omitempty"`
	// Gates say what each of the destination's gates (suppression,
	// consent, filter, sample, allow_fields, block_fields) made of the
	// event, in the order they run; only the gates it has are listed.
	Gates    []GateResult     `json:"gates,omitempty"`
	Matched  []string         `json:"matched,omitempty"`
	Skipped  []Skip           `json:"skipped,omitempty"`
	Failures []PreviewFailure `json:"failures,omitempty"`
	Requests []PreviewRequest `json:"requests,omitempty"`
}

// PreviewFailure is an action, or one element of its foreach (Key
// action#i), that fails for this event.
type PreviewFailure struct {
	Action string `json:"action"`
	Key    string `json:"key,omitempty"`
	Error  string `json:"error"`
}

// PreviewLine is one line of `switchyard preview --json`: one per request,
// per failed action or element, per action that sent nothing, and one for
// an event that sends nothing at all, so that a script sees every
// (event, action) pair with its reason. A request line carries the pinned
// PreviewRequest fields.
type PreviewLine struct {
	PreviewRequest
	// Status is request, failed, skipped, or the event's outcome
	// (filtered, unmatched, invalid) for a line without an action.
	Status string `json:"status"`
	Key    string `json:"key,omitempty"`
	Code   Reason `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
	// Gates are the event's gates (PreviewEvent.Gates), on each of its
	// lines so that every line stands alone.
	Gates []GateResult `json:"gates,omitempty"`
}

// Lines flattens a preview for `preview --json`.
func (pv PreviewEvent) Lines() []PreviewLine {
	var out []PreviewLine
	base := PreviewRequest{Event: pv.MessageID}
	for _, r := range pv.Requests {
		out = append(out, PreviewLine{PreviewRequest: r, Status: "request"})
	}
	for _, f := range pv.Failures {
		l := PreviewLine{PreviewRequest: base, Status: "failed", Key: f.Key, Code: ReasonMapping, Error: f.Error}
		l.Action = f.Action
		out = append(out, l)
	}
	for _, s := range pv.Skipped {
		l := PreviewLine{PreviewRequest: base, Status: "skipped", Reason: s.Reason}
		l.Action = s.Action
		out = append(out, l)
	}
	if len(pv.Requests) == 0 && len(pv.Failures) == 0 {
		reason := pv.Reason
		if pv.Invalid != "" {
			reason = pv.Invalid
		}
		out = append(out, PreviewLine{PreviewRequest: base, Status: pv.Outcome, Code: pv.Code, Reason: reason})
	}
	for i := range out {
		out[i].Gates = pv.Gates
	}
	return out
}

// Failed reports whether any action (or element) failed, or the event is
// invalid: what `preview --fail-on-error` exits non-zero on.
func (pv PreviewEvent) Failed() bool { return pv.Invalid != "" || len(pv.Failures) > 0 }

// PreviewOptions tune Preview.
type PreviewOptions struct {
	// Source the event is taken to come from; "" skips the subscription
	// check.
	Source string
	// Reveal shows secrets (golden tests only; the CLI always redacts).
	Reveal bool
	// Now stamps webhook signatures; time.Now when zero.
	Now time.Time
	// Regulations, when set, are the regulations in force: preview says
	// when one suppresses the event's user.
	Regulations Regulations
}

// Preview maps one event without sending anything: the exact requests, or
// why there are none.
func (p *Plan) Preview(raw []byte, o PreviewOptions) PreviewEvent {
	var out PreviewEvent
	red := p.Redactor
	if o.Reveal {
		red = nil
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	ev, err := mappings.Decode(raw, o.Now, p.limits)
	if err != nil {
		out.Outcome, out.Code, out.Invalid = string(Invalid), ReasonInvalid, err.Error()
		return out
	}
	out.MessageID = ev.MessageID
	if o.Source != "" && len(p.Sources) > 0 && !slices.Contains(p.Sources, o.Source) {
		out.Outcome, out.Code, out.Reason = string(Filtered), ReasonSource, "source "+o.Source+" is not subscribed (sources: "+joinNames(p.Sources)+")"
		return out
	}
	rt := p.Route(ev, o.Source, raw, &mappings.Env{}, RouteOptions{Regulations: o.Regulations, Trace: true})
	out.Skipped, out.Gates = rt.Skipped, rt.Gates
	for _, f := range rt.Failures {
		out.Failures = append(out.Failures, PreviewFailure{Action: f.Action, Key: f.Key, Error: red.String(f.Err.Error())})
	}
	if rt.Outcome != "" {
		out.Outcome, out.Code, out.Reason = string(rt.Outcome), rt.Code, rt.Reason
		return out
	}
	for _, ob := range rt.Requests {
		if !slices.Contains(out.Matched, ob.Action) {
			out.Matched = append(out.Matched, ob.Action)
		}
		req := *ob.Req
		req.Header = req.Header.Clone()
		if ob.Batch != nil {
			body, err := destinations.BatchBody(*ob.Batch, req.Body)
			if err != nil {
				out.Failures = append(out.Failures, PreviewFailure{Action: ob.Action, Key: ob.Key, Error: err.Error()})
				continue
			}
			req.Body = body
		}
		out.Requests = append(out.Requests, p.previewRequest(ev.MessageID, ob, &req, red, o.Now))
	}
	switch {
	case len(out.Requests) > 0:
		out.Outcome = "requests"
	case len(out.Failures) > 0:
		out.Outcome = "failed"
	}
	return out
}

// previewRequest is how preview shows one request: signed as a webhook
// would sign it, its secrets redacted (unless red is nil).
func (p *Plan) previewRequest(messageID string, ob Outbound, req *destinations.Request, red *Redactor, now time.Time) PreviewRequest {
	if p.webhook != nil {
		_ = p.sign(req, now)
	}
	pr := PreviewRequest{Event: messageID, Action: ob.Action, Method: req.Method, URL: red.String(req.URL), Headers: map[string]string{}, Batched: ob.Batch != nil}
	h := req.Header
	if red != nil {
		h = red.Header(h)
	}
	for k := range h {
		pr.Headers[k] = h.Get(k)
	}
	body := red.Bytes(req.Body)
	if len(body) > 0 {
		var v any
		if json.Unmarshal(body, &v) == nil {
			pr.Body = v
		} else {
			pr.Body = string(body)
		}
	}
	return pr
}

func joinNames(s []string) string {
	c := append([]string{}, s...)
	sort.Strings(c)
	out := ""
	for i, n := range c {
		if i > 0 {
			out += ", "
		}
		out += n
	}
	return out
}
