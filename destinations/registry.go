package destinations

import (
	"maps"
	"slices"
	"sort"
	"sync"
)

// registry holds what tools' quirk folders register by name from their
// init functions (authorizers, item-error parsers, receipts handlers), for
// the catalog's definitions to select. Its one lock is a leaf.
type registry[T any] struct {
	what string // "auth", "item error parser", "receipts handler": for panics
	mu   sync.RWMutex
	m    map[string]T
}

func newRegistry[T any](what string) *registry[T] {
	return &registry[T]{what: what, m: map[string]T{}}
}

// register panics when name is empty or already taken: a programming
// error, found when the binary starts.
func (r *registry[T]) register(name string, v T) {
	if name == "" {
		panic("destinations: a " + r.what + " needs a name")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.m[name]; dup {
		panic("destinations: " + r.what + " " + name + " registered twice")
	}
	r.m[name] = v
}

func (r *registry[T]) get(name string) (T, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	v, ok := r.m[name]
	return v, ok
}

// names lists the registered names, sorted.
func (r *registry[T]) names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := slices.Collect(maps.Keys(r.m))
	sort.Strings(out)
	return out
}
