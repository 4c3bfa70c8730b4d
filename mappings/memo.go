package mappings

import "sync/atomic"

// memo holds what is derived from an event alone, computed at most once
// however many expressions, actions and destinations read the event: the
// expression environment's event fields (every Env.Reset after the first
// is a copy), and products(), which builds a new map per product. An
// Event is never changed after Decode, and neither is anything memo holds:
// helpers build new values and never write to what they read, and expr's
// builtins copy a list before they sort it, so the memoized values are
// shared freely, also by lanes routing the same event concurrently.
//
// Each value is published through an atomic pointer: two goroutines that
// find it missing both compute it, the same value, and the first stored
// wins.
type memo struct {
	env      atomic.Pointer[Env]
	products atomic.Pointer[productsMemo]
	// unusable is set once a helper put an *Unusable into a value derived
	// from this event; until then no rendered request of the event can
	// hold one, and renderOne skips looking for it.
	unusable atomic.Bool
}

type productsMemo struct {
	list []any
	err  error
}

// baseEnv is the environment's event part: every field but Source,
// Settings, Item and Index. It is made again if the event's Timestamp
// changed since (a test may set it after routing the event once).
func (e *Event) baseEnv() *Env {
	if b := e.memo.env.Load(); b != nil && b.ev == e && b.tsAt.Equal(e.Timestamp) {
		return b
	}
	r := e.Raw
	b := &Env{
		Type:              e.Type,
		Event:             r["event"],
		UserID:            nonEmpty(e.UserID),
		AnonymousID:       nonEmpty(e.AnonymousID),
		MessageID:         e.MessageID,
		Timestamp:         e.Timestamp.UTC().Format(TimestampLayout),
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
		ev:                e,
		tsAt:              e.Timestamp,
	}
	e.memo.env.Store(b)
	return b
}

// memoProducts returns products() of the event, computing it once.
func (e *Event) memoProducts() ([]any, error) {
	if m := e.memo.products.Load(); m != nil {
		return m.list, m.err
	}
	list, err := normalisedProducts(e)
	e.memo.products.CompareAndSwap(nil, &productsMemo{list: list, err: err})
	return list, err
}

// markUnusable records that a value derived from the event holds an
// *Unusable.
func (e *Event) markUnusable() { e.memo.unusable.Store(true) }

// mayHoldUnusable reports whether a value derived from the event may hold
// an *Unusable.
func (e *Event) mayHoldUnusable() bool { return e.memo.unusable.Load() }
