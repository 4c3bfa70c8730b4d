package config_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/router/plan"
)

// update rewrites the generated files (docs/schema/*.json and
// docs/configuration.md): go test ./config -update
var update = flag.Bool("update", false, "rewrite docs/schema/*.json and docs/configuration.md from the generators")

const schemaDir = "../docs/schema"

// catalogTools converts the real catalog exactly as `switchyard schema`
// does.
func catalogTools(t *testing.T) []config.ToolSchema {
	t.Helper()
	out, err := plan.ToolSchemas()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// acme is a stand-in tool, so the catalog rules are tested whatever the
// real catalog holds.
var acme = config.ToolSchema{
	Name: "acme", Title: "Acme", Description: "A test tool.",
	Settings: []config.ToolSetting{
		{Name: "api_key", Description: "API key.", Required: true, Secret: true},
		{Name: "region", Description: "Data center.", Enum: []string{"us", "eu"}, Default: "us"},
		{Name: "endpoint", Description: "Base URL.", Format: "uri"},
		{Name: "batch_size", Description: "Items per call.", Type: "number"},
	},
	Presets: []string{"track_event", "identify_user"},
}

func compileSchema(t *testing.T, data []byte) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	id, _ := doc.(map[string]any)["$id"].(string)
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(id, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(id)
	if err != nil {
		t.Fatalf("schema does not compile: %v", err)
	}
	return s
}

func globalSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	b, err := config.GlobalSchema()
	if err != nil {
		t.Fatal(err)
	}
	return compileSchema(t, b)
}

func destinationSchema(t *testing.T, tools []config.ToolSchema) *jsonschema.Schema {
	t.Helper()
	b, err := config.DestinationSchema(tools)
	if err != nil {
		t.Fatal(err)
	}
	return compileSchema(t, b)
}

// asDraft07 relabels a schema as draft-07, the draft yaml-language-server
// implements: the generated schemas must mean the same under it.
func asDraft07(t *testing.T, data []byte) *jsonschema.Schema {
	t.Helper()
	const from, to = `"$schema": "https://json-schema.org/draft/2020-12/schema"`, `"$schema": "http://json-schema.org/draft-07/schema#"`
	if !bytes.Contains(data, []byte(from)) {
		t.Fatalf("schema does not declare draft 2020-12")
	}
	return compileSchema(t, bytes.Replace(data, []byte(from), []byte(to), 1))
}

