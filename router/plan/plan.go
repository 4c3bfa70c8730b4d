package plan

import (
	"context"
	"fmt"
	"net/http"
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
// definition, its expressions compiled, its delivery policy resolved. A
// plan is immutable once built, and safe for concurrent use.
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
	// Receipts, when the tool confirms delivered messages later (Expo's
	// push receipts): the router checks their tickets (router/receipts.go).
	Receipts *Receipts

	// Deletes are the destination's delete actions (deletion.go), run
	// when a regulation deletes users; empty with deleteUnsupported set
	// when the destination cannot delete.
	Deletes           []*DeleteAction
	deleteUnsupported string
	// deleteForward: a webhook without delete actions receives each
	// deletion as a delete event.
	deleteForward bool

	// gates are consent, sample and the field filters (gates.go).
	gates gates

	// forward: a webhook without actions posts the event as it came.
	forward  bool
	webhook  *webhookSpec
	itemErrs destinations.ItemErrorMatcher
	auth     destinations.Authorizer
	limits   mappings.Limits
	// dlqHeaderBytes bounds each DLQ header value (limits.max_dlq_header_bytes).
	dlqHeaderBytes int
	warnings       config.Diagnostics
	// forwardBatch batches forwarded events (webhook without actions).
	forwardBatch *destinations.BatchSpec
	// forwardHeader is the header every batched forwarded event shares:
	// read only (the Batcher copies it into each batch it sends).
	forwardHeader http.Header
	// projection is what Route reads of an event, when it is less than
	// the whole (projection.go); nil: the whole event.
	projection *mappings.Projection
}

// Warnings are the plan's diagnostics that did not stop it: the router
// logs them when the destination starts.
func (p *Plan) Warnings() config.Diagnostics { return p.warnings }

// Limits bound the events this destination decodes.
func (p *Plan) Limits() mappings.Limits { return p.limits }

// DLQHeaderBytes bounds each header value of its dead letters.
func (p *Plan) DLQHeaderBytes() int { return p.dlqHeaderBytes }

// SenderConfig is the destination's sender configuration, with its
// per-item error parser; the caller adds an Observer.
func (p *Plan) SenderConfig() destinations.SenderConfig {
	c := p.Policy.Sender
	c.ItemMatcher = p.itemErrs
	if p.Receipts != nil {
		c.Tickets = p.Receipts.Handler.Tickets
	}
	return c
}

// Batches lists the batch specs of the plan's actions (and of forwarding),
// each once.
func (p *Plan) Batches() []*destinations.BatchSpec {
	var out []*destinations.BatchSpec
	if p.forwardBatch != nil {
		out = append(out, p.forwardBatch)
	}
	for _, a := range p.Actions {
		if a.Batch != nil {
			out = append(out, a.Batch)
		}
	}
	return out
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
	// ForEachEmpty is what a foreach yielding no element means.
	ForEachEmpty ForEachEmpty
	// Form sends the body form-encoded (the catalog's request.encoding:
	// form) instead of as JSON.
	Form bool
	// falseTrigger is the reason of a Skip when the trigger is false,
	// built once rather than for every event the action skips.
	falseTrigger string
}

// ForEachEmpty is what an action's foreach yielding no element means.
type ForEachEmpty string

const (
	// ForEachEmptyFail (the default): the event lacks what the tool needs;
	// the action fails, and the event is dead-lettered with that reason.
	ForEachEmptyFail ForEachEmpty = "fail"
	// ForEachEmptySkip: nothing to send; alone, the event is counted
	// filtered with reason nothing_to_send.
	ForEachEmptySkip ForEachEmpty = "skip"
)

// Policy is a destination's resolved delivery policy.
type Policy struct {
	Sender       destinations.SenderConfig
	Backoff      time.Duration
	BackoffMax   time.Duration
	RetryWindow  time.Duration
	OrderingUser bool
	// MaxInFlight is how many events the destination holds at once:
	// delivery.max_in_flight, or by default enough for a batching action to
	// fill two batches, within a memory bound.
	MaxInFlight int
}

// Builder compiles plans. It holds what every plan shares.
type Builder struct {
	Config   *config.Config
	Compiler *mappings.Compiler
	// Serve builds plans to run: credentials an authorizer needs (an FCM
	// service-account key) must be real. Without it (validate, preview) a
	// credential that does not parse is a warning, so that a config with
	// placeholder secrets can be checked and previewed anywhere.
	Serve bool
}

// NewBuilder prepares a builder for a loaded config.
func NewBuilder(cfg *config.Config) *Builder {
	l := cfg.Global.Limits
	return &Builder{Config: cfg, Compiler: mappings.NewCompiler(mappings.ExprLimits{MaxNodes: l.MaxExprNodes, MemoryBudget: l.ExprMemoryBudget})}
}

// Build compiles every destination of a config to check and preview it.
// Plans come back only when there is no error; warnings come back either
// way.
func Build(cfg *config.Config) (map[string]*Plan, config.Diagnostics) {
	return NewBuilder(cfg).All()
}

// BuildToServe compiles every destination of a config to run it: as Build,
// and credentials must be real (see Builder.Serve).
func BuildToServe(cfg *config.Config) (map[string]*Plan, config.Diagnostics) {
	b := NewBuilder(cfg)
	b.Serve = true
	return b.All()
}

