package mappings

import "sync/atomic"

// memo holds what is derived from an event alone, computed at most once
// however many expressions and actions read the event: products(), which
// builds a new map per product, and which a preset's foreach and its
// fields may each call. An Event is never changed after Decode, and
// neither is anything memo holds: helpers build new values and never write
// to what they read, and expr's builtins copy a list before they sort it,
// so the memoized values are shared freely, also by goroutines routing the
// same event concurrently.
//
// Each value is published through an atomic pointer: two goroutines that
// find it missing both compute it, the same value, and the first stored
// wins.
type memo struct {
	products atomic.Pointer[productsMemo]
	// folded is the event's name as foldEvent compares it, for the spec
	// name helpers (ecommerceEvent() in most triggers).
	folded atomic.Pointer[string]
	// unusable is set once a helper put an *Unusable into a value derived
	// from this event; until then no rendered request of the event can
	// hold one, and renderOne skips looking for it.
	unusable atomic.Bool
}

type productsMemo struct {
	list []any
	err  error
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

// foldedName returns foldEvent of the event's name, computing it once.
func (e *Event) foldedName() string {
	if f := e.memo.folded.Load(); f != nil {
		return *f
	}
	f := foldEvent(e.Name())
	e.memo.folded.CompareAndSwap(nil, &f)
	return f
}

// markUnusable records that a value derived from the event holds an
// *Unusable.
func (e *Event) markUnusable() { e.memo.unusable.Store(true) }

// mayHoldUnusable reports whether a value derived from the event may hold
// an *Unusable.
func (e *Event) mayHoldUnusable() bool { return e.memo.unusable.Load() }
