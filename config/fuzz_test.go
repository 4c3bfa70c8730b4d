package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/config"
)

// The config fuzzers: an operator's file, however broken, is answered with
// diagnostics at a place in it, never with a panic or a hang. Seed corpora
// live in testdata/fuzz/<FuzzName>/ (scripts/fuzzseeds.go).

// fuzzLookup resolves every ${VAR} but UNSET, so that expansion and its
// errors are both exercised.
func fuzzLookup(name string) (string, bool) {
	if name == "UNSET" {
		return "", false
	}
	return "v-" + strings.ToLower(name), true
}

// FuzzConfigLoad loads a config directory whose one destination file holds
// arbitrary bytes.
func FuzzConfigLoad(f *testing.F) {
	for _, s := range []string{
		"type: webhook\nsettings:\n  url: ${HOOK_URL}\n  secret: ${HOOK_SECRET}\n",
		"type: http\nactions:\n  a:\n    trigger: type == \"track\"\n    url: https://x.test/{{ userId }}\n    fields: {a: userId, b: [1, true, null]}\n",
		"type: braze\nsettings: &s {api_key: \"${K}\", instance: US-03}\npresets: [identify]\nactions:\n  x:\n    <<: {extends: track}\n",
		"a: &a [*a]\n",
		"delivery:\n  timeout: 10x\n  rate: {rps: -1}\n  batch: {max_items: 1_000_000}\n",
		"- a\n- b\n",
		"type: http\nsettings: {k: ${UNSET}}\n",
		// An alias inside the value it names, and a merge key merging its
		// own mapping: both once recursed until the stack ran out.
		"type: http\nsettings: &a\n  x: *a\n",
		"type: http\nactions: &a\n  x:\n    <<: *a\n    fields: &f {a: [*f]}\n",
		// An alias bomb: nine levels of ten aliases each.
		billionLaughs(),
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir() // one per fuzzing process: inputs run one at a time
	dd := filepath.Join(dir, config.DestinationsDir)
	if err := os.MkdirAll(dd, 0o755); err != nil {
		f.Fatal(err)
	}
	file := filepath.Join(dd, "fuzz.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, diags := config.Load(dir, config.Options{Lookup: fuzzLookup})
		checkDiagnostics(t, diags)
		if cfg == nil {
			t.Fatal("no config for an existing directory")
		}
		if diags.Err() == nil {
			if len(cfg.Destinations) > 1 {
				t.Fatalf("one file, %d destinations", len(cfg.Destinations))
			}
			for _, d := range cfg.Destinations {
				if !config.NamePattern.MatchString(d.Name) {
					t.Fatalf("accepted destination name %q", d.Name)
				}
			}
		}
	})
}

func billionLaughs() string {
	var b strings.Builder
	b.WriteString("type: http\nsettings:\n  l0: &l0 lol\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, "  l%d: &l%d [", i, i)
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*l%d", i-1)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

// FuzzConfigGlobal loads a config directory whose switchyard.yaml holds
// arbitrary bytes.
func FuzzConfigGlobal(f *testing.F) {
	for _, s := range []string{
		"nats:\n  url: nats://a:4222\n  credentials: /x.creds\nadmin: {listen: 127.0.0.1:8088, token: ${T}}\n",
		"nats:\n  embedded: {listen: 0.0.0.0:4222, allow_remote: true}\nlimits: {max_event_bytes: 100, max_depth: 2}\n",
		"sources:\n  - name: web\n    write_keys: [\"${W}\", x]\n  - {name: web}\ningest: {enabled: true}\n",
		"streams: {max_age: 7d, replicas: 9}\ndefaults:\n  delivery: {backoff: {initial: 1m, max: 1s}}\n",
		"x: &x {<<: *x}\n",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, config.GlobalFile), data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, diags := config.Load(dir, config.Options{Lookup: fuzzLookup})
		checkDiagnostics(t, diags)
	})
}

// checkDiagnostics: every finding names its file and, for a file that was
// read, a line and column in it.
func checkDiagnostics(t *testing.T, diags config.Diagnostics) {
	t.Helper()
	for _, d := range diags {
		if d.Pos.File == "" {
			t.Fatalf("diagnostic without a file: %q", d.Message)
		}
		if d.Message == "" {
			t.Fatalf("diagnostic without a message at %s", d.Pos)
		}
		if strings.HasSuffix(d.Pos.File, ".yaml") && (d.Pos.Line < 1 || d.Pos.Col < 1) {
			t.Fatalf("diagnostic without a line and column: %s", d)
		}
	}
}
