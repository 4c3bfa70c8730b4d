package plan_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/router/plan"
)

// goldenEnv resolves every ${VAR} of a destination file to a recognisable
// fake: ${BRAZE_API_KEY} -> "test-braze-api-key".
func goldenEnv(name string) (string, bool) {
	return "test-" + strings.ReplaceAll(strings.ToLower(name), "_", "-"), true
}

// planFromText builds the plan of one destination file in a scratch config
// directory, every ${VAR} resolved by goldenEnv.
func planFromText(tb testing.TB, dest string) *plan.Plan {
	tb.Helper()
	dir := tb.TempDir()
	must(tb, os.MkdirAll(filepath.Join(dir, "destinations"), 0o755))
	must(tb, os.WriteFile(filepath.Join(dir, "destinations", "d.yaml"), []byte(dest), 0o644))
	cfg, diags := config.Load(dir, config.Options{Lookup: goldenEnv})
	if diags.Err() != nil {
		tb.Fatalf("%s\n%v", dest, diags)
	}
	plans, diags := plan.Build(cfg)
	if diags.Err() != nil {
		tb.Fatalf("%s\n%v", dest, diags)
	}
	for _, p := range plans {
		return p
	}
	tb.Fatalf("%s: no destination", dest)
	return nil
}

// planFromFile builds the plan of one destination file.
func planFromFile(tb testing.TB, destFile string) *plan.Plan {
	tb.Helper()
	data, err := os.ReadFile(destFile)
	must(tb, err)
	return planFromText(tb, string(data))
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}
