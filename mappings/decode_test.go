package mappings

import (
	"strings"
	"testing"
	"time"
)

// Numbers come out the same whichever decoder read them, and long numeric
// ids keep every digit.
func TestDecodeKeepsDigitsAndNumberTypes(t *testing.T) {
	ev, err := Decode([]byte(`{"type":"track","messageId":"m","userId":1234567890123456789,"event":"E","properties":{"n":3,"f":2.5,"big":12345678901234567890}}`), time.Time{}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if ev.UserID != "1234567890123456789" {
		t.Errorf("userId = %q: digits lost", ev.UserID)
	}
	if n, ok := ev.Properties["n"].(int64); !ok || n != 3 {
		t.Errorf("whole number = %#v, want int64 3", ev.Properties["n"])
	}
	if f, ok := ev.Properties["f"].(float64); !ok || f != 2.5 {
		t.Errorf("fraction = %#v", ev.Properties["f"])
	}
	short, err := Decode([]byte(`{"type":"track","messageId":"m","userId":42,"event":"E","properties":{"n":3}}`), time.Time{}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if short.UserID != "42" {
		t.Errorf("userId = %q", short.UserID)
	}
	if n, ok := short.Properties["n"].(int64); !ok || n != 3 {
		t.Errorf("fast path: whole number = %#v, want int64 3", short.Properties["n"])
	}
}

// Exactly one JSON value per event, on both number paths: a stray "}" or
// "]" after the object used to pass the exact-digits path (json.Decoder's
// More is false before them), and the event was then forwarded byte for
// byte into a batch body a strict tool refuses whole (issue 12).
func TestDecodeRefusesTrailingBytesOnBothPaths(t *testing.T) {
	const short = `{"type":"track","messageId":"m","userId":"u","event":"E","properties":{"n":1}}`
	const long = `{"type":"track","messageId":"m","userId":"u","event":"E","properties":{"n":1234567890123456789}}`
	for _, body := range []string{short, long} {
		for _, tail := range []string{`}{"x":1}`, `}`, `]`, ` {"x":1}`, `x`, "\x00", `,`, `/`} {
			in := body + tail
			_, err := Decode([]byte(in), time.Time{}, Limits{})
			if err == nil || !IsInvalid(err) {
				t.Errorf("%s: accepted (%v), want an *InvalidError", in, err)
				continue
			}
			if !strings.Contains(err.Error(), "trailing data") && tail != `,` {
				t.Errorf("%s: reason %q does not say trailing data", in, err)
			}
		}
		// Whitespace around the value is still one value.
		if _, err := Decode([]byte(" \n"+body+"\r\n\t "), time.Time{}, Limits{}); err != nil {
			t.Errorf("%s with whitespace around it: %v", body, err)
		}
	}
}

// A number beyond float64's range is refused whichever path reads it: the
// fast path always refused it, the exact path kept it as text, so the
// same event was valid or not depending on another field's digits.
func TestDecodeRefusesOutOfRangeNumbersOnBothPaths(t *testing.T) {
	for _, in := range []string{
		`{"type":"track","messageId":"m","userId":"u","event":"E","properties":{"x":1e400}}`,
		`{"type":"track","messageId":"m","userId":"u","event":"E","properties":{"x":1e400,"id":1234567890123456789}}`,
	} {
		_, err := Decode([]byte(in), time.Time{}, Limits{})
		if err == nil || !strings.Contains(err.Error(), "number 1e400 is out of range") {
			t.Errorf("%s: %v, want out of range", in, err)
		}
	}
	// Whole numbers written with an exponent or a fraction are int64 on
	// both paths.
	for _, in := range []string{
		`{"type":"track","messageId":"m","userId":"u","event":"E","properties":{"x":1E5,"y":2.0}}`,
		`{"type":"track","messageId":"m","userId":"u","event":"E","properties":{"x":1E5,"y":2.0,"id":1234567890123456789}}`,
	} {
		ev, err := Decode([]byte(in), time.Time{}, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if ev.Properties["x"] != int64(100000) || ev.Properties["y"] != int64(2) {
			t.Errorf("%s: x=%#v y=%#v, want int64", in, ev.Properties["x"], ev.Properties["y"])
		}
	}
}

// A forwarded event's bytes are made UTF-8 the way the decoders read them,
// so the tool receives the strings the mappings saw.
func TestToValidUTF8ReplacesAsTheDecodersRead(t *testing.T) {
	in := []byte("{\"type\":\"track\",\"messageId\":\"m\",\"userId\":\"u\",\"event\":\"a\xffb\xe2\x82c\"}")
	ev, err := Decode(in, time.Time{}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	out := ToValidUTF8(in)
	if want := "{\"type\":\"track\",\"messageId\":\"m\",\"userId\":\"u\",\"event\":\"a\uFFFDb\uFFFD\uFFFDc\"}"; string(out) != want {
		t.Fatalf("ToValidUTF8 = %q, want %q", out, want)
	}
	again, err := Decode(out, time.Time{}, Limits{})
	if err != nil || again.Name() != ev.Name() {
		t.Fatalf("decoded %q (%v), want %q", again.Name(), err, ev.Name())
	}
	valid := []byte(`{"a":"é"}`)
	if got := ToValidUTF8(valid); &got[0] != &valid[0] {
		t.Error("valid UTF-8 was copied")
	}
}