// yamlValue reads YAML as the JSON value an editor validates.
func yamlValue(t *testing.T, src string) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(src), &v); err != nil {
		t.Fatalf("YAML: %v", err)
	}
	if v == nil {
		v = map[string]any{}
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("YAML to JSON: %v", err)
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSchemaFilesAreCurrent(t *testing.T) {
	global, err := config.GlobalSchema()
	if err != nil {
		t.Fatal(err)
	}
	dest, err := config.DestinationSchema(catalogTools(t))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]byte{config.GlobalSchemaFile: global, config.DestinationSchemaFile: dest} {
		path := filepath.Join(schemaDir, name)
		if *update {
			if err := os.MkdirAll(schemaDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (generate it: go test ./config -run TestSchemaFilesAreCurrent -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: regenerate it with go test ./config -run TestSchemaFilesAreCurrent -update", path)
		}
	}
}

var modeline = regexp.MustCompile(`(?m)^#\s*yaml-language-server:\s*\$schema=(\S+)`)

// TestExamplesPassTheSchema: every config file in examples/ is valid for
// the schema its modeline names (or its place: switchyard.yaml,
// destinations/*.yaml).
func TestExamplesPassTheSchema(t *testing.T) {
	global, dest := globalSchema(t), destinationSchema(t, catalogTools(t))
	seen := map[string]int{}
	err := filepath.WalkDir("../examples", func(path string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() || !(strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		kind := ""
		switch {
		case modeline.Match(data):
			kind = filepath.Base(modeline.FindStringSubmatch(string(data))[1])
		case filepath.Base(path) == config.GlobalFile:
			kind = config.GlobalSchemaFile
		case filepath.Base(filepath.Dir(path)) == config.DestinationsDir:
			kind = config.DestinationSchemaFile
		}
		var s *jsonschema.Schema
		switch kind {
		case config.GlobalSchemaFile:
			s = global
		case config.DestinationSchemaFile:
			s = dest
		default:
			t.Logf("%s: not a switchyard config file; skipped", path)
			return nil
		}
		seen[kind]++
		if err := s.Validate(yamlValue(t, string(data))); err != nil {
			t.Errorf("%s fails %s:\n%v", path, kind, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen[config.GlobalSchemaFile] == 0 || seen[config.DestinationSchemaFile] == 0 {
		t.Fatalf("examples checked: %v; want at least one global and one destination file", seen)
	}
}

// agreementEnv is the environment of TestSchemaAgreesWithTheLoader.
var agreementEnv = map[string]string{"REPLICAS": "3", "WATCH": "false", "LOG_LEVEL": "debug",
	"HOOK_URL": "https://hooks.example.com/in", "HOOK_SECRET": "whsec_c2VjcmV0", "ACME_KEY": "k", "K": "k"}

// loads reports whether Load accepts doc as switchyard.yaml (global) or
// as a destination file.
func loads(t *testing.T, global bool, doc string) (bool, string) {
	t.Helper()
	g, dests := "", map[string]string{"d.yaml": doc}
	if global {
		g, dests = doc, nil
	}
	_, diags := config.Load(writeDir(t, g, dests), env(agreementEnv))
	return diags.Err() == nil, diags.Error()
}

// The schema agrees with Load: what Load refuses, the schema refuses, and
// what it accepts (env references in typed keys included), the schema
// accepts, read as draft 2020-12 and as draft-07 alike. Catalog rules (required and secret settings, presets) are the
// router's, so for them only the schema side is asserted.
func TestSchemaAgreesWithTheLoader(t *testing.T) {
	globalJSON, err := config.GlobalSchema()
	if err != nil {
		t.Fatal(err)
	}
	destJSON, err := config.DestinationSchema([]config.ToolSchema{acme})
	if err != nil {
		t.Fatal(err)
	}
	schemas := map[bool][]*jsonschema.Schema{
		true:  {compileSchema(t, globalJSON), asDraft07(t, globalJSON)},
		false: {compileSchema(t, destJSON), asDraft07(t, destJSON)},
	}
	const hook = "type: webhook\nsettings:\n  url: https://hooks.example.com/in\n"
	cases := []struct {
		name   string
		global bool
		doc    string
		valid  bool
		router bool // a rule the router checks (catalog, webhook settings, methods), not Load
	}{
		{name: "empty global file", global: true, doc: "", valid: true},
		{name: "unknown global key", global: true, doc: "nats:\n  urll: nats://x:4222\n"},
		{name: "unknown top-level key", global: true, doc: "logging:\n  level: info\n"},
		{name: "env references in typed keys", global: true, valid: true,
			doc: "streams:\n  replicas: ${REPLICAS}\n  max_age: ${MAX_AGE:-7d}\nreload:\n  watch: ${WATCH}\nlimits:\n  max_depth: 16\n"},
		{name: "durations Go writes and days", global: true, valid: true,
			doc: "streams:\n  max_age: 1.5d\n  duplicates: 1h30m\n  dlq_max_age: 30d\ndefaults:\n  delivery:\n    timeout: 250ms\n"},
		{name: "bad duration", global: true, doc: "streams:\n  max_age: 7 days\n"},
		{name: "duration without unit", global: true, doc: "defaults:\n  delivery:\n    timeout: \"10\"\n"},
		{name: "bool that is not one", global: true, doc: "reload:\n  watch: maybe\n"},
		{name: "negative number", global: true, doc: "limits:\n  max_depth: -1\n"},
		{name: "unknown log level", global: true, doc: "log:\n  level: verbose\n"},
		{name: "log level from env", global: true, doc: "log:\n  level: ${LOG_LEVEL}\n", valid: true},
		{name: "source name with capitals", global: true, doc: "sources:\n  - name: Web\n"},
		{name: "source without name", global: true, doc: "sources:\n  - write_keys: [k1]\n"},
		{name: "too many replicas", global: true, doc: "streams:\n  replicas: 7\n"},

		{name: "webhook", doc: hook, valid: true},
		{name: "webhook url from env", doc: "type: webhook\nsettings:\n  url: ${HOOK_URL}\n  secret: ${HOOK_SECRET}\n", valid: true},
		{name: "missing type", doc: "settings:\n  url: https://hooks.example.com/in\n"},
		{name: "unknown type", doc: "type: brazee\n", router: true},
		{name: "unknown destination key", doc: hook + "delivery:\n  timout: 3s\n"},
		{name: "bad retry window", doc: hook + "delivery:\n  retry_window: 4 hours\n"},
		{name: "bad name", doc: hook + "name: Braze Prod\n"},
		{name: "bad action name", doc: hook + "actions:\n  Send It:\n    fields: {a: b}\n"},
		{name: "bad start", doc: hook + "start: yesterday\n"},
		{name: "start at a time", doc: hook + "start: \"2026-01-02T15:04:05Z\"\n", valid: true},
		{name: "ordering", doc: hook + "delivery:\n  ordering: user\n", valid: true},
		{name: "unknown ordering", doc: hook + "delivery:\n  ordering: fifo\n"},
		{name: "batch too large", doc: hook + "delivery:\n  batch:\n    max_items: 200000\n"},
		{name: "action with fields tree", valid: true, doc: hook + "actions:\n  track:\n    trigger: type == \"track\"\n    method: PUT\n" +
			"    fields:\n      id: messageId\n      n: 1\n      on: true\n      items: map(products(), .sku)\n      gone: null\n      nested: {a: [x, 2]}\n"},
		{name: "unknown action key", doc: hook + "actions:\n  track:\n    trigger: \"true\"\n    body: {a: b}\n"},
		{name: "unknown method", doc: hook + "actions:\n  track:\n    method: FETCH\n", router: true},
		{name: "webhook without url", doc: "type: webhook\nsettings:\n  headers: {X-A: b}\n", router: true},
		{name: "webhook without settings", doc: "type: webhook\n", router: true},
		{name: "unknown webhook setting", doc: hook + "  token: x\n", router: true},
		{name: "webhook secret as value", doc: hook + "  secret: whsec_abc\n", router: true},
		{name: "webhook url that is no URL", doc: "type: webhook\nsettings:\n  url: hooks.example.com\n", router: true},
		{name: "extends on a webhook", doc: hook + "actions:\n  a:\n    extends: track\n", router: true},
		{name: "http with free settings", doc: "type: http\nsettings:\n  anything: 1\n  nested: {a: b}\n", valid: true},

		{name: "catalog tool", doc: "type: acme\nsettings:\n  api_key: ${ACME_KEY}\n  region: eu\n  batch_size: 50\npresets: [track_event]\nactions:\n  purchase:\n    extends: track_event\n", valid: true},
		{name: "missing required catalog setting", doc: "type: acme\nsettings:\n  region: eu\n", router: true},
		{name: "catalog tool without settings", doc: "type: acme\n", router: true},
		{name: "empty required catalog setting", doc: "type: acme\nsettings:\n  api_key: \"\"\n", router: true},
		{name: "catalog secret as value", doc: "type: acme\nsettings:\n  api_key: sk_live_123\n", router: true},
		{name: "unknown catalog setting", doc: "type: acme\nsettings:\n  api_key: ${K}\n  apikey: x\n", router: true},
		{name: "unknown enum value", doc: "type: acme\nsettings:\n  api_key: ${K}\n  region: mars\n", router: true},
		{name: "number setting as text", doc: "type: acme\nsettings:\n  api_key: ${K}\n  batch_size: fifty\n", router: true},
		{name: "endpoint that is no URL", doc: "type: acme\nsettings:\n  api_key: ${K}\n  endpoint: ftp://x\n", router: true},
		{name: "unknown preset", doc: "type: acme\nsettings:\n  api_key: ${K}\npresets: [track]\n", router: true},
		{name: "extends an unknown preset", doc: "type: acme\nsettings:\n  api_key: ${K}\nactions:\n  a:\n    extends: nope\n", router: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for i, s := range schemas[c.global] {
				draft := []string{"2020-12", "draft-07"}[i]
				err := s.Validate(yamlValue(t, c.doc))
				if c.valid && err != nil {
					t.Errorf("%s schema refuses a valid document:\n%s\n%v", draft, c.doc, err)
				}
				if !c.valid && err == nil {
					t.Errorf("%s schema accepts an invalid document:\n%s", draft, c.doc)
				}
			}
			if c.router {
				return
			}
			ok, diags := loads(t, c.global, c.doc)
			if ok != c.valid {
				t.Errorf("Load disagrees with the schema (Load accepts: %v): %s\n%s", ok, diags, c.doc)
			}
		})
	}
}

// Every real tool with a required setting (and no default) is refused
// without it.
func TestSchemaRequiresEachToolsRequiredSettings(t *testing.T) {
	tools := catalogTools(t)
	dest := destinationSchema(t, tools)
	for _, tool := range tools {
		for _, s := range tool.Settings {
			if !s.Required || s.Default != nil {
				continue
			}
			doc := "type: " + tool.Name + "\nsettings: {}\n"
			if err := dest.Validate(yamlValue(t, doc)); err == nil {
				t.Errorf("%s: a file without %s passes the schema", tool.Name, s.Name)
			}
		}
	}
}

func TestDestinationSchemaListsEveryType(t *testing.T) {
	b, err := config.DestinationSchema([]config.ToolSchema{acme})
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Properties struct {
			Type struct {
				Enum []string `json:"enum"`
			} `json:"type"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.Properties.Type.Enum, ","); got != "webhook,http,acme" {
		t.Errorf("type enum = %s, want webhook,http,acme", got)
	}
}

func TestDestinationSchemaRefusesAnUnknownSettingFormat(t *testing.T) {
	_, err := config.DestinationSchema([]config.ToolSchema{{Name: "x", Settings: []config.ToolSetting{{Name: "a", Format: "uuid"}}}})
	if err == nil || !strings.Contains(err.Error(), `tool x: setting a: unknown string format "uuid"`) {
		t.Errorf("err = %v, want the tool, setting and format named", err)
	}
}

// The catalog's golden cases are destination files operators could write:
// each passes the schema, so the schema is not stricter than real use.
func TestCatalogGoldenDestinationsPassTheSchema(t *testing.T) {
	dest := destinationSchema(t, catalogTools(t))
	files, err := filepath.Glob("../destinations/catalog/*/testdata/*/destination.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := dest.Validate(yamlValue(t, string(data))); err != nil {
			t.Errorf("%s fails the destination schema:\n%v", f, err)
		}
	}
}
