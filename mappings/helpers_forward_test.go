package mappings

import (
	"strings"
	"testing"
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
