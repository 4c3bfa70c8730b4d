package parity_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/destinations"
	"github.com/switchyard/switchyard/internal/parity"
	"github.com/switchyard/switchyard/internal/peercorpus"
	"github.com/switchyard/switchyard/router/plan"
)

// renderFunc maps one event on switchyard's side: the requests, or why
// there are none.
type renderFunc func(raw []byte, receipt time.Time) ([]peercorpus.Request, string)

// ours builds the tool's destination as parity.yaml sets it up (its
// presets, else the default ones; required settings without a value get
// placeholders; secrets as ${ENV} references, as operators write them).
func ours(t *testing.T, tool string, f *parity.File) renderFunc {
	t.Helper()
	def, ok := destinations.Lookup(tool)
	if !ok {
		t.Fatalf("%s: no catalog definition", tool)
	}
	settings := peercorpus.Settings(def, nil).Settings
	for k, v := range f.Ours.Settings {
		settings[k] = v
	}
	env := map[string]string{}
	for k, v := range settings {
		if s, ok := def.Setting(k); ok && s.Secret {
			name := "PARITY_" + strings.ToUpper(k)
			env[name] = fmt.Sprint(v)
			settings[k] = "${" + name + "}"
		}
	}
	presets := f.Ours.Presets
	if len(presets) == 0 {
		for _, p := range def.Presets {
			if p.Default {
				presets = append(presets, p.Name)
			}
		}
	}
	text, err := yaml.Marshal(map[string]any{"name": "parity", "type": tool, "settings": settings, "presets": presets})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "destinations"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "destinations", "parity.yaml"), text, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := config.Load(dir, config.Options{Lookup: func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}})
	if diags.Err() != nil {
		t.Fatalf("%s: %v\n%s", tool, diags.Err(), text)
	}
	return planAdapter(t, tool, cfg)
}

// planAdapter is the one place that calls the plan API: the plan of the
// config's only destination, and its preview of one event.
func planAdapter(t *testing.T, tool string, cfg *config.Config) renderFunc {
	t.Helper()
	plans, diags := plan.Build(cfg)
	if diags.Err() != nil {
		t.Fatalf("%s: %v", tool, diags.Err())
	}
	if len(plans) != 1 {
		t.Fatalf("%s: %d plans, want 1", tool, len(plans))
	}
	var pl *plan.Plan
	for _, p := range plans {
		pl = p
	}
	return func(raw []byte, receipt time.Time) ([]peercorpus.Request, string) {
		got := pl.Preview(raw, plan.PreviewOptions{Reveal: true, Now: receipt})
		var reqs []peercorpus.Request
		for _, r := range got.Requests {
			reqs = append(reqs, peercorpus.Request{Method: r.Method, URL: r.URL, Body: r.Body})
		}
		var failures []string
		for _, f := range got.Failures {
			failures = append(failures, f.Action+": "+f.Error)
		}
		return reqs, reason(got.Outcome, got.Invalid, got.Reason, failures)
	}
}
