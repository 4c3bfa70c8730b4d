package mappings

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// This file holds the general-purpose helpers (required, coalesce, str, num,
// and the map shapers) and the small readers the Segment helpers share.

// eventOf returns the event behind an event-scoped helper's first parameter,
// which the compiler's envInjector supplies.
func eventOf(name string, params []any) (*Event, error) {
	if len(params) == 0 {
		return nil, fmt.Errorf("%s: called without its event", name)
	}
	env, ok := params[0].(*Env)
	if !ok || env == nil || env.EventOf() == nil {
		return nil, fmt.Errorf("%s: called without its event", name)
	}
	return env.EventOf(), nil
}

// stringArg returns the optional string argument at params[i] ("" when not
// given).
func stringArg(name string, params []any, i int) (string, error) {
	if len(params) <= i || params[i] == nil {
		return "", nil
	}
	s, ok := params[i].(string)
	if !ok {
		return "", fmt.Errorf("%s: argument %d must be a string, not %s", name, i, kindOf(params[i]))
	}
	return s, nil
}

// at walks nested objects: at(m, "address", "city"). Anything missing, or
// not an object on the way, is nil.
func at(m map[string]any, path ...string) any {
	var v any = m
	for _, k := range path {
		o, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = o[k]
	}
	return v
}

// firstKey returns the first non-nil value of m among keys, and the key it
// came from. Used for spellings a field is sent under (first_name, firstName).
func firstKey(m map[string]any, keys ...string) (any, string) {
	for _, k := range keys {
		if v, ok := m[k]; ok && v != nil {
			return v, k
		}
	}
	return nil, ""
}

// text returns a trimmed, non-empty string for strings and numbers (a
// postal code or phone sent as a JSON number), and false for anything else.
func text(v any) (string, bool) {
	var s string
	switch x := v.(type) {
	case string:
		s = strings.TrimSpace(x)
	case int64, int, float64, json.Number:
		s = idString(x)
		if s == "" {
			s = Stringify(x)
		}
	default:
		return "", false
	}
	return s, s != ""
}

// textOf is text as a helper result: the string, or nil.
func textOf(v any) any {
	if s, ok := text(v); ok {
		return reboxed(v, s)
	}
	return nil
}

// blank reports whether v counts as absent: nil, or a string of spaces.
func blank(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return strings.TrimSpace(x) == ""
	}
	return false
}

// toNumber reads a number the way senders send them: JSON numbers, or
// strings holding one ("10.50"). ok is false when v is absent (nil or a
// blank string); a value present but not a number is an error, because a
// price silently dropped is worse than an event refused with a reason.
func toNumber(v any) (f float64, ok bool, err error) {
	switch x := v.(type) {
	case nil:
		return 0, false, nil
	case *Unusable:
		return 0, false, x
	case float64:
		return x, true, nil
	case int64:
		return float64(x), true, nil
	case int:
		return float64(x), true, nil
	case json.Number:
		f, err := x.Float64()
		if err != nil || math.IsInf(f, 0) {
			return 0, false, fmt.Errorf("not a number: %q", x.String())
		}
		return f, true, nil
	case string:
		s := strings.TrimSpace(x)
		if s == "" {
			return 0, false, nil
		}
		if f, ok := plainDecimal(s); ok {
			return f, true, nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return 0, false, fmt.Errorf("not a number: %q", x)
		}
		return f, true, nil
	}
	return 0, false, fmt.Errorf("not a number: %s", kindOf(v))
}

// plainDecimal reads the prices and quantities senders send as text
// ("12.50", "2", "-3.5") without strconv.ParseFloat, whose general reader
// (signs, exponents, hex, underscores, inf) cost most of a product's
// normalisation: s of an optional '-', one to fifteen digits in all and
// an optional '.' between digits, read as the decoder reads a short JSON
// number (exactDecimal: what ParseFloat returns). ok is false for
// anything else, which ParseFloat then reads.
func plainDecimal(s string) (f float64, ok bool) {
	i, neg := 0, false
	if len(s) > 0 && s[0] == '-' {
		i, neg = 1, true
	}
	var m int64
	digits, frac, point := 0, 0, false
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			m = m*10 + int64(c-'0')
			digits++
			if point {
				frac++
			}
		case c == '.' && !point && digits > 0 && i+1 < len(s):
			point = true
		default:
			return 0, false
		}
	}
	if digits == 0 || digits > 15 {
		return 0, false
	}
	return exactDecimal(m, frac, neg), true
}

// wholeOrFloat returns int64 for whole numbers within range, else f.
func wholeOrFloat(f float64) any {
	if exactWhole(f) {
		return int64(f)
	}
	return f
}

// exactWhole reports whether f is a whole number an int64 holds exactly
// (below 2^53 in magnitude, where every whole float64 is one).
func exactWhole(f float64) bool { return f == math.Trunc(f) && math.Abs(f) < 1<<53 }

// kindOf names a value's JSON kind for error messages.
func kindOf(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean (" + strconv.FormatBool(x) + ")"
	case string:
		return "a string"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case int, int64, float64, json.Number:
		return "a number"
	}
	return fmt.Sprintf("a %T", v)
}

