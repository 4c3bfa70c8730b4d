package mappings

import (
	"math"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"unsafe"
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

// The event blocks fill the size classes their comments name: a string
// more would take the next class (the allocator adds an 8-byte header to
// an object of more than 512 bytes that holds pointers).
func TestEventBlocksFillTheirSizeClasses(t *testing.T) {
	// TotalAlloc counts every goroutine's allocations, and a goroutine
	// an earlier test left behind (a timer, a server winding down) may
	// allocate during a trial: a CI run read 1413 for 1408. Another
	// goroutine can only add bytes, so the least of five trials is the
	// block's own size.
	perBlock := func(alloc func()) uint64 {
		least := uint64(math.MaxUint64)
		for range 5 {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for range 1000 {
				alloc()
			}
			runtime.ReadMemStats(&after)
			least = min(least, (after.TotalAlloc-before.TotalAlloc)/1000)
		}
		return least
	}
	var keep any
	small := perBlock(func() { keep = new(eventBlock) })
	large := perBlock(func() { keep = new(eventBlockLarge) })
	_ = keep
	if small != 1024 || large != 1408 {
		t.Fatalf("an eventBlock takes %d bytes, an eventBlockLarge %d: want 1024 and 1408", small, large)
	}
	const header, str = 8, int(unsafe.Sizeof(""))
	if s := int(unsafe.Sizeof(eventBlock{})) + header; s > 1024 || s+str <= 1024 {
		t.Errorf("an eventBlock is %d bytes with its header: room for a string more, or over 1024", s)
	}
	if s := int(unsafe.Sizeof(eventBlockLarge{})) + header; s > 1408 || s+str <= 1408 {
		t.Errorf("an eventBlockLarge is %d bytes with its header: room for a string more, or over 1408", s)
	}
}

// Lists share the large block's element slab, each with no room past its
// end: appending to one copies it and leaves the next list as it was, and
// the lists that do not fit the slab get arrays of their own.
func TestListsFromTheElementSlabAreApart(t *testing.T) {
	data := []byte(`{"pad":"` + strings.Repeat("x", largeEvent) + `","a":[1,2,3],"b":["x","y"],"c":[4,5,6,7,8,9]}`)
	raw, ok := parseEvent(data, DefaultLimits, nil, nil)
	if !ok {
		t.Fatal("the single pass refuses the event")
	}
	a, b, c := raw["a"].([]any), raw["b"].([]any), raw["c"].([]any)
	for _, l := range [][]any{a, b, c} {
		if cap(l) != len(l) {
			t.Fatalf("list %v has room past its end: cap %d", l, cap(l))
		}
	}
	_ = append(a, "over")
	a[0] = int64(10)
	if want := []any{"x", "y"}; !reflect.DeepEqual(b, want) {
		t.Fatalf("b = %#v after writing to a, want %#v", b, want)
	}
	if want := []any{int64(4), int64(5), int64(6), int64(7), int64(8), int64(9)}; !reflect.DeepEqual(c, want) {
		t.Fatalf("c = %#v, want %#v", c, want)
	}
}
