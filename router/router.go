package router

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/router/plan"
	"github.com/switchyard/switchyard/router/regulations"
)

// GCPercent is the GOGC a router runs with (switchyard serve sets it when
// the environment sets none): its heap is mostly short-lived event maps,
// and collecting less often buys throughput for memory it has
// (docs/performance.md). The bench measures mapping in process at it.
const GCPercent = 300

// Options tune a Router.
type Options struct {
	// DataDir holds the embedded server's storage.
	DataDir string
	Logger  *slog.Logger
	// StopTimeout bounds how long a stopping lane waits for in-flight sends.
	StopTimeout time.Duration
	// Metrics, when nil, are created.
	Metrics *Metrics
	// Console, when set, serves / on the admin listener (and every path
	// the admin endpoints do not): router/console.Handler.
	Console func(r *Router, token string) http.Handler
	// Receipts overrides the definitions' receipts delays (tests).
	Receipts ReceiptTiming
	// AckGather overrides how long acknowledgements gather in a round
	// (tests; default 1ms, router/acks.go).
	AckGather time.Duration
}

// Router runs every destination of a config.
//
// Lock order: reloadMu, then mu, then a lane's own lock (lane.mu);
// invalid's lock and the suppression index's are leaves. mu only
// guards the maps below and is never held across NATS calls, a lane's
// start or stop, or any other wait; reloadMu serialises reloads (and Stop)
// and is held across them.
type Router struct {
	opts     Options
	log      *slog.Logger
	metrics  *Metrics
	embedded *server.Server
	nc       *nats.Conn
	js       jetstream.JetStream
	closed   chan struct{} // closed by the connection's closed handler
	acks     *acker        // the lanes' acknowledgements, in rounds; set by Start
	ready    atomic.Bool

	reloadMu sync.Mutex
	invalid  seenSet // invalid events this router dead-lettered (stored once)
	health   writeHealth
	storeDir string          // the embedded server's store, "" when joined to NATS
	bg       context.Context // the background work's (write watch, lane retries, the console's sampler): cancelled by Stop
	bgStop   context.CancelFunc
	watching sync.WaitGroup // the write watch and lane retries; Add before go

	// regStore and index are the regulations (router/regulations), set by
	// Start before any lane routes; atomic because the admin listener
	// serves while Start runs.
	regStore atomic.Pointer[regulations.Store]
	index    atomic.Pointer[regulations.Index]
	deleter  *deleter

	mu     sync.Mutex
	cfg    *config.Config
	plans  map[string]*plan.Plan
	lanes  map[string]*lane
	prints map[string]string // destination -> config fingerprint
	gen    int               // reloads applied: a lane retry of an older one gives up
}

// New prepares a router for a validated config and its plans (built with
// plan.BuildToServe).
func New(cfg *config.Config, plans map[string]*plan.Plan, opts Options) *Router {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics()
	}
	if opts.StopTimeout == 0 {
		opts.StopTimeout = 30 * time.Second
	}
	if opts.DataDir == "" {
		opts.DataDir = "data"
	}
	r := &Router{opts: opts, log: opts.Logger, metrics: opts.Metrics, cfg: cfg, plans: plans,
		lanes: map[string]*lane{}, prints: map[string]string{}, closed: make(chan struct{})}
	r.bg, r.bgStop = context.WithCancel(context.Background())
	return r
}

// Metrics returns the router's metrics.
func (r *Router) Metrics() *Metrics { return r.metrics }

// JetStream returns the router's JetStream handle (after Start).
func (r *Router) JetStream() jetstream.JetStream { return r.js }

// Conn returns the NATS connection (after Start).
func (r *Router) Conn() *nats.Conn { return r.nc }

// Embedded returns the embedded server, nil when joined to external NATS.
func (r *Router) Embedded() *server.Server { return r.embedded }

// config returns the running config.
func (r *Router) config() *config.Config {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cfg
}

