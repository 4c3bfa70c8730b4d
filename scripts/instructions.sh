#!/usr/bin/env bash
# Instructions per op of one Go benchmark, counted by valgrind's callgrind:
# the difference between a run of 3N iterations and a run of N, divided by
# 2N, so that the benchmark's setup (building a plan, starting a router)
# cancels. Instruction counts barely move with the machine's load, where
# wall-clock timings on a shared 2-core machine move by 10-30%
# (docs/performance.md).
#
#   go test -c -o /tmp/plan.test ./router/plan
#   cd router/plan && ../../scripts/instructions.sh /tmp/plan.test 'BenchmarkDecode$' 2000
#
# Run it from the benchmark's package directory (some read testdata by a
# relative path). It runs with GOMAXPROCS=1 GOGC=off
# GODEBUG=asyncpreemptoff=1: no collector, no preemption signals, so the
# count is the code's. The callgrind file of the 3N run is kept in OUTDIR
# (default: a new temporary directory) for callgrind_annotate.
set -euo pipefail

if [ $# -lt 3 ]; then
	echo "usage: $0 TESTBINARY BENCHREGEX N [OUTDIR]" >&2
	exit 2
fi
bin=$1 re=$2 n=$3
dir=${4:-$(mktemp -d)}
mkdir -p "$dir"
command -v valgrind >/dev/null || { echo "$0: valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }

count() {
	GOMAXPROCS=1 GOGC=off GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind \
		--callgrind-out-file="$dir/cg.$1.out" "$bin" -test.run '^$' -test.bench "$re" \
		-test.benchtime="${1}x" >/dev/null 2>"$dir/cg.$1.err" || { cat "$dir/cg.$1.err" >&2; exit 1; }
	grep -o 'Collected : [0-9]*' "$dir/cg.$1.err" | awk '{print $3}'
}
a=$(count "$n")
b=$(count $((3 * n)))
echo "$re: $(((b - a) / (2 * n))) instructions per op (callgrind file: $dir/cg.$((3 * n)).out)"
