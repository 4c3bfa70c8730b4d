#!/usr/bin/env bash
# Runs every Fuzz* target of the module for a short time each (CI), or as
# long as asked: scripts/fuzz.sh 10m
set -euo pipefail
fuzztime="${1:-15s}"
cd "$(dirname "$0")/.."
found=0
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    found=1
    echo "fuzz: $pkg $target for $fuzztime"
    # Go 1.26's fuzz coordinator can fail a target at the end of
    # -fuzztime with a bare "context deadline exceeded" and no failing
    # input (go.dev/issue/75804, fixed in Go 1.27). A failure that wrote
    # a new input under testdata/fuzz is a crasher and fails at once; one
    # that wrote none is run once more, and fails if it fails again.
    corpus="$dir/testdata/fuzz/$target"
    before=$(ls "$corpus" 2>/dev/null | sort || true)
    if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"; then
      after=$(ls "$corpus" 2>/dev/null | sort || true)
      if [ "$before" != "$after" ]; then
        echo "fuzz: $target wrote a failing input under $corpus" >&2
        exit 1
      fi
      echo "fuzz: $target failed without a failing input (go.dev/issue/75804?): running it once more" >&2
      go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
    fi
  done
done
[ "$found" = 1 ] || echo "fuzz: no fuzz targets"
