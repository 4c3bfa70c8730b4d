package mappings

import (
	"math"
	"math/bits"
	"strconv"
	"sync"
)

// parseEvent is the single-pass decoder of Decode: it reads one JSON object
// straight into maps, lists, strings, booleans, int64 and float64 (the
// types normaliseNumbers gives), enforcing the structural limits of
// checkShape as it goes. Every string is sliced from one copy of the
// event, so a string without escapes costs no allocation of its own,
// values are boxed into the event's slabs (box.go), and maps and lists
// are made at their final size.
//
// It accepts only what it is sure to decode exactly as the exact path
// (checkShape, then encoding/json with UseNumber, then normaliseNumbers):
// ok is false for anything else, malformed JSON, bytes after the value, a
// limit exceeded, invalid UTF-8 (which encoding/json reads as U+FFFD), a
// number beyond float64, a top level that is not an object, and the
// caller decodes those with the exact path, so that a refused event's
// reason never depends on which decoder saw it first. FuzzDecodePaths
// holds the two to the same values. When top is not nil, it is given the
// values of the top-level members FromMap reads, noted as they are built.
func parseEvent(data []byte, lim Limits, keep *Projection, top *eventTop) (m map[string]any, ok bool) {
	p := parsers.Get().(*eventParser)
	p.s, p.i, p.depth, p.lim, p.keep, p.skipped = string(data), 0, 0, lim, keep, 0
	// The event and its first boxes in one allocation (box.go).
	var ev *Event
	p.box, ev = newEventSlabs(len(data))
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == '{' {
		m, ok = p.object()
	}
	if ok {
		p.skipSpace()
		ok = p.i == len(p.s)
	}
	// The stack is popped without clearing as the parse goes: clear what
	// it held once, so that a pooled parser keeps no event alive. A
	// failed parse leaves its members pushed: the length only grows
	// between the pops drop notes, so the larger of the two is the most
	// it held.
	clear(p.stack[:max(p.hi, len(p.stack))])
	p.stack, p.hi = p.stack[:0], 0
	if ok && top != nil {
		*top = p.top
		top.into = ev
	}
	p.s, p.box, p.keep, p.top = "", slabs{}, nil, eventTop{}
	parsers.Put(p)
	if !ok {
		return nil, false
	}
	return m, true
}

// eventParser is the state of one parseEvent. Its stack is reused across
// events (parsers): members and elements of the open containers are
// collected there, so that each map and list is made once, at its size.
type eventParser struct {
	s     string
	i     int
	depth int
	lim   Limits
	stack []member
	// hi is the most the stack held during this event: what parseEvent
	// clears at its end.
	hi int
	// skipped counts the top-level members a projection skips: they
	// count to MaxProperties too.
	skipped int
	buf     []byte // unescaping
	box     slabs  // the event's boxes, handed over with its values
	// keep, when not nil, names the top-level members decoded; the others
	// are read through (skip) and checked, not built (project.go).
	keep *Projection
	// top is where the top-level members FromMap reads are noted
	// (top.go), copied out at the end: a pointer to the caller's would
	// make it escape, an allocation per event.
	top eventTop
}

// member is a member of an open object, or (k unused) an element of an
// open array: one push per member, where a stack of keys and one of
// values took two.
type member struct {
	k string
	v any
}

var parsers = sync.Pool{New: func() any {
	return &eventParser{stack: make([]member, 0, 64), buf: make([]byte, 0, 256)}
}}

// space returns the index of the first byte of s from i that is not JSON
// whitespace. Most events hold no whitespace: one comparison says so, and
// the call is inlined.
//
// The cursor is compared with len(s) as unsigned here, in object and in
// number: a cursor is never negative, so uint(i) < uint(len(s)) says what
// i < len(s) says, and it also tells the compiler that s[i] is in range,
// which saves a bounds check (a compare and a branch) at each of the
// dozen places a member looks at its next byte.
func space(s string, i int) int {
	if uint(i) < uint(len(s)) && s[i] > ' ' {
		return i
	}
	return spaces(s, i)
}

