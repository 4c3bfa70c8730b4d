package console

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/switchyard/switchyard/router"
	"github.com/switchyard/switchyard/router/plan"
)

// DestinationView is a destination's page.
type DestinationView struct {
	Destination DestinationRow `json:"destination"`
	// Pipeline is every outcome with its reasons, in the order an event
	// goes: delivered, filtered, unmatched, invalid, dead_lettered, then
	// retried (redeliveries on the way, not final).
	Pipeline []PipelineRow `json:"pipeline"`
	// Consumer is what JetStream says now: pending, held by the lane, and
	// of those, redelivered (retrying now).
	Consumer      *router.ConsumerState `json:"consumer"`
	ConsumerError string                `json:"consumerError,omitempty"`
	// Samples are the newest failures grouped by reason, newest first, and
	// a few successes; redacted.
	Samples   []SampleGroup   `json:"samples"`
	Successes []router.Sample `json:"successes"`
	// Config is the destination's file as loaded, secrets redacted.
	Config string     `json:"config"`
	Policy PolicyView `json:"policy"`
}

// PipelineRow is one outcome's counts, since the router started and over
// the window, with its reasons.
type PipelineRow struct {
	Outcome string      `json:"outcome"`
	Final   bool        `json:"final"`
	Total   float64     `json:"total"`
	Window  float64     `json:"window"`
	Meaning string      `json:"meaning"`
	Reasons []ReasonRow `json:"reasons"`
}

// ReasonRow is one reason of an outcome.
type ReasonRow struct {
	Reason  string  `json:"reason"`
	Total   float64 `json:"total"`
	Window  float64 `json:"window"`
	Meaning string  `json:"meaning,omitempty"`
}

// SampleGroup holds the kept failures of one reason.
type SampleGroup struct {
	Reason  string          `json:"reason"`
	Meaning string          `json:"meaning,omitempty"`
	Kept    int             `json:"kept"` // failures of this reason among those kept
	Samples []router.Sample `json:"samples"`
}

// samplesPerReason bounds what a page shows of each reason.
const samplesPerReason = 3

// PolicyView is the destination's delivery policy as resolved (defaults
// applied).
type PolicyView struct {
	Timeout         string   `json:"timeout"`
	Attempts        int      `json:"attempts"`
	RetryWindow     string   `json:"retryWindow"`
	Backoff         string   `json:"backoff"`
	BackoffMax      string   `json:"backoffMax"`
	BreakerFailures uint32   `json:"breakerFailures"`
	BreakerCooldown string   `json:"breakerCooldown"`
	RPS             float64  `json:"rps"`
	Concurrency     int      `json:"concurrency"`
	Adaptive        bool     `json:"adaptive"`
	MaxInFlight     int      `json:"maxInFlight"`
	OrderingUser    bool     `json:"orderingUser"`
	Actions         []string `json:"actions"`
}

var outcomeOrder = []struct {
	name, meaning string
	final         bool
}{
	{"delivered", "every request of the event succeeded", true},
	{"filtered", "not sent on purpose: the integrations object, the filter, consent, a suppression, sampling", true},
	{"unmatched", "no action's trigger matched", true},
	{"invalid", "not a valid Segment event: dead-lettered, the reason names the field", true},
	{"dead_lettered", "could not be delivered: in the DLQ, to fix and replay", true},
	{"retried", "redeliveries on the way (not a final outcome)", false},
}

// reasonMeanings say what each reason label means (docs/metrics.md). A
// reason not listed is shown with its label alone.
var reasonMeanings = map[string]string{
	"ok":                 "every request succeeded",
	"integrations":       "the event's integrations object turns this destination off",
	"filter":             "the destination's filter is false",
	"filter_error":       "the filter failed on this event: not sent (fail closed)",
	"nothing_to_send":    "an action matched but had nothing to send",
	"consent":            "the event's consent preferences do not allow this destination's categories",
	"suppressed":         "the user is suppressed (switchyard regulate)",
	"sample":             "left out by the destination's sampling",
	"no_trigger":         "no action's trigger matched",
	"invalid":            "not a valid Segment event; the dead letter names the field",
	"mapping":            "an action failed to render: the error names the field",
	"http_4xx":           "the tool refused the request",
	"http_3xx":           "the tool answered with a redirect (never followed)",
	"item_rejected":      "the tool's per-item report refused this event",
	"http_5xx":           "the tool failed (5xx): retried, dead-lettered once the retry window is spent",
	"http_429":           "the tool rate-limited the request: retried, dead-lettered once the retry window is spent",
	"no_response":        "no answer (connection refused, timeout, TLS): retried, dead-lettered once the retry window is spent",
	"breaker_open":       "the circuit breaker was open: retried, dead-lettered once the retry window is spent",
	"window_would_close": "the next attempt would fall after the retry window",
	"window_closed":      "the event reached the lane past its retry window",
}

// destination is GET /destinations/{name}.
func (c *Console) destination(w http.ResponseWriter, req *http.Request) {
	name := req.PathValue("name")
	win := windowByName(req.URL.Query().Get("window"))
	v, ok := c.destinationView(req.Context(), name, win)
	if !ok {
		c.noDestination(w, req, name)
		return
	}
	c.page(w, req, http.StatusOK, "destination", chrome{Title: name, Nav: "destination", Dest: name, Window: win.Name, Refresh: refresh(req)}, v)
}

