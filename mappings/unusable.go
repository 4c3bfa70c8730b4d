package mappings

import (
	"errors"
	"fmt"
	"strings"
)

// Unusable stands, inside an otherwise usable helper result, for a value
// of the event that could not be read: products() keeps a product whose
// price is "ten" in its list with price set to an *Unusable, so that one
// bad product fails only the request that uses that value (its own
// per-product request), never its siblings'. A rendered request holding an
// Unusable fails with the reason; so does any helper reading it as a
// number (num, required).
type Unusable struct {
	Path   string // where the value sits in the event: properties.products[1].price
	Reason string // not a number: "ten"
}

func (u *Unusable) Error() string { return u.Path + ": " + u.Reason }

// unusableIn returns the first Unusable of a rendered value, in key order
// of maps as encountered: the reason a request carrying it fails.
func unusableIn(v any) *Unusable {
	switch x := v.(type) {
	case *Unusable:
		return x
	case map[string]any:
		for _, e := range x {
			if u := unusableIn(e); u != nil {
				return u
			}
		}
	case []any:
		for _, e := range x {
			if u := unusableIn(e); u != nil {
				return u
			}
		}
	}
	return nil
}

// explainItem rewrites a render error of a foreach element that carries
// Unusable values: the expression failed because it met one (price * 2
// with a price of "ten"), and the reason the operator can act on is the
// event's value, not the type mismatch.
func explainItem(item any, err error) error {
	m, ok := item.(map[string]any)
	if !ok {
		return err
	}
	var why []string
	for _, v := range m {
		if u, ok := v.(*Unusable); ok {
			why = append(why, u.Error())
		}
	}
	if len(why) == 0 {
		return err
	}
	var ee *ExprError
	where := ""
	if errors.As(err, &ee) {
		where = " (in " + ee.Path + ")"
	}
	return fmt.Errorf("%s%s", strings.Join(why, "; "), where)
}
