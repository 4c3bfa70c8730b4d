package router

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/destinations"
	// Every tool's Go quirks (item-error parsers, authorizers) register
	// themselves: a plan resolves them by the names definitions give.
	_ "github.com/switchyard/switchyard/destinations/catalog/all"
	"github.com/switchyard/switchyard/mappings"
)

// Built-in destination types that are not catalog tools.
const (
	TypeWebhook = "webhook"
	TypeHTTP    = "http"
)

// Plan is one destination ready to run: its config joined with its catalog
// definition, its expressions compiled, its delivery policy resolved.
type Plan struct {
	Name     string
	Type     string
	Config   *config.Destination
	Def      *destinations.Definition // nil for webhook and http
	Sources  []string                 // empty: all
	Enabled  bool
	Names    []string // names the integrations object may use
	Filter   *mappings.Program
	Actions  []*PlannedAction
	Settings map[string]any
	Redactor *Redactor
	Policy   Policy

	// forward: a webhook without actions posts the event as it came.
	forward  bool
	webhook  *webhookSpec
	itemErrs destinations.ItemErrorParser
	auth     destinations.Authorizer
	limits   mappings.Limits
	// dlqHeaderBytes bounds each DLQ header value (limits.max_dlq_header_bytes).
	dlqHeaderBytes int
	warnings       config.Diagnostics
	// forwardBatch batches forwarded events (webhook without actions).
	forwardBatch *destinations.BatchSpec
}

type webhookSpec struct {
	url     string
	headers map[string]string
	secret  string
}

// PlannedAction is a compiled action with its batching.
type PlannedAction struct {
	*mappings.Action
	// Batch is nil when the action sends one request per event.
	Batch *destinations.BatchSpec
	// Preset names the catalog preset the action comes from, if any.
	Preset string
}

// Policy is a destination's resolved delivery policy.
type Policy struct {
	Sender       destinations.SenderConfig
	Backoff      time.Duration
	BackoffMax   time.Duration
	RetryWindow  time.Duration
	OrderingUser bool
	MaxInFlight  int
}

// Builder compiles plans. It holds what every plan shares.
type Builder struct {
	Config   *config.Config
	Compiler *mappings.Compiler
}

// NewBuilder prepares a builder for a loaded config.
func NewBuilder(cfg *config.Config) *Builder {
	l := cfg.Global.Limits
	return &Builder{Config: cfg, Compiler: mappings.NewCompiler(mappings.ExprLimits{MaxNodes: l.MaxExprNodes, MemoryBudget: l.ExprMemoryBudget})}
}

// Build compiles every destination of a config. Plans come back only when
// there is no error; warnings come back either way.
func Build(cfg *config.Config) (map[string]*Plan, config.Diagnostics) {
	b := NewBuilder(cfg)
	plans := map[string]*Plan{}
	var diags config.Diagnostics
	for _, d := range cfg.Destinations {
		p, ds := b.Plan(d)
		diags = append(diags, ds...)
		if p != nil {
			plans[d.Name] = p
		}
	}
	diags.Sort()
	if diags.Err() != nil {
		return nil, diags
	}
	return plans, diags
}

// Plan compiles one destination.
func (b *Builder) Plan(d *config.Destination) (*Plan, config.Diagnostics) {
	pb := &planBuilder{b: b, d: d, p: &Plan{
		Name: d.Name, Type: d.Type, Config: d, Sources: d.Sources,
		Enabled: d.Enabled == nil || *d.Enabled,
		Names:   append([]string{d.Name}, d.Aliases...),
	}}
	pb.build()
	if pb.diags.Err() != nil {
		return nil, pb.diags
	}
	pb.p.warnings = pb.diags
	return pb.p, pb.diags
}

type planBuilder struct {
	b     *Builder
	d     *config.Destination
	p     *Plan
	diags config.Diagnostics
}

// errAt and warnAt redact: a message may quote a value that came from the
// environment (a webhook URL with its token), and validate prints it, the
// log keeps it.
func (pb *planBuilder) errAt(path, format string, args ...any) {
	pb.diags = append(pb.diags, config.Diagnostic{Pos: pb.d.Pos(path), Message: pb.p.Redactor.String(fmt.Sprintf(format, args...))})
}

func (pb *planBuilder) warnAt(path, format string, args ...any) {
	pb.diags = append(pb.diags, config.Diagnostic{Pos: pb.d.Pos(path), Message: pb.p.Redactor.String(fmt.Sprintf(format, args...)), Warning: true})
}

