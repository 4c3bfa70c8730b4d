package mappings

import (
	"sort"
	"sync"
)

// Helper is one function of the mapping language. The registry is the single
// source for compilation, for `switchyard catalog --helpers` and for docs.
type Helper struct {
	Name string
	// EventScoped helpers read the event: the compiler passes the *Env as
	// their first parameter, so operators write email(), not email($env).
	EventScoped bool
	Fn          func(params ...any) (any, error)
	// Types are expr function signatures, for compile-time checks. For an
	// event-scoped helper each starts with a *Env parameter.
	Types []any
	// Signature as operators write it, for example "email() string".
	Signature string
	// Doc says what it returns and cites the spec rule it encodes.
	Doc string
	// Example is an expression using it.
	Example string
}

var (
	helpersMu sync.Mutex
	helpers   = map[string]Helper{}
)

// register adds a helper. Called from init functions; a duplicate name is a
// programming error.
func register(h Helper) {
	helpersMu.Lock()
	defer helpersMu.Unlock()
	if _, dup := helpers[h.Name]; dup {
		panic("mappings: helper registered twice: " + h.Name)
	}
	helpers[h.Name] = h
}

// Helpers lists every helper, sorted by name.
func Helpers() []Helper {
	helpersMu.Lock()
	defer helpersMu.Unlock()
	out := make([]Helper, 0, len(helpers))
	for _, h := range helpers {
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
