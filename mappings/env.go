package mappings

import (
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
	t := &e.top
	var looked envTop
	if !t.noted {
		looked = lookUpTop(r)
		t = &looked
	}
	*env = Env{
		Type:              e.Type,
		Event:             t.event,
		UserID:            idValue(t.userID, e.UserID),
		AnonymousID:       idValue(t.anonymousID, e.AnonymousID),
		MessageID:         e.MessageID,
		Timestamp:         FormatTimestamp(e.Timestamp),
		Traits:            asMap(t.traits),
		Properties:        e.Properties,
		Context:           e.Context,
		Name:              r["name"],
		Category:          r["category"],
		GroupID:           t.groupID,
		PreviousID:        t.previousID,
		Integrations:      e.Integrations,
		SentAt:            t.sentAt,
		ReceivedAt:        t.receivedAt,
		OriginalTimestamp: t.originalTimestamp,
		Raw:               r,
		Source:            source,
		Settings:          settings,
		ev:                e,
	}
}

// envTop holds the members of an event's Raw that Env holds and the
// decoder's eventTop notes (top.go): Reset looked each of them up in Raw,
// nine map look-ups per route that evaluates an expression, while fromTop
// had them all in hand. fromTop copies them from its eventTop, where the
// single pass (or topOf) put the value Raw holds under each key, nil when
// absent or null, as a look-up gives; noted says it did. An Event made
// otherwise (WithRaw's view for a filter, a literal) has them looked up by
// each Reset, as before. name and category, which eventTop does not note,
// are still looked up.
type envTop struct {
	event, userID, anonymousID, traits, groupID, previousID any
	sentAt, receivedAt, originalTimestamp                   any
	noted                                                   bool
}

// lookUpTop reads envTop's members from raw.
func lookUpTop(raw map[string]any) envTop {
	return envTop{
		event: raw["event"], userID: raw["userId"], anonymousID: raw["anonymousId"], traits: raw["traits"],
		groupID: raw["groupId"], previousID: raw["previousId"],
		sentAt: raw["sentAt"], receivedAt: raw["receivedAt"], originalTimestamp: raw["originalTimestamp"],
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
