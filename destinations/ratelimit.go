package destinations

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Adaptive rate limiting (RateConfig.Adaptive) is AIMD:
//
//   - Decrease: a 429 halves the current limit (floor 1 rps). A 429 for an
//     attempt that started before the last decrease is ignored: it was sent
//     at the old rate, so many requests in flight when a tool starts to
//     refuse count as one signal, not as one halving each.
//   - Increase: each 2xx adds step/limit rps, where step is 5% of the target
//     rate, at least 1 rps. A lane sending at its limit makes about `limit`
//     requests a second, so it regains about `step` rps per second: from half
//     the target back to the target in roughly ten seconds of traffic.
//   - Target: the configured RPS, never exceeded. With RPS 0 (unlimited) the
//     limiter stays unlimited until the first 429; then it caps at the rate
//     measured over the last second (at most 100 rps, 100 when nothing was
//     measured), halves from there, and once it climbs back to that cap it
//     is unlimited again.
const (
	aimdDecrease     = 0.5
	aimdFloor        = 1.0
	aimdUnlimitedCap = 100.0
	aimdStepShare    = 0.05
)

// limiter bounds one Sender's attempts: a concurrency limit (fixed, or
// adaptive: concurrency.go) and a token bucket, both waited on before each
// attempt; the bucket's turns start on a grid (pace.go).
type limiter struct {
	conc     *concurrency
	rl       *rate.Limiter
	epoch    time.Time     // the grid's origin: paceEpoch (a test may set its own)
	quantum  time.Duration // the grid's step; 0: no rounding
	adaptive bool
	ceiling  float64 // configured RPS; 0 = unlimited
	burst    int
	onRate   func(float64)
	// now is the adaptive concurrency's clock: nil for the attempt's own
	// readings of time.Now (a test may freeze it, making every answer a
	// window of its own).
	now func() time.Time
	// clock is the token bucket's, for changes to its rate (time.Now; a
	// test drives its own, calling reserve rather than acquire, whose
	// timers run on time.Now).
	clock func() time.Time
	// actions are the fixed ceilings of single actions
	// (RateConfig.Actions), built once and only read after.
	actions map[string]*rate.Limiter

	// limited is true while the adaptive limit is below its target, so that
	// the success path needs no lock in the common case.
	limited atomic.Bool
	// unlimited mirrors a token bucket at rate.Inf, where every attempt's
	// turn is now: waitToken then skips the bucket (its lock, and a
	// reservation allocated per attempt).
	unlimited atomic.Bool
	// pausedUntil (unix nanoseconds) holds attempts off after a Retry-After.
	pausedUntil atomic.Int64
	// passed counts the attempts past the limiter and not yet released:
	// those on the wire (Sender.Sending).
	passed atomic.Int32

	mu        sync.Mutex
	cur       float64   // current limit; 0 = unlimited
	target    float64   // what recovery climbs back to
	decreased time.Time // last decrease
	winStart  time.Time // measuring window for the unlimited case
	winCount  int
	measured  float64 // attempts per second over the last full window
}

func newLimiter(cfg RateConfig, onRate func(float64), onConcurrency func(int)) *limiter {
	l := &limiter{
		conc:     newConcurrency(cfg.Concurrency, cfg.InitialConcurrency, cfg.AdaptiveConcurrency, onConcurrency),
		adaptive: cfg.Adaptive,
		ceiling:  cfg.RPS,
		burst:    max(1, cfg.Burst),
		onRate:   onRate,
		cur:      cfg.RPS,
		target:   cfg.RPS,
		clock:    time.Now,
		epoch:    paceEpoch,
		quantum:  paceQuantum(cfg.RPS),
	}
	lim := rate.Inf
	if cfg.RPS > 0 {
		lim = rate.Limit(cfg.RPS)
	}
	l.rl = rate.NewLimiter(lim, l.burst)
	l.unlimited.Store(lim == rate.Inf)
	for a, rps := range cfg.Actions {
		if l.actions == nil {
			l.actions = make(map[string]*rate.Limiter, len(cfg.Actions))
		}
		l.actions[a] = rate.NewLimiter(rate.Limit(rps), 1) // evenly spaced
	}
	return l
}

// waitAction waits for the turn of an action with a ceiling of its own
// (RateConfig.Actions), before the destination's concurrency slot and
// token: an attempt held back by its endpoint's limit takes neither from
// the destination's other actions meanwhile.
func (l *limiter) waitAction(ctx context.Context, action string) error {
	al := l.actions[action]
	if al == nil {
		return nil
	}
	if err := al.Wait(ctx); err != nil {
		return fmt.Errorf("action %s's rate limit (%v requests/s): %w", action, float64(al.Limit()), err)
	}
	return nil
}

