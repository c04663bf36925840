#!/usr/bin/env bash
# Hungarian: coordexp's solver and scipy's on the same matrix sizes, one run, ratios printed.
set -euo pipefail
cd "$(dirname "$0")/.."
build/bench/bench_matching --benchmark_format=json --benchmark_min_time=0.2 --benchmark_repetitions=5 2>/dev/null |
  /usr/bin/python3 bench/matching_vs_scipy.py
