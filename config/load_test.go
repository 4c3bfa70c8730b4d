package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/config"
)

func writeDir(t *testing.T, global string, dests map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if global != "" {
		if err := os.WriteFile(filepath.Join(dir, config.GlobalFile), []byte(global), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, config.DestinationsDir), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range dests {
		if err := os.WriteFile(filepath.Join(dir, config.DestinationsDir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func env(vars map[string]string) config.Options {
	return config.Options{Lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }}
}

// Each case: a file's content and the diagnostics expected, as
// "file:line:col: message-substring".
func TestErrorsNameFileLineAndColumn(t *testing.T) {
	cases := []struct {
		name   string
		global string
		dest   string
		want   []string
	}{
		{
			name: "unknown key with suggestion",
			dest: "type: webhook\ndelivery:\n  timout: 3s\n",
			want: []string{`d.yaml:3:3: unknown key "timout" in delivery; did you mean "timeout"?`},
		},
		{
			name: "bad duration",
			dest: "type: webhook\ndelivery:\n  retry_window: 4 hours\n",
			want: []string{`d.yaml:3:17: delivery.retry_window: invalid duration "4 hours"`},
		},
		{
			name: "unset env var",
			dest: "type: webhook\nsettings:\n  url: ${NOPE_URL}\n",
			want: []string{`d.yaml:3:8: settings.url: environment variable NOPE_URL is not set`},
		},
		{
			name: "bad name",
			dest: "name: Braze Prod\ntype: braze\n",
			want: []string{`d.yaml:1:7: destination name "Braze Prod"`},
		},
		{
			name: "missing type",
			dest: "sources: [web]\n",
			want: []string{`d.yaml:1:1: missing type`},
		},
		{
			name:   "undeclared source",
			global: "sources:\n  - name: web\n",
			dest:   "type: webhook\nsources: [web, ios]\n",
			want:   []string{`d.yaml:2:16: source "ios" is not declared`},
		},
		{
			name: "wrong shape",
			dest: "type: webhook\nsources: web\n",
			want: []string{`d.yaml:2:10: sources: want a list`},
		},
		{
			name: "yaml syntax",
			dest: "type: webhook\nsettings: [\n",
			want: []string{`d.yaml:2:1: YAML syntax`},
		},
		{
			name: "bad start",
			dest: "type: webhook\nstart: yesterday\n",
			want: []string{`d.yaml:2:8: start "yesterday"`},
		},
		{
			name:   "global unknown key",
			global: "admin:\n  listn: 1\n",
			dest:   "type: webhook\n",
			want:   []string{`switchyard.yaml:2:3: unknown key "listn" in admin; did you mean "listen"?`},
		},
		{
			name:   "embedded beyond loopback without auth",
			global: "nats:\n  embedded:\n    listen: 0.0.0.0:4222\n",
			dest:   "type: webhook\n",
			want:   []string{`switchyard.yaml:3:13: the embedded NATS server would listen beyond loopback`},
		},
		{
			name:   "ingest without keys",
			global: "ingest:\n  enabled: true\n",
			dest:   "type: webhook\n",
			want:   []string{`switchyard.yaml:2:12: the HTTP intake needs write keys`},
		},
		{
			name:   "env reference in a flow list",
			global: "sources:\n  - name: web\n    write_keys: [${KEY}]\n",
			dest:   "type: webhook\n",
			want:   []string{`quote ${ENV} references: ["${WRITE_KEY}"]`},
		},
		{
			name: "duplicate key",
			dest: "type: webhook\ntype: http\n",
			want: []string{`d.yaml:2:1: `},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeDir(t, c.global, map[string]string{"d.yaml": c.dest})
			_, diags := config.Load(dir, env(nil))
			if diags.Err() == nil {
				t.Fatalf("no error; want %v", c.want)
			}
			got := diags.Error()
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("diagnostics:\n%s\nwant a line containing %q", got, w)
				}
			}
		})
	}
}

func TestEveryErrorIsReportedInOnePass(t *testing.T) {
	dir := writeDir(t, "log:\n  level: loud\n", map[string]string{
		"a.yaml": "type: webhook\ndelivery:\n  timout: 1s\n  ordering: random\n",
		"b.yaml": "name: a\ntype: webhook\nfilter: x\n",
	})
	_, diags := config.Load(dir, env(nil))
	msgs := diags.Error()
	for _, w := range []string{"log level \"loud\"", "unknown key \"timout\"", "ordering \"random\"", `destination name "a" is already used`} {
		if !strings.Contains(msgs, w) {
			t.Errorf("missing %q in:\n%s", w, msgs)
		}
	}
}

func TestEnvReferencesExpandAndAreRecorded(t *testing.T) {
	dir := writeDir(t, "", map[string]string{"hook.yaml": "type: webhook\nsettings:\n  url: ${HOOK_URL}\n  secret: ${SECRET:-whsec_default}\n  headers:\n    X-Literal: $${NOT_A_VAR}\nfilter: '\"${KEEP}\" != \"\"'\n"})
	cfg, diags := config.Load(dir, env(map[string]string{"HOOK_URL": "https://example.com/h"}))
	if diags.Err() != nil {
		t.Fatal(diags)
	}
	d := cfg.Destinations[0]
	if d.Name != "hook" {
		t.Errorf("name from file = %q", d.Name)
	}
	if d.Settings["url"] != "https://example.com/h" || d.Settings["secret"] != "whsec_default" {
		t.Errorf("settings = %v", d.Settings)
	}
	if h := d.Settings["headers"].(map[string]any)["X-Literal"]; h != "${NOT_A_VAR}" {
		t.Errorf("escaped reference = %v", h)
	}
	if !strings.Contains(d.Filter, "${KEEP}") {
		t.Errorf("expressions must not be expanded: %q", d.Filter)
	}
	got := map[string]string{}
	for _, x := range d.Expansions {
		got[x.Path] = x.Value
	}
	if got["settings.url"] != "https://example.com/h" || got["settings.secret"] != "whsec_default" {
		t.Errorf("expansions = %v", d.Expansions)
	}
}

func TestExprPosPointsInsideTheExpression(t *testing.T) {
	dest := "type: http\nactions:\n  a:\n    trigger: type == \"track\" && evnt == 1\n    fields:\n      x: 'properties.y'\n      z: |\n        1 +\n          bad(\n"
	dir := writeDir(t, "", map[string]string{"d.yaml": dest})
	cfg, diags := config.Load(dir, env(nil))
	if diags.Err() != nil {
		t.Fatal(diags)
	}
	d := cfg.Destinations[0]
	if p := cfg.ExprPos(d, "actions.a.trigger", 1, 23); p.Line != 4 || p.Col != 36 {
		t.Errorf("plain scalar: %v, want line 4 col 36", p)
	}
	if p := cfg.ExprPos(d, "actions.a.fields.x", 1, 1); p.Line != 6 || p.Col != 11 {
		t.Errorf("quoted scalar: %v, want 6:11", p)
	}
	if p := cfg.ExprPos(d, "actions.a.fields.z", 2, 3); p.Line != 9 || p.Col != 11 {
		t.Errorf("block scalar: %v, want 9:11", p)
	}
}

func TestDurationsAcceptDays(t *testing.T) {
	d, err := config.ParseDuration("7d")
	if err != nil || d.String() != "7d" || d.D().Hours() != 168 {
		t.Errorf("7d = %v, %v", d, err)
	}
	if _, err := config.ParseDuration("-1s"); err == nil {
		t.Error("negative durations must be refused")
	}
}

func TestOversizeFileIsRefused(t *testing.T) {
	dir := writeDir(t, "", map[string]string{"big.yaml": "type: webhook\n# " + strings.Repeat("x", config.MaxFileBytes) + "\n"})
	_, diags := config.Load(dir, env(nil))
	if !strings.Contains(diags.Error(), "over the 1048576 byte limit") {
		t.Errorf("diags = %v", diags)
	}
}
