package nodetool

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// recorder is a testing.TB that records Fatal and Skip instead of ending
// the real test; like testing.T it stops the calling goroutine.
type recorder struct {
	testing.TB
	mu      sync.Mutex
	fatal   string
	skipped string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.fatal = format
	r.mu.Unlock()
	runtime.Goexit()
}
func (r *recorder) Skip(args ...any) {
	r.mu.Lock()
	r.skipped = fmt.Sprint(args...)
	r.mu.Unlock()
	runtime.Goexit()
}

func requireWithout(t *testing.T, ci string) *recorder {
	t.Setenv("PATH", t.TempDir()) // no node, no npm
	t.Setenv("CI", ci)
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Require(r, "run a test")
	}()
	<-done
	return r
}

// CI must run the Node tests: without node on CI the test fails.
func TestRequireFailsOnCIWithoutNode(t *testing.T) {
	r := requireWithout(t, "true")
	if r.fatal == "" || r.skipped != "" {
		t.Fatalf("CI=true without node: fatal %q, skipped %q; want a failure", r.fatal, r.skipped)
	}
}

// Off CI a missing node skips the test, with the reason.
func TestRequireSkipsLocallyWithoutNode(t *testing.T) {
	r := requireWithout(t, "")
	if r.skipped == "" || r.fatal != "" {
		t.Fatalf("without CI and node: fatal %q, skipped %q; want a skip", r.fatal, r.skipped)
	}
	if !strings.Contains(r.skipped, "node and npm must be on PATH") {
		t.Errorf("skip reason %q does not say what is missing", r.skipped)
	}
}

// fakeNPM writes an npm that counts its runs in dir/runs and creates
// node_modules, as npm ci does.
func fakeNPM(t *testing.T) (npm, runs string) {
	bin := t.TempDir()
	runs = filepath.Join(bin, "runs")
	npm = filepath.Join(bin, "npm")
	script := "#!/bin/sh\n[ \"$1\" = ci ] || exit 2\necho run >> " + runs + "\nmkdir -p node_modules\n"
	if err := os.WriteFile(npm, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return npm, runs
}

func countRuns(t *testing.T, runs string) int {
	data, err := os.ReadFile(runs)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(data), "run")
}

// npm ci runs once per lockfile: again only when the lockfile changes.
func TestInstallRunsOncePerLockfile(t *testing.T) {
	npm, runs := fakeNPM(t)
	dir := t.TempDir()
	lock := filepath.Join(dir, "package-lock.json")
	if err := os.WriteFile(lock, []byte(`{"lockfileVersion": 3}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tl := Tools{NPM: npm}
	tl.Install(t, dir)
	tl.Install(t, dir)
	if n := countRuns(t, runs); n != 1 {
		t.Fatalf("npm ci ran %d times for one lockfile, want 1", n)
	}
	if err := os.WriteFile(lock, []byte(`{"lockfileVersion": 3, "packages": {}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tl.Install(t, dir)
	if n := countRuns(t, runs); n != 2 {
		t.Fatalf("npm ci ran %d times after the lockfile changed, want 2", n)
	}
}

// Parallel installs into one folder are serialised: one npm ci, not two.
func TestInstallIsSerialisedAcrossCallers(t *testing.T) {
	npm, runs := fakeNPM(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "package-lock.json"), []byte(`{}`), 0o644); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = install(npm, dir)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := countRuns(t, runs); n != 1 {
		t.Fatalf("npm ci ran %d times for four parallel installs, want 1", n)
	}
}

// A folder without a lockfile is an error naming it: npm ci needs one.
func TestInstallWithoutLockfileFails(t *testing.T) {
	npm, _ := fakeNPM(t)
	dir := t.TempDir()
	err := install(npm, dir)
	if err == nil || !strings.Contains(err.Error(), "package-lock.json") {
		t.Fatalf("install without a lockfile: %v", err)
	}
}
