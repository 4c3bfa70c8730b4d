package mappings

import (
	"reflect"
	"time"

	"github.com/expr-lang/expr/ast"
)

// Env is what an expression sees: the event's fields under their Segment
// JSON names, the destination's settings, and, inside a foreach, the item.
// Absent fields are nil, so that a fields leaf over them is omitted.
type Env struct {
	Type              string         `expr:"type"`
	Event             any            `expr:"event"`
	UserID            any            `expr:"userId"`
	AnonymousID       any            `expr:"anonymousId"`
	MessageID         string         `expr:"messageId"`
	Timestamp         string         `expr:"timestamp"` // skew-corrected, RFC 3339 in UTC with milliseconds
	Traits            map[string]any `expr:"traits"`
	Properties        map[string]any `expr:"properties"`
	Context           map[string]any `expr:"context"`
	Name              any            `expr:"name"`
	Category          any            `expr:"category"`
	GroupID           any            `expr:"groupId"`
	PreviousID        any            `expr:"previousId"`
	Integrations      map[string]any `expr:"integrations"`
	SentAt            any            `expr:"sentAt"`
	ReceivedAt        any            `expr:"receivedAt"`
	OriginalTimestamp any            `expr:"originalTimestamp"`
	// Raw is the whole event as sent, for fields outside the spec.
	Raw map[string]any `expr:"raw"`
	// Source is the source id the event was published under.
	Source string `expr:"source"`
	// Settings are the destination's settings, secrets included: they are
	// redacted on output, never in evaluation.
	Settings map[string]any `expr:"settings"`
	// Item and Index are the current element of an action's foreach.
	Item  any `expr:"item"`
	Index int `expr:"index"`
	// Users, Regulation and Lookup are set for delete actions only (a
	// deletion is not an event): the users one request names, each
	// {"userId", "anonymousId", "email"} with the ids the regulation gave;
	// the regulation ({"id", "type", "reason"}); and the decoded answer of
	// the action's lookup request, when it has one.
	Users      []any          `expr:"users"`
	Regulation map[string]any `expr:"regulation"`
	Lookup     any            `expr:"lookup"`

	ev *Event
}

// TimestampLayout is how Env.Timestamp and the time helpers print ISO times.
const TimestampLayout = "2006-01-02T15:04:05.000Z07:00"

// NewEnv prepares the environment for one event. settings may be nil.
func NewEnv(e *Event, source string, settings map[string]any) *Env {
	env := &Env{}
	env.Reset(e, source, settings)
	return env
}

// Reset points env at another event, so a lane can reuse one Env.
func (env *Env) Reset(e *Event, source string, settings map[string]any) {
	r := e.Raw
	*env = Env{
		Type:              e.Type,
		Event:             r["event"],
		UserID:            idValue(r["userId"], e.UserID),
		AnonymousID:       idValue(r["anonymousId"], e.AnonymousID),
		MessageID:         e.MessageID,
		Timestamp:         FormatTimestamp(e.Timestamp),
		Traits:            asMap(r["traits"]),
		Properties:        e.Properties,
		Context:           e.Context,
		Name:              r["name"],
		Category:          r["category"],
		GroupID:           r["groupId"],
		PreviousID:        r["previousId"],
		Integrations:      e.Integrations,
		SentAt:            r["sentAt"],
		ReceivedAt:        r["receivedAt"],
		OriginalTimestamp: r["originalTimestamp"],
		Raw:               r,
		Source:            source,
		Settings:          settings,
		ev:                e,
	}
}

// SettingsEnv is an environment with settings only, for expressions that
// must not depend on an event (batch envelopes).
func SettingsEnv(settings map[string]any) *Env {
	return &Env{Settings: settings, ev: &Event{Raw: map[string]any{}, Timestamp: time.Now()}}
}

// EventOf returns the event behind env (helpers use it).
func (env *Env) EventOf() *Event { return env.ev }

func nonEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// idValue is an identifier as Env holds it: nil when empty, else the
// event's own box when it holds the id (Decode stores numeric ids back as
// their text), so that Reset allocates none.
func idValue(raw any, id string) any {
	if id == "" {
		return nil
	}
	return reboxed(raw, id)
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// envInjector rewrites calls of event-scoped helpers, email() for example,
// into email($env), so helpers read the event without the operator passing it.
type envInjector struct{ names map[string]bool }

func (p envInjector) Visit(node *ast.Node) {
	c, ok := (*node).(*ast.CallNode)
	if !ok {
		return
	}
	id, ok := c.Callee.(*ast.IdentifierNode)
	if !ok || !p.names[id.Value] {
		return
	}
	if len(c.Arguments) > 0 {
		if a, ok := c.Arguments[0].(*ast.IdentifierNode); ok && a.Value == "$env" {
			return
		}
	}
	ast.Patch(node, &ast.CallNode{
		Callee:    c.Callee,
		Arguments: append([]ast.Node{&ast.IdentifierNode{Value: "$env"}}, c.Arguments...),
	})
}

// expr calls a registered function with its arguments in a slice, taken
// from a buffer the VM sizes, on each run, by counting the calls in the
// whole bytecode (a preset's fields are one program of hundreds of
// instructions), and allocates. helperCalls rewrites a call of a helper
// with one or two arguments into a call of a func(any) any or
// func(any, any) any wrapper, which the VM calls directly (OpCallTyped):
// the same helper, the same value, its error raised as expr raises it.
// A call is rewritten only where that changes nothing the checker judged:
// the helper has one signature of that many arguments, whose result is
// any; and each argument is one its parameter takes (any, the Env, a
// value of unknown type, or one of the parameter's type). The purity check
// (purity.go) tells a pure helper's wrapper from an event-scoped one's.
type helperCalls struct {
	wrapped map[string][3]any // by name, by number of arguments: the wrapper
	params  map[string][3][]reflect.Type
}

func newHelperCalls(hs []Helper) helperCalls {
	p := helperCalls{wrapped: map[string][3]any{}, params: map[string][3][]reflect.Type{}}
	for _, h := range hs {
		var ws [3]any
		var ps [3][]reflect.Type
		for n := 1; n <= 2; n++ {
			in, ok := onlySignature(h.Types, n)
			if !ok {
				continue
			}
			w := &wrapper{fn: h.Fn}
			switch {
			case n == 1 && h.EventScoped:
				ws[n] = w.event1
			case n == 1:
				ws[n] = w.call1
			case h.EventScoped:
				ws[n] = w.event2
			default:
				ws[n] = w.call2
			}
			ps[n] = in
		}
		if ws[1] != nil || ws[2] != nil {
			p.wrapped[h.Name], p.params[h.Name] = ws, ps
		}
	}
	return p
}

var (
	envType = reflect.TypeOf(Env{})
	anyType = reflect.TypeOf((*any)(nil)).Elem()
)

// onlySignature returns the parameter types of the one signature among
// types that takes n arguments, when there is exactly one, it is not
// variadic and no variadic one could take n, and its result is any.
func onlySignature(types []any, n int) ([]reflect.Type, bool) {
	var found []reflect.Type
	count := 0
	for _, x := range types {
		t := reflect.TypeOf(x)
		if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Func {
			return nil, false
		}
		f := t.Elem()
		if f.IsVariadic() {
			if f.NumIn()-1 <= n {
				return nil, false
			}
			continue
		}
		if f.NumIn() != n {
			continue
		}
		count++
		if f.NumOut() != 1 || f.Out(0) != anyType {
			return nil, false
		}
		found = nil
		for i := range n {
			found = append(found, f.In(i))
		}
	}
	return found, count == 1
}

// wrapper calls one helper through its method values: a method per
// arity, and per kind, so that a patched tree tells an event-scoped
// helper's call (whose first argument is the $env envInjector passed) by
// its code.
type wrapper struct{ fn func(...any) (any, error) }

func (w *wrapper) call1(a any) any     { return raise(w.fn(a)) }
func (w *wrapper) call2(a, b any) any  { return raise(w.fn(a, b)) }
func (w *wrapper) event1(a any) any    { return raise(w.fn(a)) }
func (w *wrapper) event2(a, b any) any { return raise(w.fn(a, b)) }

func raise(v any, err error) any {
	if err != nil {
		panic(err) // as expr's VM does with a function's error
	}
	return v
}

var (
	call1PC  = reflect.ValueOf((&wrapper{}).call1).Pointer()
	call2PC  = reflect.ValueOf((&wrapper{}).call2).Pointer()
	event1PC = reflect.ValueOf((&wrapper{}).event1).Pointer()
	event2PC = reflect.ValueOf((&wrapper{}).event2).Pointer()
)

// isHelperCall reports whether n is a rewritten helper call, and whether
// the helper is event-scoped.
func isHelperCall(n *ast.CallNode) (ok, eventScoped bool) {
	c, isConst := n.Callee.(*ast.ConstantNode)
	if !isConst || c.Value == nil {
		return false, false
	}
	v := reflect.ValueOf(c.Value)
	if v.Kind() != reflect.Func {
		return false, false
	}
	switch v.Pointer() {
	case call1PC, call2PC:
		return true, false
	case event1PC, event2PC:
		return true, true
	}
	return false, false
}

func (p helperCalls) Visit(node *ast.Node) {
	c, ok := (*node).(*ast.CallNode)
	if !ok || len(c.Arguments) < 1 || len(c.Arguments) > 2 {
		return
	}
	id, ok := c.Callee.(*ast.IdentifierNode)
	if !ok {
		return
	}
	n := len(c.Arguments)
	fn := p.wrapped[id.Value][n]
	if fn == nil {
		return
	}
	for i, a := range c.Arguments {
		if !takes(p.params[id.Value][n][i], a) {
			return
		}
	}
	ast.Patch(node, &ast.CallNode{Callee: &ast.ConstantNode{Value: fn}, Arguments: c.Arguments})
}

// takes reports whether a parameter of type in takes the argument as it
// is: the checker allowed it, and the compiler added no conversion.
func takes(in reflect.Type, arg ast.Node) bool {
	t := arg.Type()
	switch {
	case in == envType:
		id, ok := arg.(*ast.IdentifierNode)
		return ok && id.Value == "$env"
	case t == nil || t.Kind() == reflect.Pointer:
		return false
	case in == anyType:
		return true
	case arg.Nature().Nil:
		return false // nil is no string
	case t.Kind() == reflect.Interface:
		return true
	}
	return t.AssignableTo(in)
}
