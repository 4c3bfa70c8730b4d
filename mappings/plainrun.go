package mappings

import "math/bits"

// PlainRun returns the index of the first byte of s at or after i that a
// JSON string cannot carry as it is (a quote, a backslash, a control
// character) or that starts a multi-byte UTF-8 sequence; len(s) when there
// is none. It reads eight bytes at a time, as the decoder does, for the
// body encoder (router/plan), whose strings are nearly all plain.
func PlainRun(s string, i int) int {
	for ; i+8 <= len(s); i += 8 {
		if m := stops(load8(s, i)); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for i < len(s) && plain[s[i]] {
		i++
	}
	return i
}
