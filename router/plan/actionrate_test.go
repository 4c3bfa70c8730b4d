package plan_test

import (
	"maps"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/destinations"
)

// TestPresetRatesHoldTheirActions: a preset or a delete action with a
// documented limit of its own (Iterable's bulk endpoints, users/forget)
// holds its actions to it, while the destination keeps the tool's limit
// for the others; a destination's lower rps makes them moot.
func TestPresetRatesHoldTheirActions(t *testing.T) {
	def, ok := destinations.Lookup("iterable")
	if !ok {
		t.Fatal("no iterable in the catalog")
	}
	if def.Rate.RPS != 500 {
		t.Fatalf("precondition: Iterable's rate is %v, want users/update's 500", def.Rate.RPS)
	}
	const head = "type: iterable\nsettings:\n  api_key: ${ITERABLE_API_KEY}\n"
	for _, c := range []struct {
		name, dest string
		rps        float64
		actions    map[string]float64
	}{
		{"the defaults", head, 500, map[string]float64{"identify_bulk": 5, "track_bulk": 10, "forget": 3}},
		{"one request per event", head + "presets: [identify, track, order_completed]\n", 500, map[string]float64{"forget": 3}},
		{"an action built on a bulk preset", head + "presets: [order_completed]\nactions:\n  signups:\n    extends: track_bulk\n    trigger: type == \"track\" && event == \"Signed Up\"\n", 500, map[string]float64{"signups": 10, "forget": 3}},
		{"an rps below them", head + "delivery:\n  rate:\n    rps: 4\n", 4, map[string]float64{"forget": 3}},
		{"an rps between them", head + "delivery:\n  rate:\n    rps: 8\n", 8, map[string]float64{"identify_bulk": 5, "forget": 3}},
		{"an rps below every one", head + "delivery:\n  rate:\n    rps: 2\n", 2, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			rc := planFromText(t, c.dest).SenderConfig().Rate
			if rc.RPS != c.rps || !maps.Equal(rc.Actions, c.actions) {
				t.Errorf("rps %v, actions %v; want %v and %v", rc.RPS, rc.Actions, c.rps, c.actions)
			}
		})
	}
}

// TestIterableBulkInsteadOfPerEvent: the bulk presets replace the
// per-event ones; a destination enabling both kinds for the same calls
// is refused.
func TestIterableBulkInsteadOfPerEvent(t *testing.T) {
	const head = "type: iterable\nsettings:\n  api_key: ${ITERABLE_API_KEY}\n"
	for dest, want := range map[string]string{
		head + "presets: [identify_bulk, identify]\n":                 "presets identify_bulk and identify send the same calls",
		head + "actions:\n  track:\n    fields: {eventName: event}\n": "presets track_bulk and track send the same calls",
	} {
		diags := buildDir(t, map[string]string{"d.yaml": dest})
		if diags.Err() == nil || !strings.Contains(diags.Error(), want) {
			t.Errorf("%s: got %v, want %q", dest, diags, want)
		}
	}
	if diags := buildDir(t, map[string]string{"d.yaml": head + "presets: [identify_bulk, track, order_completed]\n"}); diags.Err() != nil {
		t.Errorf("bulk identifies with per-event tracks refused: %v", diags)
	}
}
