package plan

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	fastjson "github.com/goccy/go-json"

	"github.com/switchyard/switchyard/mappings"
)

// A rendered body is made of the values a mapping yields: maps with
// string keys, lists, strings, numbers, booleans and nulls, nearly always.
// encodeJSON writes those itself and hands any other value (a helper's
// time.Time, a []string, a json.Marshaler) to goccy/go-json. The bytes are
// encoding/json's, with HTML escaping off, for every value: keys sorted,
// floats as encoding/json formats them, invalid UTF-8 as U+FFFD, U+2028
// and U+2029 escaped (TestEncodeJSONIsEncodingJSON and FuzzEncodeJSON hold
// it to encoding/json). Writing them here, rather than through goccy's
// reflection-driven VM, costs a third of the instructions: a body's maps
// are small, and goccy's generic map path (collecting keys through
// reflection, sorting them as a separate pass) was a fifth of a 10-field
// route.

// maxBodyDepth bounds how deep a body nests: no mapping builds one this
// deep, and a bound keeps a malformed value from exhausting the stack.
const maxBodyDepth = 1000

var errBodyTooDeep = fmt.Errorf("the body nests deeper than %d levels", maxBodyDepth)

// bodyBuffers are scratch buffers for encodeJSON: the body is written into
// one, then copied out at its size, so a request holds no spare capacity.
var bodyBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// encodeJSON encodes a rendered body: keys sorted, without HTML escaping
// (tools receive "<" as "<"), as encoding/json writes it.
func encodeJSON(v any) ([]byte, error) {
	bp := bodyBuffers.Get().(*[]byte)
	b, err := appendJSON((*bp)[:0], v, 0)
	var out []byte
	if err == nil {
		out = slices.Clone(b)
	}
	if cap(b) <= 64<<10 { // a huge body's buffer is left to the GC
		*bp = b[:0]
		bodyBuffers.Put(bp)
	}
	return out, err
}

// appendJSON appends v's encoding; depth is how many maps and lists
// enclose it.
func appendJSON(b []byte, v any, depth int) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendJSONString(b, x), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case float64:
		return appendJSONFloat(b, x, 64)
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case map[string]any:
		if x == nil {
			return append(b, "null"...), nil
		}
		if depth >= maxBodyDepth {
			return b, errBodyTooDeep
		}
		return appendJSONObject(b, x, depth+1)
	case []any:
		if x == nil {
			return append(b, "null"...), nil
		}
		if depth >= maxBodyDepth {
			return b, errBodyTooDeep
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSON(b, e, depth+1); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	}
	// Anything else as goccy encodes it (encoding/json's bytes too).
	enc, err := fastjson.MarshalWithOption(v, fastjson.DisableHTMLEscape())
	if err != nil {
		return b, err
	}
	return append(b, enc...), nil
}

// appendJSONObject writes m with its keys in byte order, as encoding/json
// sorts them. A body's objects are small: their members are gathered on
// the stack in one pass over the map (no second look-up per key) and
// sorted there by insertion, on their keys' first eight bytes as a
// number, the keys themselves compared only when those tie.
func appendJSONObject(b []byte, m map[string]any, depth int) ([]byte, error) {
	var stack [16]member
	ms := stack[:0]
	if len(m) > len(stack) {
		ms = make([]member, 0, len(m))
	}
	for k, v := range m {
		ms = append(ms, member{prefix: keyPrefix(k), k: k, v: v})
	}
	if len(ms) > len(stack) {
		slices.SortFunc(ms, func(a, b member) int { return strings.Compare(a.k, b.k) })
	} else {
		for i := 1; i < len(ms); i++ {
			for j := i; j > 0 && ms[j].before(&ms[j-1]); j-- {
				ms[j], ms[j-1] = ms[j-1], ms[j]
			}
		}
	}
	b = append(b, '{')
	for i := range ms {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, ms[i].k)
		b = append(b, ':')
		var err error
		if b, err = appendJSON(b, ms[i].v, depth); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

// member is an object's member while its object is sorted.
type member struct {
	prefix uint64 // keyPrefix(k)
	k      string
	v      any
}

// before orders members by key, bytewise: the prefixes order keys that
// differ in their first eight bytes (a shorter key's missing bytes read
// as zeros, below any byte it could be compared with, or tying with a
// zero byte: then the keys decide).
func (a *member) before(b *member) bool {
	if a.prefix != b.prefix {
		return a.prefix < b.prefix
	}
	return a.k < b.k
}

// keyPrefix is k's first eight bytes as a big-endian number, zeros after
// a shorter key's end.
func keyPrefix(k string) uint64 {
	if len(k) >= 8 { // one load: the compiler combines the bytes
		return uint64(k[0])<<56 | uint64(k[1])<<48 | uint64(k[2])<<40 | uint64(k[3])<<32 |
			uint64(k[4])<<24 | uint64(k[5])<<16 | uint64(k[6])<<8 | uint64(k[7])
	}
	var p uint64
	for i := range len(k) {
		p |= uint64(k[i]) << (56 - 8*i)
	}
	return p
}

// errUnsupportedFloat matches encoding/json's refusal of NaN and ±Inf.
var errUnsupportedFloat = errors.New("json: unsupported value")

// appendJSONFloat formats f as encoding/json does: the shortest decimal
// that reads back as f, in exponent form below 1e-6 and from 1e21, with a
// single-digit negative exponent unpadded (1e-7, not 1e-07).
func appendJSONFloat(b []byte, f float64, bits int) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, fmt.Errorf("%w: %s", errUnsupportedFloat, strconv.FormatFloat(f, 'g', -1, bits))
	}
	// A whole number below 2^53 prints as its integer: the same digits
	// as the shortest decimal, without the float formatting (-0 aside).
	if w := int64(f); float64(w) == f && w > -1<<53 && w < 1<<53 && (w != 0 || !math.Signbit(f)) {
		return strconv.AppendInt(b, w, 10), nil
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' {
		// e-09 → e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s quoted, escaping as encoding/json does with
// HTML escaping off: quotes, backslashes and control characters (\b, \f,
// \n, \r and \t by name), invalid UTF-8 as \ufffd, and U+2028 and U+2029,
// which JavaScript reads as line ends.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := mappings.PlainRun(s, 0); i < len(s); i = mappings.PlainRun(s, i) {
		c := s[i]
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
