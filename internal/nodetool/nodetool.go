// Package nodetool gives Go tests the Node.js tools they drive real Segment
// packages with (@segment/analytics-node, @segment/action-destinations):
// it finds node and npm, and installs a Node package folder's pinned
// dependencies once, safely across the parallel test processes of
// `go test ./...`.
//
// A test that needs Node fails when CI=true and node or npm is missing (CI
// must run it); elsewhere it is skipped with the reason.
package nodetool

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Tools are the paths of node and npm.
type Tools struct {
	Node, NPM string
}

// Require finds node and npm on PATH. When either is missing the test is
// failed if CI=true, and skipped otherwise; what names the test's use of
// Node, for the message.
func Require(t testing.TB, what string) Tools {
	t.Helper()
	node, errNode := exec.LookPath("node")
	npm, errNpm := exec.LookPath("npm")
	if errNode == nil && errNpm == nil {
		return Tools{Node: node, NPM: npm}
	}
	msg := fmt.Sprintf("node and npm must be on PATH to %s (install Node.js >= 20)", what)
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true: %s", msg)
	}
	t.Skip("skipping: " + msg)
	return Tools{}
}

// InstallTimeout bounds one npm ci.
const InstallTimeout = 5 * time.Minute

// stampName is the file, inside node_modules, holding the digest of the
// package-lock.json that node_modules was installed from.
const stampName = ".switchyard-lock.sha256"

// Install runs `npm ci` in dir unless its node_modules was installed from
// the package-lock.json dir has now, so that repeated runs cost nothing
// and a changed lockfile is installed afresh. An exclusive lock on
// dir/.install.lock serialises the test processes that share dir.
func (tl Tools) Install(t testing.TB, dir string) {
	t.Helper()
	if err := install(tl.NPM, dir); err != nil {
		t.Fatal(err)
	}
}

// InstallDir is Install for a program that is not a test (`make bench`
// runs Segment's actions-core from the parity oracle's folder): npm is the
// npm binary, and the error is returned.
func InstallDir(npm, dir string) error { return install(npm, dir) }

func install(npm, dir string) error {
	lock, err := os.OpenFile(filepath.Join(dir, ".install.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("npm install lock in %s: %w", dir, err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("npm install lock in %s: %w", dir, err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck
	lockfile, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return fmt.Errorf("%s: npm ci needs a committed package-lock.json: %w", dir, err)
	}
	sum := sha256.Sum256(lockfile)
	want := hex.EncodeToString(sum[:])
	stamp := filepath.Join(dir, "node_modules", stampName)
	if got, err := os.ReadFile(stamp); err == nil && string(got) == want {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), InstallTimeout)
	defer cancel()
	// --ignore-scripts: the packages need no build step, and a test run
	// should execute no install script of a dependency.
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--prefer-offline", "--ignore-scripts")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm ci in %s: %w\n%s", dir, err, out)
	}
	// A package without dependencies gets no node_modules from npm ci.
	if err := os.MkdirAll(filepath.Dir(stamp), 0o755); err != nil {
		return fmt.Errorf("npm ci in %s: %w", dir, err)
	}
	if err := os.WriteFile(stamp, []byte(want), 0o644); err != nil {
		return fmt.Errorf("npm ci in %s: recording the installed lockfile: %w", dir, err)
	}
	return nil
}