// All compiles every destination of the builder's config.
func (b *Builder) All() (map[string]*Plan, config.Diagnostics) {
	plans := map[string]*Plan{}
	var diags config.Diagnostics
	for _, d := range b.Config.Destinations {
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
	// The settings are final: render once what of the actions' URLs and
	// headers follows from them alone.
	for _, a := range pb.p.Actions {
		a.Action = a.Action.BindSettings(pb.p.Settings)
	}
	pb.p.warnings = pb.diags
	return pb.p, pb.diags
}

type planBuilder struct {
	b     *Builder
	d     *config.Destination
	p     *Plan
	diags config.Diagnostics
	// concSet: rate.concurrency, or the tool's documented concurrency, is
	// set; adaptiveConc: rate.adaptive_concurrency as written (nil: the
	// default). Read by concurrency once the actions are known.
	concSet      bool
	adaptiveConc *bool
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

// exprErr reports each expression error of err at its exact place in the
// file: an action reports all its broken parts at once.
func (pb *planBuilder) exprErr(prefix string, err error) {
	if !mappings.Each(err, func(ee *mappings.ExprError) { pb.oneExprErr(prefix, ee) }) {
		pb.errAt(strings.TrimSuffix(prefix, "."), "%v", err)
	}
}

func (pb *planBuilder) oneExprErr(prefix string, ee *mappings.ExprError) {
	msg := ee.Message
	if strings.Contains(msg, "exceeds maximum allowed nodes") {
		n := pb.b.Config.Global.Limits.MaxExprNodes
		if n == 0 {
			n = mappings.DefaultExprLimits.MaxNodes
		}
		msg += fmt.Sprintf(" (limits.max_expr_nodes is %d)", n)
	}
	path := prefix + ee.Path
	pos := pb.b.Config.ExprPos(pb.d, path, ee.Line, ee.Column)
	if !pb.d.Has(path) {
		// The expression comes from a catalog preset, not this file.
		pos = pb.d.Pos(strings.TrimSuffix(prefix, "."))
		msg = "in the preset's " + ee.Path + ": " + msg
	}
	pb.diags = append(pb.diags, config.Diagnostic{Pos: pos, Message: fmt.Sprintf("%s: %s", path, msg)})
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
	pb.p.gates.compile(consentCategories(d), d.Sample, d.AllowFields, d.BlockFields)
	pb.settings()
	pb.policy()
	pb.receipts()
	if p.Def != nil && p.Def.Auth != "" && pb.diags.Err() == nil {
		pb.authorizer()
	}
	switch d.Type {
	case TypeWebhook:
		pb.webhookActions()
	case TypeHTTP:
		pb.customActions(nil)
	default:
		pb.catalogActions()
	}
	pb.deleteActions()
	pb.actionRates()
	pb.inFlight()
	pb.concurrency()
	if len(p.Actions) == 0 && !p.forward && pb.diags.Err() == nil {
		pb.warnAt("actions", "no action is enabled: every event will be counted unmatched")
	}
	p.projection = p.reads()
	if p.forwardBatch != nil {
		p.forwardHeader = p.baseHeader()
	}
	for _, a := range p.Actions {
		pb.checkTypes(a)
	}
}

// checkTypes warns about a trigger comparing type with a string that no
// Segment event type has (type == "trak"), at its place in the file.
func (pb *planBuilder) checkTypes(a *PlannedAction) {
	for _, m := range a.Trigger().TypeMismatches() {
		path := "actions." + a.Name + ".trigger"
		pos := pb.b.Config.ExprPos(pb.d, path, m.Line, m.Column)
		if !pb.d.Has(path) {
			pos = pb.d.Pos("actions." + a.Name)
			if !pb.d.Has("actions." + a.Name) {
				pos = pb.d.Pos("type")
			}
		}
		what := "can never match"
		if m.Operator == "!=" || m.Operator == "not in" {
			what = "always holds"
		}
		msg := fmt.Sprintf("%s: trigger compares type with %q, which no Segment event type is (%s): the comparison %s", path, m.Literal, strings.Join(mappings.EventTypes, ", "), what)
		if near := config.Suggest(m.Literal, mappings.EventTypes); near != "" {
			msg += fmt.Sprintf("; did you mean %q?", near)
		}
		pb.diags = append(pb.diags, config.Diagnostic{Pos: pos, Message: msg, Warning: true})
	}
}

// authorizer builds the tool's Authorizer from its settings. Serving, a
// credential that does not parse is an error; checking or previewing, a
// warning: the key's shape is checked when serve starts, so a config with
// a placeholder key can be validated and previewed without the real one.
func (pb *planBuilder) authorizer() {
	p := pb.p
	f, err := destinations.AuthFor(p.Def.Auth)
	if err == nil {
		p.auth, err = f(p.Settings)
	}
	if err != nil {
		if !pb.b.Serve {
			pb.warnAt("settings", "%s: %v (checked again, as an error, when serve starts)", p.Def.Name, err)
			p.auth = unauthorized{err: err}
			return
		}
		pb.errAt("settings", "%s: %v", p.Def.Name, err)
		return
	}
	if pd, ok := p.auth.(destinations.PrivateDenier); ok && p.Policy.Sender.DenyPrivate {
		pd.DenyPrivate() // its token endpoint is checked like deliveries
	}
}

// unauthorized stands for an authorizer whose credentials did not parse in
// a plan built to check or preview: a send through it (preview --send)
// fails with the reason.
type unauthorized struct{ err error }

func (u unauthorized) Authorize(context.Context, *destinations.Request) error {
	return fmt.Errorf("credentials unusable: %w", u.err)
}

func consentCategories(d *config.Destination) []string {
	if d.Consent == nil {
		return nil
	}
	return d.Consent.Categories
}
