package mappings

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Value helpers that expr's own builtins cannot provide here: type() is
// shadowed by the event's `type` field, and slicing a string cuts bytes.

// typeName names a value's JSON kind.
func typeName(v any) string {
	if isNil(v) {
		return "null"
	}
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case map[string]any, map[any]any:
		return "object"
	case []any:
		return "list"
	case int, int64, float64, uint64, int32:
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

func init() {
	register(Helper{
		Name: "typeOf",
		Fn: func(params ...any) (any, error) {
			if len(params) != 1 {
				return nil, fmt.Errorf("typeOf: want one value")
			}
			return typeName(params[0]), nil
		},
		Types:     []any{new(func(any) string)},
		Signature: "typeOf(v any) string",
		Doc: "Returns the JSON kind of v: \"string\", \"number\", \"boolean\", \"object\", \"list\" or \"null\". " +
			"(expr's own type() is hidden by the event's `type` field.)",
		Example: `typeOf(properties.products) == "list"`,
	})
	register(Helper{
		Name: "truncate",
		Fn: func(params ...any) (any, error) {
			if len(params) != 2 {
				return nil, fmt.Errorf("truncate: want a value and a length")
			}
			if params[0] == nil {
				return nil, nil
			}
			n, ok := toInt(params[1])
			if !ok || n < 0 {
				return nil, fmt.Errorf("truncate: length must be a whole number ≥ 0, got %s", kindOf(params[1]))
			}
			s := Stringify(params[0])
			if utf8.RuneCountInString(s) <= n {
				return s, nil
			}
			i := 0
			for pos := range s {
				if i == n {
					return s[:pos], nil
				}
				i++
			}
			return s, nil
		},
		Types:     []any{new(func(any, any) any)},
		Signature: "truncate(s string, n int) string",
		Doc: "Returns s cut to at most n characters (Unicode code points, never splitting one, so the result " +
			"is valid UTF-8), for tools with field length limits. nil gives nil; a number is printed first.",
		Example: `truncate(email(), 4)`,
	})
	register(Helper{
		Name:        "phoneE164",
		EventScoped: true,
		Fn: func(params ...any) (any, error) {
			ev, err := eventOf("phoneE164", params)
			if err != nil {
				return nil, err
			}
			v := personText(ev, true, "phone")
			if len(params) > 1 {
				v = params[1]
			}
			s, ok := v.(string)
			if !ok || strings.TrimSpace(s) == "" {
				return nil, nil
			}
			d := normalisePhone(s, true)
			// E.164: a '+', then 8 to 15 digits, the first not 0.
			if !strings.HasPrefix(d, "+") || len(d) < 9 || len(d) > 16 || d[1] == '0' {
				return nil, nil
			}
			return d, nil
		},
		Types:     []any{new(func(Env) any), new(func(Env, any) any)},
		Signature: "phoneE164([phone string]) string",
		Doc: "Returns the phone number (phone() by default) in E.164 form, \"+\" and digits only " +
			"(\"+44 20 7946 0000\" → \"+442079460000\"; a leading 00 counts as +), or nil when it has no " +
			"country code or is not 8 to 15 digits: tools that require E.164 (Klaviyo, OneSignal SMS) refuse " +
			"anything else, and guessing a country is wrong more often than right.",
		Example: `phoneE164()`,
	})
}

func toInt(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case int64:
		return int(x), true
	case float64:
		if x == float64(int(x)) {
			return int(x), true
		}
	}
	return 0, false
}
