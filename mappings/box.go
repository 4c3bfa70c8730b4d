package mappings

import (
	"math"
	"unsafe"
)

// Boxing without an allocation per value. Storing a string, a float64, an
// int64 outside 0..255 or a list in an `any` makes the runtime copy the
// value to a heap object of its own (runtime.convTstring, convT64,
// convTslice): a typical 1 KB event holds about forty strings, so Decode
// spent forty small allocations, and the garbage collector forty objects,
// on headers alone. The decoder instead writes the values into slabs, one
// allocation for many, and makes each `any` point into its slab: an
// interface value is a type word and a data pointer (the runtime's eface;
// reflect, the race detector's checkptr and the collector read it the same
// way, and the collector keeps a slab alive while any value points into
// it), so the result is exactly what convTstring would have made, with the
// data in a shared block. A slab slot is written once, before its value is
// handed out, and never again: values stay immutable, as Go requires of
// what an interface holds. TestBoxedValues holds the boxes to what the
// runtime makes.

// eface is the layout of an `any` (runtime.eface).
type eface struct {
	typ  unsafe.Pointer
	data unsafe.Pointer
}

// The five uses of unsafe below, and memo.go's box of the products list,
// are the whole of it (gosec G103, audited:
// the layout is the runtime's eface, TestBoxedValues checks every box
// against what the runtime makes, and the race detector's checkptr runs
// over them in make test).
func typeWord(v any) unsafe.Pointer { return (*eface)(unsafe.Pointer(&v)).typ } //nolint:gosec // G103, see above

var (
	stringType  = typeWord("")
	int64Type   = typeWord(int64(0))
	float64Type = typeWord(float64(0))
	listType    = typeWord([]any(nil))
)

// boxAt makes the `any` of type typ whose value is at data.
func boxAt(typ, data unsafe.Pointer) (v any) {
	e := (*eface)(unsafe.Pointer(&v)) //nolint:gosec // G103, see typeWord
	e.typ, e.data = typ, data
	return v
}

// slabs are one event's boxes. They belong to the event once handed out:
// a parser starts every event with empty ones.
type slabs struct {
	strs  []string
	words []uint64 // int64 and float64 values, by their bits
	lists [][]any  // the headers of lists (runtime.convTslice's box)
	elems []any    // the elements of lists, when the event's block has room
	chunk int      // slots of the next string slab
}

// eventBlock is one allocation for what every decoded event needs: its
// Event and its first slabs of strings, numbers and list headers.
// Allocated apart they were four objects, and the string slab's pointer
// bitmap was written slot by slot; together they are one object above
// 512 bytes, allocated with a type header (runtime heapSetType), whose
// type tells the collector which words are pointers (not the numbers').
// The Event lives as long as its values do and they as long as it, in
// practice: one lifetime. Its 32 strings fill the 1024-byte size class
// the allocator rounds it up to, with the 8-byte header
// (TestEventBlocksFillTheirSizeClasses; an Event that grows or shrinks
// moves them).
type eventBlock struct {
	event Event
	strs  [32]string
	words [8]uint64
	lists [2][]any
}

// eventBlockLarge is eventBlock for an event of more than largeEvent
// bytes, which holds more strings than eventBlock does (about one per 24
// bytes) and more often lists: a typical 1 KB Order Completed holds about
// forty strings and a list of products, which took two allocations more
// (a second string slab and the list's array): in one 1408-byte block
// (48 strings) they take fewer bytes than the 1024 of an eventBlock, a
// 256-byte slab and the list's array.
type eventBlockLarge struct {
	event Event
	strs  [48]string
	words [8]uint64
	lists [2][]any
	elems [8]any
}

// largeEvent is the size above which an event takes an eventBlockLarge:
// where the estimate of its strings (below) passes eventBlock's 32.
const largeEvent = 32 * 24

// newEventSlabs allocates the block of an event of n bytes and returns
// its first slabs. About one string value per 24 bytes of a typical
// event: a longer run of strings than the block holds takes a slab sized
// for the rest of that estimate.
func newEventSlabs(n int) (slabs, *Event) {
	if n > largeEvent {
		blk := new(eventBlockLarge)
		return slabs{strs: blk.strs[:0], words: blk.words[:0], lists: blk.lists[:0], elems: blk.elems[:0],
			chunk: max(16, n/24+4-len(blk.strs))}, &blk.event
	}
	blk := new(eventBlock)
	return slabs{strs: blk.strs[:0], words: blk.words[:0], lists: blk.lists[:0], chunk: 16}, &blk.event
}

// listOf returns a list of n elements for the parser to fill: from the
// block's element slab when it has room, else an array of its own. A list
// from the slab has no room past its end (cap is len), so an append to it
// copies it, as to any list the decoder makes, and never writes into the
// next list's elements.
func (b *slabs) listOf(n int) []any {
	if at := len(b.elems); cap(b.elems)-at >= n {
		b.elems = b.elems[:at+n]
		return b.elems[at : at+n : at+n]
	}
	return make([]any, n)
}

// str boxes s. An empty string needs no box (the runtime's own zero value).
func (b *slabs) str(s string) any {
	if len(s) == 0 {
		return ""
	}
	if len(b.strs) == cap(b.strs) {
		b.strs = make([]string, 0, b.chunk)
	}
	b.strs = append(b.strs, s)
	return boxAt(stringType, unsafe.Pointer(&b.strs[len(b.strs)-1])) //nolint:gosec // G103, see typeWord
}

// list boxes l.
func (b *slabs) list(l []any) any {
	if len(b.lists) == cap(b.lists) {
		b.lists = make([][]any, 0, 4)
	}
	b.lists = append(b.lists, l)
	return boxAt(listType, unsafe.Pointer(&b.lists[len(b.lists)-1])) //nolint:gosec // G103, see typeWord
}

// int boxes n; 0..255 need no box (the runtime's staticuint64s).
func (b *slabs) int(n int64) any {
	if n >= 0 && n < 256 {
		return n
	}
	return boxAt(int64Type, b.word(uint64(n)))
}

// float boxes f.
func (b *slabs) float(f float64) any {
	return boxAt(float64Type, b.word(math.Float64bits(f)))
}

func (b *slabs) word(w uint64) unsafe.Pointer {
	if len(b.words) == cap(b.words) {
		b.words = make([]uint64, 0, 8)
	}
	b.words = append(b.words, w)
	return unsafe.Pointer(&b.words[len(b.words)-1]) //nolint:gosec // G103, see typeWord
}

// reboxed is s as an any: orig itself when orig is that string already
// (a value read from the event and returned unchanged, its box reused),
// else s boxed anew. Helpers that return a trimmed trait or an id call
// it, so that the common case, nothing to trim, allocates nothing.
func reboxed(orig any, s string) any {
	if o, ok := orig.(string); ok && o == s {
		return orig
	}
	return s
}