// exprErr reports an expression error at its exact place in the file.
func (pb *planBuilder) exprErr(prefix string, err error) {
	if ee, ok := err.(*mappings.ExprError); ok {
		if strings.Contains(ee.Message, "exceeds maximum allowed nodes") {
			n := pb.b.Config.Global.Limits.MaxExprNodes
			if n == 0 {
				n = mappings.DefaultExprLimits.MaxNodes
			}
			ee.Message += fmt.Sprintf(" (limits.max_expr_nodes is %d)", n)
		}
		path := prefix + ee.Path
		pos := pb.b.Config.ExprPos(pb.d, path, ee.Line, ee.Column)
		if !pb.d.Has(path) {
			// The expression comes from a catalog preset, not this file.
			pos = pb.d.Pos(strings.TrimSuffix(prefix, "."))
			ee.Message = "in the preset's " + ee.Path + ": " + ee.Message
		}
		pb.diags = append(pb.diags, config.Diagnostic{Pos: pos, Message: fmt.Sprintf("%s: %s", path, ee.Message)})
		return
	}
	pb.errAt(strings.TrimSuffix(prefix, "."), "%v", err)
}

func (pb *planBuilder) build() {
	d, p := pb.d, pb.p
	gl := pb.b.Config.Global.Limits
	maxBytes := gl.MaxEventBytes
	if maxBytes <= 0 {
		maxBytes = mappings.DefaultLimits.MaxBytes
	}
	// The HTTP intake accepts events up to the limit as sent, then adds
	// messageId, receivedAt and timestamps (ingest.EnrichmentHeadroom).
	p.limits = mappings.Limits{MaxBytes: maxBytes + 1024, MaxDepth: gl.MaxDepth, MaxProperties: gl.MaxProperties}
	p.dlqHeaderBytes = gl.MaxDLQHeaderBytes
	switch d.Type {
	case "":
		return // reported by config
	case TypeWebhook, TypeHTTP:
	default:
		def, ok := destinations.Lookup(d.Type)
		if !ok {
			msg := fmt.Sprintf("unknown destination type %q (want webhook, http, or one of: %s)", d.Type, strings.Join(destinations.Tools(), ", "))
			if _, err := destinations.Catalog(); err != nil {
				// A definition that does not load is a build defect; say so.
				msg += "; the catalog has defects: " + err.Error()
			}
			pb.errAt("type", "%s", msg)
			return
		}
		p.Def = def
		p.Names = append(p.Names, def.IntegrationNames()...)
	}
	if strings.TrimSpace(d.Filter) != "" {
		prog, err := pb.b.Compiler.Bool("filter", d.Filter)
		if err != nil {
			pb.exprErr("", err)
		}
		p.Filter = prog
	}
	pb.settings()
	pb.policy()
	if p.Def != nil && p.Def.Auth != "" && pb.diags.Err() == nil {
		f, err := destinations.AuthFor(p.Def.Auth)
		if err == nil {
			p.auth, err = f(p.Settings)
		}
		if pd, ok := p.auth.(destinations.PrivateDenier); ok && p.Policy.Sender.DenyPrivate {
			pd.DenyPrivate() // its token endpoint is checked like deliveries
		}
		if err != nil {
			pb.errAt("settings", "%s: %v", p.Def.Name, err)
		}
	}
	switch d.Type {
	case TypeWebhook:
		pb.webhookActions()
	case TypeHTTP:
		pb.customActions(nil)
	default:
		pb.catalogActions()
	}
	if len(p.Actions) == 0 && !p.forward && pb.diags.Err() == nil {
		pb.warnAt("actions", "no action is enabled: every event will be counted unmatched")
	}
	for _, a := range p.Actions {
		if t := a.TriggerSource(); t != "" && !satisfiable(t) {
			pb.warnAt("actions."+a.Name+".trigger", "trigger %q compares type with no Segment event type: it can never match", t)
		}
	}
}

// satisfiable is a cheap check that a trigger does not demand a type that
// does not exist (type == "trak").
func satisfiable(trigger string) bool {
	found, ok := false, false
	for _, q := range []string{`type == "`, `type=="`} {
		rest := trigger
		for {
			i := strings.Index(rest, q)
			if i < 0 {
				break
			}
			found = true
			rest = rest[i+len(q):]
			j := strings.IndexByte(rest, '"')
			if j < 0 {
				break
			}
			for _, t := range mappings.EventTypes {
				if rest[:j] == t {
					ok = true
				}
			}
		}
	}
	return !found || ok
}

