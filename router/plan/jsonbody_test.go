package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// stdJSON is what encodeJSON must write: encoding/json's bytes with HTML
// escaping off.
func stdJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func sameAsEncodingJSON(t *testing.T, v any) {
	t.Helper()
	want, werr := stdJSON(v)
	got, gerr := encodeJSON(v)
	if (werr != nil) != (gerr != nil) {
		t.Fatalf("%#v: encodeJSON error %v, encoding/json error %v", v, gerr, werr)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%#v:\n encodeJSON    %s\n encoding/json %s", v, got, want)
	}
}

func TestEncodeJSONIsEncodingJSON(t *testing.T) {
	deep := any("x")
	for range 50 {
		deep = map[string]any{"k": []any{deep}}
	}
	for _, v := range []any{
		nil, true, false, "", "plain", 0, -1, int64(math.MinInt64), math.MaxInt,
		0.0, math.Copysign(0, -1), 1.5, -2.25, 1e20, 1e21, 1e-6, 1e-7, 9.999e-7, 123456789.0,
		5e-324, math.MaxFloat64, 1.0 / 3, -1e-300, 12345678901234567890.0,
		// Escapes: quotes, backslashes, named and unnamed control
		// characters, DEL (not escaped), HTML (not escaped), U+2028 and
		// U+2029, and invalid UTF-8 (a stray byte, a truncated sequence, a
		// surrogate's encoding, an overlong form).
		`a"b\c`, "\b\f\n\r\t\x00\x01\x1f\x7f", "<a href='x'>&amp;</a>", "line\u2028para\u2029end",
		"\xff", "ok\xe2\x82", "\xed\xa0\x80", "\xc0\xaf", "héllo wörld ✓ 🎉",
		map[string]any{}, []any{}, map[string]any(nil), []any(nil),
		map[string]any{"b": 1, "a": []any{1, "x", nil, true}, "\xff": 2, "é": 3, "A": 4, "aa": 5, "": 6},
		map[string]any{"1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "6": 6, "7": 7, "8": 8, "9": 9, "10": 10,
			"11": 11, "12": 12, "13": 13, "14": 14, "15": 15, "16": 16, "17": 17, "18": 18, "19": 19},
		deep,
		// Values goccy writes (json.Number, []string, time.Time, typed maps
		// and numbers), inside and outside the types written here.
		json.Number("12.50"), []string{"a", "b"}, map[string]string{"z": "y", "a": "b"},
		time.Date(2026, 12, 2, 1, 2, 3, 4e6, time.UTC), float32(1.1), uint8(3), int32(-7),
		map[string]any{"at": time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), "n": json.Number("1e3"), "ids": []string{"x"}},
	} {
		sameAsEncodingJSON(t, v)
	}
}

func TestEncodeJSONRefusesWhatEncodingJSONRefuses(t *testing.T) {
	for _, v := range []any{math.NaN(), math.Inf(1), math.Inf(-1), map[string]any{"a": []any{math.NaN()}}, json.Number("x")} {
		if _, err := encodeJSON(v); err == nil {
			t.Errorf("%#v: encodeJSON accepted it", v)
		}
		if _, err := stdJSON(v); err == nil {
			t.Errorf("%#v: encoding/json accepted it (the test's premise)", v)
		}
	}
	if _, err := encodeJSON(math.NaN()); err == nil || !strings.Contains(err.Error(), "unsupported value: NaN") {
		t.Errorf("NaN: error %v, want encoding/json's words", err)
	}
}

func TestEncodeJSONBoundsDepth(t *testing.T) {
	deep := any(1)
	for range maxBodyDepth + 1 {
		deep = []any{deep}
	}
	if _, err := encodeJSON(deep); !errors.Is(err, errBodyTooDeep) {
		t.Fatalf("a body %d lists deep: error %v, want errBodyTooDeep", maxBodyDepth+1, err)
	}
	ok := any(1)
	for range maxBodyDepth {
		ok = map[string]any{"k": ok}
	}
	if _, err := encodeJSON(ok); err != nil {
		t.Fatalf("a body %d maps deep: %v", maxBodyDepth, err)
	}
}

// TestEncodeJSONOwnsItsBytes: a body outlives the call (a lane holds it
// for retries), so the pooled buffer must not be shared with it.
func TestEncodeJSONOwnsItsBytes(t *testing.T) {
	a, _ := encodeJSON(map[string]any{"first": strings.Repeat("a", 100)})
	want := string(a)
	for range 10 {
		if _, err := encodeJSON(map[string]any{"second": strings.Repeat("b", 100)}); err != nil {
			t.Fatal(err)
		}
	}
	if string(a) != want {
		t.Fatalf("the first body changed under a later encode: %s", a)
	}
	if cap(a) != len(a) {
		t.Fatalf("the body keeps %d bytes of spare capacity", cap(a)-len(a))
	}
}

// FuzzEncodeJSON holds encodeJSON to encoding/json on any JSON document
// (decoded as a mapping's values are: maps, lists, strings, float64s) and
// on any string as a value and as a key.
func FuzzEncodeJSON(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":[true,null,"x\u2028"],"c":{"d":1e-7}}`, `"\ud800"`, `[1e21,0.000001,-0]`, "\"\xff\"", `{"é":"<&>"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		if json.Unmarshal(data, &v) == nil {
			sameAsEncodingJSON(t, v)
		}
		s := string(data)
		sameAsEncodingJSON(t, s)
		sameAsEncodingJSON(t, map[string]any{s: s, "k": []any{s, len(s)}})
	})
}
