package console

import (
	"context"
	"maps"
	"net/http"
	"regexp"
	"slices"
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

// SampleGroup holds the kept failures of one reason (and, for an invalid
// event or a mapping failure, of one field at fault).
type SampleGroup struct {
	Reason  string          `json:"reason"`
	Field   string          `json:"field,omitempty"`
	Meaning string          `json:"meaning,omitempty"`
	Kept    int             `json:"kept"` // failures of this reason among those kept
	Samples []router.Sample `json:"samples"`
}

// samplesPerReason bounds what a page shows of each reason.
const samplesPerReason = 3

// PolicyView is the destination's delivery policy as resolved (defaults
// applied).
type PolicyView struct {
	Timeout         string  `json:"timeout"`
	Attempts        int     `json:"attempts"`
	RetryWindow     string  `json:"retryWindow"`
	Backoff         string  `json:"backoff"`
	BackoffMax      string  `json:"backoffMax"`
	BreakerFailures uint32  `json:"breakerFailures"`
	BreakerCooldown string  `json:"breakerCooldown"`
	RPS             float64 `json:"rps"`
	Concurrency     int     `json:"concurrency"`
	// AdaptiveConcurrency: Concurrency is the ceiling of a limit that
	// follows the tool's latency (switchyard_concurrency_limit).
	AdaptiveConcurrency bool     `json:"adaptiveConcurrency"`
	Adaptive            bool     `json:"adaptive"`
	MaxInFlight         int      `json:"maxInFlight"`
	OrderingUser        bool     `json:"orderingUser"`
	Actions             []string `json:"actions"`
	// ActionRates are the actions held to a rate of their own, below RPS
	// (an endpoint's documented limit: Iterable's bulk endpoints at 5 and
	// 10 requests/s, its users/forget at 3), in requests per second.
	ActionRates map[string]float64 `json:"actionRates,omitempty"`
	// OtherRates are those of ActionRates whose action is not in Actions:
	// the deletion's (`switchyard forget`), in name order, for the page.
	OtherRates []ActionRate `json:"-"`
}

// ActionRate is one action's own rate, in requests per second.
type ActionRate struct {
	Action string
	RPS    float64
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
	// Receipt errors (docs/delivery.md#receipts): samples of delivered
	// events whose receipt came back as an error.
	"device_not_registered": "receipt: the push token is dead (app uninstalled or token expired); remove it. The event was delivered",
	"message_rate_exceeded": "receipt: too many messages to this device; the event was delivered, the push dropped",
	"message_too_big":       "receipt: the message is over the tool's size limit; the event was delivered, the push dropped",
	"invalid_credentials":   "receipt: the project's push credentials are invalid; every push fails until they are fixed",
	"mismatch_sender_id":    "receipt: the push credentials do not match the token's app",
	"other_error":           "receipt: the tool did not deliver the message it had accepted",
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

// groupSamples groups failures by reason, and invalid events and mapping
// failures by the field at fault, the group with the newest failure first,
// keeping the newest few of each.
func groupSamples(failures []router.Sample) []SampleGroup {
	out := []SampleGroup{}
	at := map[string]int{}
	for _, s := range failures {
		field := fieldAtFault(s)
		key := s.Reason + "\x00" + field
		i, ok := at[key]
		if !ok {
			i = len(out)
			at[key] = i
			out = append(out, SampleGroup{Reason: s.Reason, Field: field, Meaning: reasonMeanings[s.Reason], Samples: []router.Sample{}})
		}
		out[i].Kept++
		if len(out[i].Samples) < samplesPerReason {
			out[i].Samples = append(out[i].Samples, s)
		}
	}
	return out
}

// The errors name the field at fault: "field userId: ..." for an invalid
// event (mappings.InvalidError), "fields.email: ..." (or "url: ",
// "headers.X: ") for a mapping failure, after the action's key when there
// are several.
var (
	invalidField = regexp.MustCompile(`(?:^|: )field ([^:]+): `)
	mappingField = regexp.MustCompile(`(?:^|: )((?:fields|headers)\.[^:\s]+|url|foreach|trigger): `)
)

func fieldAtFault(s router.Sample) string {
	var m []string
	switch s.Reason {
	case "invalid":
		m = invalidField.FindStringSubmatch(s.Error)
	case "mapping":
		m = mappingField.FindStringSubmatch(s.Error)
	}
	if m == nil {
		return ""
	}
	return m[1]
}

// configText is the destination's config as loaded: its values after
// ${ENV} expansion, redacted, in the file's key order, with unset keys
// left out.
func configText(p *plan.Plan) string {
	if p.Config == nil {
		return ""
	}
	var n yaml.Node
	if err := n.Encode(p.Config); err != nil {
		return "(the config could not be shown: " + err.Error() + ")"
	}
	prune(&n)
	var out strings.Builder
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return "(the config could not be shown: " + err.Error() + ")"
	}
	return p.Redactor.String(out.String())
}

// prune drops what was not set from a mapping: nulls, empty strings,
// lists and maps, and zeros and false, which mean the default here
// (enabled is kept: its false means off). It reports whether n is empty.
func prune(n *yaml.Node) bool {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			prune(c)
		}
		return false
	case yaml.MappingNode:
		kept := n.Content[:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if v.Kind == yaml.ScalarNode && k.Value == "enabled" && v.Value == "false" {
				kept = append(kept, k, v)
				continue
			}
			if !prune(v) {
				kept = append(kept, k, v)
			}
		}
		n.Content = kept
		return len(kept) == 0
	case yaml.SequenceNode:
		for _, c := range n.Content {
			prune(c)
		}
		return len(n.Content) == 0
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return true
		case "!!bool":
			return n.Value == "false"
		case "!!int", "!!float":
			return n.Value == "0"
		case "!!str":
			return n.Value == "" || n.Value == "0s"
		}
	}
	return false
}

// shortDuration writes 4h for 4h0m0s and 10m for 10m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

func policyView(p *plan.Plan) PolicyView {
	pol := p.Policy
	sc := p.SenderConfig()
	v := PolicyView{
		Timeout: shortDuration(sc.Timeout), Attempts: sc.Attempts, RetryWindow: shortDuration(pol.RetryWindow),
		Backoff: shortDuration(pol.Backoff), BackoffMax: shortDuration(pol.BackoffMax),
		BreakerFailures: sc.Breaker.ConsecutiveFailures, BreakerCooldown: shortDuration(sc.Breaker.Cooldown),
		RPS: sc.Rate.RPS, Concurrency: sc.Rate.Concurrency, AdaptiveConcurrency: sc.Rate.AdaptiveConcurrency, Adaptive: sc.Rate.Adaptive,
		MaxInFlight: pol.MaxInFlight, OrderingUser: pol.OrderingUser, Actions: []string{},
	}
	for _, a := range p.Actions {
		v.Actions = append(v.Actions, a.Name)
	}
	if len(sc.Rate.Actions) > 0 {
		v.ActionRates = maps.Clone(sc.Rate.Actions)
		for _, a := range slices.Sorted(maps.Keys(sc.Rate.Actions)) {
			if !slices.Contains(v.Actions, a) {
				v.OtherRates = append(v.OtherRates, ActionRate{Action: a, RPS: sc.Rate.Actions[a]})
			}
		}
	}
	return v
}
