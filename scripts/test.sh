#!/usr/bin/env bash
# The test command: set up (packages + build), a short end-to-end smoke run of the command line, a crash-safety
# run (training killed with SIGKILL three times, each time resumed), then every
# unit test suite with CTest (its summary is the last line).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
scripts/smoke.sh build/tools/coordexp
scripts/kill_test.sh 3 build/tools/coordexp
ctest --test-dir build --output-on-failure -j 2
