package plan_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/router/plan"
)

func buildDir(t *testing.T, dests map[string]string) config.Diagnostics {
	t.Helper()
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "destinations"), 0o755))
	for name, body := range dests {
		must(t, os.WriteFile(filepath.Join(dir, "destinations", name), []byte(body), 0o644))
	}
	cfg, diags := config.Load(dir, config.Options{Lookup: func(k string) (string, bool) { return "v-" + k, true }})
	if diags.Err() != nil {
		return diags
	}
	_, more := plan.Build(cfg)
	return append(diags, more...)
}

func TestBuildErrorsPointIntoTheFile(t *testing.T) {
	cases := []struct {
		name, dest string
		want       string
	}{
		{"expression inside trigger", "type: http\nactions:\n  a:\n    trigger: type == \"track\" && evnt == 1\n    url: https://x.test\n    fields: {a: userId}\n",
			`d.yaml:4:33: actions.a.trigger: unknown name evnt`},
		{"expression in fields", "type: http\nactions:\n  a:\n    url: https://x.test\n    fields:\n      total: properties.price *\n",
			`d.yaml:6:31: actions.a.fields.total: unexpected token EOF`},
		{"template in url", "type: http\nactions:\n  a:\n    url: https://x.test/{{ usrId }}\n    fields: {a: userId}\n",
			`d.yaml:4:28: actions.a.url: unknown name usrId`},
		{"unknown type", "type: brazee\n", `d.yaml:1:7: unknown destination type "brazee"`},
		{"webhook without url", "type: webhook\nsettings: {}\n", `d.yaml:2:11: webhook needs settings.url`},
		{"webhook literal secret", "type: webhook\nsettings:\n  url: https://x.test\n  secret: whsec_abc\n", `d.yaml:4:11: secret must come from the environment`},
		{"webhook bad url", "type: webhook\nsettings:\n  url: ftp://x\n", `d.yaml:3:8: "ftp://x" is not an http(s) URL`},
		{"http action without url", "type: http\nactions:\n  a:\n    fields: {a: userId}\n", `d.yaml:4:5: action a needs a url`},
		{"filter must be boolean", "type: webhook\nsettings: {url: https://x.test}\nfilter: properties\n", `d.yaml:3:9: filter:`},
		{"unknown method", "type: http\nactions:\n  a:\n    method: FETCH\n    url: https://x.test\n    fields: {a: 1}\n", `unknown HTTP method "FETCH"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			diags := buildDir(t, map[string]string{"d.yaml": c.dest})
			if diags.Err() == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			if !strings.Contains(diags.Error(), c.want) {
				t.Errorf("got:\n%s\nwant a line containing %q", diags.Error(), c.want)
			}
		})
	}
}

func TestTriggerNoEventCanSatisfyIsAWarning(t *testing.T) {
	diags := buildDir(t, map[string]string{"d.yaml": "type: http\nactions:\n  a:\n    trigger: type == \"trak\"\n    url: https://x.test\n    fields: {a: userId}\n"})
	if diags.Err() != nil {
		t.Fatalf("a warning must not fail the build: %v", diags)
	}
	if w := diags.Warnings(); len(w) != 1 || !strings.Contains(w[0].String(), "can never match") {
		t.Errorf("warnings = %v", w)
	}
}

// With the default budget (100000), map(1..100000, #) fails for the event
// at hand, and the preview says why.
func TestDefaultExprMemoryBudgetStopsAHugeList(t *testing.T) {
	p := planFromText(t, "type: http\nactions:\n  a:\n    url: https://x.test\n    fields:\n      all: 'map(1..100000, #)'\n      some: 'map(1..1000, #)'\n")
	pv := p.Preview([]byte(`{"type":"track","messageId":"m","userId":"u","event":"E"}`), plan.PreviewOptions{})
	if pv.Outcome != "failed" || len(pv.Failures) != 1 || !strings.Contains(pv.Failures[0].Error, "memory budget exceeded") ||
		!strings.Contains(pv.Failures[0].Error, "fields.all") {
		t.Fatalf("%+v", pv)
	}
}
