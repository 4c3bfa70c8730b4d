package mappings

import (
	"strings"
	"testing"
	"time"
)

// Identifiers are bounded on the NATS path as at the intake (which decodes
// every event with Decode and reads messageId with MessageID): a 600-byte
// messageId and a numeric one used to pass here, while the intake refused
// the first over 512 bytes (issue 12).
func TestIdentifiersAreBoundedOnEveryPath(t *testing.T) {
	long := func(n int) string { return `"` + strings.Repeat("x", n) + `"` }
	cases := []struct {
		in, field, reason string // reason "" = accepted
	}{
		{`{"type":"track","messageId":` + long(600) + `,"userId":"u","event":"E"}`, "messageId", "is 600 bytes, over the 512 byte limit"},
		{`{"type":"track","messageId":` + long(512) + `,"userId":"u","event":"E"}`, "", ""},
		{`{"type":"track","messageId":42,"userId":"u","event":"E"}`, "messageId", "must be a string (Segment spec), got a number"},
		{`{"type":"track","messageId":true,"userId":"u","event":"E"}`, "messageId", "must be a string (Segment spec), got a boolean"},
		{`{"type":"track","messageId":"a\r\nX: y","userId":"u","event":"E"}`, "messageId", "contains control characters"},
		{`{"type":"track","messageId":"m","userId":` + long(513) + `,"event":"E"}`, "userId", "is 513 bytes, over the 512 byte limit"},
		{`{"type":"track","messageId":"m","userId":` + long(512) + `,"event":"E"}`, "", ""},
		{`{"type":"track","messageId":"m","anonymousId":` + long(513) + `,"event":"E"}`, "anonymousId", "over the 512 byte limit"},
		{`{"type":"track","messageId":"m","userId":{"id":1},"anonymousId":"a","event":"E"}`, "userId", "must be a string or a number, got an object"},
		{`{"type":"track","messageId":"m","userId":"u","anonymousId":[1],"event":"E"}`, "anonymousId", "got an array"},
		{`{"type":"track","messageId":"m","userId":null,"anonymousId":"a","event":"E"}`, "", ""}, // analytics.js sends null
		{`{"type":"track","messageId":"m","userId":12345678901234567890,"event":"E"}`, "", ""},
		{`{"type":"group","messageId":"m","userId":"u","groupId":` + long(513) + `}`, "groupId", "over the 512 byte limit"},
		{`{"type":"group","messageId":"m","userId":"u","groupId":false}`, "groupId", "got a boolean"},
		{`{"type":"alias","messageId":"m","userId":"u","previousId":` + long(513) + `}`, "previousId", "over the 512 byte limit"},
		{`{"type":"track","messageId":"m","userId":"u","event":` + long(513) + `}`, "event", "is 513 bytes, over the 512 byte limit"},
		{`{"type":"track","messageId":"m","userId":"u","event":` + long(512) + `}`, "", ""},
		{`{"type":"track","messageId":"m","userId":"u","event":7}`, "event", "must be a string, got a number"},
		// Not identifiers of these calls: data, left as sent.
		{`{"type":"track","messageId":"m","userId":"u","event":"E","groupId":{"a":1},"previousId":` + long(600) + `}`, "", ""},
	}
	for _, c := range cases {
		got, err := Decode([]byte(c.in), time.Time{}, Limits{})
		if c.reason == "" {
			if err != nil {
				t.Errorf("%.80s: %v", c.in, err)
			}
			continue
		}
		ie, ok := err.(*InvalidError)
		if !ok || ie.Field != c.field || !strings.Contains(ie.Reason, c.reason) {
			t.Errorf("%.80s: got %v (accepted: %t), want field %s: %s", c.in, err, got != nil, c.field, c.reason)
		}
		if ok && len(ie.Error()) > 700 {
			t.Errorf("%.80s: error of %d bytes quotes the oversize value", c.in, len(ie.Error()))
		}
	}
}