func spaces(s string, i int) int {
	for uint(i) < uint(len(s)) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

func (p *eventParser) skipSpace() { p.i = space(p.s, p.i) }

// enter opens a container: checkShape refuses one opened at MaxDepth.
func (p *eventParser) enter() bool {
	if p.depth >= p.lim.MaxDepth {
		return false
	}
	p.depth++
	p.i++ // the { or [
	return true
}

func (p *eventParser) value() (any, bool) {
	if p.i >= len(p.s) {
		return nil, false
	}
	switch c := p.s[p.i]; {
	case c == '"':
		s, j, ok := p.str(p.i)
		if !ok {
			return nil, false
		}
		p.i = j
		return p.box.str(s), true
	case c == '{':
		m, ok := p.object()
		return m, ok
	case c == '[':
		l, ok := p.array()
		if !ok {
			return nil, false
		}
		return p.box.list(l), true
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	}
	return nil, false
}

func (p *eventParser) literal(word string) bool {
	if len(p.s)-p.i < len(word) || p.s[p.i:p.i+len(word)] != word {
		return false
	}
	p.i += len(word)
	return true
}

// object reads an object at p.i. Between the values it reads, the cursor
// is the local i (p.s does not change during a parse): most members are
// a key and a string, read here without a store to p.i.
//
// The loop over the members holds as few values as it can (Go's ABI has
// no callee-saved registers, and every value live across the loop was
// reloaded from the frame on each member): the member count is the
// stack's, checked against MaxProperties when the object closes (an
// object over the limit is refused all the same, after at most MaxBytes
// of reading), whether this is the top level is read from p when needed,
// and the top-level members are noted for FromMap (top.go) as the map is
// built, in their order, so that a repeated key's last value is noted.
func (p *eventParser) object() (map[string]any, bool) {
	if !p.enter() {
		return nil, false
	}
	s := p.s
	base := len(p.stack)
	i := space(s, p.i)
	if uint(i) < uint(len(s)) && s[i] == '}' {
		p.i = i + 1
		p.depth--
		return map[string]any{}, true
	}
	for {
		if uint(i) >= uint(len(s)) || s[i] != '"' {
			return nil, false
		}
		// The key, as str reads it, inlined (as is the string value
		// below): most keys and values are short plain strings, and a
		// call spills every live register in Go's ABI.
		j := i + 1
		for ; j+8 <= len(s); j += 8 {
			if m := stops(load8(s, j)); m != 0 {
				j += bits.TrailingZeros64(m) >> 3
				break
			}
		}
		// Every byte before j is plain: a quote at j closes the key.
		var k string
		var ok bool
		if uint(j) < uint(len(s)) && s[j] == '"' {
			k, i = s[i+1:j], j+1
		} else if k, i, ok = p.strRest(i+1, j); !ok {
			return nil, false
		}
		// Most events hold no whitespace: the colon and the value's
		// first byte are looked for where they are then.
		if uint(i) < uint(len(s)) && s[i] == ':' {
			i++
		} else if i = space(s, i); uint(i) < uint(len(s)) && s[i] == ':' {
			i++
		} else {
			return nil, false
		}
		if uint(i) < uint(len(s)) && s[i] <= ' ' {
			i = spaces(s, i)
		}
		var v any
		switch {
		case p.keep != nil && p.depth == 1 && !p.keep.has(k):
			p.i = i
			if !p.skipMember(k) {
				return nil, false
			}
			i = p.i
			p.skipped++
			goto next
		case uint(i) < uint(len(s)) && s[i] == '"':
			j := i + 1
			for ; j+8 <= len(s); j += 8 {
				if m := stops(load8(s, j)); m != 0 {
					j += bits.TrailingZeros64(m) >> 3
					break
				}
			}
			var str string
			if uint(j) < uint(len(s)) && s[j] == '"' {
				str, i = s[i+1:j], j+1
			} else if str, i, ok = p.strRest(i+1, j); !ok {
				return nil, false
			}
			v = p.box.str(str)
		default:
			p.i = i
			if v, ok = p.value(); !ok {
				return nil, false
			}
			i = p.i
		}
		p.stack = append(p.stack, member{k, v})
	next:
		if uint(i) < uint(len(s)) && s[i] <= ' ' {
			i = spaces(s, i)
		}
		if uint(i) >= uint(len(s)) {
			return nil, false
		}
		switch s[i] {
		case ',':
			if i++; uint(i) < uint(len(s)) && s[i] <= ' ' {
				i = spaces(s, i)
			}
			continue
		case '}':
			p.i = i + 1
			members := p.stack[base:]
			if n := len(members); n > p.lim.MaxProperties || p.depth == 1 && n+p.skipped > p.lim.MaxProperties {
				return nil, false
			}
			m := make(map[string]any, len(members))
			for _, e := range members {
				m[e.k] = e.v // a repeated key: the last wins, as in encoding/json
			}
			if p.depth == 1 {
				for _, e := range members {
					p.top.note(e.k, e.v)
				}
			}
			p.depth--
			p.drop(base)
			return m, true
		}
		return nil, false
	}
}

func (p *eventParser) array() ([]any, bool) {
	if !p.enter() {
		return nil, false
	}
	base := len(p.stack)
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		p.depth--
		return []any{}, true // not nil: encoding/json decodes [] to an empty list
	}
	for n := 1; ; n++ {
		if n > p.lim.MaxProperties {
			return nil, false
		}
		v, ok := p.value()
		if !ok {
			return nil, false
		}
		p.stack = append(p.stack, member{v: v})
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, false
		}
		switch p.s[p.i] {
		case ',':
			p.i++
			p.skipSpace()
			continue
		case ']':
			p.i++
			p.depth--
			elems := p.stack[base:]
			list := p.box.listOf(len(elems))
			for j, e := range elems {
				list[j] = e.v
			}
			p.drop(base)
			return list, true
		}
		return nil, false
	}
}

