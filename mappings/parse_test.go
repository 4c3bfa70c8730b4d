package mappings

import (
	"math/bits"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// stops finds, in every word, the first byte the plain table refuses:
// every byte value at every position, behind plain bytes and behind
// other refused ones (where a borrow could mark a byte wrongly), and
// random words.
func TestStopsFindsTheFirstNonPlainByte(t *testing.T) {
	first := func(w uint64) int {
		for i := range 8 {
			if !plain[byte(w>>(8*i))] {
				return i
			}
		}
		return 8
	}
	check := func(w uint64) {
		t.Helper()
		got := 8
		if m := stops(w); m != 0 {
			got = bits.TrailingZeros64(m) >> 3
		}
		if want := first(w); got != want {
			t.Fatalf("stops(%#016x): first stop at byte %d, want %d", w, got, want)
		}
	}
	const plainWord = 0x6161616161616161 // "aaaaaaaa"
	for pos := range 8 {
		for c := range 256 {
			for _, behind := range []uint64{0x00, 0x1f, '"', '\\', 0x80, 0xff, 0x20, 0x21} {
				w := uint64(plainWord)
				w &^= 0xff << (8 * pos)
				w |= uint64(c) << (8 * pos)
				if pos < 7 {
					w &^= 0xff << (8 * (pos + 1))
					w |= behind << (8 * (pos + 1))
				}
				check(w)
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 1 << 20 {
		check(r.Uint64())
		// Mostly plain words, a stop byte now and then.
		var w uint64
		for i := range 8 {
			c := uint64('a' + r.IntN(26))
			if r.IntN(8) == 0 {
				c = r.Uint64N(256)
			}
			w |= c << (8 * i)
		}
		check(w)
	}
}

// number reads a decimal of up to 15 digits (its own fast path) to the
// float64 strconv.ParseFloat gives it, and types it as normaliseNumbers
// does: random decimals of every length and scale, signed, with
// trailing zeros and leading zeros in the fraction.
func TestNumberFastPathIsParseFloat(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	p := &eventParser{}
	for i := range 500_000 {
		total := 1 + r.IntN(15)
		intDigits := r.IntN(total)
		digits := make([]byte, total)
		for j := range digits {
			digits[j] = byte('0' + r.IntN(10))
		}
		if intDigits > 0 && digits[0] == '0' {
			digits[0] = '1' // JSON allows no leading zero
		}
		whole := string(digits[:intDigits])
		if whole == "" {
			whole = "0"
		}
		tok := whole + "." + string(digits[intDigits:])
		if i%2 == 1 {
			tok = "-" + tok
		}
		p.s, p.i = tok, 0
		got, ok := p.number()
		f, err := strconv.ParseFloat(tok, 64)
		if !ok || err != nil {
			t.Fatalf("number(%q) = %v, %v; ParseFloat: %v", tok, got, ok, err)
		}
		if want, _ := normaliseNumbers(f); got != want {
			t.Fatalf("number(%q) = %#v, want %#v", tok, got, want)
		}
	}
}

// TestObjectReadsStringsAtEveryOffset holds object's inlined string
// reading (a key's or a value's plain run, eight bytes at a time, then the
// bytes past the last whole word) to the exact path: keys and values of
// every length up to three words, ending at every offset from the end of
// the event, with an escape, a multi-byte character or whitespace at every
// position.
func TestObjectReadsStringsAtEveryOffset(t *testing.T) {
	lim := DefaultLimits
	check := func(data string) {
		t.Helper()
		exact, errExact := decodeExact([]byte(data), lim)
		fast, ok := parseEvent([]byte(data), lim, nil, nil)
		if !ok || errExact != nil || !reflect.DeepEqual(fast, exact) {
			t.Fatalf("%q: single pass %#v (%v), exact %#v (%v)", data, fast, ok, exact, errExact)
		}
	}
	for n := 0; n <= 24; n++ {
		plain := strings.Repeat("abcdefgh", 3)[:n]
		for _, mark := range []string{"", `\"`, `\\`, `\u00e9`, "é", "\t", " "} {
			for at := 0; at <= n; at++ {
				str := plain[:at] + mark + plain[at:]
				if mark == "\t" || mark == " " {
					// Whitespace outside the strings, where object
					// looks for the colon and the comma.
					check(`{"` + plain + `"` + mark + `:` + mark + `"` + plain + `"` + mark + `,` + mark + `"k":1}`)
					continue
				}
				check(`{"` + str + `":"` + str + `"}`)
				check(`{"k":"` + str + `","` + str + `":{"` + str + `":"` + str + `"}}`)
			}
		}
	}
}

// TestObjectCountsMembersToTheLimit holds the single pass to checkShape's
// MaxProperties, which object checks when an object closes: an object of
// exactly the limit is taken and one of a member more is left to the exact
// path (which refuses it), at the top level and nested, with repeated keys
// (each counts, as checkShape counts them), and with the top-level members
// a projection skips, which count as well.
func TestObjectCountsMembersToTheLimit(t *testing.T) {
	lim := Limits{MaxProperties: 3}.withDefaults()
	for _, c := range []struct {
		data string
		ok   bool
	}{
		{`{"a":1,"b":2,"c":3}`, true},
		{`{"a":1,"b":2,"c":3,"d":4}`, false},
		{`{"a":1,"a":2,"a":3,"a":4}`, false},
		{`{"a":{"x":1,"y":2,"z":3}}`, true},
		{`{"a":{"x":1,"y":2,"z":3,"w":4}}`, false},
		{`{"a":{"x":1,"x":2,"x":3,"x":4}}`, false},
		{`{"a":[{"x":1,"y":2,"z":"s"},{"x":1,"y":2,"z":3,"w":"s"}]}`, false},
	} {
		_, errExact := decodeExact([]byte(c.data), lim)
		if (errExact == nil) != c.ok {
			t.Fatalf("%s: the exact path says %v, the test expects ok=%v", c.data, errExact, c.ok)
		}
		if _, ok := parseEvent([]byte(c.data), lim, nil, nil); ok != c.ok {
			t.Errorf("%s: the single pass says ok=%v, want %v", c.data, ok, c.ok)
		}
	}
	// Skipped members count: "properties" and "x" are skipped, the
	// rest kept.
	keep := Project()
	for _, c := range []struct {
		data string
		ok   bool
	}{
		{`{"type":"t","properties":{"a":1},"x":2}`, true},
		{`{"type":"t","properties":{"a":1},"x":2,"y":3}`, false},
		{`{"properties":1,"x":2,"y":3,"z":4}`, false},
	} {
		if _, ok := parseEvent([]byte(c.data), lim, keep, nil); ok != c.ok {
			t.Errorf("%s, projected: the single pass says ok=%v, want %v", c.data, ok, c.ok)
		}
	}
}
