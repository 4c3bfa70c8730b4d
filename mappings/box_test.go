package mappings

import (
	"math"
	"reflect"
	"runtime"
	"testing"
)

// The boxes of the slabs are the values the runtime's own boxing makes:
// equal under ==, type switches and reflect, and intact after collections
// that leave only the boxes pointing into their slabs.
func TestBoxedValues(t *testing.T) {
	want := []any{"track", "", "é\u2028", int64(0), int64(255), int64(256), int64(-1), int64(math.MaxInt64), int64(math.MinInt64),
		0.5, -1e300, math.SmallestNonzeroFloat64, []any{"a", int64(1)}, []any{}, []any{[]any{}}}
	var b slabs
	b.chunk = 2 // several slabs
	boxes := make([]any, 0, len(want))
	for _, w := range want {
		switch x := w.(type) {
		case string:
			boxes = append(boxes, b.str(x))
		case int64:
			boxes = append(boxes, b.int(x))
		case float64:
			boxes = append(boxes, b.float(x))
		case []any:
			boxes = append(boxes, b.list(x))
		}
	}
	b = slabs{} // only the boxes hold the slabs now
	for range 3 {
		runtime.GC()
	}
	for i, got := range boxes {
		_, isList := got.([]any) // lists are not comparable with ==
		if (!isList && got != want[i]) || !reflect.DeepEqual(got, want[i]) || reflect.TypeOf(got) != reflect.TypeOf(want[i]) {
			t.Errorf("box %d = %#v (%T), want %#v (%T)", i, got, got, want[i], want[i])
		}
	}
	if s, ok := boxes[0].(string); !ok || s != "track" {
		t.Errorf("type switch on a boxed string: %q %v", s, ok)
	}
	if f, ok := boxes[9].(float64); !ok || f != 0.5 {
		t.Errorf("type switch on a boxed float: %v %v", f, ok)
	}
	if l, ok := boxes[12].([]any); !ok || len(l) != 2 || l[0] != "a" {
		t.Errorf("type switch on a boxed list: %v %v", l, ok)
	}
}

// A decoded event's values survive collections while only the event holds
// them, and the decoder spends one allocation on many values' boxes.
func TestDecodeBoxesSurviveCollection(t *testing.T) {
	data := benchEvents["fast"]
	raw, ok := parseEvent(data, DefaultLimits, nil, nil)
	if !ok {
		t.Fatal("the single pass refused the bench event")
	}
	want, err := decodeExact(data, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		runtime.GC()
	}
	if !reflect.DeepEqual(raw, want) {
		t.Fatalf("after collections:\n%#v\nwant\n%#v", raw, want)
	}
	allocs := testing.AllocsPerRun(50, func() { parseEvent(data, DefaultLimits, nil, nil) })
	// 9 objects (21 allocations between them: a small map takes two, its
	// header and its group, and one of more than 8 keys four), 1 list,
	// the string copy, and the event's block (its Event, and the first
	// boxes of its strings, numbers and lists).
	t.Logf("parseEvent: %.0f allocations", allocs)
	if allocs > 24 {
		t.Errorf("parseEvent of the bench event: %.0f allocations, want at most 24 (values boxed one by one?)", allocs)
	}
}
