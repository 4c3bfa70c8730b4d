package mappings

import (
	"encoding/json"
	"fmt"
	"math"
)

// checkShape bounds nesting depth and container sizes with one pass over the
// bytes, before encoding/json allocates anything: a hostile event is
// refused for the price of a scan, with a reason naming the limit.
// Malformed JSON is left for the decoder to report.
func checkShape(data []byte, lim Limits) error {
	var counts []int // elements seen in each open container
	inString, escaped := false, false
	for _, c := range data {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
			if n := len(counts); n > 0 && counts[n-1] == 0 {
				counts[n-1] = 1
			}
		case '{', '[':
			if n := len(counts); n > 0 && counts[n-1] == 0 {
				counts[n-1] = 1
			}
			if len(counts) >= lim.MaxDepth {
				return &InvalidError{Reason: fmt.Sprintf("JSON nesting is deeper than the %d level limit", lim.MaxDepth)}
			}
			counts = append(counts, 0)
		case '}', ']':
			if len(counts) > 0 {
				counts = counts[:len(counts)-1]
			}
		case ',':
			if n := len(counts); n > 0 {
				counts[n-1]++
				if counts[n-1] > lim.MaxProperties {
					return &InvalidError{Reason: fmt.Sprintf("an object or array has more than %d entries", lim.MaxProperties)}
				}
			}
		case ' ', '\t', '\r', '\n', ':':
		default:
			if n := len(counts); n > 0 && counts[n-1] == 0 {
				counts[n-1] = 1
			}
		}
	}
	return nil
}

// normaliseNumbers turns json.Number and float64 values into int64 when they
// are whole and fit, else float64, so that ids keep every digit and numbers
// have the same types whichever decoder read them (1E5 is 100000 on both).
// A number beyond float64's range (1e400) is refused: no tool can take it
// as a number, and it would not re-encode as one.
func normaliseNumbers(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			switch e.(type) {
			case json.Number, float64, map[string]any, []any:
				n, err := normaliseNumbers(e)
				if err != nil {
					return nil, err
				}
				x[k] = n
			}
		}
	case []any:
		for i, e := range x {
			switch e.(type) {
			case json.Number, float64, map[string]any, []any:
				n, err := normaliseNumbers(e)
				if err != nil {
					return nil, err
				}
				x[i] = n
			}
		}
	case float64:
		return wholeFloat(x), nil
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, nil
		}
		f, err := x.Float64()
		if err != nil || math.IsInf(f, 0) {
			s := x.String()
			if len(s) > 40 {
				s = s[:40] + "..."
			}
			return nil, fmt.Errorf("number %s is out of range (beyond a 64-bit float)", s)
		}
		return wholeFloat(f), nil
	}
	return v, nil
}
