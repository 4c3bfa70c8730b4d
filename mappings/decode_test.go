package mappings

import (
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
