package plan

import (
	"time"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/destinations"
	"github.com/switchyard/switchyard/mappings"
)

// batchFor resolves an action's batching: the tool's (or preset's)
// definition, then the destination's delivery.batch, then the action's own
// batch. Webhook and http destinations batch only when asked, sending the
// JSON array of items.
func (pb *planBuilder) batchFor(def *destinations.BatchDef, action *config.Batch) *destinations.BatchSpec {
	dest := pb.d.Delivery.Batch
	glob := pb.b.Config.Global.Defaults.Delivery.Batch
	if def == nil {
		if pb.p.Def != nil {
			return nil // the tool takes one event per request
		}
		if dest.MaxItems == 0 && (action == nil || action.MaxItems == 0) {
			return nil
		}
		def = &destinations.BatchDef{}
	}
	if def.Disabled || dest.Disabled || (action != nil && action.Disabled) {
		return nil
	}
	spec := &destinations.BatchSpec{Key: def.Key, MaxItems: def.MaxItems, MaxBytes: def.MaxBytes}
	if def.Linger != "" {
		l, err := config.ParseDuration(def.Linger)
		if err != nil {
			pb.errAt("type", "catalog defect: batch linger %q: %v", def.Linger, err)
		}
		spec.Linger = l.D()
	}
	// Operators may lower a tool's limits, never raise them past what the
	// tool documents.
	for _, b := range []*config.Batch{&glob, &dest, action} {
		if b == nil {
			continue
		}
		spec.MaxItems = lowerLimit(spec.MaxItems, b.MaxItems, def.MaxItems)
		spec.MaxBytes = lowerLimit(spec.MaxBytes, b.MaxBytes, def.MaxBytes)
		if b.Linger != 0 {
			spec.Linger = b.Linger.D()
		}
	}
	if def.Envelope != nil {
		f, err := pb.b.Compiler.Fields("envelope", def.Envelope)
		if err != nil {
			pb.errAt("type", "catalog defect: batch envelope: %v", err)
			return spec
		}
		env, err := f.Render(mappings.SettingsEnv(pb.p.Settings))
		if err != nil {
			pb.errAt("settings", "batch envelope: %v", err)
			return spec
		}
		spec.Envelope, _ = env.(map[string]any)
	}
	return spec
}

func lowerLimit(cur, want, toolMax int) int {
	if want <= 0 {
		return cur
	}
	if toolMax > 0 && want > toolMax {
		return toolMax
	}
	return want
}

// Built-in delivery defaults (docs/delivery.md).
const (
	defaultTimeout     = 10 * time.Second
	defaultAttempts    = 3
	defaultRetryAfter  = 30 * time.Second
	defaultBackoff     = 10 * time.Second
	defaultBackoffMax  = 10 * time.Minute
	defaultRetryWindow = 4 * time.Hour
	defaultFailures    = 5
	defaultCooldown    = 30 * time.Second
	defaultConcurrency = 16
	defaultInFlight    = 256
)

// policy resolves delivery: the destination's file, then the global
// defaults, then the tool's documented limits, then built-in defaults.
func (pb *planBuilder) policy() {
	d, g := pb.d.Delivery, pb.b.Config.Global.Defaults.Delivery
	pick := func(a, b config.Duration, def time.Duration) time.Duration {
		if a != 0 {
			return a.D()
		}
		return b.Or(def)
	}
	pickInt := func(a, b, def int) int {
		if a > 0 {
			return a
		}
		if b > 0 {
			return b
		}
		return def
	}
	rps, conc := d.Rate.RPS, d.Rate.Concurrency
	if rps == 0 {
		rps = g.Rate.RPS
	}
	if conc == 0 {
		conc = g.Rate.Concurrency
	}
	if def := pb.p.Def; def != nil {
		if rps == 0 || (def.Rate.RPS > 0 && rps > def.Rate.RPS) {
			if rps > def.Rate.RPS && rps != 0 {
				pb.warnAt("delivery.rate.rps", "rps %.0f is above %s's documented limit %.0f; using the limit", rps, def.Name, def.Rate.RPS)
			}
			rps = def.Rate.RPS
		}
		if conc == 0 {
			conc = def.Rate.Concurrency
		}
	}
	pb.concSet = conc > 0
	pb.adaptiveConc = d.Rate.AdaptiveConcurrency
	if pb.adaptiveConc == nil {
		pb.adaptiveConc = g.Rate.AdaptiveConcurrency
	}
	adaptive := true
	if d.Rate.Adaptive != nil {
		adaptive = *d.Rate.Adaptive
	} else if g.Rate.Adaptive != nil {
		adaptive = *g.Rate.Adaptive
	}
	failures := d.Breaker.Failures
	if failures == 0 {
		failures = g.Breaker.Failures
	}
	if failures == 0 {
		failures = defaultFailures
	}
	insecure := d.InsecureSkipVerify || g.InsecureSkipVerify
	if insecure {
		pb.warnAt("delivery.insecure_skip_verify", "TLS verification is off for %s", pb.d.Name)
	}
	gl := pb.b.Config.Global
	pb.p.Policy = Policy{
		Sender: destinations.SenderConfig{
			Name:               pb.d.Name,
			Timeout:            pick(d.Timeout, g.Timeout, defaultTimeout),
			Attempts:           pickInt(d.Attempts, g.Attempts, defaultAttempts),
			MaxRetryAfter:      pick(d.MaxRetryAfter, g.MaxRetryAfter, defaultRetryAfter),
			Breaker:            destinations.BreakerConfig{ConsecutiveFailures: failures, Cooldown: pick(d.Breaker.Cooldown, g.Breaker.Cooldown, defaultCooldown)},
			Rate:               destinations.RateConfig{RPS: rps, Concurrency: pickInt(conc, 0, defaultConcurrency), Adaptive: adaptive},
			InsecureSkipVerify: insecure,
			DenyPrivate:        gl.Security.DenyPrivateDestinations,
			MaxResponseBytes:   int64(gl.Limits.MaxResponseBytes),
		},
		Backoff:      pick(d.Backoff.Initial, g.Backoff.Initial, defaultBackoff),
		BackoffMax:   pick(d.Backoff.Max, g.Backoff.Max, defaultBackoffMax),
		RetryWindow:  pick(d.RetryWindow, g.RetryWindow, defaultRetryWindow),
		OrderingUser: d.Ordering == "user" || (d.Ordering == "" && g.Ordering == "user"),
		MaxInFlight:  pickInt(d.MaxInFlight, g.MaxInFlight, 0),
	}
}

