package ingest

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Results of switchyard_ingest_events_total.
const (
	resultPublished = "published" // stored by JetStream
	resultDuplicate = "duplicate" // already stored: same messageId within the dedupe window
	resultRejected  = "rejected"  // refused with a 400 (invalid, or in a batch with an invalid event)
	// resultSuppressed: not stored, the user is suppressed at every
	// destination (answered 200).
	resultSuppressed = "suppressed"
)

// metrics are the intake's counters. A nil *metrics counts nothing.
type metrics struct {
	requests *prometheus.CounterVec
	eventsC  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	requests, err := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchyard_ingest_requests_total",
		Help: "HTTP Tracking API requests, by response status code.",
	}, []string{"code"}))
	if err != nil {
		return nil, err
	}
	events, err := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchyard_ingest_events_total",
		Help: "Events received by the HTTP Tracking API, by source and result (published, duplicate, rejected, suppressed: not stored because a regulation suppresses the user at every destination).",
	}, []string{"source", "result"}))
	if err != nil {
		return nil, err
	}
	return &metrics{requests: requests, eventsC: events}, nil
}

// register registers c, or returns the collector already registered under
// the same name, so that a Server rebuilt on reload keeps counting.
func register(reg prometheus.Registerer, c *prometheus.CounterVec) (*prometheus.CounterVec, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return existing, nil
			}
		}
		return nil, fmt.Errorf("ingest: registering metrics: %w", err)
	}
	return c, nil
}

func (m *metrics) request(code int) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(strconv.Itoa(code)).Inc()
}

func (m *metrics) events(source, result string, n int) {
	if m == nil || n == 0 {
		return
	}
	m.eventsC.WithLabelValues(source, result).Add(float64(n))
}
