package ingest

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/switchyard/switchyard/mappings"
)

// event is one prepared event, ready to publish.
type event struct {
	typ  string
	id   string // messageId, the Nats-Msg-Id header
	data []byte
	// userID and anonymousID name the user, for Options.Suppressed.
	userID, anonymousID string
}

// timeLayout is RFC 3339 with milliseconds, as Segment writes its times.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// prepare fills in what the Segment Tracking API adds to an event, then
// validates it as the router will decode it. callType is the type the path
// names ("" for a batch); recv is when the request arrived.
func (s *Server) prepare(raw map[string]any, req *request, callType string, recv time.Time) (*event, *eventError) {
	// The write key authenticates the request; it is no part of the event.
	delete(raw, "writeKey")

	if callType != "" {
		switch t := raw["type"].(type) {
		case nil:
			raw["type"] = callType
		case string:
			if t != callType {
				return nil, &eventError{Field: "type", Reason: fmt.Sprintf("type %q does not match the endpoint, which takes %s calls", t, callType)}
			}
		default:
			return nil, &eventError{Field: "type", Reason: "not a string"}
		}
	}

	// The rule the router applies to events published to NATS directly:
	// one function, so the two paths cannot drift apart.
	id, err := mappings.MessageID(raw["messageId"])
	if err != nil {
		return nil, invalidEvent(err)
	}
	if id == "" {
		id = newMessageID()
	}
	raw["messageId"] = id

	// Segment's batch endpoint: the top-level sentAt, context and
	// integrations apply to every event, under the event's own values.
	if req.sentAt != nil && raw["sentAt"] == nil {
		raw["sentAt"] = req.sentAt
	}
	if req.context != nil {
		if own, present := raw["context"]; !present || own == nil {
			raw["context"] = cloneObject(req.context)
		} else if obj, isObj := own.(map[string]any); isObj {
			mergeUnder(obj, req.context)
		}
	}
	if req.integrations != nil {
		if own, present := raw["integrations"]; !present || own == nil {
			raw["integrations"] = cloneObject(req.integrations)
		} else if obj, isObj := own.(map[string]any); isObj {
			mergeUnder(obj, req.integrations)
		}
	}

	// The server's clock is the truth for receivedAt: a client's own value
	// would let it steer the skew correction.
	raw["receivedAt"] = recv.UTC().Format(timeLayout)

	lim := s.limits
	lim.MaxBytes = math.MaxInt // the size rule is MaxEventBytes, checked below
	data, err := marshal(raw)
	if err != nil {
		return nil, &eventError{Reason: err.Error()}
	}
	ev, err := mappings.Decode(data, recv, lim)
	if err != nil {
		return nil, invalidEvent(err)
	}

	// Numeric ids are legal JSON but every tool wants strings: store the
	// exact digits as Decode normalised them.
	for _, k := range []string{"userId", "anonymousId", "groupId", "previousId"} {
		if v, isStr := ev.Raw[k].(string); isStr && v != "" {
			raw[k] = v
		}
	}

	// Segment keeps the device's time as originalTimestamp and stores the
	// skew-corrected time as timestamp (Common Fields spec, "Timestamps").
	if ts, present := raw["timestamp"]; present && ts != nil {
		if orig, has := raw["originalTimestamp"]; !has || orig == nil {
			raw["originalTimestamp"] = ts
		}
	}
	raw["timestamp"] = ev.Timestamp.UTC().Format(timeLayout)

	if data, err = marshal(raw); err != nil {
		return nil, &eventError{Reason: err.Error()}
	}
	if max := s.maxEvent + EnrichmentHeadroom; len(data) > max {
		return nil, &eventError{Reason: fmt.Sprintf("with the batch's context and the server's fields the event is %d bytes, over the %d byte limit", len(data), max)}
	}
	return &event{typ: ev.Type, id: ev.MessageID, data: data, userID: ev.UserID, anonymousID: ev.AnonymousID}, nil
}

// invalidEvent is the eventError of a mappings validation error, naming
// its field.
func invalidEvent(err error) *eventError {
	var ie *mappings.InvalidError
	if errors.As(err, &ie) {
		return &eventError{Field: ie.Field, Reason: ie.Reason}
	}
	return &eventError{Reason: err.Error()}
}

// newMessageID returns a random (version 4) UUID.
func newMessageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// mergeUnder copies into dst each key of defaults that dst lacks, merging
// nested objects the same way: the event's own values always win.
func mergeUnder(dst, defaults map[string]any) {
	for k, dv := range defaults {
		cur, present := dst[k]
		if !present || cur == nil {
			dst[k] = cloneValue(dv)
			continue
		}
		curObj, ok1 := cur.(map[string]any)
		defObj, ok2 := dv.(map[string]any)
		if ok1 && ok2 {
			mergeUnder(curObj, defObj)
		}
	}
}

// cloneObject deep-copies the batch defaults, which every event of the
// batch shares, so that no event's later changes leak into another's.
func cloneObject(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneValue(v)
	}
	return out
}

func cloneValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return cloneObject(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = cloneValue(e)
		}
		return out
	}
	return v
}

// marshal encodes JSON without HTML escaping and without the trailing newline.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