// actionRates holds each action from a preset with a documented limit of
// its own (destinations.Preset.Rate) to that limit, on top of the
// destination's: Iterable's bulk endpoints take 5 and 10 requests/s while
// its single-event ones take 500, and one destination-wide figure would
// either exceed the former or hold the others to 5. An action built on the
// preset (extends) is held to it too: it calls the same endpoint unless
// its url says otherwise, and a lower limit is the safe reading.
func (pb *planBuilder) actionRates() {
	def, rc := pb.p.Def, &pb.p.Policy.Sender.Rate
	if def == nil {
		return
	}
	hold := func(action string, r *destinations.RateDef) {
		if r == nil || !(r.RPS > 0) || (rc.RPS > 0 && rc.RPS <= r.RPS) {
			return // no limit of its own, or no lower than the destination's
		}
		if rc.Actions == nil {
			rc.Actions = map[string]float64{}
		}
		rc.Actions[action] = r.RPS
	}
	for _, a := range pb.p.Actions {
		if pr, ok := def.Preset(a.Preset); ok {
			hold(a.Name, pr.Rate)
		}
	}
	// A tool's delete endpoint may have a limit of its own too (Iterable's
	// users/forget: 3 requests/s): a regulation deleting many users must
	// not exceed it.
	for _, d := range pb.p.Deletes {
		for _, da := range def.Deletion.Actions {
			if da.Name == d.Preset {
				hold(d.Name, da.Rate)
			}
		}
	}
}

// maxBatchingInFlight bounds the default for batching destinations: a held
// event costs about 30 KB (docs/performance.md).
const maxBatchingInFlight = 4096

// inFlight settles MaxInFlight once the actions and their batching are
// known: delivery.max_in_flight when set, or by default enough for each
// batching action to fill two batches (a lane whose batches can never fill
// sends them only when the linger runs out), within a memory bound.
func (pb *planBuilder) inFlight() {
	p := pb.p
	if p.Policy.MaxInFlight > 0 {
		return
	}
	n := defaultInFlight
	for _, b := range p.Batches() {
		items := b.MaxItems
		if items <= 0 {
			items = destinations.DefaultBatchMaxItems
		}
		n = max(n, min(2*items, maxBatchingInFlight))
	}
	p.Policy.MaxInFlight = n
}

// concurrency settles the limit on requests in flight once batching and
// MaxInFlight are known (destinations/concurrency.go). Adaptive
// concurrency is on by default for a destination whose actions send one
// request per event: a batch's round trip grows with its size, which the
// limit would read as the tool slowing down. Its ceiling is
// rate.concurrency (or the tool's documented limit) when set, else
// MaxInFlight: a lane never has more events to send than it holds.
func (pb *planBuilder) concurrency() {
	p := pb.p
	rc := &p.Policy.Sender.Rate
	adaptive := len(p.Batches()) == 0
	if pb.adaptiveConc != nil {
		adaptive = *pb.adaptiveConc
	}
	rc.AdaptiveConcurrency = adaptive
	if !adaptive {
		return
	}
	rc.InitialConcurrency = defaultConcurrency
	if !pb.concSet {
		rc.Concurrency = p.Policy.MaxInFlight
	}
}
