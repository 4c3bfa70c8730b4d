package mappings

import (
	"sync/atomic"
	"unsafe"
)

// memo holds what is derived from an event alone, computed at most once
// however many expressions and actions read the event: products(), which
// builds a new map per product, and which a preset's foreach and its
// fields may each call. An Event is never changed after Decode, and
// neither is anything memo holds: helpers build new values and never write
// to what they read, and expr's builtins copy a list before they sort it,
// so the memoized values are shared freely, also by goroutines routing the
// same event concurrently.
//
// Each value is published through an atomic: two goroutines that find it
// missing both compute it, the same value, and the first to store it wins
// (the other returns its own).
type memo struct {
	products productsMemo
	// folded is the event's name as foldEvent compares it, for the spec
	// name helpers (ecommerceEvent() in most triggers).
	folded atomic.Pointer[string]
	// unusable is set once a helper put an *Unusable into a value derived
	// from this event; until then no rendered request of the event can
	// hold one, and renderOne skips looking for it.
	unusable atomic.Bool
}

// productsMemo is products() of the event, held in the Event itself: as an
// atomic.Pointer to a struct of its own it cost an allocation per event,
// and boxing the list for the VM another per call. state goes from
// memoEmpty to memoWriting for the one goroutine that stores list and
// err, then to memoReady, after which they are never written again, and
// readers that load memoReady see them (the atomic store and load order
// the writes before the reads).
type productsMemo struct {
	state atomic.Uint32
	list  []any
	err   error
}

const (
	memoEmpty uint32 = iota
	memoWriting
	memoReady
)

// memoProducts returns products() of the event, computing it once.
func (e *Event) memoProducts() ([]any, error) {
	m := &e.memo.products
	if m.state.Load() == memoReady {
		return m.list, m.err
	}
	list, err := normalisedProducts(e)
	if m.state.CompareAndSwap(memoEmpty, memoWriting) {
		m.list, m.err = list, err
		m.state.Store(memoReady)
	}
	return list, err
}

// productsValue is memoProducts as the products() helper returns it, an
// `any`. Once the list is memoized, the `any` points at the memo's own
// list header (box.go's boxAt), which is never written again, instead of
// at a copy the runtime allocates per call (convTslice).
func (e *Event) productsValue() (any, error) {
	m := &e.memo.products
	if m.state.Load() != memoReady {
		list, err := e.memoProducts()
		if m.state.Load() != memoReady {
			// Another goroutine is storing its own list: return this one.
			if err != nil {
				return nil, err
			}
			return list, nil
		}
	}
	if m.err != nil {
		return nil, m.err
	}
	return boxAt(listType, unsafe.Pointer(&m.list)), nil //nolint:gosec // G103: box.go's eface, over a header never written again
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