func (c *Console) noDestination(w http.ResponseWriter, req *http.Request, name string) {
	c.fail(w, req, http.StatusNotFound, "no running destination "+`"`+name+`"`+" (have: "+strings.Join(c.r.Destinations(), ", ")+")")
}

func (c *Console) destinationView(ctx context.Context, name string, win Window) (DestinationView, bool) {
	s, ok := c.r.DestinationStatusOf(name)
	p, okPlan := c.r.Plan(name)
	if !ok || !okPlan {
		return DestinationView{}, false
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	dlq, _, err := c.r.DLQDepths(ctx)
	v := DestinationView{Destination: c.row(s, win, time.Now(), dlq, err == nil)}
	v.Pipeline = pipeline(s.Counters, v.Destination.Window)
	if cs, err := c.r.Consumer(ctx, name); err != nil {
		v.ConsumerError = err.Error()
	} else {
		v.Consumer = &cs
	}
	failures, successes, _ := c.r.Samples(name)
	v.Samples, v.Successes = groupSamples(failures), successes
	v.Config = configText(p)
	v.Policy = policyView(p)
	return v, true
}

// pipeline lays out every outcome with its reasons: those counted, and
// for a final outcome with none yet, nothing (its total is 0).
func pipeline(c router.Counters, w WindowFigures) []PipelineRow {
	var out []PipelineRow
	for _, o := range outcomeOrder {
		row := PipelineRow{Outcome: o.name, Final: o.final, Total: c.Outcomes[o.name], Window: w.Outcomes[o.name], Meaning: o.meaning, Reasons: []ReasonRow{}}
		for _, r := range c.SortedReasons(o.name) {
			row.Reasons = append(row.Reasons, ReasonRow{Reason: r, Total: c.Reasons[o.name][r], Window: w.reasons[o.name+"/"+r], Meaning: reasonMeanings[r]})
		}
		out = append(out, row)
	}
	return out
}

// groupSamples groups failures by reason, the reason with the newest
// failure first, keeping the newest few of each.
func groupSamples(failures []router.Sample) []SampleGroup {
	out := []SampleGroup{}
	at := map[string]int{}
	for _, s := range failures {
		i, ok := at[s.Reason]
		if !ok {
			i = len(out)
			at[s.Reason] = i
			out = append(out, SampleGroup{Reason: s.Reason, Meaning: reasonMeanings[s.Reason], Samples: []router.Sample{}})
		}
		out[i].Kept++
		if len(out[i].Samples) < samplesPerReason {
			out[i].Samples = append(out[i].Samples, s)
		}
	}
	return out
}

// configText is the destination's config as loaded: its values after
// ${ENV} expansion, redacted, with unset keys left out.
func configText(p *plan.Plan) string {
	if p.Config == nil {
		return ""
	}
	b, err := yaml.Marshal(p.Config)
	if err != nil {
		return "(the config could not be shown: " + err.Error() + ")"
	}
	var tree any
	if err := yaml.Unmarshal(b, &tree); err != nil {
		return "(the config could not be shown: " + err.Error() + ")"
	}
	tree = prune(tree, "")
	var out strings.Builder
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	_ = enc.Encode(tree)
	return p.Redactor.String(out.String())
}

// prune drops what was not set: empty strings, lists and maps, nulls, and
// zeros and false, which mean the default here (enabled is kept, its
// false means off).
func prune(v any, key string) any {
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := map[string]any{}
		for _, k := range keys {
			if pv := prune(t[k], k); pv != nil {
				out[k] = pv
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case []any:
		if len(t) == 0 {
			return nil
		}
		out := make([]any, 0, len(t))
		for _, e := range t {
			if pe := prune(e, ""); pe != nil {
				out = append(out, pe)
			} else {
				out = append(out, e)
			}
		}
		return out
	case string:
		if t == "" || t == "0s" {
			return nil
		}
	case int:
		if t == 0 {
			return nil
		}
	case float64:
		if t == 0 {
			return nil
		}
	case bool:
		if !t && key != "enabled" {
			return nil
		}
	case nil:
		return nil
	}
	return v
}

func policyView(p *plan.Plan) PolicyView {
	pol := p.Policy
	sc := p.SenderConfig()
	v := PolicyView{
		Timeout: sc.Timeout.String(), Attempts: sc.Attempts, RetryWindow: pol.RetryWindow.String(),
		Backoff: pol.Backoff.String(), BackoffMax: pol.BackoffMax.String(),
		BreakerFailures: sc.Breaker.ConsecutiveFailures, BreakerCooldown: sc.Breaker.Cooldown.String(),
		RPS: sc.Rate.RPS, Concurrency: sc.Rate.Concurrency, Adaptive: sc.Rate.Adaptive,
		MaxInFlight: pol.MaxInFlight, OrderingUser: pol.OrderingUser, Actions: []string{},
	}
	for _, a := range p.Actions {
		v.Actions = append(v.Actions, a.Name)
	}
	return v
}