// mapArg reads a map parameter; nil stays nil.
func mapArg(name string, v any) (map[string]any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return x, nil
	}
	return nil, fmt.Errorf("%s: want an object, got %s", name, kindOf(v))
}

// keysArg reads the variadic key names of pick and omitKeys.
func keysArg(name string, params []any) ([]string, error) {
	keys := make([]string, 0, len(params))
	for i, p := range params {
		k, ok := p.(string)
		if !ok {
			return nil, fmt.Errorf("%s: key %d must be a string, not %s", name, i+1, kindOf(p))
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func init() {
	register(Helper{
		Name: "required",
		Fn: func(params ...any) (any, error) {
			if len(params) != 2 {
				return nil, fmt.Errorf("required: want (value, what), got %d arguments", len(params))
			}
			what, ok := params[1].(string)
			if !ok || strings.TrimSpace(what) == "" {
				what = "value"
			}
			if u, ok := params[0].(*Unusable); ok {
				return nil, fmt.Errorf("%s is required: %w", what, u)
			}
			if blank(params[0]) {
				return nil, fmt.Errorf("%s is required", what)
			}
			return params[0], nil
		},
		Types:     []any{new(func(any, string) any)},
		Signature: `required(value any, what string) any`,
		Doc: "Returns value unchanged, or fails the event for this action with the error \"<what> is required\" " +
			"when value is nil, an empty string or only spaces. This is how a preset refuses an event a tool " +
			"cannot accept (a Klaviyo profile without email or phone, a purchase without an order id) with a " +
			"clear reason in the dead-letter entry, instead of sending a request the tool will reject.",
		Example: `required(orderId(), "order_id")`,
	})
	register(Helper{
		Name: "coalesce",
		Fn: func(params ...any) (any, error) {
			for _, p := range params {
				if !blank(p) {
					return p, nil
				}
			}
			return nil, nil
		},
		Types:     []any{new(func(...any) any)},
		Signature: `coalesce(values ...any) any`,
		Doc: "Returns the first value that is neither nil nor an empty (or all-space) string, unchanged; nil when " +
			"there is none. Unlike `a ?? b`, it also skips empty strings, which SDKs send for unset form fields.",
		Example: `coalesce(traits.nickname, "", firstName(), "friend")`,
	})
	register(Helper{
		Name: "str",
		Fn: func(params ...any) (any, error) {
			if len(params) != 1 {
				return nil, fmt.Errorf("str: want one argument, got %d", len(params))
			}
			if params[0] == nil {
				return nil, nil
			}
			return Stringify(params[0]), nil
		},
		Types:     []any{new(func(any) any)},
		Signature: `str(v any) string`,
		Doc: "Returns v as text the way tools expect it. Strings as they are, whole numbers without a decimal " +
			"point (12, not 12.0 or 1.2e+01), times in ISO-8601 UTC, objects and lists as JSON. nil stays nil, " +
			"so the field is omitted rather than sent as \"\". Use it for ids tools want as strings, for example " +
			"a numeric userId or order id.",
		Example: `str(properties.quantity)`,
	})
	register(Helper{
		Name: "num",
		Fn: func(params ...any) (any, error) {
			if len(params) != 1 {
				return nil, fmt.Errorf("num: want one argument, got %d", len(params))
			}
			f, ok, err := toNumber(params[0])
			if err != nil {
				return nil, fmt.Errorf("num: %w", err)
			}
			if !ok {
				return nil, nil
			}
			return f, nil
		},
		Types:     []any{new(func(any) any)},
		Signature: `num(v any) float64`,
		Doc: "Returns v as a float64: JSON numbers as they are, strings holding a number (\"10.50\") parsed. nil " +
			"and empty strings give nil; anything else (\"ten\", true, an object) is an error `num: not a number: " +
			"\"ten\"` rather than a silently dropped value.",
		Example: `num(properties.price) * 100`,
	})
	register(Helper{
		Name: "stringValues",
		Fn: func(params ...any) (any, error) {
			if len(params) != 1 {
				return nil, fmt.Errorf("stringValues: want one argument, got %d", len(params))
			}
			m, err := mapArg("stringValues", params[0])
			if err != nil || m == nil {
				return nil, err
			}
			out := make(map[string]any, len(m))
			for k, v := range m {
				if v != nil {
					out[k] = Stringify(v)
				}
			}
			return out, nil
		},
		Types:     []any{new(func(any) any)},
		Signature: `stringValues(m map) map`,
		Doc: "Returns a copy of the object m with every value converted to text. As str() does it: numbers and booleans " +
			"printed, nested objects and lists as JSON text, nil values dropped. Firebase Cloud Messaging `data` " +
			"payloads (and APNs custom keys relayed through it) accept only string values.",
		Example: `stringValues({"order_id": orderId(), "total": total(), "items": len(products())})`,
	})
	register(Helper{
		Name: "pick",
		Fn: func(params ...any) (any, error) {
			if len(params) == 0 {
				return nil, fmt.Errorf("pick: want (object, keys...)")
			}
			m, err := mapArg("pick", params[0])
			if err != nil || m == nil {
				return nil, err
			}
			keys, err := keysArg("pick", params[1:])
			if err != nil {
				return nil, err
			}
			out := make(map[string]any, len(keys))
			for _, k := range keys {
				if v, ok := m[k]; ok && v != nil {
					out[k] = v
				}
			}
			return out, nil
		},
		Types:     []any{new(func(any, ...string) any)},
		Signature: `pick(m map, keys ...string) map`,
		Doc: "Returns a new object holding only the listed keys of m (keys absent or nil in m are left out). " +
			"m itself is not changed. nil gives nil.",
		Example: `pick(properties, "order_id", "currency")`,
	})
	register(Helper{
		Name: "omitKeys",
		Fn: func(params ...any) (any, error) {
			if len(params) == 0 {
				return nil, fmt.Errorf("omitKeys: want (object, keys...)")
			}
			m, err := mapArg("omitKeys", params[0])
			if err != nil || m == nil {
				return nil, err
			}
			keys, err := keysArg("omitKeys", params[1:])
			if err != nil {
				return nil, err
			}
			// Always a new map: compact(omitKeys(...)) removes nils from it
			// in place (compactfresh.go).
			out := make(map[string]any, len(m))
		next:
			for k, v := range m {
				for _, o := range keys {
					if k == o {
						continue next
					}
				}
				out[k] = v
			}
			return out, nil
		},
		Types:     []any{new(func(any, ...string) any)},
		Signature: `omitKeys(m map, keys ...string) map`,
		Doc: "Returns a new object with every key of m except the listed ones. Use it, for example, to forward the " +
			"remaining properties as custom attributes after the spec'd ones were mapped. m itself is not " +
			"changed. nil gives nil.",
		Example: `omitKeys(properties, "products", "revenue", "currency")`,
	})
	register(Helper{
		Name: "merge",
		Fn: func(params ...any) (any, error) {
			// Sized for every key (presets merge properties with a literal
			// of twenty): growing the map as it fills rehashed it each time.
			n := 0
			for _, p := range params {
				if m, ok := p.(map[string]any); ok {
					n += len(m)
				}
			}
			// Always a new map, even for one argument: compact(merge(...))
			// removes nils from it in place (compactfresh.go).
			out := make(map[string]any, n)
			for i, p := range params {
				m, err := mapArg("merge", p)
				if err != nil {
					return nil, fmt.Errorf("merge: argument %d: want an object, got %s", i+1, kindOf(p))
				}
				for k, v := range m {
					out[k] = v
				}
			}
			return out, nil
		},
		Types:     []any{new(func(...any) any)},
		Signature: `merge(objects ...map) map`,
		Doc: "Returns a new object with the keys of every argument, later arguments winning (a shallow merge: " +
			"nested objects are replaced, not merged). nil arguments count as empty objects.",
		Example: `merge(pick(traitsOf(), "plan", "title"), {"plan": "pro"})`,
	})
	register(Helper{
		Name: "compact",
		Fn: func(params ...any) (any, error) {
			if len(params) != 1 {
				return nil, fmt.Errorf("compact: want one argument, got %d", len(params))
			}
			switch params[0].(type) {
			case nil, map[string]any, []any:
				return compactValue(params[0]), nil
			}
			return nil, fmt.Errorf("compact: want an object or a list, got %s", kindOf(params[0]))
		},
		Types:     []any{new(func(any) any)},
		Signature: `compact(v map|list) map|list`,
		Doc: "Returns a copy of v without nil values, at every depth: keys whose value is nil are removed from " +
			"objects, and nil elements are removed from lists. A fields leaf that is nil is already omitted; " +
			"compact is for values built in one expression (a map literal, forwarded traits) that tools reject " +
			"null inside.",
		Example: `compact({"email": email(), "phone": phone(), "tags": [utm("source"), nil]})`,
	})
}

// compactValue copies v without nil values at any depth. A part that has
// none is its own compacted form and is kept, not copied (compact of the
// properties with their five products copied every product): values are
// never changed once built, so sharing one is as good as a copy.
func compactValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if x != nil && compacted(x) {
			return x
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			if e != nil {
				out[k] = compactValue(e)
			}
		}
		return out
	case []any:
		if x != nil && compacted(x) {
			return x
		}
		out := make([]any, 0, len(x))
		for _, e := range x {
			if e != nil {
				out = append(out, compactValue(e))
			}
		}
		return out
	}
	return v
}

// compacted reports whether compactValue(v) would equal v: no nil at any
// depth, and no nil object or list (which compactValue makes empty).
func compacted(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case map[string]any:
		if x == nil {
			return false
		}
		for _, e := range x {
			if !compacted(e) {
				return false
			}
		}
	case []any:
		if x == nil {
			return false
		}
		for _, e := range x {
			if !compacted(e) {
				return false
			}
		}
	}
	return true
}
