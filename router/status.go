package router

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/switchyard/switchyard/destinations"
	"github.com/switchyard/switchyard/router/dispatch"
	"github.com/switchyard/switchyard/router/plan"
)

// Read-only views of a running router, for the admin console
// (router/console) and scripts. Nothing here changes state. Each view
// takes mu only to find the lanes (Router's lock order), then reads their
// senders, samples and metrics, and does its JetStream calls, with no lock
// held.

// Done is closed when the router begins to stop: what watches it (the
// console's sampler) ends then.
func (r *Router) Done() <-chan struct{} { return r.bg.Done() }

// Routing returns the JetStream handle once Start has finished, and false
// before (or after Stop): Start writes the handle, and readers on other
// goroutines (the console's) must not read it before ready says so.
func (r *Router) Routing() (jetstream.JetStream, bool) {
	if !r.ready.Load() {
		return nil, false
	}
	return r.js, true
}

// Destination states, as the console shows them.
const (
	StateRunning  = "running"
	StateOpen     = "breaker open"
	StateHalfOpen = "half-open"
	StatePaused   = "paused by Retry-After"
	StateDisabled = "disabled"
)

// DestinationStatus is one running destination at one moment: its state,
// its gauges and its cumulative counters.
type DestinationStatus struct {
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	File    string   `json:"file,omitempty"`
	Enabled bool     `json:"enabled"`
	Sources []string `json:"sources"`
	// State is one of the State constants: disabled, else breaker open,
	// half-open, paused by Retry-After, or running, in that order.
	State   string `json:"state"`
	Breaker string `json:"breaker"` // closed, open, half-open
	// BreakerWait is what is left of an open breaker's cooldown.
	BreakerWait time.Duration `json:"breakerWaitNs,omitempty"`
	// Paused is what is left of a tool's Retry-After, which holds every
	// attempt off.
	Paused time.Duration `json:"pausedNs,omitempty"`
	// Rate is the current adaptive limit in requests/s (0: unlimited);
	// RateTarget the configured one (0: unlimited).
	Rate       float64 `json:"rate"`
	RateTarget float64 `json:"rateTarget"`
	// Gauges of the destination's metrics.
	Lag           float64 `json:"lag"`
	InFlight      float64 `json:"inFlight"`
	OldestUnacked float64 `json:"oldestUnackedSeconds"`
	Counters      Counters
}

// Counters are a destination's cumulative counts, read from the same
// metrics /metrics serves (so the console and Prometheus agree).
type Counters struct {
	// Outcomes by outcome label, retried included.
	Outcomes map[string]float64 `json:"outcomes"`
	// Reasons by outcome, then reason label (final outcomes only).
	Reasons map[string]map[string]float64 `json:"reasons"`
	// Requests are the HTTP attempts by class (ok, retryable, permanent).
	Requests map[string]float64 `json:"requests"`
	// Latency is switchyard_request_duration_seconds summed over actions
	// and classes: cumulative counts per upper bound, in seconds.
	Latency Histogram `json:"latency"`
	Expired float64   `json:"expired"`
	// DLQFailures are dead letters that could not be written.
	DLQFailures float64 `json:"dlqWriteFailures"`
}

// Histogram is a cumulative histogram: Counts[i] observations at most
// Bounds[i], Count in all.
type Histogram struct {
	Bounds []float64 `json:"bounds"`
	Counts []float64 `json:"counts"`
	Count  float64   `json:"count"`
	Sum    float64   `json:"sum"`
}

// Status returns every running destination, sorted by name.
func (r *Router) Status() []DestinationStatus {
	r.mu.Lock()
	lanes := make([]*lane, 0, len(r.lanes))
	for _, name := range slices.Sorted(maps.Keys(r.lanes)) {
		lanes = append(lanes, r.lanes[name])
	}
	r.mu.Unlock()
	counters := r.metrics.counters()
	out := make([]DestinationStatus, 0, len(lanes))
	for _, l := range lanes {
		out = append(out, l.status(counters))
	}
	return out
}

// DestinationStatusOf returns one running destination's status.
func (r *Router) DestinationStatusOf(name string) (DestinationStatus, bool) {
	l, ok := r.lane(name)
	if !ok {
		return DestinationStatus{}, false
	}
	return l.status(r.metrics.counters()), true
}

