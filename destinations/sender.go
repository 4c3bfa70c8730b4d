package destinations

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/sony/gobreaker/v2"
)

// Defaults of SenderConfig.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultAttempts         = 3
	DefaultRetryWaitMin     = 200 * time.Millisecond
	DefaultRetryWaitMax     = 2 * time.Second
	DefaultMaxRetryAfter    = 30 * time.Second
	DefaultMaxResponseBytes = 64 << 10
	DefaultConcurrency      = 16
	DefaultBreakerFailures  = 5
	DefaultBreakerCooldown  = 30 * time.Second
	DefaultHalfOpenRequests = 1
)

// UserAgent is sent with every request.
const UserAgent = "switchyard/1"

// drainBytes is how much of a body past MaxResponseBytes is read and
// discarded so the connection can be reused; a longer body closes it.
const drainBytes = 256 << 10

// BreakerConfig configures the circuit breaker around a Sender.
type BreakerConfig struct {
	ConsecutiveFailures uint32        // retryable sends in a row that open it; default 5
	Cooldown            time.Duration // open time before a probe; default 30s
	HalfOpenRequests    uint32        // probes allowed, and successes needed to close; default 1
}

// RateConfig configures a Sender's rate limit. See ratelimit.go for the
// adaptive (AIMD) rules.
type RateConfig struct {
	RPS         float64 // requests (attempts) per second; 0 = unlimited
	Burst       int     // token bucket size; default 1 (evenly spaced)
	Concurrency int     // attempts in flight at most; default 16
	Adaptive    bool    // halve on 429, recover on 2xx, never above RPS
	// AdaptiveConcurrency: the limit moves with the tool's latency, in
	// [1, Concurrency], from InitialConcurrency (16): concurrency.go.
	AdaptiveConcurrency bool
	InitialConcurrency  int
	// Actions caps single actions (Request.Action) at their own requests
	// per second, for a tool whose endpoints have limits of their own
	// below RPS: Iterable's bulk endpoints take 5 and 10 requests/s where
	// its single-event ones take 500. An action's attempts also count
	// against RPS. These ceilings are fixed: the adaptive limit moves RPS.
	Actions map[string]float64
}

// Observer receives delivery telemetry. All methods must be cheap and must
// not block: they run on the delivery path.
type Observer interface {
	// Request is called once per HTTP attempt, with the time to response
	// headers. status is 0 and class Retryable (Permanent when DenyPrivate
	// refused the address) when there was no response. Nothing is reported
	// when the breaker refuses a send: no request was made.
	Request(destination, action string, status int, class Class, d time.Duration)
	// BreakerState is called on every transition: "closed", "half-open", "open".
	BreakerState(destination string, state string)
	// Rate is called when the adaptive limit changes; 0 means unlimited.
	Rate(destination string, rps float64)
}

// SenderConfig configures one destination's Sender. Zero values take the
// defaults.
type SenderConfig struct {
	Name                       string
	Timeout                    time.Duration // per attempt, headers and body; default 10s
	Attempts                   int           // in-process attempts including the first; default 3
	RetryWaitMin, RetryWaitMax time.Duration // jittered exponential backoff; defaults 200ms, 2s
	// MaxRetryAfter caps a tool's Retry-After honoured in-process (default
	// 30s). A longer one ends the in-process attempts; it is reported in
	// Result.RetryAfter so the caller naks with that delay.
	MaxRetryAfter      time.Duration
	Breaker            BreakerConfig
	Rate               RateConfig
	InsecureSkipVerify bool
	// DenyPrivate refuses private, loopback, link-local, unspecified,
	// multicast and shared (CGNAT) addresses, checked at dial time on the
	// resolved IP (netguard.go). Proxies from the environment are not used
	// when it is on, as the check would apply to the proxy instead.
	DenyPrivate      bool
	MaxResponseBytes int64           // body bytes read at most; default 64 KiB
	ItemErrors       ItemErrorParser // per-item errors: of 2xx responses, and of 4xx ones that name items (a single item's included)
	// ItemMatcher reads them instead of ItemErrors when set, with the
	// request body as sent: for tools naming failed items by content.
	ItemMatcher ItemErrorMatcher
	// Tickets reads the tickets of a 2xx answer's items (a ReceiptHandler's
	// Tickets), for the receipts checked later: Result.Ticket.
	Tickets  func(status int, body []byte, items int) []string
	Observer Observer
}