// settings validates settings against the tool's definition, fills defaults
// and the endpoint, and collects the secrets to redact.
func (pb *planBuilder) settings() {
	d, p := pb.d, pb.p
	p.Settings = map[string]any{}
	for k, v := range d.Settings {
		p.Settings[k] = v
	}
	p.Redactor = NewRedactor()
	fromEnv := map[string]bool{}
	for _, e := range d.Expansions {
		fromEnv[e.Path] = true
	}
	// Every value that came from the environment is redacted, unless the
	// catalog declares its setting plain (a region, say).
	for _, e := range d.Expansions {
		name := strings.TrimPrefix(e.Path, "settings.")
		if p.Def != nil && strings.HasPrefix(e.Path, "settings.") {
			if s, ok := p.Def.Setting(name); ok && !s.Secret && s.Format != "" && s.Format != "string" && s.Format != "url" {
				continue
			}
		}
		p.Redactor.Add(e.Value)
	}
	switch d.Type {
	case TypeWebhook:
		u, _ := d.Settings["url"].(string)
		if u == "" {
			pb.errAt("settings", "webhook needs settings.url")
		} else if err := checkURL(u); err != nil {
			pb.errAt("settings.url", "%v", err)
		}
		for k := range d.Settings {
			if k != "url" && k != "headers" && k != "secret" {
				pb.errAt("settings."+k, "unknown webhook setting %q (known: url, headers, secret)", k)
			}
		}
		spec := &webhookSpec{url: u, headers: map[string]string{}}
		if h, ok := d.Settings["headers"].(map[string]any); ok {
			for k, v := range h {
				s, ok := v.(string)
				if !ok {
					pb.errAt("settings.headers."+k, "header value must be a string")
				}
				spec.headers[k] = s
				if sensitiveHeader(k) && !fromEnv["settings.headers."+k] {
					pb.warnAt("settings.headers."+k, "header %s carries a credential: write it as an ${ENV} reference (only values from the environment are redacted from output)", k)
				}
			}
		} else if d.Settings["headers"] != nil {
			pb.errAt("settings.headers", "headers must be a mapping of names to values")
		}
		if s, ok := d.Settings["secret"]; ok {
			spec.secret, _ = s.(string)
			if !fromEnv["settings.secret"] {
				pb.errAt("settings.secret", "secret must come from the environment: write ${WEBHOOK_SECRET}, not the value")
			}
			p.Redactor.Add(spec.secret)
		}
		p.webhook = spec
		return
	case TypeHTTP:
		for _, k := range sortedKeys(d.Settings) {
			if _, isStr := d.Settings[k].(string); isStr && sensitiveHeader(k) && !fromEnv["settings."+k] {
				pb.warnAt("settings."+k, "settings.%s looks like a credential: write it as an ${ENV} reference (only values from the environment are redacted from output)", k)
			}
		}
		return
	}
	def := p.Def
	for k := range d.Settings {
		if _, ok := def.Setting(k); !ok && !(k == "endpoint" && def.Endpoints != nil) {
			pb.errAt("settings."+k, "unknown setting %q for %s (known: %s)", k, def.Name, settingNames(def))
		}
	}
	for _, s := range def.Settings {
		v, set := d.Settings[s.Name]
		path := "settings." + s.Name
		if !set || v == nil || v == "" {
			if s.Default != nil {
				p.Settings[s.Name] = s.Default
			} else if s.Required {
				pb.errAt("settings", "missing required setting %s: %s", s.Name, s.Description)
			}
			continue
		}
		if s.Secret {
			if !fromEnv[path] {
				pb.errAt(path, "%s is a secret: write it as an ${ENV} reference, not the value", s.Name)
			}
			if str, ok := v.(string); ok {
				p.Redactor.Add(str)
			}
		}
		pb.checkFormat(path, s, v)
	}
	if ep := def.Endpoints; ep != nil {
		if _, set := d.Settings["endpoint"]; set {
			if err := checkURL(fmt.Sprint(d.Settings["endpoint"])); err != nil {
				pb.errAt("settings.endpoint", "%v", err)
			}
		} else {
			key := fmt.Sprint(p.Settings[ep.Setting])
			base, ok := ep.Values[key]
			if !ok {
				pb.errAt("settings."+ep.Setting, "unknown %s %q for %s (known: %s)", ep.Setting, key, def.Name, strings.Join(sortedKeys(ep.Values), ", "))
			}
			p.Settings["endpoint"] = base
		}
	}
}

func (pb *planBuilder) checkFormat(path string, s destinations.Setting, v any) {
	str, isStr := v.(string)
	switch s.Format {
	case "url":
		if !isStr {
			pb.errAt(path, "%s must be a URL", s.Name)
		} else if err := checkURL(str); err != nil {
			pb.errAt(path, "%v", err)
		}
	case "email":
		if !isStr || !strings.Contains(str, "@") {
			pb.errAt(path, "%s must be an email address", s.Name)
		}
	case "number":
		switch v.(type) {
		case int, int64, float64:
		default:
			pb.errAt(path, "%s must be a number", s.Name)
		}
	case "bool":
		if _, ok := v.(bool); !ok {
			pb.errAt(path, "%s must be true or false", s.Name)
		}
	case "enum":
		ok := false
		for _, e := range s.Enum {
			ok = ok || fmt.Sprint(v) == e
		}
		if !ok {
			pb.errAt(path, "%s %q: want one of %s", s.Name, fmt.Sprint(v), strings.Join(s.Enum, ", "))
		}
	default:
		if !isStr {
			pb.errAt(path, "%s must be a string", s.Name)
		}
	}
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", s)
	}
	return nil
}

func settingNames(def *destinations.Definition) string {
	var n []string
	for _, s := range def.Settings {
		n = append(n, s.Name)
	}
	return strings.Join(n, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
