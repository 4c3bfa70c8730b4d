package peercorpus

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Agreement is how two routers compare on one field of one input.
type Agreement int

// The outcomes of comparing a field.
const (
	Neither  Agreement = iota // neither router sends the field
	Agree                     // both send it, equal
	Differ                    // both send it, different
	OursOnly                  // only switchyard sends it
	PeerOnly                  // only the peer sends it
)

// timeTolerance absorbs the peer's whole-second times.
const timeTolerance = time.Second

// Compare compares ours with the peer's fields, field by field, in
// FieldNames order.
func Compare(ours, peer Fields) []Agreement {
	strs := func(a, b string, fold bool) Agreement {
		if fold {
			a, b = strings.ToLower(a), strings.ToLower(b)
		}
		return agreement(a != "", b != "", a == b)
	}
	nums := func(a, b *float64) Agreement {
		return agreement(a != nil, b != nil, a != nil && b != nil && math.Abs(*a-*b) < 0.005)
	}
	lists := func(a, b []float64) Agreement {
		return agreement(len(a) > 0, len(b) > 0, sameFloats(a, b))
	}
	times := func(a, b *int64) Agreement {
		return agreement(a != nil, b != nil, a != nil && b != nil && math.Abs(float64(*a-*b)) <= float64(timeTolerance.Milliseconds()))
	}
	return []Agreement{
		strs(ours.Identity, peer.Identity, false),
		strs(ours.Email, peer.Email, true),
		strs(ours.Event, peer.Event, false),
		nums(ours.Revenue, peer.Revenue),
		lists(ours.Prices, peer.Prices),
		lists(ours.Quantity, peer.Quantity),
		strs(ours.Currency, peer.Currency, true),
		agreement(len(ours.Products) > 0, len(peer.Products) > 0, sameStrings(ours.Products, peer.Products)),
		times(ours.TimeMs, peer.TimeMs),
		nums(ours.Value, peer.Value),
		strs(ours.DedupeID, peer.DedupeID, false),
	}
}

func agreement(ours, peer, equal bool) Agreement {
	switch {
	case ours && peer && equal:
		return Agree
	case ours && peer:
		return Differ
	case ours:
		return OursOnly
	case peer:
		return PeerOnly
	}
	return Neither
}

func sameFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	x, y := append([]float64{}, a...), append([]float64{}, b...)
	sort.Float64s(x)
	sort.Float64s(y)
	for i := range x {
		if math.Abs(x[i]-y[i]) >= 0.005 {
			return false
		}
	}
	return true
}

// sameStrings compares product ids as sets.
func sameStrings(a, b []string) bool {
	set := func(l []string) map[string]bool {
		m := map[string]bool{}
		for _, s := range l {
			m[s] = true
		}
		return m
	}
	x, y := set(a), set(b)
	if len(x) != len(y) {
		return false
	}
	for k := range x {
		if !y[k] {
			return false
		}
	}
	return true
}

// Show prints field i of f for the report's examples.
func (f Fields) Show(i int) string {
	switch FieldNames[i] {
	case "identity":
		return f.Identity
	case "email":
		return f.Email
	case "event":
		return f.Event
	case "revenue":
		if f.Revenue != nil {
			return strconv.FormatFloat(*f.Revenue, 'f', -1, 64)
		}
	case "price":
		return floats(f.Prices)
	case "quantity":
		return floats(f.Quantity)
	case "currency":
		return f.Currency
	case "product ids":
		return strings.Join(f.Products, ",")
	case "time":
		if f.TimeMs != nil {
			return time.UnixMilli(*f.TimeMs).UTC().Format(time.RFC3339Nano)
		}
	case "value":
		if f.Value != nil {
			return strconv.FormatFloat(*f.Value, 'f', -1, 64)
		}
	case "dedupe id":
		return f.DedupeID
	}
	return ""
}

func floats(l []float64) string {
	s := make([]string, len(l))
	for i, x := range l {
		s[i] = strconv.FormatFloat(x, 'f', -1, 64)
	}
	return strings.Join(s, ",")
}