func (l *lane) status(counters map[string]*destCounters) DestinationStatus {
	p := l.plan
	s := DestinationStatus{
		Name: p.Name, Type: p.Type, Enabled: p.Enabled, Sources: append([]string{}, p.Sources...),
		Breaker: l.sender.State(), Rate: l.sender.Rate(), RateTarget: p.Policy.Sender.Rate.RPS,
		Paused: l.sender.PausedFor(),
	}
	if p.Config != nil {
		s.File = p.Config.File
	}
	if s.Sources == nil {
		s.Sources = []string{}
	}
	if open, wait := l.sender.Open(); open {
		s.BreakerWait = wait
	}
	if c := counters[p.Name]; c != nil {
		s.Counters = c.Counters
		s.Lag, s.InFlight, s.OldestUnacked = c.lag, c.inFlight, c.oldest
	} else {
		s.Counters = newCounters()
	}
	switch {
	case !p.Enabled:
		s.State = StateDisabled
	case s.Breaker == "open":
		s.State = StateOpen
	case s.Breaker == "half-open":
		s.State = StateHalfOpen
	case s.Paused > 0:
		s.State = StatePaused
	default:
		s.State = StateRunning
	}
	return s
}

// Plan returns the plan a running destination is served with: the config
// as loaded (after the last reload applied), for preview and replay.
func (r *Router) Plan(name string) (*plan.Plan, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, running := r.lanes[name]; !running {
		return nil, false
	}
	p, ok := r.plans[name]
	if !ok {
		// A lane restarting in a reload serves the plan it was built with.
		p = r.lanes[name].plan
	}
	return p, true
}

// Samples returns a running destination's delivery samples (the last
// failures and a few successes, redacted), newest first.
func (r *Router) Samples(name string) (failures, successes []Sample, ok bool) {
	l, ok := r.lane(name)
	if !ok {
		return nil, nil, false
	}
	failures, successes = l.samples.snapshot()
	return nonNil(failures), nonNil(successes), true
}

// ConsumerState is what JetStream says of a destination's consumer, with
// what its lane holds.
type ConsumerState struct {
	// Pending: not yet delivered to the lane; AckPending: delivered, not
	// yet settled (held by the lane, or nak'd and waiting for their next
	// attempt); Redelivered: of those, delivered more than once.
	Pending     uint64 `json:"pending"`
	AckPending  int    `json:"ackPending"`
	Redelivered int    `json:"redelivered"`
	// Held is what the lane holds now; Retrying the events nak'd for a
	// later attempt: AckPending - Held.
	Held     int `json:"held"`
	Retrying int `json:"retrying"`
}

// Consumer asks JetStream for a running destination's consumer state.
func (r *Router) Consumer(ctx context.Context, name string) (ConsumerState, error) {
	l, ok := r.lane(name)
	if !ok {
		return ConsumerState{}, fmt.Errorf("no running destination %q", name)
	}
	info, err := l.consumer().Info(ctx)
	if err != nil {
		return ConsumerState{}, fmt.Errorf("%s: consumer info: %w", name, err)
	}
	l.mu.Lock()
	held := len(l.held)
	l.mu.Unlock()
	return ConsumerState{Pending: info.NumPending, AckPending: info.NumAckPending, Redelivered: info.NumRedelivered,
		Held: held, Retrying: max(info.NumAckPending-held, 0)}, nil
}

