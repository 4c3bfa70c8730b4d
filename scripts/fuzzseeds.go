//go:build ignore

// fuzzseeds writes the seed corpora of the fuzzers (testdata/fuzz/<Fuzz>/
// of mappings, config and router) from the project's own data: the
// `message` objects of the peer corpus (internal/peercorpus/testdata), the
// catalog's golden cases and definitions, and the example configs. Run it
// once from the repository root when those change:
//
//	go run scripts/fuzzseeds.go
//
// It rewrites only the files named seed-*; inputs the fuzzers found
// (crashers kept as regression seeds) are left alone. The corpora are kept
// small (see budget): they are starting points, not a test suite.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// budget is the most bytes of seeds per fuzz target.
const budget = 300 << 10

type corpus struct {
	dir   string // package dir
	name  string // Fuzz target
	kind  string // "[]byte" or "string"
	seeds []string
}

func main() {
	peer := peerMessages()
	golden := globAll("destinations/catalog/*/testdata/*/event.json")
	goldenDest := globAll("destinations/catalog/*/testdata/*/destination.yaml")
	exampleDest := globAll("examples/*/destinations/*.yaml")
	exampleGlobal := globAll("examples/*/switchyard.yaml")
	exprs, templates := definitionExprs()

	renderSeeds := append([]string{}, golden...)
	for _, m := range peer {
		if ok, s := normalised(m); ok {
			renderSeeds = append(renderSeeds, s)
		}
	}
	corpora := []corpus{
		{"mappings", "FuzzDecode", "[]byte", append(append([]string{}, golden...), peer...)},
		{"mappings", "FuzzDecodePaths", "[]byte", append(append([]string{}, golden...), peer...)},
		{"mappings", "FuzzExpr", "string", exprs},
		{"mappings", "FuzzTemplate", "string", templates},
		{"router", "FuzzRenderPresets", "[]byte", renderSeeds},
		{"router", "FuzzValidate", "[]byte", append(append([]string{}, goldenDest...), exampleDest...)},
		{"config", "FuzzConfigLoad", "[]byte", append(append([]string{}, goldenDest...), exampleDest...)},
		{"config", "FuzzConfigGlobal", "[]byte", append(exampleGlobal, docGlobals()...)},
	}
	total := 0
	for _, c := range corpora {
		n, size := write(c)
		total += size
		fmt.Printf("%s/testdata/fuzz/%s: %d seeds, %d bytes\n", c.dir, c.name, n, size)
	}
	fmt.Printf("total %d bytes\n", total)
}

func write(c corpus) (int, int) {
	dir := filepath.Join(c.dir, "testdata", "fuzz", c.name)
	check(os.MkdirAll(dir, 0o755))
	old, _ := filepath.Glob(filepath.Join(dir, "seed-*"))
	for _, f := range old {
		check(os.Remove(f))
	}
	seen := map[string]bool{}
	n, size := 0, 0
	for _, s := range c.seeds {
		if s == "" || seen[s] || size+len(s) > budget {
			continue
		}
		seen[s] = true
		sum := sha256.Sum256([]byte(s))
		body := fmt.Sprintf("go test fuzz v1\n%s(%q)\n", c.kind, s)
		check(os.WriteFile(filepath.Join(dir, "seed-"+hex.EncodeToString(sum[:8])), []byte(body), 0o644))
		n++
		size += len(body)
	}
	return n, size
}

// peerMessages are the Segment events of the peer corpus: every object
// under a "message" key that has a type, in compact JSON, in file order.
func peerMessages() []string {
	var out []string
	for _, f := range globFiles("internal/peercorpus/testdata/rudder-transformer-2023/*.json") {
		var v any
		data, err := os.ReadFile(f)
		check(err)
		if json.Unmarshal(data, &v) != nil {
			continue
		}
		walk(v, func(m map[string]any) {
			if msg, ok := m["message"].(map[string]any); ok {
				if _, typed := msg["type"]; typed {
					b, err := json.Marshal(msg)
					check(err)
					out = append(out, string(b))
				}
			}
		})
	}
	return out
}

func walk(v any, fn func(map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		fn(x)
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			walk(x[k], fn)
		}
	case []any:
		for _, e := range x {
			walk(e, fn)
		}
	}
}

// normalised makes a peer message a valid event where it is nearly one (the
// peer's fixtures often lack a messageId), so that render fuzzing starts
// past the decoder.
func normalised(msg string) (bool, string) {
	var m map[string]any
	if json.Unmarshal([]byte(msg), &m) != nil {
		return false, ""
	}
	if _, ok := m["messageId"]; !ok {
		sum := sha256.Sum256([]byte(msg))
		m["messageId"] = "peer-" + hex.EncodeToString(sum[:6])
	}
	if m["userId"] == nil && m["anonymousId"] == nil {
		m["anonymousId"] = "peer-anon"
	}
	b, err := json.Marshal(m)
	check(err)
	return true, string(b)
}

// definitionExprs are the catalog's expressions (triggers, foreach, field
// leaves) and templates (urls, headers).
func definitionExprs() (exprs, templates []string) {
	for _, f := range globFiles("destinations/catalog/*/definition.yaml") {
		var def any
		data, err := os.ReadFile(f)
		check(err)
		check(yaml.Unmarshal(data, &def))
		collect(def, "", &exprs, &templates)
	}
	return exprs, templates
}

func collect(v any, key string, exprs, templates *[]string) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			collect(x[k], k, exprs, templates)
		}
	case []any:
		for _, e := range x {
			collect(e, key, exprs, templates)
		}
	case string:
		switch {
		case key == "url" || strings.Contains(x, "{{"):
			*templates = append(*templates, x)
		case key == "trigger" || key == "foreach" || strings.ContainsAny(x, "()=.") && !strings.Contains(x, " ") || strings.Contains(x, "(") && strings.Contains(x, ")"):
			*exprs = append(*exprs, x)
		}
	}
}

var yamlBlock = regexp.MustCompile("(?s)```yaml\n(# switchyard.yaml\n.*?)```")

// docGlobals are the switchyard.yaml examples of docs/configuration.md.
func docGlobals() []string {
	data, err := os.ReadFile("docs/configuration.md")
	check(err)
	var out []string
	for _, m := range yamlBlock.FindAllStringSubmatch(string(data), -1) {
		out = append(out, m[1])
	}
	return out
}

func globFiles(pattern string) []string {
	files, err := filepath.Glob(pattern)
	check(err)
	sort.Strings(files)
	return files
}

func globAll(pattern string) []string {
	var out []string
	for _, f := range globFiles(pattern) {
		b, err := os.ReadFile(f)
		check(err)
		out = append(out, string(b))
	}
	return out
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "fuzzseeds:", err)
		os.Exit(1)
	}
}
