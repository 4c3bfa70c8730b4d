package plan_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"

	"testing"
	"time"

	"github.com/switchyard/switchyard/destinations"
	"github.com/switchyard/switchyard/internal/contracts"
	"github.com/switchyard/switchyard/router/plan"
)

var update = flag.Bool("update", false, "rewrite golden expected.json files")

// goldenNow stamps golden previews (webhook signatures, events without a
// time of their own).
var goldenNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// TestCatalogGolden renders every golden case of every tool, compares it
// with expected.json, and checks each request body against the preset's
// published API contract (or the project's schema for the tool).
func TestCatalogGolden(t *testing.T) {
	catalogDir := filepath.Join("..", "..", "destinations", "catalog")
	defs, err := destinations.Catalog()
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]map[string]bool{}
	cases, _ := filepath.Glob(filepath.Join(catalogDir, "*", "testdata", "*", "event.json"))
	for _, ev := range cases {
		caseDir := filepath.Dir(ev)
		tool := filepath.Base(filepath.Dir(filepath.Dir(caseDir)))
		t.Run(tool+"/"+filepath.Base(caseDir), func(t *testing.T) {
			p := planFromFile(t, filepath.Join(caseDir, "destination.yaml"))
			raw, err := os.ReadFile(ev)
			if err != nil {
				t.Fatal(err)
			}
			got := p.Preview(raw, plan.PreviewOptions{Reveal: true, Now: goldenNow})
			compareGolden(t, caseDir, "preview", got)
			def := defs[tool]
			if def == nil {
				return // a webhook or http case
			}
			for _, r := range got.Requests {
				preset := presetOf(p, r.Action)
				if covered[tool] == nil {
					covered[tool] = map[string]bool{}
				}
				covered[tool][preset] = true
				pr, ok := def.Preset(preset)
				if !ok {
					continue // a custom action in the case's destination file
				}
				body, _ := json.Marshal(r.Body)
				if err := contracts.Validate(filepath.Join(catalogDir, tool), pr.Contract, body); err != nil {
					t.Errorf("action %s: contract: %v\nbody: %s", r.Action, err, body)
				}
			}
		})
	}
	for name, def := range defs {
		for _, p := range def.Presets {
			if p.Contract == nil {
				t.Errorf("%s: preset %s declares no contract", name, p.Name)
			}
			if !covered[name][p.Name] {
				t.Errorf("%s: preset %s has no golden case rendering a request", name, p.Name)
			}
		}
		if _, err := os.Stat(filepath.Join(catalogDir, name, "README.md")); err != nil {
			t.Errorf("%s: no README.md", name)
		}
	}
}

func presetOf(p *plan.Plan, action string) string {
	for _, a := range p.Actions {
		if a.Name == action {
			if a.Preset != "" {
				return a.Preset
			}
			return a.Name
		}
	}
	return action
}

// compareGolden compares got, as JSON, with the case's expected.json, which
// -update rewrites. what names the output in the failure.
func compareGolden(t *testing.T, caseDir, what string, got any) {
	t.Helper()
	gotJSON, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	expPath := filepath.Join(caseDir, "expected.json")
	if *update {
		if err := os.WriteFile(expPath, append(gotJSON, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(expPath)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	var a, b any
	_ = json.Unmarshal(gotJSON, &a)
	if err := json.Unmarshal(want, &b); err != nil {
		t.Fatalf("expected.json: %v", err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("%s differs from expected.json (run with -update after checking):\n got: %s\nwant: %s", what, gotJSON, want)
	}
}
