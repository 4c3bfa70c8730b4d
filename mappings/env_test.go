package mappings

import (
	"reflect"
	"testing"
	"time"
)

// Reset takes most members of a decoded event from what fromTop noted,
// not from Raw (envTop): for every way an event is decoded, the
// environment must be the one looking each member up in Raw gives (an
// event WithRaw makes, which has none noted).
func TestResetOfNotedMembersIsRaw(t *testing.T) {
	events := []string{
		`{"type":"track","event":"Order Completed","messageId":"m1","userId":"u1","anonymousId":"a1",` +
			`"timestamp":"2024-03-01T10:00:00.123Z","sentAt":"2024-03-01T10:00:01Z","receivedAt":"2024-03-01T10:00:02Z",` +
			`"originalTimestamp":"2024-03-01T10:00:00Z","properties":{"revenue":"10"},"context":{"traits":{"email":"a@b.c"}}}`,
		`{"type":"identify","messageId":"m2","userId":12345678901234567890,"traits":{"name":"Ada"},"sentAt":null,"category":"c"}`,
		`{"type":"group","messageId":"m3","anonymousId":"a3","groupId":"g3","traits":{"name":"Acme"}}`,
		`{"type":"alias","messageId":"m4","userId":"u4","previousId":"p4"}`,
		`{"type":"page","messageId":"m5","userId":"u5","name":"Home","category":"Docs","properties":{"url":"/"}}`,
		`{"type":"screen","messageId":"m6","userId":7,"anonymousId":"  a6 ","name":null}`,
		// A repeated member: the map keeps the last, and so must Reset.
		`{"type":"track","event":"first","messageId":"m7","userId":"u7","event":"second","traits":{"a":1},"traits":{"b":2}}`,
		// Escapes and odd spacing, which the single pass may leave to the exact path.
		"{ \"type\" : \"track\" , \"event\":\"caf\\u00e9\",\"messageId\":\"m8\",\"userId\":\"u\\\"8\"}",
	}
	now := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, data := range events {
		raw, err := decodeRaw([]byte(data), DefaultLimits)
		if err != nil {
			t.Fatalf("%s: %v", data, err)
		}
		decoded, err := Decode([]byte(data), now, Limits{})
		if err != nil {
			t.Fatalf("%s: %v", data, err)
		}
		fromMap, err := FromMap(raw, now)
		if err != nil {
			t.Fatal(err)
		}
		projected, err := DecodeProjected([]byte(data), now, Limits{}, Project("name", "traits"))
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range []*Event{decoded, fromMap, projected} {
			if !ev.top.noted {
				t.Errorf("%s: fromTop noted nothing", data)
			}
			want := NewEnv(ev.WithRaw(ev.Raw), "web", nil)
			got := NewEnv(ev, "web", nil)
			env := reflect.TypeOf(Env{})
			for i := range env.NumField() {
				f := env.Field(i)
				if !f.IsExported() {
					continue
				}
				g, w := reflect.ValueOf(got).Elem().Field(i).Interface(), reflect.ValueOf(want).Elem().Field(i).Interface()
				if !reflect.DeepEqual(g, w) {
					t.Errorf("%s: Env.%s = %#v; looked up in Raw it is %#v", data, f.Name, g, w)
				}
			}
		}
	}
}