// DLQDepths counts the DLQ's entries in one JetStream call: each
// destination's own, and the shared entries of invalid events (which
// every destination that read the event shares).
func (r *Router) DLQDepths(ctx context.Context) (perDest map[string]int, invalid int, err error) {
	js, ok := r.Routing()
	if !ok {
		return nil, 0, fmt.Errorf("not routing yet (starting, or NATS not reached)")
	}
	s, err := js.Stream(ctx, DLQStream)
	if err != nil {
		return nil, 0, fmt.Errorf("reading the DLQ: %w", err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter("dlq.>"))
	if err != nil {
		return nil, 0, fmt.Errorf("reading the DLQ: %w", err)
	}
	perDest = map[string]int{}
	for subj, n := range info.State.Subjects {
		if subj == InvalidSubject {
			invalid = int(n)
			continue
		}
		perDest[strings.TrimPrefix(subj, "dlq.")] = int(n)
	}
	return perDest, invalid, nil
}

// ReplayObserver is the observer a replay run inside this router (the
// console's) reports its requests to: they count in the request duration
// histogram, since they did reach the tool. The replayer's own breaker and
// rate limit are not the lane's, so they are not reported: the lane's
// gauges stay the lane's.
func (r *Router) ReplayObserver() destinations.Observer { return requestsOnly{r.metrics} }

type requestsOnly struct{ m *Metrics }

func (o requestsOnly) Request(dest, action string, status int, class destinations.Class, d time.Duration) {
	observer(o).Request(dest, action, status, class, d)
}
func (requestsOnly) BreakerState(string, string) {}
func (requestsOnly) Rate(string, float64)        {}

// sampleReason is the reason label a sample's failure counts under (or
// will, once the retry window ends for a retryable one): the same labels
// as switchyard_event_reasons_total.
func sampleReason(outcome string, res *destinations.Result) string {
	switch {
	case outcome == "ok":
		return string(plan.ReasonOK)
	case outcome == "invalid":
		return string(plan.ReasonInvalid)
	case outcome == "render_error" || res == nil:
		return string(plan.ReasonMapping)
	}
	return string(dispatch.StatusReason(res))
}

// destCounters are one destination's counters and gauges, read in one
// pass over the metrics.
type destCounters struct {
	Counters
	lag, inFlight, oldest float64
}

func newCounters() Counters {
	return Counters{Outcomes: map[string]float64{}, Reasons: map[string]map[string]float64{}, Requests: map[string]float64{}}
}

// counters reads every destination's counters and gauges by collecting
// the metrics (prometheus.Collector), as a scrape would.
func (m *Metrics) counters() map[string]*destCounters {
	out := map[string]*destCounters{}
	get := func(dest string) *destCounters {
		c := out[dest]
		if c == nil {
			c = &destCounters{Counters: newCounters()}
			out[dest] = c
		}
		return c
	}
	each(m.Events, func(l map[string]string, v *dto.Metric) {
		get(l["destination"]).Outcomes[l["outcome"]] += v.GetCounter().GetValue()
	})
	each(m.Reasons, func(l map[string]string, v *dto.Metric) {
		c := get(l["destination"])
		if c.Reasons[l["outcome"]] == nil {
			c.Reasons[l["outcome"]] = map[string]float64{}
		}
		c.Reasons[l["outcome"]][l["reason"]] += v.GetCounter().GetValue()
	})
	each(m.Requests, func(l map[string]string, v *dto.Metric) {
		c := get(l["destination"])
		h := v.GetHistogram()
		c.Requests[l["class"]] += float64(h.GetSampleCount())
		c.Latency.add(h)
	})
	each(m.Expired, func(l map[string]string, v *dto.Metric) { get(l["destination"]).Expired = v.GetCounter().GetValue() })
	each(m.DLQFailures, func(l map[string]string, v *dto.Metric) {
		get(l["destination"]).DLQFailures = v.GetCounter().GetValue()
	})
	each(m.Lag, func(l map[string]string, v *dto.Metric) { get(l["destination"]).lag = v.GetGauge().GetValue() })
	each(m.InFlight, func(l map[string]string, v *dto.Metric) { get(l["destination"]).inFlight = v.GetGauge().GetValue() })
	each(m.OldestUnacked, func(l map[string]string, v *dto.Metric) {
		get(l["destination"]).oldest = v.GetGauge().GetValue()
	})
	return out
}

func (h *Histogram) add(d *dto.Histogram) {
	bs := d.GetBucket()
	if h.Bounds == nil {
		h.Bounds = make([]float64, len(bs))
		h.Counts = make([]float64, len(bs))
		for i, b := range bs {
			h.Bounds[i] = b.GetUpperBound()
		}
	}
	for i, b := range bs {
		if i < len(h.Counts) {
			h.Counts[i] += float64(b.GetCumulativeCount())
		}
	}
	h.Count += float64(d.GetSampleCount())
	h.Sum += d.GetSampleSum()
}

// each calls fn with every metric a collector holds and its labels.
func each(c prometheus.Collector, fn func(labels map[string]string, m *dto.Metric)) {
	ch := make(chan prometheus.Metric, 64)
	go func() {
		c.Collect(ch)
		close(ch)
	}()
	for pm := range ch {
		var m dto.Metric
		if pm.Write(&m) != nil {
			continue
		}
		labels := make(map[string]string, len(m.GetLabel()))
		for _, lp := range m.GetLabel() {
			labels[lp.GetName()] = lp.GetValue()
		}
		fn(labels, &m)
	}
}

// SortedReasons lists an outcome's reasons by count, largest first (ties
// by name), for display.
func (c Counters) SortedReasons(outcome string) []string {
	rs := c.Reasons[outcome]
	out := make([]string, 0, len(rs))
	for r := range rs {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if rs[out[i]] != rs[out[j]] {
			return rs[out[i]] > rs[out[j]]
		}
		return out[i] < out[j]
	})
	return out
}
