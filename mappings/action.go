package mappings

import (
	"fmt"
	"sort"
	"strings"
)

// ActionSpec is an action as written: in a catalog preset, or in a
// destination file (where it may override a preset).
type ActionSpec struct {
	Name string
	// Trigger is a boolean expression over the event; empty matches all.
	Trigger string
	// ForEach, when set, is an expression yielding a list: the action then
	// renders one request per element, with the element as `item` and its
	// position as `index` (a Braze purchase per product, for example).
	ForEach string
	// Method is a literal HTTP method; empty means POST.
	Method string
	// URL and Headers are templates: text with {{ expression }} parts.
	URL     string
	Headers map[string]string
	// Fields is the body: a tree whose string leaves are expressions.
	Fields any
}

// Action is a compiled ActionSpec.
type Action struct {
	Name    string
	Method  string
	trigger *Program
	// types, when set, are the event types the trigger can hold for
	// (triggerTypes): for any other, Matches is false without a VM run.
	types map[string]bool
	// typesExact: the trigger holds for exactly the types, without an
	// error (triggerTypes), and Matches is true for them without a VM run
	// too. always: the trigger is `true`.
	typesExact, always bool
	foreach            *Program
	url                *Template
	headers            []compiledHeader
	fields             *Fields
}

type compiledHeader struct {
	name string
	tmpl *Template
}

