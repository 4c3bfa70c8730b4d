package mappings

import (
	"math"
	"math/bits"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
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
// holds the two to the same values. When top is not nil, the values of
// the top-level members FromMap reads are noted in it as they are built.
func parseEvent(data []byte, lim Limits, keep *Projection, top *eventTop) (m map[string]any, ok bool) {
	p := parsers.Get().(*eventParser)
	p.s, p.i, p.depth, p.lim, p.keep, p.top = string(data), 0, 0, lim, keep, top
	// About one string value per 24 bytes of a typical event: one slab
	// holds them, a longer run of strings takes another.
	p.box = slabs{chunk: len(data)/24 + 4}
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == '{' {
		m, ok = p.object()
	}
	if ok {
		p.skipSpace()
		ok = p.i == len(p.s)
	}
	// The stacks are popped without clearing as the parse goes: clear what
	// they held once, so that a pooled parser keeps no event alive.
	// A failed parse leaves its members pushed: lengths only grow between
	// the pops drop notes, so the larger of the two is the most they held.
	clear(p.keys[:max(p.hiKeys, len(p.keys))])
	clear(p.vals[:max(p.hiVals, len(p.vals))])
	p.keys, p.vals, p.hiKeys, p.hiVals = p.keys[:0], p.vals[:0], 0, 0
	p.s, p.box, p.keep, p.top = "", slabs{}, nil, nil
	parsers.Put(p)
	if !ok {
		return nil, false
	}
	return m, true
}

// eventParser is the state of one parseEvent. Its stacks are reused across
// events (parsers): members and elements of the open containers are
// collected there, so that each map and list is made once, at its size.
type eventParser struct {
	s     string
	i     int
	depth int
	lim   Limits
	keys  []string
	vals  []any
	// hiKeys and hiVals are the most the stacks held during this event:
	// what parseEvent clears at its end.
	hiKeys, hiVals int
	buf            []byte // unescaping
	box            slabs  // the event's boxes, handed over with its values
	// keep, when not nil, names the top-level members decoded; the others
	// are read through (skip) and checked, not built (project.go).
	keep *Projection
	// top, when not nil, is where the top-level members FromMap reads are
	// noted (top.go).
	top *eventTop
}

var parsers = sync.Pool{New: func() any {
	return &eventParser{keys: make([]string, 0, 64), vals: make([]any, 0, 64), buf: make([]byte, 0, 256)}
}}

func (p *eventParser) skipSpace() {
	i, s := p.i, p.s
	// Most events hold no whitespace: one comparison says so.
	for i < len(s) && s[i] <= ' ' && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	p.i = i
}

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
		s, ok := p.str()
		if !ok {
			return nil, false
		}
		return p.box.str(s), true
	case c == '{':
		m, ok := p.object()
		return m, ok
	case c == '[':
		return p.array()
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

func (p *eventParser) object() (map[string]any, bool) {
	if !p.enter() {
		return nil, false
	}
	kbase, vbase := len(p.keys), len(p.vals)
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		p.depth--
		return map[string]any{}, true
	}
	for n := 1; ; n++ {
		if n > p.lim.MaxProperties {
			return nil, false
		}
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			return nil, false
		}
		k, ok := p.str()
		if !ok {
			return nil, false
		}
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, false
		}
		p.i++
		p.skipSpace()
		if p.keep != nil && p.depth == 1 && !p.keep.has(k) {
			if !p.skipMember(k) {
				return nil, false
			}
		} else {
			v, ok := p.value()
			if !ok {
				return nil, false
			}
			p.keys = append(p.keys, k)
			p.vals = append(p.vals, v)
			if p.depth == 1 && p.top != nil {
				p.top.note(k, v)
			}
		}
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, false
		}
		switch p.s[p.i] {
		case ',':
			p.i++
			p.skipSpace()
			continue
		case '}':
			p.i++
			p.depth--
			keys, vals := p.keys[kbase:], p.vals[vbase:]
			m := make(map[string]any, len(keys))
			for j, k := range keys {
				m[k] = vals[j] // a repeated key: the last wins, as in encoding/json
			}
			p.drop(kbase, vbase)
			return m, true
		}
		return nil, false
	}
}

func (p *eventParser) array() ([]any, bool) {
	if !p.enter() {
		return nil, false
	}
	base := len(p.vals)
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
		p.vals = append(p.vals, v)
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
			list := append([]any(nil), p.vals[base:]...)
			p.drop(len(p.keys), base)
			return list, true
		}
		return nil, false
	}
}

// drop pops what a closed container pushed on the stacks, noting how far
// they reached (the stacks are at their highest when a container closes).
// A container that fails leaves its members on the stacks: the parse is
// over then, and parseEvent clears all it used, the failed members too.
func (p *eventParser) drop(keys, vals int) {
	p.hiKeys = max(p.hiKeys, len(p.keys))
	p.hiVals = max(p.hiVals, len(p.vals))
	p.keys = p.keys[:keys]
	p.vals = p.vals[:vals]
}

