#!/usr/bin/env bash
# The test command: set up (packages + build), run every unit test suite with CTest, then a short
# end-to-end smoke run of the command line.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
ctest --test-dir build --output-on-failure -j 2
scripts/smoke.sh build/tools/coordexp
