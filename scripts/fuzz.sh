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
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
  done
done
[ "$found" = 1 ] || echo "fuzz: no fuzz targets"
