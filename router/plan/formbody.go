package plan

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// encodeForm encodes a rendered body as application/x-www-form-urlencoded
// (the catalog's request.encoding: form; Twilio's Messaging API takes
// nothing else). Only a flat object of text, numbers and booleans has a form
// encoding: a nested object or a list would need a convention the tool may
// not share, so it is refused with the fields named rather than guessed.
// Keys are sorted (url.Values.Encode), so the bytes are stable.
func encodeForm(v any) ([]byte, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("a form body must be an object of fields, not %s", formKind(v))
	}
	vals := url.Values{}
	var bad []string
	for k, x := range m {
		s, ok := formValue(x)
		switch {
		case x == nil:
			continue // an absent field, as in JSON bodies
		case !ok:
			bad = append(bad, fmt.Sprintf("%s is %s", k, formKind(x)))
			continue
		}
		vals.Set(k, s)
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return nil, fmt.Errorf("a form body takes only text, number and boolean fields: %s", strings.Join(bad, "; "))
	}
	return []byte(vals.Encode()), nil
}

func formValue(x any) (string, bool) {
	switch t := x.(type) {
	case string:
		return t, true
	case bool:
		return strconv.FormatBool(t), true
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), true
	case float32:
		return strconv.FormatFloat(float64(t), 'f', -1, 32), true
	case int:
		return strconv.Itoa(t), true
	case int64:
		return strconv.FormatInt(t, 10), true
	case uint64:
		return strconv.FormatUint(t, 10), true
	case fmt.Stringer: // json.Number keeps every digit
		if _, isNum := x.(interface{ Float64() (float64, error) }); isNum {
			return t.String(), true
		}
	}
	return "", false
}

func formKind(x any) string {
	switch x.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case nil:
		return "null"
	}
	return fmt.Sprintf("a %T", x)
}
