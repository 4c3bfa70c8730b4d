package router

import (
	"context"
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
	MessageID string           `json:"messageId,omitempty"`
	Invalid   string           `json:"invalid,omitempty"`
	Outcome   string           `json:"outcome"` // requests, filtered, unmatched, invalid, failed
	Reason    string           `json:"reason,omitempty"`
	Matched   []string         `json:"matched,omitempty"`
	Skipped   []Skip           `json:"skipped,omitempty"`
	Failures  []PreviewFailure `json:"failures,omitempty"`
	Requests  []PreviewRequest `json:"requests,omitempty"`
}

// PreviewFailure is an action that fails for this event.
type PreviewFailure struct {
	Action string `json:"action"`
	Error  string `json:"error"`
}

// PreviewOptions tune Preview.
type PreviewOptions struct {
	// Source the event is taken to come from; "" skips the subscription
	// check.
	Source string
	// Reveal shows secrets (golden tests only; the CLI always redacts).
	Reveal bool
	// Now stamps webhook signatures; time.Now when zero.
	Now time.Time
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
		out.Outcome, out.Invalid = string(Invalid), err.Error()
		return out
	}
	out.MessageID = ev.MessageID
	if o.Source != "" && len(p.Sources) > 0 && !slices.Contains(p.Sources, o.Source) {
		out.Outcome, out.Reason = string(Filtered), "source "+o.Source+" is not subscribed (sources: "+joinNames(p.Sources)+")"
		return out
	}
	rt := p.Route(ev, o.Source, raw, &mappings.Env{}, nil)
	out.Skipped = rt.Skipped
	for _, f := range rt.Failures {
		out.Failures = append(out.Failures, PreviewFailure{Action: f.Action, Error: red.String(f.Err.Error())})
	}
	if rt.Outcome != "" {
		out.Outcome, out.Reason = string(rt.Outcome), rt.Reason
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
				out.Failures = append(out.Failures, PreviewFailure{Action: ob.Action, Error: err.Error()})
				continue
			}
			req.Body = body
		}
		if p.webhook != nil {
			_ = p.sign(&req, o.Now)
		}
		pr := PreviewRequest{Event: ev.MessageID, Action: ob.Action, Method: req.Method, URL: red.String(req.URL), Headers: map[string]string{}, Batched: ob.Batch != nil}
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
		out.Requests = append(out.Requests, pr)
	}
	switch {
	case len(out.Requests) > 0:
		out.Outcome = "requests"
	case len(out.Failures) > 0:
		out.Outcome = "failed"
	}
	return out
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

// SentRequest is one request `preview --send` sent, with the tool's answer.
type SentRequest struct {
	Request  PreviewRequest `json:"request"`
	Status   int            `json:"status"`
	Response string         `json:"response"`
	Error    string         `json:"error,omitempty"`
}

// SendOnce sends an event's requests for real, once each (no retries, no
// batching with other events), and returns the tool's answers, redacted.
func (p *Plan) SendOnce(ctx context.Context, raw []byte, source string) ([]SentRequest, PreviewEvent, error) {
	pv := p.Preview(raw, PreviewOptions{Source: source})
	if pv.Outcome != "requests" {
		return nil, pv, nil
	}
	cfg := p.Policy.Sender
	cfg.Attempts = 1
	cfg.ItemErrors = p.itemErrs
	s, err := destinations.NewSender(cfg)
	if err != nil {
		return nil, pv, err
	}
	defer s.Close()
	ev, err := mappings.Decode(raw, time.Now(), p.limits)
	if err != nil {
		return nil, pv, err
	}
	rt := p.Route(ev, source, raw, &mappings.Env{}, nil)
	var out []SentRequest
	for i, ob := range rt.Requests {
		req := *ob.Req
		req.Header = req.Header.Clone()
		if ob.Batch != nil {
			if req.Body, err = destinations.BatchBody(*ob.Batch, req.Body); err != nil {
				return out, pv, err
			}
		}
		res := p.send(ctx, s, &req)
		sr := SentRequest{Status: res.Status, Response: p.Redactor.Excerpt(string(res.Body))}
		if i < len(pv.Requests) {
			sr.Request = pv.Requests[i]
		}
		if res.Err != nil {
			sr.Error = p.Redactor.String(res.Err.Error())
		}
		out = append(out, sr)
	}
	return out, pv, nil
}
