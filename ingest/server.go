package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard/switchyard/mappings"
)

// Segment's documented limits for the HTTP Tracking API.
const (
	// DefaultMaxEventBytes is Segment's per-event limit: 32 KB.
	DefaultMaxEventBytes = 32 << 10
	// DefaultMaxBatchBytes is Segment's per-request limit for a batch: 500 KB.
	DefaultMaxBatchBytes = 500 << 10
	// DefaultPublishTimeout bounds the wait for JetStream's acks.
	DefaultPublishTimeout = 5 * time.Second

	// EnrichmentHeadroom is how many bytes an event may grow by what this
	// package adds (messageId, receivedAt, timestamp, originalTimestamp, the
	// batch's sentAt) beyond MaxEventBytes. An event of at most
	// MaxEventBytes as sent is never refused for what the server adds; the
	// router must therefore decode with a limit of at least
	// MaxEventBytes+EnrichmentHeadroom.
	EnrichmentHeadroom = 1 << 10
)

// Options configure a Server.
type Options struct {
	// WriteKeys maps each accepted write key to its source id. The source id
	// is the <source> token of the subject events.<source>.<type>.
	WriteKeys map[string]string
	// MaxEventBytes is the largest event accepted, as sent. Default 32 KB.
	MaxEventBytes int
	// MaxBatchBytes is the largest request body accepted, measured after
	// gzip decompression. Default 500 KB.
	MaxBatchBytes int
	// Limits bound nesting depth and container sizes; its MaxBytes is
	// ignored (MaxEventBytes applies).
	Limits mappings.Limits
	// JetStream publishes the events. Its WithPublishAsyncMaxPending bounds
	// how many publishes may wait for acks before requests get 429, and
	// WithPublishAsyncTimeout frees the slots of acks that never come.
	JetStream jetstream.JetStream
	// PublishTimeout bounds the wait for every ack of one request. Default 5s.
	PublishTimeout time.Duration
	// Logger gets one line per refused or failed request. Default slog.Default().
	Logger *slog.Logger
	// Metrics, when set, gets switchyard_ingest_requests_total{code} and
	// switchyard_ingest_events_total{source,result}.
	Metrics prometheus.Registerer
	// Now is the server clock, for tests. Default time.Now.
	Now func() time.Time
	// OnPublishError, when set, gets every publish error: the router learns
	// from it that JetStream refuses writes (a full disk), before its own
	// probe does.
	OnPublishError func(error)
	// Suppressed, when set, reports whether a user is suppressed at every
	// destination by a regulation: such a user's events are not stored,
	// and the request is answered 200 as Segment does, so that SDKs do not
	// retry (docs/privacy.md#suppression). Counted result suppressed.
	Suppressed func(userID, anonymousID string) bool
}

// Server serves the Segment HTTP Tracking API.
type Server struct {
	keys     map[string]string
	maxEvent int
	maxBatch int
	limits   mappings.Limits
	js       jetstream.JetStream
	timeout  time.Duration
	log      *slog.Logger
	metrics  *metrics
	now      func() time.Time
	onPubErr func(error)
	supp     func(userID, anonymousID string) bool
}

