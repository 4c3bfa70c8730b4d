package router

import (
	"net/http"
	"sync"
	"time"

	"github.com/switchyard/switchyard/destinations"
	"github.com/switchyard/switchyard/router/plan"
)

// Sample is one delivery kept for /debug/deliveries, the equivalent of
// Segment's "Event Delivery" view. Everything in it is redacted.
type Sample struct {
	Time      time.Time       `json:"time"`
	MessageID string          `json:"messageId"`
	Action    string          `json:"action"`
	Outcome   string          `json:"outcome"` // ok, retryable, permanent, invalid, render_error, receipt
	Error     string          `json:"error,omitempty"`
	Attempts  int             `json:"attempts,omitempty"`
	Event     string          `json:"event,omitempty"`
	Request   *SampleRequest  `json:"request,omitempty"`
	Response  *SampleResponse `json:"response,omitempty"`

	// Reason is the reason label the failure counts under (or will, when
	// its retry window ends): http_4xx, http_5xx, mapping, invalid, ...
	Reason string `json:"reason"`
}

// SampleRequest is the request part of a sample.
type SampleRequest struct {
	Method  string      `json:"method"`
	URL     string      `json:"url"`
	Headers http.Header `json:"headers"`
	Body    string      `json:"body,omitempty"`
	Items   int         `json:"items"`
}

// SampleResponse is the response part of a sample.
type SampleResponse struct {
	Status     int    `json:"status"`
	Body       string `json:"body,omitempty"`
	DurationMS int64  `json:"durationMs"`
}

const (
	keepFailures     = 50
	keepSuccesses    = 5
	successEvery     = time.Second // at most one success sample a second
	sampleBodyBytes  = 4096
	sampleEventBytes = 4096
)

// samples keeps the last failures and a few successes of one destination.
type samples struct {
	mu          sync.Mutex
	failures    []Sample
	successes   []Sample
	lastSuccess time.Time
	redact      *plan.Redactor
}

func newSamples(r *plan.Redactor) *samples { return &samples{redact: r} }

// wantSuccess says whether a success should be sampled now (cheap check
// before building the sample).
func (s *samples) wantSuccess(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.lastSuccess) < successEvery {
		return false
	}
	s.lastSuccess = now
	return true
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…(truncated)"
	}
	return string(b)
}

// record stores a sample, redacting it.
func (s *samples) record(event []byte, msgID string, req *destinations.Request, res *destinations.Result, outcome string, errText string) {
	sm := Sample{
		Time: time.Now().UTC(), MessageID: msgID, Outcome: outcome, Reason: sampleReason(outcome, res),
		Error: s.redact.String(errText), Event: truncate(s.redact.Bytes(event), sampleEventBytes),
	}
	if req != nil {
		sm.Action = req.Action
		sm.Request = &SampleRequest{
			Method: req.Method, URL: s.redact.String(req.URL), Headers: s.redact.Header(req.Header),
			Body: truncate(s.redact.Bytes(req.Body), sampleBodyBytes), Items: req.Items,
		}
	}
	if res != nil {
		sm.Attempts = res.Attempts
		sm.Response = &SampleResponse{Status: res.Status, Body: s.redact.Excerpt(string(res.Body)), DurationMS: res.Duration.Milliseconds()}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if outcome == "ok" {
		s.successes = appendRing(s.successes, sm, keepSuccesses)
	} else {
		s.failures = appendRing(s.failures, sm, keepFailures)
	}
}

func appendRing(l []Sample, s Sample, max int) []Sample {
	if len(l) >= max {
		copy(l, l[1:])
		l = l[:max-1]
	}
	return append(l, s)
}

// snapshot returns copies, newest first.
func (s *samples) snapshot() (failures, successes []Sample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.failures) - 1; i >= 0; i-- {
		failures = append(failures, s.failures[i])
	}
	for i := len(s.successes) - 1; i >= 0; i-- {
		successes = append(successes, s.successes[i])
	}
	return failures, successes
}

// recordReceipt keeps a receipt error as a failure sample: the console's
// destination view groups it under its result (device_not_registered,
// ...) with the messageId and the truncated recipient, and the
// request's URL and body are not there (the event was delivered; the
// receipt came minutes later).
func (s *samples) recordReceipt(e ReceiptEntry, result, detail string) {
	errText := detail
	if e.Recipient != "" {
		errText = "recipient " + e.Recipient + ": " + detail
	}
	sm := Sample{
		Time: time.Now().UTC(), MessageID: e.MessageID, Action: e.Action, Outcome: "receipt", Reason: result,
		Error: s.redact.String(errText),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = appendRing(s.failures, sm, keepFailures)
}
