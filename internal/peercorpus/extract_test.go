package peercorpus

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/switchyard/switchyard/destinations"
)

func TestMillisReadsEveryTimeFormatAsMilliseconds(t *testing.T) {
	want := int64(1597383030118)
	for _, v := range []any{
		"2020-08-14T05:30:30.118Z",
		"2020-08-14T11:00:30.118+05:30",
		json.Number("1597383030118"),
		json.Number("1597383030118000"), // µs (GA4 timestamp_micros)
		1597383030.118,                  // s
	} {
		got := millis(v)
		if got == nil || *got != want {
			t.Errorf("millis(%v) = %v, want %d", v, got, want)
		}
	}
	if millis("yesterday") != nil || millis(nil) != nil {
		t.Error("a time that is not one gave a value")
	}
}

func TestCompareToleratesWholeSecondTimesAndFormats(t *testing.T) {
	ms := func(v int64) *int64 { return &v }
	f := func(v float64) *float64 { return &v }
	ours := Fields{Identity: "u1", Email: "A@x.io", Revenue: f(48), Prices: []float64{19, 3}, Products: []string{"a", "b"}, TimeMs: ms(1597383030118)}
	ours.Value, ours.DedupeID = f(10), "m-1"
	peer := Fields{Identity: "u1", Email: "a@x.io", Revenue: f(48.0001), Prices: []float64{3, 19}, Products: []string{"b", "a"}, TimeMs: ms(1597383030000), Event: "x",
		Value: f(10.001), DedupeID: "M-1"}
	got := Compare(ours, peer)
	// Dedupe ids compare with case: "m-1" and "M-1" are two events to the tool.
	want := []Agreement{Agree, Agree, PeerOnly, Agree, Agree, Neither, Neither, Agree, Agree, Agree, Differ}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Compare = %v, want %v", got, want)
	}
	peer.TimeMs = ms(1597383032000)
	if Compare(ours, peer)[8] != Differ {
		t.Error("times 2 s apart agree")
	}
}

func TestPeerOutcomeReadsRequestsBatchesAndRefusals(t *testing.T) {
	var out any
	_ = json.Unmarshal([]byte(`[{"endpoint":"https://api.mixpanel.com/engage/","method":"POST","body":{"JSON":{},"JSON_ARRAY":{"batch":"[{\"$distinct_id\":\"u\"}]"}}},
		{"endpoint":"https://api2.amplitude.com/2/httpapi","body":{"JSON":{"events":[]}}}]`), &out)
	p := peerOutcome(out)
	if len(p.Requests) != 2 || p.Error != "" {
		t.Fatalf("got %+v", p)
	}
	if _, ok := p.Requests[0].Body.([]any); !ok {
		t.Errorf("JSON_ARRAY batch not decoded: %#v", p.Requests[0].Body)
	}
	_ = json.Unmarshal([]byte(`{"statusCode":400,"error":"Event name is required"}`), &out)
	if p := peerOutcome(out); p.Rendered() || p.Error != "Event name is required" {
		t.Errorf("refusal read as %+v", p)
	}
}

func TestSettingsTranslatePeerKeysAndFillPlaceholders(t *testing.T) {
	def := &destinations.Definition{Settings: []destinations.Setting{
		{Name: "api_key", Required: true, Secret: true},
		{Name: "region", Format: "enum", Enum: []string{"us", "eu"}, Default: "us"},
		{Name: "project_id", Required: true},
		{Name: "revenue_per_product", Format: "bool", Default: false},
	}}
	tr := Settings(def, map[string]any{"apiKey": "k", "residencyServer": "EU", "trackRevenuePerProduct": true, "unknown": "x"})
	want := map[string]any{"api_key": "k", "region": "eu", "revenue_per_product": true, "project_id": "placeholder-project-id"}
	if !reflect.DeepEqual(tr.Settings, want) || !reflect.DeepEqual(tr.Placeholders, []string{"project_id"}) {
		t.Errorf("got %v (placeholders %v), want %v", tr.Settings, tr.Placeholders, want)
	}
	if tr := Settings(def, map[string]any{"apiKey": "k", "residencyServer": "mars", "projectId": "1"}); tr.Settings["region"] != nil {
		t.Errorf("an unknown region was kept: %v", tr.Settings)
	}
}

func TestNormaliseReasonCutsExpressionSourceAndIDs(t *testing.T) {
	got := NormaliseReason(`order_completed: item 1: fields.price: products[].price is required (at 1:1 of "required(item.price, \"x\")")`)
	if got != "order_completed: fields.price: products[].price is required" {
		t.Errorf("got %q", got)
	}
	got = NormaliseReason("invalid event: event 84e26acc-56a5: field groupId: a group call needs a groupId")
	if got != "invalid event: field groupId: a group call needs a groupId" {
		t.Errorf("got %q", got)
	}
}

// Segment's shapes: Amplitude's /identify form, Mixpanel's form data and
// $identify merge, GA4's user_id, Airship's custom events.
func TestExtractReadsSegmentShapes(t *testing.T) {
	amp := Extract("amplitude", []Request{{URL: "https://api2.amplitude.com/identify", Body: map[string]any{
		"identification": `{"user_id":"u1","user_properties":{"email":"a@x.io"}}`}}})
	if amp.Identity != "u1" || amp.Email != "a@x.io" || amp.Event != "" {
		t.Errorf("amplitude /identify: %+v", amp)
	}
	mp := Extract("mixpanel", []Request{
		{URL: "https://api.mixpanel.com/track", Body: map[string]any{"data": `{"event":"$identify","properties":{"$identified_id":"u2","$anon_id":"a2"}}`}},
		{URL: "https://api.mixpanel.com/import", Body: []any{map[string]any{"event": "Signed Up", "properties": map[string]any{"distinct_id": "", "$device_id": "a2", "$insert_id": "i-1"}}}},
	})
	if mp.Identity != "a2" || mp.Event != "Signed Up" || mp.DedupeID != "i-1" {
		t.Errorf("mixpanel: %+v", mp)
	}
	ga := Extract("ga4", []Request{{Body: map[string]any{"client_id": "anon", "user_id": "u3",
		"events": []any{map[string]any{"name": "add_to_cart", "params": map[string]any{"value": 5.0}}}}}})
	if ga.Identity != "u3" || ga.Value == nil || *ga.Value != 5 || ga.Revenue != nil {
		t.Errorf("ga4: %+v", ga)
	}
	ua := Extract("airship", []Request{{Body: []any{map[string]any{"user": map[string]any{"named_user_id": "u4"},
		"occurred": "2025-01-02T03:04:05", "body": map[string]any{"name": "purchased", "value": 12.5}}}}})
	if ua.Identity != "u4" || ua.Event != "purchased" || ua.Value == nil || ua.TimeMs == nil {
		t.Errorf("airship: %+v", ua)
	}
}
