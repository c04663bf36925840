#!/usr/bin/env bash
# The test command: check the sources (clang-format, function length, include layers; scripts/check_source.sh),
# set up (packages + build), a short end-to-end smoke run of the command line, a crash-safety
# run (training killed with SIGKILL three times, each time resumed), every unit test suite with CTest, the
# Python package installed with pip into a temporary folder and its pytest suite (scripts/test_python.sh), then
# the torch-free suites again under ASan + UBSan and every fuzz target for FUZZ_SECONDS (default 5) on its
# seed corpus. COORDEXP_SKIP_SANITIZE=1 skips the last two (they build a second, clang folder).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --no-build  # packages only: the source check needs clang-format
scripts/check_source.sh
scripts/setup.sh
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
scripts/smoke.sh build/tools/coordexp
scripts/kill_test.sh 3 build/tools/coordexp
ctest --test-dir build --output-on-failure -j 2
scripts/test_python.sh
if [[ "${COORDEXP_SKIP_SANITIZE:-0}" != 1 ]]; then
  scripts/sanitize.sh
  scripts/fuzz.sh "${FUZZ_SECONDS:-5}"
fi
