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
	peer := Fields{Identity: "u1", Email: "a@x.io", Revenue: f(48.0001), Prices: []float64{3, 19}, Products: []string{"b", "a"}, TimeMs: ms(1597383030000), Event: "x"}
	got := Compare(ours, peer)
	want := []Agreement{Agree, Agree, PeerOnly, Agree, Agree, Neither, Neither, Agree, Agree}
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
