package plan_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/destinations"
	"github.com/switchyard/switchyard/mappings"
	"github.com/switchyard/switchyard/router/plan"
)

// The router's fuzzers. Seed corpora live in testdata/fuzz/<FuzzName>/
// (scripts/fuzzseeds.go: the catalog's golden events and messages of the
// peer corpus); `make fuzz` runs each briefly.

// fuzzPlans builds one plan per catalog tool, from the destination file of
// its first golden case, plus a webhook with a mapped action.
func fuzzPlans(f *testing.F) []*plan.Plan {
	defs, err := destinations.Catalog()
	if err != nil {
		f.Fatal(err)
	}
	var plans []*plan.Plan
	for _, tool := range sortedTools(defs) {
		cases, _ := filepath.Glob(filepath.Join("..", "..", "destinations", "catalog", tool, "testdata", "*", "destination.yaml"))
		sort.Strings(cases)
		if len(cases) == 0 {
			f.Fatalf("%s has no golden case", tool)
		}
		plans = append(plans, planFromText(f, string(mustRead(f, cases[0]))))
	}
	plans = append(plans, planFromText(f, `type: webhook
settings:
  url: https://hook.example.com/in
  secret: ${HOOK_SECRET}
actions:
  order:
    trigger: type == "track"
    foreach: products()
    fields:
      id: messageId + ":" + string(index)
      item: item
      props: properties
      ts: iso(timestamp)
`))
	return plans
}

func sortedTools(defs map[string]*destinations.Definition) []string {
	var out []string
	for name := range defs {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzRenderPresets feeds arbitrary event bytes to every catalog tool's
// presets: no panic, and every request body that would be sent, alone or
// batched, is valid JSON.
func FuzzRenderPresets(f *testing.F) {
	f.Add([]byte(`{"type":"track","messageId":"m-1","userId":"u-1","event":"Order Completed","properties":{"order_id":"o","revenue":"10.5","products":[{"product_id":"p","price":"x","quantity":-1},null,"s"]}}`))
	f.Add([]byte(`{"type":"identify","messageId":"m-2","anonymousId":"a","traits":{"email":["x"],"phone":12,"firstName":{"a":1},"birthday":"not a date"},"context":{"traits":null}}`))
	f.Add([]byte(`{"products":[{"price":"1e400","quantity":"2.5"},{"sku":[]}],"email":" A@B ","phone":"+1 (555)","token":7}`))
	f.Add([]byte(`{"type":"page","messageId":"m-3","userId":123456789012345678901234567890,"name":null,"properties":{"url":"javascript:alert(1)"},"integrations":{"All":false,"Braze":true}}`))
	plans := fuzzPlans(f)
	env := &mappings.Env{}
	f.Fuzz(func(t *testing.T, raw []byte) {
		renderAll(t, plans, env, raw)
		// Bytes that are not an event but are a JSON object go in as the
		// properties, traits and context of one: most mutations of an event
		// break it, mutations of its insides then still reach the presets.
		var obj map[string]any
		if len(raw) < 16<<10 && json.Unmarshal(raw, &obj) == nil && (obj["type"] == nil || obj["messageId"] == nil) {
			for _, typ := range []string{`"track","event":"Order Completed"`, `"identify"`} {
				wrapped := fmt.Sprintf(`{"type":%s,"messageId":"m-w","userId":"u-w","properties":%s,"traits":%s,"context":{"traits":%s,"device":%s}}`, typ, raw, raw, raw, raw)
				renderAll(t, plans, env, []byte(wrapped))
			}
		}
	})
}

// renderAll previews and routes raw through every plan.
func renderAll(t *testing.T, plans []*plan.Plan, env *mappings.Env, raw []byte) {
	// The plans' own limit: 32 KiB and the intake's 1 KiB headroom.
	ev, decodeErr := mappings.Decode(raw, goldenNow, mappings.Limits{MaxBytes: 33 << 10})
	for _, p := range plans {
		pv := p.Preview(raw, plan.PreviewOptions{Source: "web", Now: goldenNow})
		if (decodeErr != nil) != (pv.Outcome == string(plan.Invalid)) {
			t.Fatalf("%s: preview outcome %q, decode error %v", p.Name, pv.Outcome, decodeErr)
		}
		checkFailures(t, p.Name, pv)
		if decodeErr != nil {
			continue
		}
		rt := p.Route(ev, "web", raw, env, plan.RouteOptions{})
		for _, o := range rt.Requests {
			body := o.Req.Body
			if len(body) == 0 {
				continue
			}
			if o.Batch != nil {
				b, err := destinations.BatchBody(*o.Batch, body)
				if err != nil {
					t.Fatalf("%s/%s: batch body: %v", p.Name, o.Action, err)
				}
				body = b
			}
			if !json.Valid(body) {
				t.Fatalf("%s/%s: body is not JSON:\n%s", p.Name, o.Action, body)
			}
		}
	}
}

// checkFailures: a render failure is a clean error, not a recovered Go
// panic inside a helper (expr turns those into errors too).
func checkFailures(t *testing.T, name string, pv plan.PreviewEvent) {
	t.Helper()
	for _, fl := range pv.Failures {
		if strings.Contains(fl.Error, "runtime error") || strings.Contains(fl.Error, "nil pointer") {
			t.Fatalf("%s/%s: a helper panicked: %s", name, fl.Action, fl.Error)
		}
	}
}

// FuzzValidate is `switchyard validate` over an arbitrary destination
// file: load, compile every expression, resolve presets. No panic, and
// every finding has a file, a line and a column.
func FuzzValidate(f *testing.F) {
	f.Add([]byte("type: http\nactions:\n  a:\n    trigger: |\n      type ==\n        \"track\" &&\n    url: \"https://x.test/{{ userId }\"\n    fields: {a: 'lower(', b: [1, \"x +\"]}\n"))
	f.Add([]byte("type: braze\nsettings: {api_key: \"${K}\", instance: US-03}\nactions:\n  track:\n    trigger: >\n      event ==\n    fields: {x: null, properties: {a: \"1 +\"}}\n  mine: {extends: nope}\n"))
	f.Add([]byte("type: webhook\nfilter: '\"'\nsettings: {url: ftp://x, secret: plain}\ndelivery: {insecure_skip_verify: true}\n"))
	dir := f.TempDir()
	dd := filepath.Join(dir, "destinations")
	must(f, os.MkdirAll(dd, 0o755))
	file := filepath.Join(dd, "fuzz.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		must(t, os.WriteFile(file, data, 0o644))
		cfg, diags := config.Load(dir, config.Options{Lookup: goldenEnv})
		if diags.Err() == nil {
			_, bd := plan.Build(cfg)
			diags = append(diags, bd...)
		}
		for _, d := range diags {
			if d.Pos.File != file || d.Pos.Line < 1 || d.Pos.Col < 1 || d.Message == "" {
				t.Fatalf("finding without a place: %q (%+v)", d.String(), d.Pos)
			}
		}
	})
}
