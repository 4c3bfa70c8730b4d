package mappings

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"
)

// decodeExact is the exact path of Decode, for what parseEvent does not
// take: checkShape bounds the structure, encoding/json with UseNumber
// decodes (every digit of a long number kept), normaliseNumbers types the
// numbers. The data must be exactly one JSON value: anything but
// whitespace after it is refused, because a forwarded event is sent as
// the bytes it came as, and a batch of forwarded events must be valid
// JSON. It gives every refused event its reason; parseEvent, which takes
// the common case in one pass, decodes what it accepts to the same values
// (FuzzDecodePaths holds them to it).
func decodeExact(data []byte, lim Limits) (map[string]any, error) {
	if err := checkShape(data, lim); err != nil {
		return nil, err
	}
	var raw map[string]any
	if err := UnmarshalOne(data, &raw); errors.Is(err, ErrTrailingData) {
		return nil, &InvalidError{Reason: err.Error()}
	} else if err != nil {
		return nil, &InvalidError{Reason: "not a JSON object: " + err.Error()}
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
