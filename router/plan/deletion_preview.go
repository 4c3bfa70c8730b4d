package plan

import (
	"time"
)

// DeletionPreview is what a destination would send for a deletion: each
// request, with its lookup, or why there is none.
type DeletionPreview struct {
	// Unsupported says why the destination cannot delete (not_supported).
	Unsupported string           `json:"unsupported,omitempty"`
	Requests    []DeletionStep   `json:"requests,omitempty"`
	Skipped     []Skip           `json:"skipped,omitempty"`
	Failures    []PreviewFailure `json:"failures,omitempty"`
}

// DeletionStep is one request of a deletion: the lookup sent first (when
// the action has one) and, given its answer, the delete request.
type DeletionStep struct {
	Key    string          `json:"key"`
	Users  int             `json:"users"`
	Lookup *PreviewRequest `json:"lookup,omitempty"`
	// Found is the lookup's verdict on its answer: false means the tool
	// holds nothing to delete (the deletion is finished).
	Found   *bool           `json:"found,omitempty"`
	Request *PreviewRequest `json:"request,omitempty"`
	Error   string          `json:"error,omitempty"`
}

// PreviewDeletion renders a deletion without sending anything. answers
// are the lookups' answers by request key: a step whose lookup has no
// answer stops at the lookup.
func (p *Plan) PreviewDeletion(del Deletion, answers map[string][]byte, o PreviewOptions) DeletionPreview {
	red := p.Redactor
	if o.Reveal {
		red = nil
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	var out DeletionPreview
	if p.deleteUnsupported != "" {
		out.Unsupported = p.deleteUnsupported
		return out
	}
	dp := p.PlanDeletion(del)
	out.Skipped = dp.Skipped
	for _, f := range dp.Failures {
		out.Failures = append(out.Failures, PreviewFailure{Action: f.Action, Key: f.Key, Error: red.String(f.Err.Error())})
	}
	for _, c := range dp.Chunks {
		st := DeletionStep{Key: c.Key, Users: len(c.Users)}
		var lookup any
		lo, err := p.RenderLookup(del, c)
		if err != nil {
			st.Error = red.String("lookup: " + err.Error())
			out.Requests = append(out.Requests, st)
			continue
		}
		if lo != nil {
			pr := p.previewRequest(deleteMessageID(del, c), *lo, lo.Req, red, o.Now)
			st.Lookup = &pr
			answer, ok := answers[c.Key]
			if !ok {
				out.Requests = append(out.Requests, st)
				continue
			}
			v, found, err := p.LookupAnswer(del, c, answer)
			if err != nil {
				st.Error = red.String("lookup: " + err.Error())
				out.Requests = append(out.Requests, st)
				continue
			}
			st.Found = &found
			if !found {
				out.Requests = append(out.Requests, st)
				continue
			}
			lookup = v
		}
		ob, err := p.RenderDelete(del, c, lookup)
		if err != nil {
			st.Error = red.String(err.Error())
		} else {
			pr := p.previewRequest(deleteMessageID(del, c), *ob, ob.Req, red, o.Now)
			st.Request = &pr
		}
		out.Requests = append(out.Requests, st)
	}
	return out
}
