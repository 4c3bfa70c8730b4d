package mappings

import (
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// The strings of the single pass (parse.go).

// str reads the string whose opening quote is at p.s[i]: its value, and
// the index after its closing quote. Without escapes it is a slice of
// p.s; with them it is unescaped as encoding/json does. Most strings are
// short and plain: the first run of plain bytes is read here, eight bytes
// at a time, and anything else is strRest's.
func (p *eventParser) str(i int) (string, int, bool) {
	s := p.s
	start := i + 1
	j := start
	for ; j+8 <= len(s); j += 8 {
		if m := stops(load8(s, j)); m != 0 {
			if j += bits.TrailingZeros64(m) >> 3; s[j] == '"' {
				return s[start:j], j + 1, true
			}
			break
		}
	}
	return p.strRest(start, j)
}

// strRest reads on from j, after the plain bytes from start.
func (p *eventParser) strRest(start, j int) (string, int, bool) {
	s := p.s
	for {
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
			return "", 0, false
		}
		switch c := s[j]; {
		case c == '"':
			return s[start:j], j + 1, true
		case c == '\\':
			return p.unescape(start, j)
		case c < 0x20:
			return "", 0, false // a control character must be escaped
		default:
			r, size := utf8.DecodeRuneInString(s[j:])
			if r == utf8.RuneError && size == 1 {
				return "", 0, false // encoding/json reads it as U+FFFD: the exact path's business
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
func (p *eventParser) unescape(start, j int) (string, int, bool) {
	b := append(p.buf[:0], p.s[start:j]...)
	defer func() { p.buf = b[:0] }()
	for j < len(p.s) {
		c := p.s[j]
		switch {
		case c == '"':
			return string(b), j + 1, true
		case c < 0x20:
			return "", 0, false
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(p.s[j:])
			if r == utf8.RuneError && size == 1 {
				return "", 0, false
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
			return "", 0, false
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
				return "", 0, false
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
			return "", 0, false
		}
		j += 2
	}
	return "", 0, false
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
