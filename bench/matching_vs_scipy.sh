#!/usr/bin/env bash
# Assignment solvers side by side on identical matrices, one run, interleaved rounds: coordexp, scipy and, when
# LAPJV names a program built outside this repository that solves the case files with LAPJV (docs/benchmarks.md
# says how the published figures were made), LAPJV too. Prints the load and the busiest processes before and
# after, since the machine is shared.
#   LAPJV=/tmp/coordexp_lapjv_side BUILD=build ROUNDS=7 bench/matching_vs_scipy.sh [--more]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${BUILD:-build}"
args=(--ours "$BUILD/bench/bench_matching" --rounds "${ROUNDS:-7}")
if [[ -n "${LAPJV:-}" ]]; then args+=(--lapjv "$LAPJV"); fi
busiest() { ps -eo pcpu=,comm= --sort=-pcpu | head -4 | awk '{printf "%s %s%%; ", $2, $1}'; echo; }
echo "before: load $(cut -d' ' -f1-3 /proc/loadavg); busiest: $(busiest)"
/usr/bin/python3 bench/matching_vs_scipy.py "${args[@]}" "$@"
echo "after: load $(cut -d' ' -f1-3 /proc/loadavg); busiest: $(busiest)"