// Start connects (starting the embedded server when no URL is set),
// creates the streams and the consumers, and starts one lane per
// destination. On error, everything it started is stopped again.
func (r *Router) Start(ctx context.Context) (err error) {
	cfg := r.config()
	natsCfg := cfg.Global.NATS // a copy: the caller's config is not changed
	url := NATSURL(cfg)
	if url == "" {
		s, err := StartEmbedded(natsCfg.Embedded, r.opts.DataDir, r.log, r.noteWrite)
		if err != nil {
			return err
		}
		r.embedded = s
		r.storeDir = filepath.Join(r.opts.DataDir, "jetstream")
		url = s.ClientURL()
		r.log.Info("embedded NATS started", "url", url, "store", r.opts.DataDir)
		if natsCfg.Embedded.Token != "" {
			natsCfg.Token = natsCfg.Embedded.Token
		}
	}
	defer func() {
		if err != nil {
			r.Stop()
		}
	}()
	wait := natsCfg.ConnectWaitOrDefault()
	nc, err := ConnectWaiting(ctx, natsCfg, url, wait, func(err error) {
		r.log.Warn("NATS not reachable yet; waiting for it (/readyz says not ready meanwhile)", "url", redactURL(url), "connect_wait", wait, "err", err)
	})
	if err != nil {
		return err
	}
	r.nc = nc
	r.acks = newAcker(cmp.Or(r.opts.AckGather, ackGather))
	nc.SetDisconnectErrHandler(func(_ *nats.Conn, err error) { r.log.Warn("NATS disconnected", "err", err) })
	nc.SetReconnectHandler(func(c *nats.Conn) { r.log.Info("NATS reconnected", "url", redactURL(c.ConnectedUrl())) })
	nc.SetClosedHandler(func(*nats.Conn) { close(r.closed) })
	if r.js, err = jetstream.New(nc); err != nil {
		return fmt.Errorf("JetStream: %w", err)
	}
	if err := EnsureStreams(ctx, r.js, cfg.Global.Streams); err != nil {
		return err
	}
	// The suppressions are read before any lane routes: a restarted router
	// never delivers an event of a user suppressed meanwhile.
	store, err := regulations.Open(ctx, r.js, regulations.Options{Replicas: cfg.Global.Streams.Replicas})
	if err != nil {
		return err
	}
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	index, err := regulations.Watch(wctx, store.KV())
	wcancel()
	if err != nil {
		return err
	}
	r.index.Store(index)
	r.regStore.Store(store)
	r.log.Info("regulations read", "suppressed_ids", index.Len())
	r.mu.Lock()
	plans := r.plans
	r.mu.Unlock()
	for _, name := range slices.Sorted(maps.Keys(plans)) {
		l, err := r.startLane(ctx, plans[name])
		if err != nil {
			return err
		}
		r.mu.Lock()
		r.lanes[name] = l
		r.prints[name] = fingerprint(cfg, plans[name])
		r.mu.Unlock()
	}
	if r.deleter, err = r.startDeleter(ctx); err != nil {
		return err
	}
	bg := r.bg
	r.watching.Add(1)
	go func() { defer r.watching.Done(); r.watchWrites(bg) }()
	r.ready.Store(true)
	r.log.Info("switchyard routing", "destinations", len(plans))
	return nil
}

// Regulations is the regulations store (after Start).
func (r *Router) Regulations() *regulations.Store { return r.regStore.Load() }

// Suppressions is the router's view of the suppressions in force (after
// Start): the HTTP intake consults it.
func (r *Router) Suppressions() *regulations.Index { return r.index.Load() }

// RegulationsView is what a lane (and a replay the router serves, such as
// the console's) passes to routing: nil (no suppression known) only before
// Start has read them, when no lane runs.
func (r *Router) RegulationsView() plan.Regulations {
	ix := r.index.Load()
	if ix == nil {
		return nil
	}
	return ix
}