// acquire waits for a concurrency slot, then for a token. On success the
// caller must call release once the attempt is over (its body closed).
func (l *limiter) acquire(ctx context.Context) error {
	if err := l.conc.acquire(ctx); err != nil {
		return err
	}
	if err := l.waitPause(ctx); err != nil {
		l.conc.release()
		return err
	}
	if err := l.waitToken(ctx); err != nil {
		l.conc.release()
		return err
	}
	if l.adaptive && l.ceiling == 0 && !l.limited.Load() {
		l.count(time.Now())
	}
	l.passed.Add(1)
	return nil
}

// release ends an attempt that acquire let through.
func (l *limiter) release() {
	l.passed.Add(-1)
	l.conc.release()
}

// pause holds every attempt off for d (a tool's Retry-After).
func (l *limiter) pause(d time.Duration) {
	until := time.Now().Add(d).UnixNano()
	for {
		cur := l.pausedUntil.Load()
		if cur >= until || l.pausedUntil.CompareAndSwap(cur, until) {
			return
		}
	}
}

func (l *limiter) waitPause(ctx context.Context) error {
	for {
		d := time.Until(time.Unix(0, l.pausedUntil.Load()))
		if d <= 0 {
			return nil
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// count measures the attempt rate while unlimited, to pick a starting cap
// on the first 429.
func (l *limiter) count(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if el := now.Sub(l.winStart); el >= time.Second {
		if el < 2*time.Second {
			l.measured = float64(l.winCount) / el.Seconds()
		} else {
			l.measured = 0
		}
		l.winStart, l.winCount = now, 0
	}
	l.winCount++
}

// observe feeds one attempt's status to the adaptive limit.
func (l *limiter) observe(status int, started time.Time) {
	if !l.adaptive {
		return
	}
	switch {
	case status == 429:
		l.decrease(started)
	case status >= 200 && status < 300 && l.limited.Load():
		l.increase()
	}
}

func (l *limiter) decrease(started time.Time) {
	l.mu.Lock()
	if started.Before(l.decreased) {
		l.mu.Unlock()
		return
	}
	if l.cur == 0 { // unlimited until now
		base := aimdUnlimitedCap
		if l.measured >= aimdFloor && l.measured < base {
			base = l.measured
		}
		l.cur, l.target = base, base
	}
	l.cur = math.Max(aimdFloor, l.cur*aimdDecrease)
	l.decreased = time.Now()
	l.limited.Store(l.cur < l.target)
	r := l.applyLocked()
	l.mu.Unlock()
	l.onRate(r)
}

func (l *limiter) increase() {
	l.mu.Lock()
	if l.cur == 0 || l.cur >= l.target {
		l.mu.Unlock()
		return
	}
	step := math.Max(1, aimdStepShare*l.target)
	l.cur += step / l.cur
	if l.cur >= l.target {
		l.cur = l.ceiling // the configured RPS, or 0: unlimited again
		l.target = l.ceiling
		l.limited.Store(false)
	}
	r := l.applyLocked()
	l.mu.Unlock()
	l.onRate(r)
}

// applyLocked pushes the current limit into the token bucket and returns it.
func (l *limiter) applyLocked() float64 {
	now := l.clock()
	if l.cur == 0 {
		l.rl.SetLimitAt(now, rate.Inf)
		l.rl.SetBurstAt(now, l.burst)
		l.unlimited.Store(true)
		return 0
	}
	l.unlimited.Store(false)
	l.rl.SetLimitAt(now, rate.Limit(l.cur))
	b := l.burst
	if float64(b) > l.cur {
		b = max(1, int(l.cur))
	}
	l.rl.SetBurstAt(now, b)
	return l.cur
}

// current is the limit now in force, 0 for unlimited.
func (l *limiter) current() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cur
}

// attemptTransport runs one HTTP attempt: it waits for the limiter, bounds
// the attempt with SenderConfig.Timeout (response headers and body), feeds
// the status to the adaptive limit and reports the attempt to the Observer.
// The limiter wait is outside the timeout. Its CloseIdleConnections, which
// retryablehttp calls after a failed send, reaches only this Sender's pool.
type attemptTransport struct {
	s    *Sender
	base *http.Transport
}

func (t *attemptTransport) CloseIdleConnections() { t.base.CloseIdleConnections() }

func (t *attemptTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	s := t.s
	st, _ := ctx.Value(sendStateKey{}).(*sendState)
	if st == nil {
		st = &sendState{Context: ctx}
	}
	if err := s.limit.waitAction(ctx, st.action); err != nil {
		return nil, err
	}
	if err := s.limit.acquire(ctx); err != nil {
		return nil, err
	}
	if s.breakerOpen() {
		// The breaker opened while this send waited for its turn: do not
		// add to what the tool is already failing under.
		s.limit.release()
		return nil, errBreakerOpened
	}
	st.attempts++
	actx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	start := time.Now()
	cstart := start
	if s.limit.now != nil {
		cstart = s.limit.now()
	}
	resp, err := t.base.RoundTrip(req.WithContext(actx))
	end := time.Now()
	d, cend := end.Sub(start), end
	if s.limit.now != nil {
		cend = s.limit.now()
	}
	if err != nil {
		cancel()
		if ctx.Err() == nil {
			// A timeout or a failed connection, not the caller giving up.
			s.limit.conc.observe(cend, cend.Sub(cstart), true)
		}
		s.limit.release()
		class := Retryable
		if isDenied(err) {
			class = Permanent
		}
		if ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
			err = &timeoutError{after: s.cfg.Timeout, err: err}
		}
		s.obs.Request(s.cfg.Name, st.action, 0, class, d)
		return nil, err
	}
	st.lastStatus = resp.StatusCode
	s.limit.observe(resp.StatusCode, start)
	s.limit.conc.observe(cend, cend.Sub(cstart), backPressure(resp.StatusCode))
	if resp.StatusCode == 429 || resp.StatusCode == 503 {
		// The tool asked the whole destination to wait, not this request
		// alone: every attempt holds off until then (capped).
		if ra, ok := retryAfter(resp); ok && ra > 0 {
			s.limit.pause(min(ra, s.cfg.MaxRetryAfter))
		}
	}
	s.obs.Request(s.cfg.Name, st.action, resp.StatusCode, Classify(resp.StatusCode), d)
	resp.Body = &attemptBody{ReadCloser: resp.Body, cancel: cancel, limit: s.limit}
	return resp, nil
}

// attemptBody ends the attempt (timeout context, concurrency slot) when the
// body is closed.
type attemptBody struct {
	io.ReadCloser
	cancel context.CancelFunc
	limit  *limiter
	closed atomic.Bool
}

func (b *attemptBody) Close() error {
	err := b.ReadCloser.Close()
	if b.closed.CompareAndSwap(false, true) {
		b.cancel()
		b.limit.release()
	}
	return err
}

// timeoutError is an attempt that exceeded SenderConfig.Timeout.
type timeoutError struct {
	after time.Duration
	err   error
}

func (e *timeoutError) Error() string {
	return fmt.Sprintf("no response within the %s timeout", e.after)
}
func (e *timeoutError) Unwrap() error { return e.err }
func (e *timeoutError) Timeout() bool { return true }

// backoff honours a retryable response's Retry-After (checkRetry already
// stopped when it exceeds MaxRetryAfter); otherwise it waits a jittered
// exponential delay: half of min·2^attempt (capped at max) plus a random
// share of the other half.
func (s *Sender) backoff(lo, hi time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil && Classify(resp.StatusCode) == Retryable {
		if ra, ok := retryAfter(resp); ok && ra > 0 {
			return min(ra, s.cfg.MaxRetryAfter)
		}
	}
	d := hi
	if attempt < 30 && lo<<attempt < hi && lo<<attempt > 0 {
		d = lo << attempt
	}
	half := d / 2
	return half + rand.N(half+1)
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP-date
// (from now; the clock is read only when there is one).
func retryAfter(resp *http.Response) (time.Duration, bool) {
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	return parseRetryAfter(v, time.Now())
}

func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	var secs int64
	isNum := len(v) > 0
	for _, c := range []byte(v) {
		if c < '0' || c > '9' {
			isNum = false
			break
		}
		secs = secs*10 + int64(c-'0')
		if secs > 1<<31 {
			secs = 1 << 31
		}
	}
	if isNum {
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// PausedFor is how long attempts are still held off by a tool's
// Retry-After (0: not paused). The console shows it as the destination's
// state.
func (s *Sender) PausedFor() time.Duration {
	return max(time.Until(time.Unix(0, s.limit.pausedUntil.Load())), 0)
}
