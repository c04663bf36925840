#!/usr/bin/env bash
# Every test suite under AddressSanitizer + UndefinedBehaviorSanitizer (see scripts/sanitized_build.sh):
# the torch-free suites in build-san (clang-14, shared with the fuzz targets), the LibTorch suites (loss,
# model, train, infer) in build-san-torch (gcc). Usage: scripts/sanitize.sh [core|torch|all]  (default all;
# COORDEXP_JOBS sets build and test jobs, default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="${COORDEXP_JOBS:-2}"
which="${1:-all}"
source scripts/sanitized_build.sh
test_targets() { ninja -C "$1" -t targets all | sed -n 's/^tests\/\(test_[a-z_]*\): .*/\1/p'; }
if [[ "$which" == all || "$which" == core ]]; then
  configure_sanitized_build
  # Only the test executables (and what they link): the command-line program is covered by scripts/smoke.sh.
  cmake --build build-san -j "$jobs" --target $(test_targets build-san)
  ctest --test-dir build-san --output-on-failure -j "$jobs"
fi
if [[ "$which" == all || "$which" == torch ]]; then
  configure_sanitized_torch_build
  # test_train runs the command line (data-parallel tests), so the program is built too
  cmake --build build-san-torch -j "$jobs" --target coordexp test_loss test_model test_infer test_train
  ctest --test-dir build-san-torch --output-on-failure -j "$jobs" -L 'loss|model|infer|train'
fi
