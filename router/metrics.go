package router

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/switchyard/switchyard/destinations"
	"github.com/switchyard/switchyard/router/plan"
)

// Outcome and its values are the plan's (the pinned outcome label).
type Outcome = plan.Outcome

// The outcome label values of switchyard_events_total (pinned).
const (
	Delivered    = plan.Delivered
	Filtered     = plan.Filtered
	Unmatched    = plan.Unmatched
	Retried      = plan.Retried
	DeadLettered = plan.DeadLettered
	Invalid      = plan.Invalid
)

// Metrics are the router's Prometheus metrics. Names and the outcome label
// of switchyard_events_total are pinned (docs/architecture.md, "Wire
// contracts"): tests outside the project read them.
type Metrics struct {
	Registry *prometheus.Registry

	// outcomes and requests keep the series each event and request counts
	// in, found by their labels once: WithLabelValues hashes and
	// validates every label value on each call, several times per event.
	// Counters and histograms are never deleted, so a kept series stays
	// the registered one. The keys are bounded (destinations × outcomes ×
	// reasons, destinations × actions × classes).
	outcomes sync.Map // outcomeKey -> *outcomeSeries
	requests sync.Map // requestKey -> prometheus.Observer

	Events      *prometheus.CounterVec   // destination, outcome
	Reasons     *prometheus.CounterVec   // destination, outcome, reason
	Requests    *prometheus.HistogramVec // destination, action, class
	BatchSize   *prometheus.HistogramVec // destination, action
	Breaker     *prometheus.GaugeVec     // destination
	Lag         *prometheus.GaugeVec     // destination
	RateLimit   *prometheus.GaugeVec     // destination
	Concurrency *prometheus.GaugeVec     // destination
	InFlight    *prometheus.GaugeVec     // destination
	Reloads     *prometheus.CounterVec   // result
	DLQFailures *prometheus.CounterVec   // destination
	// OldestUnacked is the age of the destination's oldest unacknowledged
	// event; Expired counts events EVENTS removed before it settled them.
	OldestUnacked *prometheus.GaugeVec   // destination
	Expired       *prometheus.CounterVec // destination
	// JetStreamWritable is 1 while JetStream takes writes, 0 with the
	// reason label set while it refuses them.
	JetStreamWritable *prometheus.GaugeVec // reason
	JetStreamRestarts prometheus.Counter
	// Deletions counts the deletion tasks of regulations by how a run
	// ended: finished, failed, retried.
	Deletions *prometheus.CounterVec // destination, result
	// Receipts counts the receipts of delivered messages by result
	// (receiptcheck.go): ok, an error code of the tool bucketed to the
	// handler's documented set (device_not_registered, ...) or
	// other_error, expired, and the attempts that did not settle one:
	// check_failed (retried), unrecorded.
	Receipts *prometheus.CounterVec // destination, result
	// ReceiptsPending is the tickets of the destination waiting in
	// RECEIPTS for their receipt (not due yet, pending, or retried).
	ReceiptsPending *prometheus.GaugeVec // destination
}

