package plan_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/switchyard/switchyard/destinations"
	"github.com/switchyard/switchyard/internal/contracts"
	"github.com/switchyard/switchyard/router/plan"
)

// TestCatalogGoldenDelete renders every delete golden case of every tool
// (testdata/<case>/deletion.json: a deletion; answers.json: the lookups'
// answers by request key), compares it with expected.json, and checks
// each body against the action's contract. Every delete action of the
// catalog has a case that renders its request.
func TestCatalogGoldenDelete(t *testing.T) {
	catalogDir := filepath.Join("..", "..", "destinations", "catalog")
	defs, err := destinations.Catalog()
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]map[string]bool{}
	cases, _ := filepath.Glob(filepath.Join(catalogDir, "*", "testdata", "*", "deletion.json"))
	for _, in := range cases {
		caseDir := filepath.Dir(in)
		tool := filepath.Base(filepath.Dir(filepath.Dir(caseDir)))
		t.Run(tool+"/"+filepath.Base(caseDir), func(t *testing.T) {
			p := planFromFile(t, filepath.Join(caseDir, "destination.yaml"))
			var del plan.Deletion
			readJSON(t, in, &del)
			answers := map[string][]byte{}
			if _, err := os.Stat(filepath.Join(caseDir, "answers.json")); err == nil {
				var raw map[string]json.RawMessage
				readJSON(t, filepath.Join(caseDir, "answers.json"), &raw)
				for k, v := range raw {
					answers[k] = v
				}
			}
			got := p.PreviewDeletion(del, answers, plan.PreviewOptions{Reveal: true, Now: goldenNow})
			compareGolden(t, caseDir, "deletion preview", got)
			def := defs[tool]
			if def == nil {
				return // a webhook or http case
			}
			for _, st := range got.Requests {
				action := keyAction(st.Key)
				da, ok := def.DeleteAction(action)
				if !ok {
					continue // a delete action of the case's own file
				}
				if st.Lookup != nil && st.Lookup.Body != nil && da.Lookup.Contract != nil {
					body, _ := json.Marshal(st.Lookup.Body)
					if err := contracts.Validate(filepath.Join(catalogDir, tool), da.Lookup.Contract, body); err != nil {
						t.Errorf("%s lookup: contract: %v\nbody: %s", st.Key, err, body)
					}
				}
				if st.Request == nil {
					continue
				}
				if covered[tool] == nil {
					covered[tool] = map[string]bool{}
				}
				covered[tool][action] = true
				if st.Request.Body == nil {
					continue
				}
				if da.Contract == nil {
					t.Errorf("%s: delete action %s sends a body but declares no contract", tool, action)
					continue
				}
				body, _ := json.Marshal(st.Request.Body)
				if err := contracts.Validate(filepath.Join(catalogDir, tool), da.Contract, body); err != nil {
					t.Errorf("%s: contract: %v\nbody: %s", st.Key, err, body)
				}
			}
		})
	}
	for name, def := range defs {
		for _, a := range def.Deletion.Actions {
			if !covered[name][a.Name] {
				t.Errorf("%s: delete action %s has no golden case rendering its request", name, a.Name)
			}
		}
	}
}

// keyAction is the action of a request key (action#i).
func keyAction(key string) string {
	for i := range key {
		if key[i] == '#' {
			return key[:i]
		}
	}
	return key
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	must(t, err)
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
