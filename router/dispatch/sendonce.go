package dispatch

import (
	"context"
	"time"

	"github.com/switchyard/switchyard/destinations"
	"github.com/switchyard/switchyard/mappings"
	"github.com/switchyard/switchyard/router/plan"
)

// SentRequest is one request `preview --send` sent, with the tool's answer.
type SentRequest struct {
	Request  plan.PreviewRequest `json:"request"`
	Status   int                 `json:"status"`
	Response string              `json:"response"`
	Error    string              `json:"error,omitempty"`
}

// SendOnce sends an event's requests for real, once each (one attempt, no
// batching with other events: a batching action's item goes as a batch of
// one), through a Dispatcher as every send does, and returns the tool's
// answers, redacted, with the preview of what was sent.
func SendOnce(ctx context.Context, p *plan.Plan, raw []byte, source string) ([]SentRequest, plan.PreviewEvent, error) {
	pv := p.Preview(raw, plan.PreviewOptions{Source: source})
	if pv.Outcome != "requests" {
		return nil, pv, nil
	}
	cfg := p.SenderConfig()
	cfg.Attempts = 1
	s, err := destinations.NewSender(cfg)
	if err != nil {
		return nil, pv, err
	}
	ev, err := mappings.Decode(raw, time.Now(), p.Limits())
	if err != nil {
		return nil, pv, err
	}
	rt := p.Route(ev, source, raw, &mappings.Env{}, plan.RouteOptions{})
	d := New(p, s, Options{Unbatched: true})
	ended := make(chan []Result, 1)
	d.Dispatch(rt.Requests, func(rs []Result) { ended <- rs })
	var results []Result
	select {
	case results = <-ended:
	case <-ctx.Done():
		// Close cancels what is in flight and waits for the completion.
		_ = d.Close(ctx)
		results = <-ended
	}
	_ = d.Close(ctx)
	out := make([]SentRequest, 0, len(results))
	for i, r := range results {
		sr := SentRequest{Status: r.Status, Response: p.Redactor.Excerpt(string(r.Body))}
		if i < len(pv.Requests) {
			sr.Request = pv.Requests[i]
		}
		if r.Err != nil {
			sr.Error = p.Redactor.String(r.Err.Error())
		}
		out = append(out, sr)
	}
	return out, pv, nil
}
