package peercorpus

import (
	"encoding/json"
	"math"
	"net/url"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/mappings"
)

// The readers the extractors share: paths into decoded JSON, and values
// read the way both routers' requests write them.

// decodeText decodes a JSON text carried inside a form field.
func decodeText(s string) any {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil
	}
	return v
}

// asList is v itself when it is a list, else a list holding v.
func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

func (f *Fields) addPrice(v any) {
	if n := number(v); n != nil {
		f.Prices = append(f.Prices, *n)
	}
}

func (f *Fields) addQuantity(v any) {
	if n := number(v); n != nil {
		f.Quantity = append(f.Quantity, *n)
	}
}

func (f *Fields) addProduct(id string) {
	if id != "" {
		f.Products = append(f.Products, id)
	}
}

func (f *Fields) addProducts(items []any, price, quantity, id string) {
	for _, it := range items {
		f.addPrice(get(it, price))
		f.addQuantity(get(it, quantity))
		f.addProduct(text(first(get(it, id), get(it, "sku"))))
	}
}

// get walks maps by key and lists by index ("0").
func get(v any, path ...string) any {
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

// first returns the first argument that is neither nil nor "".
func first[T comparable](vs ...T) T {
	var zero T
	for _, v := range vs {
		if v != zero {
			return v
		}
	}
	return zero
}

// text prints ids and names the way both routers send them.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return strings.TrimSpace(x)
	case json.Number:
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

// number reads a number, or a string holding one.
func number(v any) *float64 {
	var f float64
	var err error
	switch x := v.(type) {
	case json.Number:
		f, err = x.Float64()
	case float64:
		f = x
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case string:
		f, err = strconv.ParseFloat(strings.TrimSpace(x), 64)
	default:
		return nil
	}
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return &f
}

// millis reads a time as Unix milliseconds: an ISO-8601 string, or a Unix
// time in seconds, milliseconds or microseconds (told apart by magnitude).
func millis(v any) *int64 {
	if s, ok := v.(string); ok {
		if t, ok := mappings.ParseTime(s); ok {
			ms := t.UnixMilli()
			return &ms
		}
	}
	n := number(v)
	if n == nil || *n <= 0 {
		return nil
	}
	x := *n
	switch {
	case x > 1e14: // microseconds
		x /= 1e3
	case x < 1e11: // seconds
		x *= 1e3
	}
	ms := int64(math.Round(x))
	return &ms
}

func urlPath(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	if p, err := url.PathUnescape(u.EscapedPath()); err == nil {
		return p
	}
	return u.Path
}

func cut(s, sep string) (string, bool) {
	i := strings.Index(s, sep)
	if i < 0 {
		return "", false
	}
	return s[i+len(sep):], true
}
