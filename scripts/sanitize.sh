#!/usr/bin/env bash
# The torch-free test suites under AddressSanitizer + UndefinedBehaviorSanitizer (clang-14, build-san, see
# scripts/sanitized_build.sh): builds the test executables and runs them with CTest.
# Usage: scripts/sanitize.sh   (COORDEXP_JOBS sets build and test jobs, default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="${COORDEXP_JOBS:-2}"
source scripts/sanitized_build.sh
configure_sanitized_build
# Only the test executables (and what they link): the command-line program is covered by scripts/smoke.sh.
targets=$(ninja -C build-san -t targets all | sed -n 's/^tests\/\(test_[a-z_]*\): .*/\1/p')
cmake --build build-san -j "$jobs" --target $targets
ctest --test-dir build-san --output-on-failure -j "$jobs"
