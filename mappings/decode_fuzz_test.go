package mappings

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzDecodePaths holds Decode's two decoders to one grammar and one
// result: parseEvent (the single pass) and decodeExact (checkShape, then
// encoding/json with UseNumber, then normaliseNumbers). For every input:
// what parseEvent accepts, the exact path accepts too and decodes to equal
// values, long numbers included; what the exact path accepts, parseEvent
// accepts too unless the input is not valid UTF-8 (encoding/json reads
// such bytes as U+FFFD; that is left to it); and decodeRaw, what Decode
// runs, refuses exactly what the exact path refuses, with its reason, an
// *InvalidError. Its seed corpus is testdata/fuzz/FuzzDecodePaths
// (scripts/fuzzseeds.go) plus the inputs below, each of which once split
// the paths.
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
		`{"a":"\ud800\u0041","b":"\ud83d\ude00","c":"\udc00\ud800"}`,
		`{"a":"x\"\\\/\b\f\n\r\ty","\u00e9\n":"k"}`,
		"{\"a\":\"\xff\xfe\"}",
		"{\"\xc3\":1}",
		`{"a":{"b":null,"b":[true,false]}}`,
		`null`,
		`[]`,
		`{"a":[],"b":{},"c":[[]],"d":-0.0,"e":1.0,"f":9007199254740993.0}`,
		`{"n":12345678901234567890123,"m":-9223372036854775808,"o":9223372036854775808,"p":123456789012345678}`,
		`{"a":01}`,
		`{"a":1.}`,
		`{"a":.5}`,
		`{"a":"\u12"}`,
		"{\"a\":\"tab\there\"}",
		// Numbers at the edges of number's one pass.
		`{"a":[1.,-,-01,-0,-0.0,0.5e1,1E+2,123456789012345.6,1234567890123456.7,123456789012345678,1234567890123456789,0.000000000000001,99999999999999.99]}`,
		`{"a":1.e5}`,
		`{"a":-}`,
		// Events, for what Decode validates of the top level.
		`{"type":"track","messageId":"m","userId":12,"event":"E","type":"identify","traits":{"a":1},"traits":null}`,
		`{"type":"group","messageId":"m","anonymousId":"a","groupId":7.5,"context":{"traits":{"x":1}},"integrations":{"All":false}}`,
		`{"type":"alias","messageId":"m","userId":"u","previousId":null,"previousId":"p"}`,
		`{"type":"page","messageId":"m","userId":"u","properties":[1]}`,
		`{"type":"track","messageId":"m","userId":"u","event":"E","originalTimestamp":"2026-01-02T03:04:05.1234567891Z","sentAt":"2026-01-02 03:04:05","receivedAt":"2026-02-30T00:00:00Z"}`,
		`{"type":"screen","messageId":"m","userId":"u","timestamp":"2026-01-02T03:04:05+01:00","sentAt":"","receivedAt":"2026-01-02T03:04:06.5Z"}`,
	} {
		f.Add([]byte(s))
	}
	lim := Limits{MaxBytes: 1 << 20, MaxDepth: 64, MaxProperties: 10_000}.withDefaults()
	f.Fuzz(func(t *testing.T, data []byte) {
		exact, errExact := decodeExact(data, lim)
		fast, ok := parseEvent(data, lim, nil, nil)
		switch {
		case ok && errExact != nil:
			t.Fatalf("the single pass accepts %q, the exact path refuses it: %v", data, errExact)
		case ok && !reflect.DeepEqual(fast, exact):
			t.Fatalf("the paths decode %q differently:\nsingle pass: %#v\nexact:       %#v", data, fast, exact)
		case !ok && errExact == nil && utf8.Valid(data):
			t.Fatalf("the single pass refuses %q, which the exact path decodes to %#v", data, exact)
		}
		got, err := decodeRaw(data, lim)
		if (err == nil) != (errExact == nil) || (err != nil && err.Error() != errExact.Error()) {
			t.Fatalf("decodeRaw(%q) = %v, the exact path says %v", data, err, errExact)
		}
		if errExact != nil {
			var ie *InvalidError
			if !errors.As(errExact, &ie) {
				t.Fatalf("refusal is not an *InvalidError: %T %v", errExact, errExact)
			}
			return
		}
		if !reflect.DeepEqual(got, exact) {
			t.Fatalf("decodeRaw(%q) = %#v, want %#v", data, got, exact)
		}
		// Decode validates the top-level members the single pass noted
		// (top.go) as FromMap validates them read from the map: the same
		// event, or the same reason. (FromMap writes numeric ids back as
		// strings: it is given a map of its own.)
		now := time.Date(2026, 1, 2, 3, 4, 8, 0, time.UTC)
		ev, err := Decode(data, now, lim)
		mine, _ := decodeExact(data, lim)
		want, wantErr := FromMap(mine, now)
		if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
			t.Fatalf("Decode(%q) = %v, FromMap of the exact decode says %v", data, err, wantErr)
		}
		if err == nil && (ev.Type != want.Type || ev.MessageID != want.MessageID || ev.UserID != want.UserID ||
			ev.AnonymousID != want.AnonymousID || !ev.Timestamp.Equal(want.Timestamp) || !ev.ReceivedAt.Equal(want.ReceivedAt) ||
			!reflect.DeepEqual(ev.Raw, want.Raw) || !reflect.DeepEqual(ev.Traits, want.Traits) || !reflect.DeepEqual(ev.Properties, want.Properties) ||
			!reflect.DeepEqual(ev.Context, want.Context) || !reflect.DeepEqual(ev.Integrations, want.Integrations)) {
			t.Fatalf("Decode(%q) = %+v, FromMap of the exact decode gives %+v", data, ev, want)
		}
		// The bytes a webhook forwards are valid JSON and UTF-8, and mean
		// what the router decoded.
		fwd := ToValidUTF8(data)
		if !utf8.Valid(fwd) || !json.Valid(fwd) {
			t.Fatalf("ToValidUTF8(%q) = %q: not valid UTF-8 JSON", data, fwd)
		}
		again, err := decodeExact(fwd, lim)
		if err != nil || !reflect.DeepEqual(again, exact) {
			t.Fatalf("ToValidUTF8(%q) = %q decodes to %#v (%v), want %#v", data, fwd, again, err, exact)
		}
		if viaFast, ok := parseEvent(fwd, lim, nil, nil); !ok || !reflect.DeepEqual(viaFast, exact) {
			t.Fatalf("ToValidUTF8(%q) = %q: the single pass gives %#v (%v), want %#v", data, fwd, viaFast, ok, exact)
		}
	})
}
