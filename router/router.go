package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard/switchyard/config"
)

// Options tune a Router.
type Options struct {
	// DataDir holds the embedded server's storage.
	DataDir string
	Logger  *slog.Logger
	// StopTimeout bounds how long a stopping lane waits for in-flight sends.
	StopTimeout time.Duration
	// Metrics, when nil, are created.
	Metrics *Metrics
}

// Router runs every destination of a config.
type Router struct {
	opts     Options
	log      *slog.Logger
	metrics  *Metrics
	embedded *server.Server
	nc       *nats.Conn
	js       jetstream.JetStream

	mu     sync.Mutex
	cfg    *config.Config
	plans  map[string]*Plan
	lanes  map[string]*lane
	prints map[string]string // destination -> config fingerprint
	ready  atomic.Bool
}

// New prepares a router for a validated config and its plans.
func New(cfg *config.Config, plans map[string]*Plan, opts Options) *Router {
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
	return &Router{opts: opts, log: opts.Logger, metrics: opts.Metrics, cfg: cfg, plans: plans, lanes: map[string]*lane{}, prints: map[string]string{}}
}

// Metrics returns the router's metrics.
func (r *Router) Metrics() *Metrics { return r.metrics }

// JetStream returns the router's JetStream handle (after Start).
func (r *Router) JetStream() jetstream.JetStream { return r.js }

// Conn returns the NATS connection (after Start).
func (r *Router) Conn() *nats.Conn { return r.nc }

// Embedded returns the embedded server, nil when joined to external NATS.
func (r *Router) Embedded() *server.Server { return r.embedded }

