package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/router/plan"
)

func TestBuildVersionPrefersLdflagsThenBuildInfo(t *testing.T) {
	vcs := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"}, {Key: "vcs.modified", Value: "true"},
	}}
	installed := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"}}
	for _, c := range []struct {
		name, v, c string
		bi         *debug.BuildInfo
		want       string
	}{
		{"make build (-X)", "v1.4.0-3-gabc1234-dirty", "abc1234abc1234abc1234abc1234abc1234abc12", vcs, "v1.4.0-3-gabc1234-dirty (commit abc1234abc1234abc1234abc1234abc1234abc12, go1.26.8 "},
		{"go build in a checkout", "", "", vcs, "dev (commit 0123456789abcdef0123456789abcdef01234567, modified, go1.26.8 "},
		{"go install module@version", "", "", installed, "v1.4.0 (commit unknown, go1.26.8 "},
		{"no build info", "", "", nil, "dev (commit unknown, "},
	} {
		if got := buildVersion(c.v, c.c, c.bi); !strings.HasPrefix(got, c.want) {
			t.Errorf("%s: %q, want it to start with %q", c.name, got, c.want)
		}
	}
}

// The built-in types `catalog` describes are the ones the router and the
// editor schema know, with the same settings, and their examples build.
func TestBuiltinTypesMatchTheRouterAndTheSchema(t *testing.T) {
	if got, want := builtinTypeNames(), config.BuiltinTypes; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("catalog describes %v, config knows %v", got, want)
	}
	tools, err := plan.ToolSchemas()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := config.DestinationSchema(tools)
	if err != nil {
		t.Fatal(err)
	}
	var schema any
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	webhook := settingsWhenType(schema, "webhook")
	if webhook == nil {
		t.Fatal("no webhook settings in the destination schema")
	}
	var described []string
	for _, s := range builtinTypes[0].Settings {
		described = append(described, s[0])
	}
	sort.Strings(webhook)
	sort.Strings(described)
	if strings.Join(webhook, ",") != strings.Join(described, ",") {
		t.Errorf("webhook settings: schema has %v, catalog webhook describes %v", webhook, described)
	}
	for _, b := range builtinTypes {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "destinations"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "switchyard.yaml"), []byte("sources:\n  - name: web\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "destinations", "x.yaml"), []byte(b.Example+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Setenv("WAREHOUSE_HOOK_SECRET", "whsec_dGVzdC1zZWNyZXQtb2YtYXQtbGVhc3QtMjQtYnl0ZXM=")
		t.Setenv("CRM_API_KEY", "k")
		if _, plans, diags := loadAndBuild(dir); diags.Err() != nil || plans["x"] == nil {
			t.Errorf("catalog %s's example does not build: %v", b.Name, diags)
		}
	}
}

// settingsWhenType finds, in a JSON Schema, the settings properties of the
// branch whose if says type == name.
func settingsWhenType(n any, name string) []string {
	switch x := n.(type) {
	case map[string]any:
		if cond, ok := x["if"].(map[string]any); ok {
			if props, ok := cond["properties"].(map[string]any); ok {
				if typ, ok := props["type"].(map[string]any); ok && typ["const"] == name {
					then, _ := x["then"].(map[string]any)
					tp, _ := then["properties"].(map[string]any)
					st, _ := tp["settings"].(map[string]any)
					sp, _ := st["properties"].(map[string]any)
					var out []string
					for k := range sp {
						out = append(out, k)
					}
					return out
				}
			}
		}
		for _, v := range x {
			if out := settingsWhenType(v, name); out != nil {
				return out
			}
		}
	case []any:
		for _, v := range x {
			if out := settingsWhenType(v, name); out != nil {
				return out
			}
		}
	}
	return nil
}