// New checks opts and returns a Server.
func New(opts Options) (*Server, error) {
	if opts.JetStream == nil {
		return nil, errors.New("ingest: no JetStream context")
	}
	if len(opts.WriteKeys) == 0 {
		return nil, errors.New("ingest: no write keys: every request would be refused")
	}
	keys := make(map[string]string, len(opts.WriteKeys))
	for key, source := range opts.WriteKeys {
		if key == "" {
			return nil, fmt.Errorf("ingest: source %q: empty write key", source)
		}
		if !validSource(source) {
			return nil, fmt.Errorf("ingest: source %q: want lowercase letters, digits, - and _ (it is a subject token)", source)
		}
		keys[key] = source
	}
	s := &Server{
		keys:     keys,
		maxEvent: opts.MaxEventBytes,
		maxBatch: opts.MaxBatchBytes,
		limits:   opts.Limits,
		js:       opts.JetStream,
		timeout:  opts.PublishTimeout,
		log:      opts.Logger,
		now:      opts.Now,
		onPubErr: opts.OnPublishError,
		supp:     opts.Suppressed,
	}
	if s.maxEvent <= 0 {
		s.maxEvent = DefaultMaxEventBytes
	}
	if s.maxBatch <= 0 {
		s.maxBatch = DefaultMaxBatchBytes
	}
	if s.maxBatch < s.maxEvent {
		return nil, fmt.Errorf("ingest: MaxBatchBytes %d is below MaxEventBytes %d", s.maxBatch, s.maxEvent)
	}
	if s.timeout <= 0 {
		s.timeout = DefaultPublishTimeout
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if opts.Metrics != nil {
		m, err := newMetrics(opts.Metrics)
		if err != nil {
			return nil, err
		}
		s.metrics = m
	}
	return s, nil
}

// validSource follows the pinned naming rule: lowercase letters, digits,
// '-' and '_'.
func validSource(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// route is what a path asks for: one event of a type, or a batch.
type route struct {
	callType string // "" for a batch
}

// routes holds Segment's paths, and the one-letter forms analytics.js uses
// (it posts to <apiHost>/<first letter of the type>, and to /b when batching).
var routes = map[string]route{
	"/v1/identify": {mappings.TypeIdentify},
	"/v1/track":    {mappings.TypeTrack},
	"/v1/page":     {mappings.TypePage},
	"/v1/screen":   {mappings.TypeScreen},
	"/v1/group":    {mappings.TypeGroup},
	"/v1/alias":    {mappings.TypeAlias},
	"/v1/batch":    {},
	"/v1/import":   {},
	"/v1/i":        {mappings.TypeIdentify},
	"/v1/t":        {mappings.TypeTrack},
	"/v1/p":        {mappings.TypePage},
	"/v1/s":        {mappings.TypeScreen},
	"/v1/g":        {mappings.TypeGroup},
	"/v1/a":        {mappings.TypeAlias},
	"/v1/b":        {},
}

// reply is the answer to one request.
type reply struct {
	status     int
	msg        string       // the error; empty on success
	errors     []eventError // per-event validation errors
	retryAfter int          // seconds; 0 for none
	preflight  bool
}

// eventError names one invalid event of a request.
type eventError struct {
	Index  int    `json:"index"`
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
}

func fail(status int, format string, args ...any) reply {
	return reply{status: status, msg: fmt.Sprintf(format, args...)}
}

// Handler returns the HTTP handler for the Tracking API endpoints.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	rep := s.handle(w, r)
	s.metrics.request(rep.status)
	h := w.Header()
	// Browsers (analytics.js) post cross-origin; without this header the
	// fetch fails even though the events were stored, and the SDK resends.
	h.Set("Access-Control-Allow-Origin", "*")
	if rep.preflight {
		h.Set("Access-Control-Allow-Methods", "POST")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Content-Encoding")
		h.Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(rep.status)
		return
	}
	if rep.status == http.StatusMethodNotAllowed {
		h.Set("Allow", "POST, OPTIONS")
	}
	if rep.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(rep.retryAfter))
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(rep.status)
	body := struct {
		Success bool         `json:"success"`
		Error   string       `json:"error,omitempty"`
		Errors  []eventError `json:"errors,omitempty"`
	}{Success: rep.status == http.StatusOK, Error: rep.msg, Errors: rep.errors}
	_ = json.NewEncoder(w).Encode(body)
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) reply {
	rt, ok := routes[r.URL.Path]
	if !ok {
		return fail(http.StatusNotFound, "no endpoint %s: want POST /v1/identify, /v1/track, /v1/page, /v1/screen, /v1/group, /v1/alias, /v1/batch or /v1/import", r.URL.Path)
	}
	switch r.Method {
	case http.MethodPost:
	case http.MethodOptions:
		return reply{status: http.StatusNoContent, preflight: true}
	default:
		return fail(http.StatusMethodNotAllowed, "method %s not allowed: use POST", r.Method)
	}

	source, rep, keyGiven := s.authHeader(r)
	if rep.status != 0 {
		return rep
	}

	limit, what := s.maxEvent, "event"
	if rt.callType == "" {
		limit, what = s.maxBatch, "batch"
	}
	// Refuse what is announced too large before reading any of it.
	if r.ContentLength > int64(limit) {
		return fail(http.StatusBadRequest, "request body is %d bytes, over the %s limit of %d bytes", r.ContentLength, what, limit)
	}
	body, rep := readBody(w, r, limit, what)
	if rep.status != 0 {
		return rep
	}

	var req *request
	if rt.callType == "" {
		req, rep = parseBatch(body, s.maxEvent)
	} else {
		req, rep = parseSingle(body)
	}
	if rep.status != 0 {
		return rep
	}
	if !keyGiven {
		if req.writeKey == "" {
			return fail(http.StatusUnauthorized, "no write key: send it as the HTTP Basic username or as writeKey in the body")
		}
		if source, ok = s.keys[req.writeKey]; !ok {
			s.log.Info("ingest: unknown write key", "remote", r.RemoteAddr)
			return fail(http.StatusUnauthorized, "unknown write key")
		}
	}

	recv := s.now()
	events := make([]*event, 0, len(req.events))
	var invalid []eventError
	for i, raw := range req.events {
		ev, ee := s.prepare(raw, req, rt.callType, recv)
		if ee != nil {
			ee.Index = i
			invalid = append(invalid, *ee)
			continue
		}
		events = append(events, ev)
	}
	if len(invalid) > 0 {
		// All or nothing: a batch with one bad event publishes none, so a
		// client that fixes it resends the whole batch and nothing doubles.
		s.metrics.events(source, resultRejected, len(req.events))
		s.log.Info("ingest: invalid events refused", "source", source, "events", len(req.events), "invalid", len(invalid))
		first := invalid[0]
		where := "event"
		if rt.callType == "" {
			where = fmt.Sprintf("batch[%d]", first.Index)
		}
		msg := where + ": " + first.Reason
		if first.Field != "" {
			msg = where + ": field " + first.Field + ": " + first.Reason
		}
		if len(invalid) > 1 {
			msg += fmt.Sprintf(" (and %d more invalid events; none of the batch was published)", len(invalid)-1)
		} else if rt.callType == "" {
			msg += " (none of the batch was published)"
		}
		if len(invalid) > maxReportedErrors {
			invalid = invalid[:maxReportedErrors]
		}
		return reply{status: http.StatusBadRequest, msg: msg, errors: invalid}
	}
	if s.supp != nil {
		kept := events[:0]
		for _, ev := range events {
			if !s.supp(ev.userID, ev.anonymousID) {
				kept = append(kept, ev)
			}
		}
		if n := len(events) - len(kept); n > 0 {
			s.metrics.events(source, resultSuppressed, n)
		}
		events = kept
	}
	if len(events) == 0 {
		return reply{status: http.StatusOK}
	}
	return s.publish(r.Context(), source, events, rt.callType == "")
}

// maxReportedErrors bounds the errors list of a 400.
const maxReportedErrors = 20

// authHeader reads the write key from HTTP Basic auth. keyGiven is false
// when there is no Authorization header, so the body must carry the key.
func (s *Server) authHeader(r *http.Request) (source string, rep reply, keyGiven bool) {
	if r.Header.Get("Authorization") == "" {
		return "", reply{}, false
	}
	key, _, ok := r.BasicAuth()
	if !ok || key == "" {
		return "", fail(http.StatusUnauthorized, "Authorization must be HTTP Basic with the write key as username"), true
	}
	source, ok = s.keys[key]
	if !ok {
		s.log.Info("ingest: unknown write key", "remote", r.RemoteAddr)
		return "", fail(http.StatusUnauthorized, "unknown write key"), true
	}
	return source, reply{}, true
}
