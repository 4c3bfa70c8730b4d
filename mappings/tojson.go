package mappings

import (
	"encoding/json"
	"math"
	"strconv"
)

// Presets call expr's toJSON mostly to tell a value's kind (toJSON(v)
// matches "^[0-9]+$", toJSON(o) startsWith "{"), and mostly on scalars.
// expr's builtin runs json.MarshalIndent for each, a reflective encoder
// and an indenting pass. toJSON here writes, for the scalars whose text is
// plain, exactly what json.MarshalIndent(v, "", "  ") writes, and hands
// every other value to it: the compiler registers it under the builtin's
// name (expr looks up functions before builtins).

func toJSON(params ...any) (any, error) {
	if s, ok := scalarJSON(params[0]); ok {
		return s, nil
	}
	b, err := json.MarshalIndent(params[0], "", "  ")
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// scalarJSON is encoding/json's text of v for nil, booleans, integers,
// floats that it prints without an exponent, and strings of printable
// ASCII that it escapes nowhere; ok is false for anything else.
func scalarJSON(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "null", true
	case bool:
		return strconv.FormatBool(x), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64:
		// encoding/json's floatEncoder: 'f' unless 0 < |x| < 1e-6 or
		// |x| ≥ 1e21; NaN and infinities are errors.
		if a := math.Abs(x); a == 0 || (a >= 1e-6 && a < 1e21) {
			return strconv.FormatFloat(x, 'f', -1, 64), true
		}
	case string:
		for i := 0; i < len(x); i++ {
			// encoding/json escapes control characters, '"' and '\\', and,
			// for HTML, '<', '>' and '&'; beyond ASCII it checks UTF-8.
			if c := x[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
				return "", false
			}
		}
		return `"` + x + `"`, true
	}
	return "", false
}
