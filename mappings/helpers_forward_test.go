package mappings

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// forwardEvent keeps the event as sent, pins the time it happened and
// leaves out what belongs to the hop into switchyard.
func TestForwardEventKeepsTheEventAndPinsItsTime(t *testing.T) {
	ev := helperEvent(t, `{"type":"track","event":"Clicked","messageId":"m-9","userId":"u-1",
		"writeKey":"intake-secret","originalTimestamp":"2024-03-01T11:00:00Z","sentAt":"2024-03-01T11:00:10Z",
		"context":{"library":{"name":"analytics.js"}},"integrations":{"All":false,"Mixpanel":true},
		"properties":{"n":1},"custom_top_level":"kept"}`)
	got, err := forwardEvent(ev, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"writeKey", "sentAt", "receivedAt"} {
		if _, ok := got[k]; ok {
			t.Errorf("%s was forwarded", k)
		}
	}
	for k, want := range map[string]any{"messageId": "m-9", "userId": "u-1", "event": "Clicked", "custom_top_level": "kept", "originalTimestamp": "2024-03-01T11:00:00Z"} {
		if got[k] != want {
			t.Errorf("%s = %#v, want %#v", k, got[k], want)
		}
	}
	// Received at 12:00:00 after a 10 s client clock skew: the event happened at 11:59:50.
	if got["timestamp"] != "2024-03-01T11:59:50.000Z" {
		t.Errorf("timestamp = %v, want the skew-corrected time", got["timestamp"])
	}
	if got["integrations"].(map[string]any)["Mixpanel"] != true {
		t.Error("the integrations object was not kept")
	}
	if _, stillThere := ev.Raw["writeKey"]; !stillThere {
		t.Error("forwardEvent changed the event itself")
	}
}

func TestForwardEventRefusesAnEventOverTheLimitWithItsSize(t *testing.T) {
	runHelperCases(t, []helperCase{
		{name: "under the limit", event: `{"type":"track","event":"A","userId":"u"}`, expr: `forwardEvent(32768).event`, want: "A"},
		{name: "over the limit", event: `{"type":"track","event":"A","userId":"u","properties":{"blob":"` + strings.Repeat("x", 2000) + `"}}`,
			expr: `forwardEvent(1024)`, wantErr: "over the receiver's limit of 1024 bytes per event"},
		{name: "bad limit", event: `{"type":"track","event":"A"}`, expr: `forwardEvent("big")`, wantErr: "whole number of bytes"},
	})
}

// The size check skips encoding an event whose bytes are short enough
// (fitsUnencoded): that holds only if no event's JSON grows past
// forwardGrowth times its bytes. Each value here grows as much as a value
// can: numbers written out in full, U+2028 escaped, escapes of control
// characters, the timestamp printed with milliseconds.
func TestForwardEventGrowthBound(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"type":"track","event":"A","messageId":"m","userId":"u","timestamp":"2024-03-01T11:00:00Z","properties":{"n":[`)
	for i := 0; i < 200; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`1e20,9e15,-1e20,1e-6,"` + "\u2028\u2029" + `","\b\f\u0001"`)
	}
	b.WriteString(`]}}`)
	raw := []byte(b.String())
	ev, err := Decode(raw, time.Now(), Limits{MaxBytes: 1 << 20, MaxProperties: 10000})
	if err != nil {
		t.Fatal(err)
	}
	if ev.utf8Len != len(raw) {
		t.Fatalf("the single pass did not take the event (utf8Len %d of %d): the bound is not exercised", ev.utf8Len, len(raw))
	}
	out, err := forwardEvent(ev, 0)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		t.Fatal(err)
	}
	n := buf.Len() - 1
	if n > forwardGrowth*len(raw)+forwardSlack {
		t.Fatalf("%d bytes encode to %d, over %d x + %d", len(raw), n, forwardGrowth, forwardSlack)
	}
	if n < 2*len(raw) {
		t.Fatalf("%d bytes encode to only %d: the case no longer grows as values can", len(raw), n)
	}
	// Exactly at the bound the check is skipped; one byte more, it runs.
	limit := forwardGrowth*len(raw) + forwardSlack
	if !fitsUnencoded(ev, limit) || fitsUnencoded(ev, limit-1) {
		t.Errorf("fitsUnencoded at %d and %d: want true, then false", limit, limit-1)
	}
	if _, err := forwardEvent(ev, n-1); err == nil || !strings.Contains(err.Error(), "over the receiver's limit") {
		t.Errorf("an event of %d bytes with a limit of %d: %v", n, n-1, err)
	}
}
