package plan_test

import (
	"strings"
	"testing"

	"github.com/switchyard/switchyard/destinations"
)

// TestPresetInsteadOfIsRefused: a preset enabled with one it replaces
// (Customer.io's v2 batch with a v1 preset) would send each event twice;
// validate says so at the line that enabled the second one.
func TestPresetInsteadOfIsRefused(t *testing.T) {
	def, ok := destinations.Lookup("customerio")
	if !ok {
		t.Fatal("no customerio in the catalog")
	}
	batch, ok := def.Preset("batch")
	if !ok || !batch.Default || len(batch.InsteadOf) == 0 {
		t.Fatalf("precondition: customerio's batch preset is a default that replaces others, got %+v", batch)
	}
	const head = "type: customerio\nsettings:\n  site_id: s\n  api_key: ${CIO_KEY}\n"
	refused := []struct{ name, dest, want string }{
		{"both listed", head + "presets: [batch, track_anonymous]\n",
			`d.yaml:5:18: presets batch and track_anonymous send the same calls`},
		{"a v1 preset overridden next to the default batch", head + "actions:\n  identify:\n    fields: {a: userId}\n",
			`d.yaml:7:5: presets batch and identify send the same calls`},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			diags := buildDir(t, map[string]string{"d.yaml": c.dest})
			if diags.Err() == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			if !strings.Contains(diags.Error(), c.want) || !strings.Contains(diags.Error(), "sent twice") {
				t.Errorf("got:\n%s\nwant a line containing %q", diags.Error(), c.want)
			}
		})
	}
	accepted := []struct{ name, dest string }{
		{"the defaults", head},
		{"v1 only", head + "presets: [identify, track, track_anonymous]\n"},
		{"batch off by its override, v1 on", head + "presets: [identify]\nactions:\n  batch:\n    enabled: false\n"},
		{"calls split by a trigger", head + "presets: [batch, track_anonymous]\nactions:\n  batch:\n    trigger: type in [\"identify\", \"track\"] && (userId != nil || email() != nil)\n"},
	}
	for _, c := range accepted {
		t.Run(c.name, func(t *testing.T) {
			if diags := buildDir(t, map[string]string{"d.yaml": c.dest}); diags.Err() != nil {
				t.Errorf("refused: %v", diags)
			}
		})
	}
}