var methods = map[string]bool{"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true}

// Action compiles a spec. Every part that does not compile is reported:
// the error is an ExprErrors whose entries' Path names the part at fault,
// "method", "trigger", "foreach", "url", "headers.X" or "fields.a.b", so
// that a broken trigger does not hide a broken field.
func (c *Compiler) Action(s ActionSpec) (*Action, error) {
	a := &Action{Name: s.Name, Method: strings.ToUpper(s.Method)}
	if a.Method == "" {
		a.Method = "POST"
	}
	var errs ExprErrors
	if !methods[a.Method] {
		errs = append(errs, &ExprError{Path: "method", Message: fmt.Sprintf("unknown HTTP method %q (want GET, POST, PUT, PATCH or DELETE)", s.Method)})
	}
	var err error
	if strings.TrimSpace(s.Trigger) != "" {
		if a.trigger, err = c.Bool("trigger", s.Trigger); err != nil {
			errs.add(err)
		} else {
			a.types, a.typesExact, a.always = triggerTypes(s.Trigger)
		}
	}
	if strings.TrimSpace(s.ForEach) != "" {
		if a.foreach, err = c.Expr("foreach", s.ForEach); err != nil {
			errs.add(err)
		}
	}
	if s.URL != "" {
		if a.url, err = c.Template("url", s.URL, TemplateURL); err != nil {
			errs.add(err)
		}
	}
	names := make([]string, 0, len(s.Headers))
	for k := range s.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		t, err := c.Template("headers."+k, s.Headers[k], TemplateText)
		if err != nil {
			errs.add(err)
			continue
		}
		a.headers = append(a.headers, compiledHeader{name: k, tmpl: t})
	}
	if s.Fields != nil {
		if a.fields, err = c.Fields("fields", s.Fields); err != nil {
			errs.add(err)
		} else if a.foreach != nil {
			c.forEach("fields", a.fields)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return a, nil
}

// BindSettings returns the action with the settings-only parts of its URL
// and headers rendered once for settings (Template.Bind), the settings of
// the plan it belongs to, which do not change once built. a itself is
// unchanged.
func (a *Action) BindSettings(settings map[string]any) *Action {
	b := *a
	b.url = a.url.Bind(settings)
	b.headers = make([]compiledHeader, len(a.headers))
	for i, h := range a.headers {
		b.headers[i] = compiledHeader{name: h.name, tmpl: h.tmpl.Bind(settings)}
	}
	return &b
}

// HasBody reports whether the action renders a body.
func (a *Action) HasBody() bool { return a.fields != nil }

// HasURL reports whether the action names its own URL.
func (a *Action) HasURL() bool { return a.url != nil }

// Trigger returns the compiled trigger, nil when the action matches every
// event.
func (a *Action) Trigger() *Program { return a.trigger }

// TriggerSource returns the trigger expression ("" when it matches all).
func (a *Action) TriggerSource() string {
	if a.trigger == nil {
		return ""
	}
	return a.trigger.src
}

// Matches evaluates the trigger.
func (a *Action) Matches(env *Env) (bool, error) {
	if a.trigger == nil {
		return true, nil
	}
	if a.types != nil {
		if !a.types[env.Type] {
			return false, nil
		}
		if a.typesExact {
			return true, nil
		}
	}
	if a.always {
		return true, nil
	}
	return a.trigger.Bool(env)
}

// Rendered is one request's worth of an action: what the destination layer
// turns into HTTP.
type Rendered struct {
	Action  string
	Method  string
	URL     string // "" when the action has none (the destination supplies it)
	Headers [][2]string
	Body    any // nil when the action has no fields
	// Index is the foreach position, 0 without foreach.
	Index int
}

// ItemFailure is one element of a foreach that failed to render; its
// siblings render on.
type ItemFailure struct {
	Index int
	Err   error
}

// HasForEach reports whether the action renders one request per element
// of a list.
func (a *Action) HasForEach() bool { return a.foreach != nil }

// ForEachSource returns the foreach expression ("" without one).
func (a *Action) ForEachSource() string {
	if a.foreach == nil {
		return ""
	}
	return a.foreach.src
}

// Render evaluates the action for env. Without a foreach it returns one
// Rendered, or the error. With a foreach it returns one Rendered per
// element that renders, and an ItemFailure for each element that does
// not: one bad product fails alone (an empty list returns neither). err is
// set only when the action as a whole cannot render: the foreach itself
// fails, or yields something that is not a list. env.Item and env.Index
// are restored afterwards.
func (a *Action) Render(env *Env) (out []Rendered, failed []ItemFailure, err error) {
	if a.foreach == nil {
		r, err := a.renderOne(env, nil)
		if err != nil {
			return nil, nil, err
		}
		return []Rendered{r}, nil, nil
	}
	v, err := a.foreach.Eval(env)
	if err != nil {
		return nil, nil, err
	}
	var items []any
	switch x := v.(type) {
	case nil:
	case []any:
		items = x
	case []map[string]any:
		items = make([]any, len(x))
		for i, m := range x {
			items[i] = m
		}
	default:
		return nil, nil, &ExprError{Path: "foreach", Source: a.foreach.src, Message: fmt.Sprintf("yields %T, not a list", v)}
	}
	saveItem, saveIndex := env.Item, env.Index
	defer func() { env.Item, env.Index = saveItem, saveIndex }()
	out = make([]Rendered, 0, len(items))
	var shared *Shared
	for i, it := range items {
		env.Item, env.Index = it, i
		if i == 0 && len(items) > 1 {
			// One element renders whole: splitting it would cost a run.
			shared = a.fields.shared(env)
		}
		r, err := a.renderOne(env, shared)
		if err != nil {
			failed = append(failed, ItemFailure{Index: i, Err: fmt.Errorf("item %d: %w", i, explainItem(it, err))})
			continue
		}
		r.Index = i
		out = append(out, r)
	}
	return out, failed, nil
}

// renderOne renders the action for env; sh, when set, holds the values
// its fields share across the elements of its foreach.
func (a *Action) renderOne(env *Env, sh *Shared) (Rendered, error) {
	r := Rendered{Action: a.Name, Method: a.Method}
	var err error
	if a.url != nil {
		if r.URL, err = a.url.Render(env); err != nil {
			return r, err
		}
	}
	for _, h := range a.headers {
		v, err := h.tmpl.Render(env)
		if err != nil {
			return r, err
		}
		if v != "" {
			r.Headers = append(r.Headers, [2]string{h.name, v})
		}
	}
	if a.fields != nil {
		if r.Body, err = a.fields.renderWith(env, sh); err != nil {
			return r, err
		}
		// Only products() makes an *Unusable, and it marks the event when
		// it does: a body of any other event cannot hold one.
		if env.ev == nil || env.ev.mayHoldUnusable() {
			if u := unusableIn(r.Body); u != nil {
				return r, u
			}
		}
	}
	return r, nil
}
