package router

import (
	"fmt"
	"strings"
	"time"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/destinations"
	"github.com/switchyard/switchyard/mappings"
)

// webhookActions: without actions the event is forwarded as is; with
// actions each matching action's fields tree is the body, posted to the
// action's url or the webhook's.
func (pb *planBuilder) webhookActions() {
	if len(pb.d.Actions) == 0 {
		pb.p.forward = true
		pb.p.itemErrs, _ = destinations.ItemErrorsParser("standard")
		if b := pb.batchFor(nil, nil); b != nil {
			pb.p.Actions = nil
			pb.p.forwardBatch = b
		}
		return
	}
	pb.customActions(&destinations.RequestDef{URL: pb.p.webhook.url, Headers: pb.p.webhook.headers})
}

// customActions compiles the actions of an http or webhook destination.
func (pb *planBuilder) customActions(base *destinations.RequestDef) {
	pb.p.itemErrs, _ = destinations.ItemErrorsParser("standard")
	for _, name := range sortedKeys(pb.d.Actions) {
		a := pb.d.Actions[name]
		if a.Enabled != nil && !*a.Enabled {
			continue
		}
		prefix := "actions." + name + "."
		if a.Extends != "" {
			pb.errAt(prefix+"extends", "extends needs a catalog tool; %s has no presets", pb.d.Type)
		}
		spec := mappings.ActionSpec{Name: name, Trigger: a.Trigger, ForEach: a.ForEach, Method: a.Method, URL: a.URL, Headers: a.Headers, Fields: a.Fields}
		if base != nil {
			if spec.URL == "" {
				spec.URL = base.URL
			}
			spec.Headers = mergeHeaders(base.Headers, a.Headers)
		}
		if spec.URL == "" {
			pb.errAt(prefix+"url", "action %s needs a url", name)
			continue
		}
		if spec.Fields == nil && spec.Method != "GET" && spec.Method != "DELETE" {
			pb.errAt("actions."+name, "action %s needs fields (the request body)", name)
			continue
		}
		pb.addAction(prefix, spec, "", pb.batchFor(nil, a.Batch))
	}
}

// catalogActions resolves presets and overrides for a catalog tool.
func (pb *planBuilder) catalogActions() {
	def, d := pb.p.Def, pb.d
	pb.p.itemErrs, _ = destinations.ItemErrorsParser(def.ItemErrors)
	enabled := map[string]bool{}
	if len(d.Presets) == 0 {
		for _, p := range def.Presets {
			if p.Default {
				enabled[p.Name] = true
			}
		}
	}
	for i, name := range d.Presets {
		if _, ok := def.Preset(name); !ok {
			pb.errAt(fmt.Sprintf("presets[%d]", i), "unknown preset %q for %s (known: %s)", name, def.Name, presetNames(def))
			continue
		}
		enabled[name] = true
	}
	for name, a := range d.Actions {
		if _, isPreset := def.Preset(name); isPreset {
			enabled[name] = a.Enabled == nil || *a.Enabled
		}
	}
	for _, p := range def.Presets {
		if !enabled[p.Name] {
			continue
		}
		spec := presetSpec(def, &p)
		over, has := d.Actions[p.Name]
		prefix := "actions." + p.Name + "."
		var batchOverride *config.Batch
		if has {
			applyOverride(&spec, over)
			batchOverride = over.Batch
		}
		pb.addAction(prefix, spec, p.Name, pb.batchFor(effectiveBatch(def, &p), batchOverride))
	}
	for _, name := range sortedKeys(d.Actions) {
		if _, isPreset := def.Preset(name); isPreset {
			continue
		}
		a := d.Actions[name]
		if a.Enabled != nil && !*a.Enabled {
			continue
		}
		prefix := "actions." + name + "."
		var spec mappings.ActionSpec
		var bdef *destinations.BatchDef
		preset := ""
		if a.Extends != "" {
			p, ok := def.Preset(a.Extends)
			if !ok {
				pb.errAt(prefix+"extends", "unknown preset %q for %s (known: %s)", a.Extends, def.Name, presetNames(def))
				continue
			}
			spec, bdef, preset = presetSpec(def, p), effectiveBatch(def, p), p.Name
		} else {
			spec = mappings.ActionSpec{Method: def.Request.Method, URL: def.Request.URL, Headers: def.Request.Headers}
			if a.URL == "" && def.Request.URL == "" {
				pb.errAt("actions."+name, "action %s needs a url (or extends: a preset)", name)
				continue
			}
		}
		spec.Name = name
		applyOverride(&spec, a)
		if spec.Fields == nil {
			pb.errAt("actions."+name, "action %s needs fields (or extends: a preset)", name)
			continue
		}
		pb.addAction(prefix, spec, preset, pb.batchFor(bdef, a.Batch))
	}
}

func (pb *planBuilder) addAction(prefix string, spec mappings.ActionSpec, preset string, batch *destinations.BatchSpec) {
	a, err := pb.b.Compiler.Action(spec)
	if err != nil {
		pb.exprErr(prefix, err)
		return
	}
	pb.p.Actions = append(pb.p.Actions, &PlannedAction{Action: a, Batch: batch, Preset: preset})
}

func presetSpec(def *destinations.Definition, p *destinations.Preset) mappings.ActionSpec {
	s := mappings.ActionSpec{
		Name: p.Name, Trigger: p.Trigger, ForEach: p.ForEach,
		Method: p.Request.Method, URL: p.Request.URL,
		Headers: mergeHeaders(def.Request.Headers, p.Request.Headers),
		Fields:  p.Fields,
	}
	if s.Method == "" {
		s.Method = def.Request.Method
	}
	if s.URL == "" {
		s.URL = def.Request.URL
	}
	return s
}

func effectiveBatch(def *destinations.Definition, p *destinations.Preset) *destinations.BatchDef {
	if p.Batch != nil {
		return p.Batch
	}
	return def.Batch
}

// applyOverride lays an operator's action over a preset: trigger, foreach,
// method and url replace; headers and fields merge, a null field removing
// the preset's.
func applyOverride(s *mappings.ActionSpec, a config.Action) {
	if a.Trigger != "" {
		s.Trigger = a.Trigger
	}
	if a.ForEach != "" {
		s.ForEach = a.ForEach
	}
	if a.Method != "" {
		s.Method = a.Method
	}
	if a.URL != "" {
		s.URL = a.URL
	}
	s.Headers = mergeHeaders(s.Headers, a.Headers)
	if a.Fields != nil {
		s.Fields = mergeFields(s.Fields, a.Fields)
	}
}

func mergeHeaders(base, over map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		for bk := range out {
			if strings.EqualFold(bk, k) {
				delete(out, bk)
			}
		}
		if v != "" {
			out[k] = v
		}
	}
	return out
}

// mergeFields deep-merges an override tree over a preset tree.
func mergeFields(base, over any) any {
	bm, ok1 := base.(map[string]any)
	om, ok2 := over.(map[string]any)
	if !ok1 || !ok2 {
		return over
	}
	out := make(map[string]any, len(bm)+len(om))
	for k, v := range bm {
		out[k] = v
	}
	for k, v := range om {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = mergeFields(out[k], v)
	}
	return out
}

func presetNames(def *destinations.Definition) string {
	var n []string
	for _, p := range def.Presets {
		n = append(n, p.Name)
	}
	return strings.Join(n, ", ")
}

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

// Built-in delivery defaults (DESIGN.md, "Delivery semantics").
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
		MaxInFlight:  pickInt(d.MaxInFlight, g.MaxInFlight, defaultInFlight),
	}
}
