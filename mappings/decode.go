package mappings

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	fastjson "github.com/goccy/go-json"
)

// decodeObject parses one JSON object into maps, lists, strings, booleans,
// int64 (whole numbers) and float64. The data must be exactly one JSON
// value: anything but whitespace after it is refused, on both paths,
// because a forwarded event is sent as the bytes it came as, and a batch
// of forwarded events must be valid JSON.
//
// Decoding is the largest share of a lane's CPU (docs/performance.md), so
// the common case goes through goccy/go-json, which decodes the same JSON
// as encoding/json about twice as fast. It reads numbers as float64, which
// would lose digits of integers beyond 2^53 (numeric user ids), so an event
// holding a number of 16 digits or more is decoded with encoding/json's
// UseNumber instead, keeping every digit (checkShape spots those numbers
// in the pass it makes anyway).
//
// The two paths accept and refuse the same inputs and, where the fast path
// is taken, decode them to equal values (FuzzDecodePaths holds them to it).
// What the fast path refuses is decoded again by the exact path, so that an
// event's reason never depends on which path read it; that costs time only
// for events that are refused anyway.
func decodeObject(data []byte, longNumber bool) (map[string]any, error) {
	var raw map[string]any
	if longNumber {
		if err := UnmarshalOne(data, &raw); errors.Is(err, ErrTrailingData) {
			return nil, &InvalidError{Reason: err.Error()}
		} else if err != nil {
			return nil, &InvalidError{Reason: "not a JSON object: " + err.Error()}
		}
	} else if err := fastjson.Unmarshal(data, &raw); err != nil {
		return decodeObject(data, true)
	}
	if raw == nil {
		return nil, &InvalidError{Reason: "not a JSON object: null"}
	}
	if _, err := normaliseNumbers(raw); err != nil {
		return nil, &InvalidError{Reason: err.Error()}
	}
	return raw, nil
}

// ErrTrailingData is the error of UnmarshalOne for bytes after the value.
var ErrTrailingData = errors.New("trailing data after the JSON value")

// UnmarshalOne decodes data, which must hold exactly one JSON value (with
// any whitespace around it), into v, reading numbers as json.Number so
// that no digit is lost. json.Decoder alone would stop after the first
// value and leave the rest unread; its More reports false for a stray
// "}" or "]", so `{...}}{"x":1}` would pass. Anything after the value is
// ErrTrailingData. The HTTP intake decodes each event with it too.
func UnmarshalOne(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if rest := bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return fmt.Errorf("%w (%d bytes after the end of the value at offset %d)", ErrTrailingData, len(rest), dec.InputOffset())
	}
	return nil
}

// wholeFloat turns a whole float64 that an int64 holds exactly into int64,
// so that numbers have the same Go types whichever decoder read them.
func wholeFloat(f float64) any {
	if f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
		return int64(f)
	}
	return f
}

// ToValidUTF8 returns data with each byte that is not part of a valid
// UTF-8 sequence replaced by U+FFFD, exactly as both decoders read such a
// byte inside a string, so the result decodes to the same event; data
// itself when it is valid UTF-8 already (the common case, no copy). A
// forwarded event is sent as the bytes it came as, and RFC 8259 section
// 8.1 requires JSON exchanged between systems to be UTF-8: a strict tool
// refuses a body that is not. In valid JSON such bytes can only sit inside
// strings, so the result is valid JSON when data is.
func ToValidUTF8(data []byte) []byte {
	if utf8.Valid(data) {
		return data
	}
	out := make([]byte, 0, len(data)+16)
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, data[i:i+n]...)
		}
		i += n
	}
	return out
}
