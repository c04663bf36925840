#!/usr/bin/env bash
# The core (torch-free) test suites under AddressSanitizer + UndefinedBehaviorSanitizer: configures
# build-asan with gcc and COORDEXP_SANITIZE=ON, builds the test executables and runs them with CTest.
# Usage: scripts/sanitize.sh   (COORDEXP_JOBS sets build and test jobs, default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="${COORDEXP_JOBS:-2}"

cmake -S . -B build-asan -G Ninja -DCMAKE_CXX_COMPILER=g++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCOORDEXP_SANITIZE=ON -DCOORDEXP_WITH_TORCH=OFF -DCOORDEXP_BUILD_BENCH=OFF >/dev/null
# Only the test executables (and what they link): the command-line program is covered by scripts/smoke.sh.
targets=$(ninja -C build-asan -t targets all | sed -n 's/^tests\/\(test_[a-z_]*\): .*/\1/p')
cmake --build build-asan -j "$jobs" --target $targets
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
ctest --test-dir build-asan --output-on-failure -j "$jobs"