func (c *SenderConfig) setDefaults() error {
	switch {
	case c.Timeout < 0, c.Attempts < 0, c.RetryWaitMin < 0, c.RetryWaitMax < 0,
		c.MaxRetryAfter < 0, c.Breaker.Cooldown < 0, c.MaxResponseBytes < 0,
		c.Rate.RPS < 0, c.Rate.Burst < 0, c.Rate.Concurrency < 0, c.Rate.InitialConcurrency < 0:
		return fmt.Errorf("destination %s: delivery settings must not be negative", c.Name)
	}
	for a, rps := range c.Rate.Actions {
		if !(rps > 0) { // NaN too
			return fmt.Errorf("destination %s: action %s: a rate of its own must be above 0 requests/s, not %v", c.Name, a, rps)
		}
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Timeout, DefaultTimeout)
	def(&c.RetryWaitMin, DefaultRetryWaitMin)
	def(&c.RetryWaitMax, DefaultRetryWaitMax)
	def(&c.MaxRetryAfter, DefaultMaxRetryAfter)
	def(&c.Breaker.Cooldown, DefaultBreakerCooldown)
	if c.RetryWaitMax < c.RetryWaitMin {
		c.RetryWaitMax = c.RetryWaitMin
	}
	if c.Attempts == 0 {
		c.Attempts = DefaultAttempts
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if c.Breaker.ConsecutiveFailures == 0 {
		c.Breaker.ConsecutiveFailures = DefaultBreakerFailures
	}
	if c.Breaker.HalfOpenRequests == 0 {
		c.Breaker.HalfOpenRequests = DefaultHalfOpenRequests
	}
	if c.Rate.Concurrency == 0 {
		c.Rate.Concurrency = DefaultConcurrency
	}
	return nil
}

// Sender delivers Requests to one destination: breaker, then in-process
// attempts, each behind the rate limit. It is safe for concurrent use.
type Sender struct {
	cfg       SenderConfig
	obs       Observer
	transport *http.Transport
	client    *retryablehttp.Client
	breaker   *gobreaker.CircuitBreaker[Result]
	limit     *limiter
	items     ItemErrorMatcher // ItemMatcher, else ItemErrors; nil: none
	openedAt  atomic.Int64     // unix nanos of the last transition to open
	// state is the breaker's state as of its last transition, so that the
	// send path learns it is not open without the breaker's lock. Open
	// becomes half-open only when the breaker is next asked (its cooldown
	// is checked lazily): breakerOpen asks it when state says open.
	state atomic.Int32
}

// Errors handed to the breaker: a retryable send is a failure, a cancelled
// one is not counted at all. OK and Permanent sends return nil.
var (
	errRetryableSend = errors.New("retryable send")
	errCancelledSend = errors.New("cancelled send")
)

// NewSender builds a Sender with its own connection pool.
func NewSender(cfg SenderConfig) (*Sender, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	s := &Sender{cfg: cfg, obs: cfg.Observer, items: cfg.ItemMatcher}
	if s.items == nil {
		s.items = cfg.ItemErrors.matcher()
	}
	if s.obs == nil {
		s.obs = nopObserver{}
	}
	dialer := &net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}
	proxy := http.ProxyFromEnvironment
	if cfg.DenyPrivate {
		dialer.Control = DenyPrivateControl
		proxy = nil
	}
	s.transport = &http.Transport{
		Proxy:             proxy,
		DialContext:       dialer.DialContext,
		ForceAttemptHTTP2: true,
		// No Accept-Encoding: gzip. The tools' answers are a few bytes of
		// JSON, read only for a status, an excerpt or a lookup; asking for
		// gzip cost each request a header to write and the tool one to
		// parse, and the client a check for compressed bodies: 6.6k of the
		// 132k instructions a Sender's exchange costs, client and loopback
		// tool (BenchmarkSenderNoBatch less its bare client, callgrind).
		// An excerpt in the DLQ is the tool's own text, never gzip bytes.
		DisableCompression:    true,
		MaxIdleConns:          max(100, cfg.Rate.Concurrency),
		MaxIdleConnsPerHost:   cfg.Rate.Concurrency,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   min(10*time.Second, cfg.Timeout),
		ExpectContinueTimeout: time.Second,
		TLSClientConfig: &tls.Config{
			InsecureSkipVerify: cfg.InsecureSkipVerify, //nolint:gosec // operator's explicit choice
			MinVersion:         tls.VersionTLS12,
		},
	}
	onConcurrency := s.concurrencyObserver()
	s.limit = newLimiter(cfg.Rate, func(r float64) { s.obs.Rate(cfg.Name, r) }, onConcurrency)
	onConcurrency(s.limit.conc.current())
	s.breaker = gobreaker.NewCircuitBreaker[Result](gobreaker.Settings{
		Name:        cfg.Name,
		MaxRequests: cfg.Breaker.HalfOpenRequests,
		Timeout:     cfg.Breaker.Cooldown,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= cfg.Breaker.ConsecutiveFailures
		},
		OnStateChange: s.onStateChange,
		IsExcluded:    func(err error) bool { return errors.Is(err, errCancelledSend) },
	})
	s.client = &retryablehttp.Client{
		HTTPClient: &http.Client{
			Transport: &attemptTransport{s: s, base: s.transport},
			// A redirect is not followed: Go would turn a POST into a GET on
			// 301/302 and report the new location's 200 as delivered. A 3xx
			// is permanent, with the body kept for the DLQ.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		RetryWaitMin: cfg.RetryWaitMin,
		RetryWaitMax: cfg.RetryWaitMax,
		RetryMax:     cfg.Attempts - 1,
		CheckRetry:   s.checkRetry,
		Backoff:      s.backoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	return s, nil
}

// onStateChange runs under the breaker's lock: it must not call the breaker.
func (s *Sender) onStateChange(_ string, from, to gobreaker.State) {
	if to == gobreaker.StateOpen {
		s.openedAt.Store(time.Now().UnixNano())
	}
	s.state.Store(int32(to))
	slog.Info("circuit breaker state changed", "destination", s.cfg.Name, "from", from.String(), "to", to.String())
	s.obs.BreakerState(s.cfg.Name, to.String())
}

// Open reports whether the breaker is open, and for how long it stays open
// (the time left in the cooldown): the caller should stop pulling for wait.
func (s *Sender) Open() (open bool, wait time.Duration) {
	if !s.breakerOpen() {
		return false, 0
	}
	wait = time.Until(time.Unix(0, s.openedAt.Load()).Add(s.cfg.Breaker.Cooldown))
	return true, max(wait, 0)
}

// breakerOpen reports whether the breaker is open now.
func (s *Sender) breakerOpen() bool {
	if gobreaker.State(s.state.Load()) != gobreaker.StateOpen {
		return false
	}
	return s.breaker.State() == gobreaker.StateOpen
}

// State is the breaker state: "closed", "half-open" or "open".
func (s *Sender) State() string { return s.breaker.State().String() }

// Rate is the current adaptive limit in requests per second; 0 = unlimited.
func (s *Sender) Rate() float64 { return s.limit.current() }

// Close releases this Sender's idle connections. The Sender stays usable.
func (s *Sender) Close() { s.transport.CloseIdleConnections() }

// Name is the destination name the Sender was built with.
func (s *Sender) Name() string { return s.cfg.Name }

// Send delivers r and classifies the outcome. It never panics on a bad
// request: a request that cannot be built is Permanent with Attempts 0.
func (s *Sender) Send(ctx context.Context, r *Request) Result {
	start := time.Now()
	req, st, err := s.build(ctx, r)
	if err != nil {
		return Result{Class: Permanent, Err: err, Duration: time.Since(start)}
	}
	res, err := s.breaker.Execute(func() (Result, error) {
		res := s.do(req, st, r)
		switch {
		case res.Class != Retryable:
			return res, nil
		case ctx.Err() != nil:
			return res, errCancelledSend
		}
		return res, errRetryableSend
	})
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return Result{
			Class:       Retryable,
			Err:         fmt.Errorf("destination %s: circuit breaker is %s; nothing was sent", s.cfg.Name, s.State()),
			BreakerOpen: true,
			Duration:    time.Since(start),
		}
	}
	res.Duration = time.Since(start)
	return res
}