// NewMetrics creates and registers the metrics on a fresh registry, with the
// Go and process collectors.
func NewMetrics() *Metrics {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		Registry: r,
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_events_total",
			Help: "Events per destination by outcome: delivered, filtered, unmatched, retried, dead_lettered or invalid. For each destination, events published on its sources = delivered + filtered + unmatched + invalid + dead_lettered once the stream drains; retried counts redeliveries.",
		}, []string{"destination", "outcome"}),
		Reasons: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_event_reasons_total",
			Help: "Final outcomes per destination by outcome and reason (a small fixed set, see docs/metrics.md): for each destination and outcome, the sum over reasons equals switchyard_events_total of that outcome (retried excepted, which is not final).",
		}, []string{"destination", "outcome", "reason"}),
		Requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "switchyard_request_duration_seconds",
			Help:    "Duration of HTTP requests to tools, each attempt, by class (ok, retryable, permanent).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"destination", "action", "class"}),
		BatchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "switchyard_batch_size",
			Help:    "Events per batched request.",
			Buckets: []float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2000},
		}, []string{"destination", "action"}),
		Breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "switchyard_breaker_state",
			Help: "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
		}, []string{"destination"}),
		Lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "switchyard_consumer_lag",
			Help: "Messages of the destination's consumer not yet acknowledged: pending plus ack pending.",
		}, []string{"destination"}),
		RateLimit: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "switchyard_rate_limit",
			Help: "Current adaptive request rate limit, requests per second (0: unlimited).",
		}, []string{"destination"}),
		Concurrency: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "switchyard_concurrency_limit",
			Help: "Requests the destination may have in flight now: rate.concurrency, or with adaptive_concurrency the limit the tool's latency allows.",
		}, []string{"destination"}),
		InFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "switchyard_events_in_flight",
			Help: "Events the destination's lane holds right now.",
		}, []string{"destination"}),
		Reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_config_reloads_total",
			Help: "Config reloads by result: applied, refused (the config did not validate; the old one keeps serving), unchanged.",
		}, []string{"result"}),
		DLQFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_dlq_publish_failures_total",
			Help: "Dead letters that could not be written to the DLQ stream (the event is redelivered, not lost).",
		}, []string{"destination"}),
	}
	m.OldestUnacked = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "switchyard_oldest_unacked_age_seconds",
		Help: "Age (from its stream time) of the destination's oldest unacknowledged event; 0 when none. Past delivery.retry_window plus a sweep interval means dead-lettering is stuck; near streams.max_age means events are about to be lost.",
	}, []string{"destination"})
	m.Expired = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchyard_events_expired_total",
		Help: "Events removed from EVENTS (max_age, max_bytes) before the destination settled them: lost, and logged with their sequence range. Exact for a destination reading every source, an upper bound otherwise. Must stay 0.",
	}, []string{"destination"})
	m.JetStreamWritable = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "switchyard_jetstream_writable",
		Help: "1 while JetStream takes writes; 0 while it refuses them, with reason: no_space, insufficient_resources, no_ack. /readyz is not ready meanwhile.",
	}, []string{"reason"})
	m.JetStreamRestarts = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "switchyard_jetstream_restarts_total",
		Help: "Restarts of the embedded JetStream after its writes failed for lack of space and the disk had room again (a stream that met a write error keeps failing until then).",
	})
	m.JetStreamWritable.WithLabelValues("").Set(1)

	m.Deletions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchyard_deletions_total",
		Help: "Runs of regulations' deletions per destination, by result: finished (the tool accepted every request, or holds no such user), failed (a permanent answer, or the retry window closed: see switchyard regulate status), retried (a retryable answer; the deletion runs again).",
	}, []string{"destination", "result"})
	m.Receipts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchyard_receipts_total",
		Help: "Receipts of delivered messages (tools that confirm later: Expo push receipts) per destination, by result: ok; the tool's error code (device_not_registered: the token is dead, remove it; message_rate_exceeded, message_too_big, invalid_credentials, mismatch_sender_id, other_error); expired (no receipt within the tool's 24 h); check_failed (a check that failed, retried with backoff: not final); unrecorded (the ticket could not be stored: never checked). The event's outcome stays delivered.",
	}, []string{"destination", "result"})
	m.ReceiptsPending = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "switchyard_receipts_pending",
		Help: "Tickets of delivered messages waiting in the RECEIPTS stream for their receipt (not due yet, no receipt yet, or a check to retry), per destination with receipts; read every 15 s from the consumer, the same on every router sharing it (aggregate with max).",
	}, []string{"destination"})
	r.MustRegister(m.OldestUnacked, m.Expired, m.JetStreamWritable, m.JetStreamRestarts, m.Deletions, m.Receipts, m.ReceiptsPending)
	r.MustRegister(m.Events, m.Reasons, m.Requests, m.BatchSize, m.Breaker, m.Lag, m.RateLimit, m.Concurrency, m.InFlight, m.Reloads, m.DLQFailures)
	for _, res := range []string{"applied", "refused", "unchanged"} {
		m.Reloads.WithLabelValues(res)
	}
	return m
}