// startLane ensures the destination's consumer and starts its lane. It
// takes no lock: the caller installs the lane.
func (r *Router) startLane(ctx context.Context, p *plan.Plan) (*lane, error) {
	for _, w := range p.Warnings() {
		r.log.Warn(w.String())
	}
	c, err := r.ensureConsumer(ctx, p)
	if err != nil {
		return nil, err
	}
	l, err := newLane(r, p, c, r.config().Global.Streams.MaxAge.Or(defaultMaxAge))
	if err != nil {
		return nil, err
	}
	if p.Receipts != nil {
		if l.receipts, err = r.startReceiptChecker(ctx, p, l.samples, l.log); err != nil {
			return nil, err
		}
	}
	l.start()
	if p.Policy.Sender.InsecureSkipVerify {
		r.log.Warn("TLS verification is off", "destination", p.Name)
	}
	return l, nil
}

// Ready reports whether the router is routing: started, connected, and
// JetStream takes writes.
func (r *Router) Ready() bool {
	ok, _ := r.NotReady()
	return ok
}

// NotReady is Ready with the reason when not.
func (r *Router) NotReady() (bool, string) {
	switch {
	case !r.ready.Load():
		return false, "not started"
	case r.nc == nil || !r.nc.IsConnected():
		return false, "not connected to NATS"
	}
	if ok, reason := r.writable(); !ok {
		return false, "JetStream refuses writes (" + reason + "): see switchyard_jetstream_writable and the log"
	}
	return true, ""
}

// Stop stops every lane gracefully, then closes NATS and the embedded
// server. It waits for a reload in progress to end.
func (r *Router) Stop() {
	r.ready.Store(false)
	r.bgStop()
	r.watching.Wait()
	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()
	r.mu.Lock()
	lanes := r.lanes
	r.lanes = map[string]*lane{}
	r.mu.Unlock()
	if r.deleter != nil {
		// Deletions stop at their next request; the one in flight ends as
		// the lanes' sends do.
		r.deleter.stop()
	}
	stopLanes(lanes, r.opts.StopTimeout)
	r.acks.stop()
	if r.deleter != nil {
		r.deleter.wait()
		r.deleter = nil
	}
	if ix := r.index.Load(); ix != nil {
		ix.Stop()
	}
	if r.nc != nil {
		if err := r.nc.Drain(); err != nil {
			r.nc.Close()
		}
		select {
		case <-r.closed:
		case <-time.After(5 * time.Second):
			r.nc.Close()
		}
	}
	r.shutdownEmbedded()
}

// stopLanes stops lanes in parallel and waits for all of them.
func stopLanes(lanes map[string]*lane, timeout time.Duration) {
	var wg sync.WaitGroup
	wg.Add(len(lanes))
	for _, l := range lanes {
		go func() { defer wg.Done(); l.stop(timeout) }()
	}
	wg.Wait()
}

func (r *Router) shutdownEmbedded() {
	if r.embedded != nil {
		r.embedded.Shutdown()
		r.embedded.WaitForShutdown()
		r.embedded = nil
	}
}

// fingerprint identifies what a lane was built from: a change restarts it.
func fingerprint(cfg *config.Config, p *plan.Plan) string {
	b, _ := json.Marshal(struct {
		D *config.Destination
		L config.Limits
		F config.Defaults
		S config.Security
		A config.Duration // the expiry watch reads EVENTS' max age
	}{p.Config, cfg.Global.Limits, cfg.Global.Defaults, cfg.Global.Security, cfg.Global.Streams.MaxAge})
	return string(b)
}

// ErrRefused wraps the diagnostics of a config that did not validate.
var ErrRefused = errors.New("config refused")

