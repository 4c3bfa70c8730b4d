package mappings

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"unicode/utf8"
)

// FuzzDecodePaths holds decodeObject's two number paths (goccy/go-json, and
// encoding/json with UseNumber for events with long numbers) to one
// grammar: for every input both accept or both refuse, with an
// *InvalidError, and when the input holds no long number (the inputs the
// fast path is used for) both decode it to equal values. Its seed corpus
// is testdata/fuzz/FuzzDecodePaths (scripts/fuzzseeds.go) plus the inputs
// below, each of which once split the paths.
func FuzzDecodePaths(f *testing.F) {
	for _, s := range []string{
		`{"type":"track","messageId":"m","userId":"u","event":"E"}`,
		`{"type":"track","messageId":"m","userId":"u","event":"E"}}{"x":1}`,
		`{"a":1}]`,
		`{"a":1} {"b":2}`,
		" \t{\"a\":[1,2.5,-0,1E5,0.1e1,\"\\u00e9\"]}\r\n",
		`{"a":1e400}`,
		`{"a":-1e-400}`,
		`{"a":"\ud800"}`,
		"{\"a\":\"\xff\xfe\"}",
		"{\"\xc3\":1}",
		`{"a":{"b":null,"b":[true,false]}}`,
		`null`,
		`[]`,
		`{"n":12345678901234567890123}`,
	} {
		f.Add([]byte(s))
	}
	lim := Limits{MaxBytes: 1 << 20, MaxDepth: 64, MaxProperties: 10_000}.withDefaults()
	f.Fuzz(func(t *testing.T, data []byte) {
		// Decode runs checkShape first: what it refuses reaches neither path.
		longNumber, err := checkShape(data, lim)
		if err != nil {
			return
		}
		fast, errFast := decodeObject(data, false)
		exact, errExact := decodeObject(data, true)
		if (errFast == nil) != (errExact == nil) {
			t.Fatalf("the paths disagree on %q:\nfast:  %v\nexact: %v", data, errFast, errExact)
		}
		if errFast != nil {
			var ie *InvalidError
			if !errors.As(errFast, &ie) || !errors.As(errExact, &ie) {
				t.Fatalf("refusal is not an *InvalidError: %T %v / %T %v", errFast, errFast, errExact, errExact)
			}
			if errFast.Error() != errExact.Error() {
				t.Fatalf("the paths give different reasons for %q:\nfast:  %v\nexact: %v", data, errFast, errExact)
			}
			return
		}
		if !longNumber && !reflect.DeepEqual(fast, exact) {
			t.Fatalf("the paths decode %q differently:\nfast:  %#v\nexact: %#v", data, fast, exact)
		}
		// The bytes a webhook forwards are valid JSON and UTF-8, and mean
		// what the router decoded.
		fwd := ToValidUTF8(data)
		if !utf8.Valid(fwd) || !json.Valid(fwd) {
			t.Fatalf("ToValidUTF8(%q) = %q: not valid UTF-8 JSON", data, fwd)
		}
		again, err := decodeObject(fwd, true)
		if err != nil || !reflect.DeepEqual(again, exact) {
			t.Fatalf("ToValidUTF8(%q) = %q decodes to %#v (%v), want %#v", data, fwd, again, err, exact)
		}
	})
}
