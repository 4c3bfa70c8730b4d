package mappings

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// forwardDropped are the top-level fields forwardEvent leaves out: they
// describe the hop into switchyard, not the event. sentAt and receivedAt
// would make a Segment-compatible receiver correct clock skew a second time
// (Segment: timestamp = receivedAt − (sentAt − originalTimestamp),
// https://segment.com/docs/connections/spec/common/#timestamps) against a
// sentAt that is no longer when this hop sends it, and writeKey is the
// credential of switchyard's own intake, never to be passed on.
var forwardDropped = []string{"sentAt", "receivedAt", "writeKey"}

func init() {
	register(Helper{
		Name:        "forwardEvent",
		EventScoped: true,
		Fn: func(params ...any) (any, error) {
			ev, err := eventOf("forwardEvent", params)
			if err != nil {
				return nil, err
			}
			limit := 0
			if len(params) > 1 && params[1] != nil {
				n, ok := toInt(params[1])
				if !ok || n <= 0 {
					return nil, fmt.Errorf("forwardEvent: the size limit must be a whole number of bytes > 0, got %s", kindOf(params[1]))
				}
				limit = n
			}
			return forwardEvent(ev, limit)
		},
		Types:     []any{new(func(Env) any), new(func(Env, any) any)},
		Signature: "forwardEvent([maxBytes int]) map",
		Doc: "Returns the event as it came, for forwarding to another Segment-compatible Tracking API (Segment, " +
			"RudderStack, Jitsu): every field kept, messageId included, so the receiver deduplicates; timestamp set " +
			"to the event's skew-corrected time (Segment spec, Timestamps: an explicit timestamp is used as given, so " +
			"a late or replayed forward keeps the time the event happened); sentAt, receivedAt and writeKey left out " +
			"(they belong to the hop into switchyard). With maxBytes, an event whose JSON is larger is an error " +
			"naming its size: Segment's /v1/batch refuses events over 32 KB, and one such event must fail alone " +
			"rather than with its batch.",
		Example: `omitKeys(forwardEvent(32768), "context", "properties")`,
	})
}

func forwardEvent(ev *Event, limit int) (map[string]any, error) {
	out := make(map[string]any, len(ev.Raw)+1)
	for k, v := range ev.Raw {
		out[k] = v
	}
	for _, k := range forwardDropped {
		delete(out, k)
	}
	out["timestamp"] = FormatTimestamp(ev.Timestamp)
	out["messageId"] = ev.MessageID
	if limit > 0 && !fitsUnencoded(ev, limit) {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // as the router encodes bodies
		if err := enc.Encode(out); err != nil {
			return nil, fmt.Errorf("forwardEvent: the event cannot be encoded: %w", err)
		}
		if n := buf.Len() - 1; n > limit { // Encode adds a newline
			return nil, fmt.Errorf("forwardEvent: the event is %d bytes as JSON, over the receiver's limit of %d bytes per event; it is not forwarded", n, limit)
		}
	}
	return out, nil
}

// The size check encodes the event only when its bytes could be over the
// limit once encoded. The JSON of a value decoded from valid UTF-8 text is
// at most forwardGrowth times as long as that text: a string's characters
// come out at most three times as long (U+2028 is written \u2028, a raw
// backspace escape "\b" at worst as \u0008), and a number at most 5.25
// times (1e20 is written 100000000000000000000); structure is copied and
// whitespace dropped. forwardEvent adds timestamp and messageId, well under
// forwardSlack. Most events are far below the 32 KB a receiver takes, and
// encoding each a second time (the body is encoded again when sent) was
// half of what forwarding one cost.
const (
	forwardGrowth = 6
	forwardSlack  = 256
)

// fitsUnencoded reports whether the event's JSON is certainly within limit
// without encoding it: it was decoded in one pass from valid UTF-8 bytes
// short enough that forwardGrowth times as many, and forwardSlack, fit.
func fitsUnencoded(ev *Event, limit int) bool {
	return ev.utf8Len > 0 && ev.utf8Len <= (limit-forwardSlack)/forwardGrowth
}