// Start connects (starting the embedded server when no URL is set),
// creates the streams and the consumers, and starts one lane per
// destination.
func (r *Router) Start(ctx context.Context) error {
	url := NATSURL(r.cfg)
	if url == "" {
		s, err := StartEmbedded(r.cfg.Global.NATS.Embedded, r.opts.DataDir)
		if err != nil {
			return err
		}
		r.embedded = s
		url = s.ClientURL()
		r.log.Info("embedded NATS started", "url", url, "store", r.opts.DataDir)
		if r.cfg.Global.NATS.Embedded.Token != "" {
			r.cfg.Global.NATS.Token = r.cfg.Global.NATS.Embedded.Token
		}
	}
	nc, err := Connect(r.cfg.Global.NATS, url)
	if err != nil {
		r.shutdownEmbedded()
		return err
	}
	r.nc = nc
	nc.SetDisconnectErrHandler(func(_ *nats.Conn, err error) { r.log.Warn("NATS disconnected", "err", err) })
	nc.SetReconnectHandler(func(c *nats.Conn) { r.log.Info("NATS reconnected", "url", redactURL(c.ConnectedUrl())) })
	if r.js, err = jetstream.New(nc); err != nil {
		return err
	}
	if err := EnsureStreams(ctx, r.js, r.cfg.Global.Streams); err != nil {
		r.Stop()
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, name := range sortedKeys(r.plans) {
		if err := r.startLane(ctx, r.plans[name]); err != nil {
			r.mu.Unlock()
			r.Stop()
			r.mu.Lock()
			return err
		}
		r.prints[name] = fingerprint(r.cfg, r.plans[name])
	}
	r.ready.Store(true)
	r.log.Info("switchyard routing", "destinations", len(r.plans))
	return nil
}

func (r *Router) startLane(ctx context.Context, p *Plan) error {
	for _, w := range p.warnings {
		r.log.Warn(w.String())
	}
	c, err := r.ensureConsumer(ctx, p)
	if err != nil {
		return err
	}
	l, err := newLane(r, p, c)
	if err != nil {
		return err
	}
	r.lanes[p.Name] = l
	l.start()
	if p.Policy.Sender.InsecureSkipVerify {
		r.log.Warn("TLS verification is off", "destination", p.Name)
	}
	return nil
}

// Ready reports whether the router is routing.
func (r *Router) Ready() bool {
	return r.ready.Load() && r.nc != nil && r.nc.IsConnected()
}

// Stop stops every lane gracefully, then closes NATS.
func (r *Router) Stop() {
	r.ready.Store(false)
	r.mu.Lock()
	lanes := r.lanes
	r.lanes = map[string]*lane{}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, l := range lanes {
		wg.Add(1)
		go func(l *lane) { defer wg.Done(); l.stop(r.opts.StopTimeout) }(l)
	}
	wg.Wait()
	if r.nc != nil {
		_ = r.nc.Drain()
		deadline := time.Now().Add(5 * time.Second)
		for !r.nc.IsClosed() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		r.nc.Close()
	}
	r.shutdownEmbedded()
}

func (r *Router) shutdownEmbedded() {
	if r.embedded != nil {
		r.embedded.Shutdown()
		r.embedded.WaitForShutdown()
		r.embedded = nil
	}
}

// fingerprint identifies what a lane was built from: a change restarts it.
func fingerprint(cfg *config.Config, p *Plan) string {
	b, _ := json.Marshal(struct {
		D *config.Destination
		L config.Limits
		F config.Defaults
		S config.Security
	}{p.Config, cfg.Global.Limits, cfg.Global.Defaults, cfg.Global.Security})
	return string(b)
}

// ErrRefused wraps the diagnostics of a config that did not validate.
var ErrRefused = errors.New("config refused")

// Reload applies a new config atomically: if it does not validate nothing
// changes. Added destinations get a consumer and a lane; removed ones stop,
// their consumer kept for the grace period; changed ones restart on the
// same consumer, keeping its position.
func (r *Router) Reload(ctx context.Context, cfg *config.Config, diags config.Diagnostics) error {
	var plans map[string]*Plan
	if diags.Err() == nil {
		var bd config.Diagnostics
		plans, bd = Build(cfg)
		diags = append(diags, bd...)
	}
	if err := diags.Err(); err != nil {
		r.metrics.Reloads.WithLabelValues("refused").Inc()
		for _, d := range diags.Errors() {
			r.log.Error("reload refused: "+d.String(), "file", d.Pos.File, "line", d.Pos.Line, "col", d.Pos.Col)
		}
		return fmt.Errorf("%w: %d errors", ErrRefused, len(diags.Errors()))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.cfg
	if NATSURL(old) != NATSURL(cfg) || old.Global.Admin != cfg.Global.Admin || old.Global.Ingest != cfg.Global.Ingest {
		r.log.Warn("reload: nats, admin and ingest settings apply at the next restart")
	}
	if err := EnsureStreams(ctx, r.js, cfg.Global.Streams); err != nil {
		r.log.Error("reload: updating streams failed", "err", err)
	}
	grace := cfg.Global.Reload.RemovedGrace.Or(24 * time.Hour)
	changed := 0
	for name, l := range r.lanes {
		if _, keep := plans[name]; keep {
			continue
		}
		l.stop(r.opts.StopTimeout)
		delete(r.lanes, name)
		delete(r.prints, name)
		r.metrics.forget(name)
		if err := r.retireConsumer(ctx, name, grace); err != nil {
			r.log.Warn("removed destination: could not set the consumer's grace period", "destination", name, "err", err)
		}
		r.log.Info("destination removed; its consumer is kept for the grace period", "destination", name, "grace", grace)
		changed++
	}
	var firstErr error
	for _, name := range sortedKeys(plans) {
		p := plans[name]
		fp := fingerprint(cfg, p)
		if l, ok := r.lanes[name]; ok {
			if r.prints[name] == fp {
				continue
			}
			l.stop(r.opts.StopTimeout)
			delete(r.lanes, name)
			r.log.Info("destination changed; restarting its lane on the same consumer", "destination", name)
		} else {
			r.log.Info("destination added", "destination", name)
		}
		if err := r.startLane(ctx, p); err != nil {
			r.log.Error("reload: starting lane failed", "destination", name, "err", err)
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		r.prints[name] = fp
		changed++
	}
	r.cfg, r.plans = cfg, plans
	if changed == 0 {
		r.metrics.Reloads.WithLabelValues("unchanged").Inc()
	} else {
		r.metrics.Reloads.WithLabelValues("applied").Inc()
	}
	return firstErr
}

// Destinations lists the running destinations.
func (r *Router) Destinations() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.lanes))
	for n := range r.lanes {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// AdminHandler serves /metrics, /healthz, /readyz and /debug/deliveries.
func (r *Router) AdminHandler(token string) http.Handler {
	return newAdmin(r, token)
}