// Outcome counts one outcome: a final one with its reason, or a retry.
func (m *Metrics) Outcome(dest string, o Outcome, reason plan.Reason) {
	k := outcomeKey{dest, o, reason}
	v, ok := m.outcomes.Load(k)
	if !ok {
		s := &outcomeSeries{events: m.Events.WithLabelValues(dest, string(o))}
		if o != Retried {
			s.reasons = m.Reasons.WithLabelValues(dest, string(o), string(reason))
		}
		v, _ = m.outcomes.LoadOrStore(k, s)
	}
	s := v.(*outcomeSeries)
	s.events.Inc()
	if s.reasons != nil {
		s.reasons.Inc()
	}
}

type outcomeKey struct {
	dest    string
	outcome Outcome
	reason  plan.Reason
}

type outcomeSeries struct{ events, reasons prometheus.Counter }

type requestKey struct {
	dest, action string
	class        destinations.Class
}

// setWritable publishes whether JetStream takes writes: one series, 1 with
// no reason, or 0 with the reason.
func (m *Metrics) setWritable(ok bool, reason string) {
	m.JetStreamWritable.Reset()
	if ok {
		m.JetStreamWritable.WithLabelValues("").Set(1)
		return
	}
	m.JetStreamWritable.WithLabelValues(reason).Set(0)
}

// touch makes a destination's series visible at zero from the start, so the
// sums add up before anything happened.
func (m *Metrics) touch(dest string) {
	for _, o := range []Outcome{Delivered, Filtered, Unmatched, Retried, DeadLettered, Invalid} {
		m.Events.WithLabelValues(dest, string(o))
	}
	m.Breaker.WithLabelValues(dest)
	m.InFlight.WithLabelValues(dest)
	m.OldestUnacked.WithLabelValues(dest)
	m.Expired.WithLabelValues(dest)
}

// forget removes a removed destination's gauges (its counters stay, so
// rates stay right across the removal).
func (m *Metrics) forget(dest string) {
	m.Breaker.DeleteLabelValues(dest)
	m.Lag.DeleteLabelValues(dest)
	m.RateLimit.DeleteLabelValues(dest)
	m.Concurrency.DeleteLabelValues(dest)
	m.InFlight.DeleteLabelValues(dest)
	m.OldestUnacked.DeleteLabelValues(dest)
	m.ReceiptsPending.DeleteLabelValues(dest)
}

// observer adapts Metrics to destinations.Observer.
type observer struct{ m *Metrics }

func (o observer) Request(dest, action string, status int, class destinations.Class, d time.Duration) {
	k := requestKey{dest, action, class}
	v, ok := o.m.requests.Load(k)
	if !ok {
		v, _ = o.m.requests.LoadOrStore(k, o.m.Requests.WithLabelValues(dest, action, class.String()))
	}
	v.(prometheus.Observer).Observe(d.Seconds())
}

func (o observer) BreakerState(dest string, state string) {
	v := 0.0
	switch state {
	case "half-open":
		v = 1
	case "open":
		v = 2
	}
	o.m.Breaker.WithLabelValues(dest).Set(v)
}

func (o observer) Rate(dest string, rps float64) { o.m.RateLimit.WithLabelValues(dest).Set(rps) }

func (o observer) Concurrency(dest string, limit int) {
	o.m.Concurrency.WithLabelValues(dest).Set(float64(limit))
}

var (
	_ destinations.Observer            = observer{}
	_ destinations.ConcurrencyObserver = observer{}
)
