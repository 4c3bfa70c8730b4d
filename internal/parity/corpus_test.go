package parity

import (
	"encoding/json"
	"strings"
	"testing"
)

// Segment's side gets the event as Segment's pipeline delivers it: one
// skew-corrected timestamp, receivedAt set to it, ids as text, a messageId.
func TestPrepareDeliversWhatSegmentsPipelineWould(t *testing.T) {
	ev := map[string]any{"type": "track", "event": "Order Completed", "userId": json.Number("12345"),
		"originalTimestamp": "2025-03-04T10:00:00Z", "sentAt": "2025-03-04T10:00:05Z"}
	p, err := Prepare(Case{ID: "ecommerce/numeric", Event: ev})
	if err != nil || p.Invalid != "" {
		t.Fatalf("Prepare: %v %s", err, p.Invalid)
	}
	d := p.Delivered
	if d["userId"] != "12345" {
		t.Errorf("userId %#v, want the text 12345", d["userId"])
	}
	if d["timestamp"] != "2025-03-04T10:00:00.000Z" || d["receivedAt"] != d["timestamp"] {
		t.Errorf("timestamp %v, receivedAt %v; want the client's time in both", d["timestamp"], d["receivedAt"])
	}
	if id, _ := d["messageId"].(string); !strings.HasPrefix(id, "parity-") {
		t.Errorf("messageId %v, want one assigned", d["messageId"])
	}
	if !strings.Contains(string(p.Raw), `"messageId":"parity-`) || strings.Contains(string(p.Raw), "receivedAt") {
		t.Errorf("switchyard's copy should have the messageId and no invented receivedAt: %s", p.Raw)
	}
	if ev["messageId"] != nil {
		t.Error("Prepare changed the corpus event")
	}
}

// An event the intake refuses reaches neither side.
func TestPrepareFlagsWhatTheIntakeRefuses(t *testing.T) {
	p, err := Prepare(Case{ID: "golden/x/no-user", Event: map[string]any{"type": "track", "event": "X", "messageId": "m1"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.Invalid, "neither userId nor anonymousId") || p.Delivered != nil {
		t.Errorf("invalid %q, delivered %v", p.Invalid, p.Delivered)
	}
}
