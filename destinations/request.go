package destinations

import (
	"net/http"
	"time"
)

// Request is one HTTP request to a tool: a single event's payload, or a batch.
type Request struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
	// Items is how many events the body carries (1 when unbatched).
	Items int
	// Action names the action, for metrics and logs.
	Action string
	// ValidJSON says Body is known to be valid JSON (the router encoded it,
	// or decoded it as an event), so a Batcher need not check it again.
	ValidJSON bool
	// WholeAnswer keeps the whole response body in Result.Body (up to
	// MaxResponseBytes), not its excerpt: the caller reads it (a delete
	// action's lookup finds the tool's ids in it).
	WholeAnswer bool
}

// Class is how a delivery attempt ended.
type Class int

const (
	// OK: a 2xx response.
	OK Class = iota
	// Retryable: 408, 423, 429, 5xx except 501, a timeout, a connection error,
	// or the breaker being open. The event is tried again later.
	Retryable
	// Permanent: any other 4xx, or a request that cannot be built. The event
	// is dead-lettered; it never trips the breaker.
	Permanent
)

func (c Class) String() string {
	switch c {
	case OK:
		return "ok"
	case Retryable:
		return "retryable"
	case Permanent:
		return "permanent"
	}
	return "unknown"
}

// Classify maps an HTTP status to its class, as docs/delivery.md
// ("Classification") states.
func Classify(status int) Class {
	switch {
	case status >= 200 && status < 300:
		return OK
	case status == 408, status == 423, status == 429:
		return Retryable
	case status == 501:
		return Permanent
	case status >= 500:
		return Retryable
	}
	return Permanent
}

// ResponseExcerptBytes is how much of a response body is kept for the DLQ,
// logs and delivery samples.
const ResponseExcerptBytes = 1024

// Result is the outcome of sending one Request.
type Result struct {
	Class Class
	// Status is the last HTTP status seen, 0 when there was no response.
	Status int
	// Body is the first ResponseExcerptBytes of the last response body.
	Body []byte
	// Err says what went wrong when Class is not OK: a transport error, or
	// a description of the status.
	Err error
	// Attempts made in-process (at least 1, unless the breaker refused).
	Attempts int
	// RetryAfter is the tool's own Retry-After, when it gave one.
	RetryAfter time.Duration
	// Duration of the whole send, all attempts included.
	Duration time.Duration
	// BreakerOpen is set when the breaker refused the send: nothing was sent.
	BreakerOpen bool
	// ItemErrors lists the items of a batch that failed although the request
	// as a whole was accepted (a 207, or a tool's per-item error report).
	ItemErrors []ItemError
	// Ticket is a delivered item's ticket, when its tool confirms messages
	// later (receipts.go); "" otherwise. Tickets are a batch's, by item
	// position, until the Batcher hands each item its own.
	Ticket  string
	Tickets []string
}

// ItemError is one failed item of a batch.
type ItemError struct {
	Index   int // position in the batch
	Class   Class
	Status  int
	Message string
}