// sendState follows one Send across its attempts. Attempts run one after
// the other on the calling goroutine, so it needs no lock. It is also the
// send's context (the caller's, with itself as the value of sendStateKey),
// so that the attempt transport finds it at the cost of one allocation,
// not two.
type sendState struct {
	context.Context
	action     string
	attempts   int
	lastStatus int
}

type sendStateKey struct{}

func (st *sendState) Value(key any) any {
	if key == (sendStateKey{}) {
		return st
	}
	return st.Context.Value(key)
}

// Header values the Sender adds when the Request has none. They are
// shared by every request, as the Request's own values are: nothing
// appends to or writes into a request's header values once it is built.
var (
	jsonContentType = []string{"application/json"}
	userAgent       = []string{UserAgent}
)

func (s *Sender) build(ctx context.Context, r *Request) (*retryablehttp.Request, *sendState, error) {
	if r == nil {
		return nil, nil, errors.New("nil request")
	}
	method := r.Method
	if method == "" {
		method = http.MethodPost
	}
	st := &sendState{Context: ctx, action: r.Action}
	var body any
	if len(r.Body) > 0 {
		body = r.Body
	}
	// The URL is parsed once, here; the errors name the host alone, as the
	// path or query may carry secrets.
	req, err := retryablehttp.NewRequestWithContext(st, method, r.URL, body)
	if err != nil {
		if _, perr := url.Parse(r.URL); perr != nil {
			return nil, nil, fmt.Errorf("request cannot be built: URL is not an absolute http(s) URL (host %q)", hostOf(r.URL))
		}
		return nil, nil, fmt.Errorf("request cannot be built: %s %s: %v", method, hostOf(r.URL), err)
	}
	if u := req.URL; (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, nil, fmt.Errorf("request cannot be built: URL is not an absolute http(s) URL (host %q)", u.Host)
	}
	for k, vs := range r.Header {
		ck := http.CanonicalHeaderKey(k)
		switch {
		case ck == "Host":
			if len(vs) > 0 {
				req.Host = vs[0]
			}
		case ck == k && req.Header[ck] == nil:
			req.Header[ck] = vs // shared, never appended to
		default:
			req.Header[ck] = append(slices.Clip(req.Header[ck]), vs...)
		}
	}
	if len(r.Body) > 0 && req.Header.Get("Content-Type") == "" {
		req.Header["Content-Type"] = jsonContentType
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header["User-Agent"] = userAgent
	}
	return req, st, nil
}