// drop pops what a closed container pushed on the stack, noting how far
// it reached (the stack is at its highest when a container closes). A
// container that fails leaves its members on the stack: the parse is
// over then, and parseEvent clears all it used, the failed members too.
func (p *eventParser) drop(base int) {
	p.hi = max(p.hi, len(p.stack))
	p.stack = p.stack[:base]
}

// number reads a JSON number and types it as normaliseNumbers types a
// json.Number: int64 when it is an integer that fits, else float64 (an
// integral one within 2^53 as int64). A number beyond float64 is refused.
//
// Nearly every number of an event is an integer of at most 18 digits or
// a decimal of at most 15 without an exponent: those are read here in
// one pass over their digits; numberToken reads the others (and finds
// what is malformed) from the start again.
func (p *eventParser) number() (any, bool) {
	s, i := p.s, p.i
	negative := s[i] == '-'
	if negative {
		i++
	}
	first := i
	var m int64 // wraps past 19 digits: read only up to 18
	for uint(i) < uint(len(s)) && s[i]-'0' <= 9 {
		m = m*10 + int64(s[i]-'0')
		i++
	}
	whole := i - first
	if whole == 0 || whole > 1 && s[first] == '0' {
		return p.numberToken() // not JSON: it says so
	}
	frac, dot := 0, uint(i) < uint(len(s)) && s[i] == '.'
	if dot {
		i++
		for uint(i) < uint(len(s)) && s[i]-'0' <= 9 {
			m = m*10 + int64(s[i]-'0')
			i++
			frac++
		}
	}
	switch {
	case dot && frac == 0, uint(i) < uint(len(s)) && s[i]|0x20 == 'e', whole+frac > 18:
		return p.numberToken()
	case !dot:
		p.i = i
		if negative {
			m = -m
		}
		return p.box.int(m), true
	case whole+frac > 15:
		return p.numberToken()
	}
	p.i = i
	f := exactDecimal(m, frac, negative)
	// As wholeFloat types it.
	if f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
		return p.box.int(int64(f)), true
	}
	return p.box.float(f), true
}

// numberToken is number for what its one pass does not take.
func (p *eventParser) numberToken() (any, bool) {
	n, ok := p.scanNumber()
	if !ok {
		return nil, false
	}
	negative := n.tok[0] == '-'
	if n.integer() {
		if len(n.digits) <= 18 { // cannot overflow int64
			var v int64
			for _, c := range []byte(n.digits) {
				v = v*10 + int64(c-'0')
			}
			if negative {
				v = -v
			}
			return p.box.int(v), true
		}
		if v, err := strconv.ParseInt(n.tok, 10, 64); err == nil {
			return p.box.int(v), true
		}
	}
	f, err := strconv.ParseFloat(n.tok, 64)
	if err != nil || math.IsInf(f, 0) {
		return nil, false
	}
	// As wholeFloat types it.
	if f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
		return p.box.int(int64(f)), true
	}
	return p.box.float(f), true
}

// exactDecimal is the number of the digits m with frac of them after the
// point, for m below 10^15 and frac at most 15: m is exact in a float64, as
// is 10^frac, and one IEEE division of the two is correctly rounded, so
// the result is the float64 nearest the number, which is what
// strconv.ParseFloat returns. negative makes it negative ("-0" is -0, as
// ParseFloat reads it).
func exactDecimal(m int64, frac int, negative bool) float64 {
	f := float64(m) / pow10[frac]
	if negative {
		f = -f
	}
	return f
}

// pow10[k] is 10^k, exact in a float64.
var pow10 = [16]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// numberToken is a JSON number as scanNumber found it: tok is all of it,
// digits its integer digits (without the sign), frac its fraction's
// digits ("" when it has none), exp whether it has an exponent.
type numberToken struct {
	tok, digits, frac string
	exp               bool
}

func (n numberToken) integer() bool { return n.frac == "" && !n.exp }

// scanNumber reads the JSON number at p.i.
func (p *eventParser) scanNumber() (n numberToken, ok bool) {
	s := p.s
	start := p.i
	j := p.i
	if s[j] == '-' {
		j++
	}
	first := j
	switch {
	case j < len(s) && s[j] == '0':
		j++
	case j < len(s) && s[j] >= '1' && s[j] <= '9':
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
	default:
		return n, false
	}
	n.digits = s[first:j]
	if j < len(s) && s[j] == '.' {
		j++
		f := j
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == f {
			return n, false
		}
		n.frac = s[f:j]
	}
	if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
		n.exp = true
		j++
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		e := j
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == e {
			return n, false
		}
	}
	p.i = j
	n.tok = s[start:j]
	return n, true
}
