package mappings

import (
	"encoding/json"
	"fmt"
)

// Bounds of an event's identifiers, the same on every path (the HTTP
// intake, and events published to NATS directly): the intake validates
// each event with Decode, and takes messageId through MessageID before it
// fills in a missing one. docs/collectors.md lists them.
const (
	// MaxMessageIDBytes bounds messageId, which travels as the NATS header
	// Nats-Msg-Id (the dedupe key) and in every dead letter's headers.
	MaxMessageIDBytes = 512
	// MaxIDBytes bounds userId, anonymousId, groupId and previousId.
	// Tools keep theirs shorter still (Iterable: 512 bytes for ids); this
	// bound is for the router's memory, logs and headers, not any tool's.
	MaxIDBytes = 512
	// MaxEventNameBytes bounds a track call's event name. Tools keep
	// theirs shorter (Klaviyo: under 128 characters; Mixpanel: 255), and
	// say so when they refuse one; this bound keeps names out of metric
	// and log cardinality trouble.
	MaxEventNameBytes = 512
)

// MessageID reads an event's messageId: "" when it is absent or null,
// else the id, which must be a string of at most MaxMessageIDBytes bytes
// with no control characters (a CR or LF would end the NATS header early
// and let the sender forge others). A number is refused: the Segment spec
// makes messageId a string and every Segment library sends one (generated,
// or stringified as analytics-python does), and coercing numbers is
// ambiguous for a dedupe key (42, 42.0 and 4.2e1 would be one id on one
// path and three on another, and ids past 2^53 lose digits in JavaScript
// collectors). Every error is an *InvalidError naming messageId.
func MessageID(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		if len(x) > MaxMessageIDBytes {
			return "", &InvalidError{Field: "messageId", Reason: fmt.Sprintf("is %d bytes, over the %d byte limit", len(x), MaxMessageIDBytes)}
		}
		for _, c := range []byte(x) {
			if c < 0x20 || c == 0x7f {
				return "", &InvalidError{Field: "messageId", Reason: "contains control characters (it travels as the Nats-Msg-Id header)"}
			}
		}
		return x, nil
	}
	return "", &InvalidError{Field: "messageId", Reason: fmt.Sprintf("must be a string (Segment spec), got %s: send it quoted", jsonKind(v))}
}

// identifier reads v, the identifier field of raw: "" when absent, null or
// empty; a string as it is; a number in its exact digits (numeric user ids
// are common, and every tool wants strings). Any other JSON type, or more
// than MaxIDBytes bytes, is an error naming the field. A non-empty id is
// stored back into raw in its string form, so that expressions and the
// stored event see what tools will receive.
func identifier(raw map[string]any, field string, v any) (string, *InvalidError) {
	switch v.(type) {
	case nil, string, float64, int64, json.Number:
	default:
		return "", &InvalidError{Field: field, Reason: fmt.Sprintf("must be a string or a number, got %s", jsonKind(v))}
	}
	s := idString(v)
	if len(s) > MaxIDBytes {
		return "", &InvalidError{Field: field, Reason: fmt.Sprintf("is %d bytes, over the %d byte limit", len(s), MaxIDBytes)}
	}
	if _, isString := v.(string); !isString && s != "" {
		raw[field] = s // a numeric id, as its decimal text (a string stays as it is: no new box)
	}
	return s, nil
}

// jsonKind names the JSON type of a decoded value, for errors.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return "a number"
}