// do runs the in-process attempts and reads the last response.
func (s *Sender) do(req *retryablehttp.Request, st *sendState, r *Request) Result {
	ctx := req.Context()
	resp, err := s.client.Do(req)
	res := Result{Attempts: st.attempts, Status: st.lastStatus}
	if resp != nil {
		body := s.read(resp)
		res.Status = resp.StatusCode
		res.Body = excerpt(body.Bytes())
		if r.WholeAnswer {
			res.Body = bytes.Clone(body.Bytes())
		}
		res.RetryAfter, _ = retryAfter(resp)
		res.Class = Classify(resp.StatusCode)
		switch {
		case res.Class == Permanent && s.items != nil && s.items4xx(&res, body.Bytes(), r.Body, r.Items):
			// Some tools refuse a batch with a 4xx that names the items at
			// fault (Mixpanel strict mode, Amplitude): only those fail. A
			// single item's 4xx says why in the tool's words (APNs' 410
			// Unregistered), and may be retryable (403 ExpiredProviderToken).
		case res.Class != OK:
			res.Err = statusError(resp.StatusCode, res.RetryAfter)
		case s.items != nil:
			s.itemErrors(&res, body.Bytes(), r.Body, r.Items)
		}
		if res.Class == OK && s.cfg.Tickets != nil {
			s.tickets(&res, body.Bytes(), r.Items)
		}
		putAnswer(body)
	}
	if resp == nil {
		if err == nil {
			err = errors.New("no response")
		}
		res.Class = Retryable
		res.BreakerOpen = errors.Is(err, errBreakerOpened)
		if isDenied(err) && ctx.Err() == nil {
			res.Class = Permanent
		}
		res.Err = transportError(ctx, req.Method, req.URL, err)
	}
	return res
}