// Reload applies a new config atomically: if it does not validate nothing
// changes. Added destinations get a consumer and a lane; removed ones stop,
// their consumer kept for the grace period; changed ones restart on the
// same consumer, keeping its position. No lock that readers take is held
// while lanes stop or start: /debug/deliveries and the console keep
// answering, and a stop waits only for the reload itself.
func (r *Router) Reload(ctx context.Context, cfg *config.Config, diags config.Diagnostics) error {
	var plans map[string]*plan.Plan
	if diags.Err() == nil {
		var bd config.Diagnostics
		plans, bd = plan.BuildToServe(cfg)
		diags = append(diags, bd...)
	}
	if err := diags.Err(); err != nil {
		r.metrics.Reloads.WithLabelValues("refused").Inc()
		for _, d := range diags.Errors() {
			r.log.Error("reload refused: "+d.String(), "file", d.Pos.File, "line", d.Pos.Line, "col", d.Pos.Col)
		}
		return fmt.Errorf("%w: %d errors", ErrRefused, len(diags.Errors()))
	}
	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()
	old := r.config()
	if NATSURL(old) != NATSURL(cfg) || old.Global.Admin != cfg.Global.Admin || old.Global.Ingest != cfg.Global.Ingest {
		r.log.Warn("reload: nats, admin and ingest settings apply at the next restart")
	}
	if err := EnsureStreams(ctx, r.js, cfg.Global.Streams); err != nil {
		r.log.Error("reload: updating streams failed", "err", err)
	}

	// Decide under mu; stop and start outside it.
	r.mu.Lock()
	stopping := map[string]*lane{}
	var removed, changed, added []string
	for name, l := range r.lanes {
		if _, keep := plans[name]; !keep {
			stopping[name] = l
			removed = append(removed, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(plans)) {
		l, running := r.lanes[name]
		switch {
		case !running:
			added = append(added, name)
		case r.prints[name] != fingerprint(cfg, plans[name]):
			stopping[name] = l
			changed = append(changed, name)
		}
	}
	r.mu.Unlock()

	stopLanes(stopping, r.opts.StopTimeout)
	r.mu.Lock()
	for name := range stopping {
		delete(r.lanes, name)
		delete(r.prints, name)
	}
	r.mu.Unlock()

	grace := cfg.Global.Reload.RemovedGrace.Or(24 * time.Hour)
	for _, name := range removed {
		r.metrics.forget(name)
		if err := r.retireConsumer(ctx, name, grace); err != nil {
			r.log.Warn("removed destination: could not set the consumer's grace period", "destination", name, "err", err)
		}
		r.log.Info("destination removed; its consumer is kept for the grace period", "destination", name, "grace", grace)
	}
	// The lanes just stopped must start again whatever happens to the
	// caller's context: a reload cancelled half way must not leave a
	// destination without a lane.
	startCtx := context.WithoutCancel(ctx)
	r.mu.Lock()
	r.gen++
	gen := r.gen
	r.mu.Unlock()
	var errs []error
	for _, name := range append(changed, added...) {
		p := plans[name]
		l, err := r.startLane(startCtx, p)
		if err != nil {
			r.log.Error("reload: starting lane failed; retrying in the background", "destination", name, "err", err)
			errs = append(errs, fmt.Errorf("%s: %w (retrying)", name, err))
			r.retryLane(gen, cfg, p)
			continue
		}
		r.mu.Lock()
		r.lanes[name] = l
		r.prints[name] = fingerprint(cfg, p)
		r.mu.Unlock()
		if contains(changed, name) {
			r.log.Info("destination changed; its lane restarted on the same consumer", "destination", name)
		} else {
			r.log.Info("destination added", "destination", name)
		}
	}
	r.mu.Lock()
	r.cfg, r.plans = cfg, plans
	r.mu.Unlock()
	if len(removed)+len(changed)+len(added) == 0 {
		r.metrics.Reloads.WithLabelValues("unchanged").Inc()
	} else {
		r.metrics.Reloads.WithLabelValues("applied").Inc()
	}
	return errors.Join(errs...)
}

func contains(l []string, s string) bool {
	for _, e := range l {
		if e == s {
			return true
		}
	}
	return false
}

// Destinations lists the running destinations.
func (r *Router) Destinations() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(maps.Keys(r.lanes))
}

// lane returns a running destination's lane.
func (r *Router) lane(name string) (*lane, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	l, ok := r.lanes[name]
	return l, ok
}

// AdminHandler serves /metrics, /healthz, /readyz and /debug/deliveries.
func (r *Router) AdminHandler(token string) http.Handler {
	return newAdmin(r, token)
}