// str reads a string at p.i (its opening quote). Without escapes it is a
// slice of p.s; with them it is unescaped as encoding/json does.
func (p *eventParser) str() (string, bool) {
	s := p.s // a local: the loop below is the decoder's hottest
	start := p.i + 1
	j := start
	for {
		// Eight bytes at a time while they are plain (most strings are
		// all plain), then byte by byte to the byte that ends the run.
		for j+8 <= len(s) {
			if m := stops(load8(s, j)); m != 0 {
				j += bits.TrailingZeros64(m) >> 3
				break
			}
			j += 8
		}
		for j < len(s) && plain[s[j]] {
			j++
		}
		if j >= len(s) {
			return "", false
		}
		switch c := s[j]; {
		case c == '"':
			p.i = j + 1
			return s[start:j], true
		case c == '\\':
			return p.unescape(start, j)
		case c < 0x20:
			return "", false // a control character must be escaped
		default:
			r, size := utf8.DecodeRuneInString(s[j:])
			if r == utf8.RuneError && size == 1 {
				return "", false // encoding/json reads it as U+FFFD: the exact path's business
			}
			j += size
		}
	}
}

// plain marks the bytes a string holds as they are: not the closing
// quote, a backslash, a control character or the start of a multi-byte
// UTF-8 sequence (which is checked).
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// load8 reads s[j:j+8] as a little-endian word (one load on amd64 and
// arm64: the compiler combines the byte loads).
func load8(s string, j int) uint64 {
	s = s[j : j+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// stops marks, with its high bit, each byte of w that is not plain: a
// quote, a backslash, a control character or a byte >= 0x80. For a byte
// x below 0x80, x-1 has its high bit set only when x is 0 (so x^'"' - 1
// marks a quote, x^'\\' - 1 a backslash) and x-0x20 only when x < 0x20;
// a byte from 0x80 up is marked by its own high bit. A marked byte may
// borrow from the byte above it and mark that one too, never one below:
// the lowest mark is exact, and it is the only one the caller reads.
func stops(w uint64) uint64 {
	quote, backslash := w^(ones*'"'), w^(ones*'\\')
	return ((quote - ones) | (backslash - ones) | (w - ones*0x20) | w) & highs
}

// unescape reads the rest of a string from j, its first backslash, after
// the plain bytes from start, following encoding/json's unquote: a \u
// escape of half a surrogate pair that no valid second half follows is
// U+FFFD, and the next escape is read on its own.
func (p *eventParser) unescape(start, j int) (string, bool) {
	b := append(p.buf[:0], p.s[start:j]...)
	defer func() { p.buf = b[:0] }()
	for j < len(p.s) {
		c := p.s[j]
		switch {
		case c == '"':
			p.i = j + 1
			return string(b), true
		case c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(p.s[j:])
			if r == utf8.RuneError && size == 1 {
				return "", false
			}
			b = append(b, p.s[j:j+size]...)
			j += size
			continue
		case c != '\\':
			b = append(b, c)
			j++
			continue
		}
		if j+1 >= len(p.s) {
			return "", false
		}
		switch e := p.s[j+1]; e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r := hex4(p.s[j+2:])
			if r < 0 {
				return "", false
			}
			j += 6
			if utf16.IsSurrogate(r) {
				if r2 := u4(p.s[j:]); r2 >= 0 {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						b = utf8.AppendRune(b, dec)
						j += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			b = utf8.AppendRune(b, r)
			continue
		default:
			return "", false
		}
		j += 2
	}
	return "", false
}

// u4 reads a \uXXXX escape at the start of s, -1 when there is none.
func u4(s string) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	return hex4(s[2:])
}

// hex4 reads four hex digits at the start of s, -1 when there are not.
func hex4(s string) rune {
	if len(s) < 4 {
		return -1
	}
	var r rune
	for _, c := range []byte(s[:4]) {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// number reads a JSON number and types it as normaliseNumbers types a
// json.Number: int64 when it is an integer that fits, else float64 (an
// integral one within 2^53 as int64). A number beyond float64 is refused.
func (p *eventParser) number() (any, bool) {
	tok, digits, integer, ok := p.scanNumber()
	if !ok {
		return nil, false
	}
	if integer {
		if len(digits) <= 18 { // cannot overflow int64
			var n int64
			for _, c := range []byte(digits) {
				n = n*10 + int64(c-'0')
			}
			if len(digits) < len(tok) {
				n = -n
			}
			return p.box.int(n), true
		}
		if n, err := strconv.ParseInt(tok, 10, 64); err == nil {
			return p.box.int(n), true
		}
	}
	f, err := strconv.ParseFloat(tok, 64)
	if err != nil || math.IsInf(f, 0) {
		return nil, false
	}
	// As wholeFloat types it.
	if f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
		return p.box.int(int64(f)), true
	}
	return p.box.float(f), true
}

// scanNumber reads the JSON number at p.i: tok is all of it, digits its
// integer digits (without the sign), integer whether it has neither a
// fraction nor an exponent.
func (p *eventParser) scanNumber() (tok, digits string, integer, ok bool) {
	start := p.i
	j := p.i
	if p.s[j] == '-' {
		j++
	}
	first := j
	switch {
	case j < len(p.s) && p.s[j] == '0':
		j++
	case j < len(p.s) && p.s[j] >= '1' && p.s[j] <= '9':
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
	default:
		return "", "", false, false
	}
	digits = p.s[first:j]
	integer = true
	if j < len(p.s) && p.s[j] == '.' {
		integer = false
		j++
		f := j
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
		if j == f {
			return "", "", false, false
		}
	}
	if j < len(p.s) && (p.s[j] == 'e' || p.s[j] == 'E') {
		integer = false
		j++
		if j < len(p.s) && (p.s[j] == '+' || p.s[j] == '-') {
			j++
		}
		e := j
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
		if j == e {
			return "", "", false, false
		}
	}
	p.i = j
	return p.s[start:j], digits, integer, true
}