// read reads up to MaxResponseBytes of the body, drains a bounded rest so
// the connection can be reused, and closes it. The caller hands the answer
// back with putAnswer.
func (s *Sender) read(resp *http.Response) *answer {
	a := answerPool.Get().(*answer)
	a.lr = io.LimitedReader{R: resp.Body, N: s.cfg.MaxResponseBytes}
	_, _ = a.buf.ReadFrom(&a.lr)
	if a.lr.N <= 0 {
		// The limit was reached: the body may go on.
		a.lr = io.LimitedReader{R: resp.Body, N: drainBytes}
		_, _ = io.Copy(io.Discard, &a.lr)
	}
	a.lr = io.LimitedReader{}
	resp.Body.Close()
	return a
}

// answer is a response body read; its reader is kept with it so that
// reading costs no allocation.
type answer struct {
	buf bytes.Buffer
	lr  io.LimitedReader
}

func (a *answer) Bytes() []byte { return a.buf.Bytes() }

// Answers are pooled; one bigger than maxPooledBuffer is dropped.
const maxPooledBuffer = 256 << 10

var answerPool = sync.Pool{New: func() any { return new(answer) }}

func putAnswer(a *answer) {
	if a.buf.Cap() > maxPooledBuffer {
		return
	}
	a.buf.Reset()
	answerPool.Put(a)
}

// checkRetry is the DESIGN classification as a retryablehttp policy.
// errBreakerOpened ends a send whose turn came after the breaker opened.
var errBreakerOpened = errors.New("circuit breaker opened; not sent")

func (s *Sender) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		// Connection errors are retried in-process. A timeout is not: a tool
		// that hangs for a whole attempt will hang again in 200 ms, and each
		// timed-out send then counts once against the breaker, which opens
		// within about breaker.failures × timeout (docs/delivery.md) instead
		// of attempts times that. A refused address or a certificate problem
		// will not change within seconds, and an open breaker is waited out
		// by the caller. All of these are still Retryable for the lane.
		var te *timeoutError
		return !isDenied(err) && !isCertError(err) && !errors.Is(err, errBreakerOpened) && !errors.As(err, &te), nil
	}
	if Classify(resp.StatusCode) != Retryable {
		return false, nil
	}
	if ra, ok := retryAfter(resp); ok && ra > s.cfg.MaxRetryAfter {
		return false, nil // the caller naks with RetryAfter
	}
	return true, nil
}

func statusError(status int, ra time.Duration) error {
	text := http.StatusText(status)
	if ra > 0 {
		return fmt.Errorf("HTTP %d %s (Retry-After %s)", status, text, ra)
	}
	return fmt.Errorf("HTTP %d %s", status, text)
}

// transportError describes err without the URL's path or query, which may
// carry secrets (API keys in query strings, webhook tokens in paths).
func transportError(ctx context.Context, method string, u *url.URL, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	where := method + " " + u.Scheme + "://" + u.Host
	if ctx.Err() != nil {
		return fmt.Errorf("%s: send cancelled: %w", where, ctx.Err())
	}
	return fmt.Errorf("%s: %w", where, err)
}

func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Host
	}
	return ""
}

func isCertError(err error) bool {
	var cv *tls.CertificateVerificationError
	return errors.As(err, &cv)
}

func excerpt(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return bytes.Clone(b[:min(len(b), ResponseExcerptBytes)])
}

type nopObserver struct{}

func (nopObserver) Request(string, string, int, Class, time.Duration) {}
func (nopObserver) BreakerState(string, string)                       {}
func (nopObserver) Rate(string, float64)                              {}
