package config_test

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/switchyard/switchyard/config"
)

const referenceFile = "../docs/configuration.md"

// The -update flag is defined in schema_test.go.

func TestReferenceIsCurrent(t *testing.T) {
	want := config.Reference()
	if *update {
		if err := os.WriteFile(referenceFile, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(referenceFile)
	if err != nil {
		t.Fatalf("%v (generate it: go test ./config -run TestReferenceIsCurrent -update)", err)
	}
	if string(got) != want {
		t.Errorf("%s is stale: regenerate it with go test ./config -run TestReferenceIsCurrent -update", referenceFile)
	}
}

var yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// Every YAML block of the reference is a whole file, named by its first
// line; together they form a config directory that loads without an error
// and whose files pass their schema.
func TestReferenceExamplesLoadAndPassTheSchema(t *testing.T) {
	blocks := yamlBlock.FindAllStringSubmatch(config.Reference(), -1)
	if len(blocks) < 4 {
		t.Fatalf("%d YAML examples in the reference; want a global file and webhook, http and catalog destinations", len(blocks))
	}
	tools := catalogTools(t)
	known := map[string]bool{"webhook": true, "http": true}
	for _, tool := range tools {
		known[tool.Name] = true
	}
	global, dest := globalSchema(t), destinationSchema(t, tools)
	dir := t.TempDir()
	types := map[string]bool{}
	for _, b := range blocks {
		body := b[1]
		first, _, _ := strings.Cut(body, "\n")
		name := strings.TrimSpace(strings.TrimPrefix(first, "#"))
		if name != config.GlobalFile && !(strings.HasPrefix(name, config.DestinationsDir+"/") && strings.HasSuffix(name, ".yaml")) {
			t.Errorf("a YAML example must start with the file it is (# switchyard.yaml or # destinations/NAME.yaml), not %q", first)
			continue
		}
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if name == config.GlobalFile {
			if err := global.Validate(yamlValue(t, body)); err != nil {
				t.Errorf("%s fails the schema: %v", name, err)
			}
			continue
		}
		var d struct {
			Type string `yaml:"type"`
		}
		if err := yaml.Unmarshal([]byte(body), &d); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		types[d.Type] = true
		if !known[d.Type] {
			t.Logf("%s: type %s is not in the catalog yet; schema check skipped", name, d.Type)
			continue
		}
		if err := dest.Validate(yamlValue(t, body)); err != nil {
			t.Errorf("%s fails the schema: %v", name, err)
		}
	}
	if !types["webhook"] || !types["http"] || len(types) < 3 {
		t.Errorf("example destination types %v; want webhook, http and a catalog tool", types)
	}
	lookup := func(name string) (string, bool) { return "value-of-" + strings.ToLower(name), true }
	cfg, diags := config.Load(dir, config.Options{Lookup: lookup})
	if len(diags) > 0 {
		t.Fatalf("the reference's examples do not load cleanly:\n%s", diags.Error())
	}
	if len(cfg.Destinations) != len(types) {
		t.Errorf("loaded %d destinations, want %d", len(cfg.Destinations), len(types))
	}
}

// Every key of every config struct has a row in the reference.
func TestReferenceHasARowForEveryKey(t *testing.T) {
	ref := config.Reference()
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type)
	walk = func(typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] {
			return
		}
		seen[typ] = true
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			key := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if !f.IsExported() || key == "" || key == "-" {
				continue
			}
			if !strings.Contains(ref, "| `"+key+"` |") {
				t.Errorf("%s.%s: no row for key %q", typ.Name(), f.Name, key)
			}
			if f.Tag.Get("doc") == "" {
				t.Errorf("%s.%s: no doc tag", typ.Name(), f.Name)
			}
			walk(f.Type)
		}
	}
	walk(reflect.TypeOf(config.Global{}))
	walk(reflect.TypeOf(config.Destination{}))
}
