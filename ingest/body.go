package ingest

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/switchyard/switchyard/mappings"
)

// request is a parsed request body: its events, and for a batch the
// top-level fields Segment applies to every event.
type request struct {
	events       []map[string]any
	writeKey     string
	context      map[string]any // batch-level defaults, nil for none
	integrations map[string]any
	sentAt       any // batch-level sentAt, nil for none
}

// readBody reads the whole body, decompressing gzip, and refuses one over
// limit bytes. Both the compressed and the decompressed reads are bounded,
// so neither a long body nor a gzip bomb can exhaust memory.
func readBody(w http.ResponseWriter, r *http.Request, limit int, what string) ([]byte, reply) {
	tooLarge := fail(http.StatusBadRequest, "request body is over the %s limit of %d bytes", what, limit)
	raw := http.MaxBytesReader(w, r.Body, int64(limit))
	var mbe *http.MaxBytesError
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
		data, err := io.ReadAll(raw)
		if errors.As(err, &mbe) {
			return nil, tooLarge
		}
		if err != nil {
			return nil, fail(http.StatusBadRequest, "reading the body: %v", err)
		}
		return data, reply{}
	case "gzip", "x-gzip":
		gz, err := gzip.NewReader(raw)
		if errors.As(err, &mbe) {
			return nil, tooLarge
		}
		if err != nil {
			return nil, fail(http.StatusBadRequest, "body is not a valid gzip stream: %v", err)
		}
		// Bounding the decompressed read is what defuses a gzip bomb: a
		// few KB that inflate to gigabytes stop at limit+1 bytes.
		data, err := io.ReadAll(io.LimitReader(gz, int64(limit)+1))
		if errors.As(err, &mbe) {
			return nil, tooLarge
		}
		if err != nil {
			return nil, fail(http.StatusBadRequest, "body is not a valid gzip stream: %v", err)
		}
		if len(data) > limit {
			return nil, fail(http.StatusBadRequest, "request body decompresses to over the %s limit of %d bytes", what, limit)
		}
		return data, reply{}
	default:
		return nil, fail(http.StatusUnsupportedMediaType, "Content-Encoding %q not supported: send gzip or no encoding", enc)
	}
}

// decodeObject decodes one JSON object, keeping numbers exact. The data
// must be exactly that one object: trailing bytes are refused
// (mappings.UnmarshalOne), so that what the intake accepts is what the
// router would accept had it come over NATS.
func decodeObject(data []byte) (map[string]any, error) {
	var m map[string]any
	if err := mappings.UnmarshalOne(data, &m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("null is not an object")
	}
	return m, nil
}

// parseSingle reads the body of a single call: one event object.
func parseSingle(body []byte) (*request, reply) {
	ev, err := decodeObject(body)
	if err != nil {
		return nil, fail(http.StatusBadRequest, "body is not a JSON object: %v", err)
	}
	key, _ := ev["writeKey"].(string)
	return &request{events: []map[string]any{ev}, writeKey: key}, reply{}
}

// parseBatch reads the body of /v1/batch: {"batch": [...], "context": {},
// "integrations": {}, "sentAt": "...", "writeKey": "..."}. Each event is
// measured as sent against maxEvent.
func parseBatch(body []byte, maxEvent int) (*request, reply) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, fail(http.StatusBadRequest, "body is not a JSON object: %v", err)
	}
	if top == nil {
		return nil, fail(http.StatusBadRequest, "body is not a JSON object: null")
	}
	rawBatch, ok := top["batch"]
	if !ok {
		return nil, fail(http.StatusBadRequest, `body has no "batch" array`)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(rawBatch, &items); err != nil || items == nil {
		return nil, fail(http.StatusBadRequest, `"batch" must be an array of events`)
	}
	req := &request{events: make([]map[string]any, 0, len(items))}
	var err error
	if req.context, err = optionalObject(top["context"]); err != nil {
		return nil, fail(http.StatusBadRequest, `batch "context": %v`, err)
	}
	if req.integrations, err = optionalObject(top["integrations"]); err != nil {
		return nil, fail(http.StatusBadRequest, `batch "integrations": %v`, err)
	}
	if raw, ok := top["sentAt"]; ok {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fail(http.StatusBadRequest, `batch "sentAt": %v`, err)
		}
		req.sentAt = v
	}
	if raw, ok := top["writeKey"]; ok {
		_ = json.Unmarshal(raw, &req.writeKey) // a non-string key is no key
	}
	for i, item := range items {
		if len(item) > maxEvent {
			return nil, reply{
				status: http.StatusBadRequest,
				msg:    fmt.Sprintf("batch[%d]: event is %d bytes, over the per-event limit of %d bytes (none of the batch was published)", i, len(item), maxEvent),
				errors: []eventError{{Index: i, Reason: fmt.Sprintf("event is %d bytes, over the per-event limit of %d bytes", len(item), maxEvent)}},
			}
		}
		ev, err := decodeObject(item)
		if err != nil {
			return nil, reply{
				status: http.StatusBadRequest,
				msg:    fmt.Sprintf("batch[%d]: not a JSON object: %v (none of the batch was published)", i, err),
				errors: []eventError{{Index: i, Reason: "not a JSON object"}},
			}
		}
		req.events = append(req.events, ev)
	}
	if req.writeKey == "" && len(req.events) > 0 {
		// analytics.js puts the key on each event; take the first's.
		req.writeKey, _ = req.events[0]["writeKey"].(string)
	}
	return req, reply{}
}

// optionalObject decodes an absent or null value as nil, and refuses
// anything but an object.
func optionalObject(raw json.RawMessage) (map[string]any, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	m, err := decodeObject(raw)
	if err != nil {
		return nil, errors.New("must be an object")
	}
	return m, nil
}
