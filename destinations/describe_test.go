package destinations_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/destinations"
	_ "github.com/switchyard/switchyard/destinations/catalog/all"
)

var updateReadmes = flag.Bool("update-readmes", false, "rewrite the generated part of each tool's README")

const (
	genStart = "<!-- generated: switchyard catalog; edit definition.yaml, then go test ./destinations -update-readmes -->"
	genEnd   = "<!-- end generated -->"
)

// TestToolReadmesAreCurrent: each tool's README holds, between the markers,
// exactly what its definition generates, so docs cannot drift from the
// presets the router runs.
func TestToolReadmesAreCurrent(t *testing.T) {
	defs, err := destinations.Catalog()
	if err != nil {
		t.Fatal(err)
	}
	for name, def := range defs {
		path := filepath.Join("catalog", name, "README.md")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		s := string(data)
		i, j := strings.Index(s, genStart), strings.Index(s, genEnd)
		if i < 0 || j < i {
			t.Errorf("%s: README lacks the generated section markers:\n%s\n%s", path, genStart, genEnd)
			continue
		}
		want := s[:i] + genStart + "\n\n" + def.Markdown() + "\n" + s[j:]
		if want == s {
			continue
		}
		if *updateReadmes {
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		t.Errorf("%s: generated section is stale; run go test ./destinations -update-readmes", path)
	}
}
