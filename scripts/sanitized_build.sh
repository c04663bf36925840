# Sourced by scripts/sanitize.sh and scripts/fuzz.sh: configures build-san, the one build folder both use,
# so CI compiles the torch-free library once for the sanitized test suites and the libFuzzer targets.
# clang-14 with AddressSanitizer + UndefinedBehaviorSanitizer on everything (COORDEXP_SANITIZE) and
# libFuzzer coverage on the library (COORDEXP_FUZZ); the torch parts are left out (LibTorch from Debian is
# not built with ASan). Needs clang-14 + libclang-rt-14-dev (scripts/setup.sh installs them).
configure_sanitized_build() {
  local cxx="${CXX_SANITIZE:-$(command -v clang++-14 || command -v clang++)}"
  cmake -S . -B build-san -G Ninja -DCMAKE_CXX_COMPILER="$cxx" -DCOORDEXP_SANITIZE=ON -DCOORDEXP_FUZZ=ON \
    -DCOORDEXP_WITH_TORCH=OFF -DCOORDEXP_BUILD_TESTS=ON -DCOORDEXP_BUILD_BENCH=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" >/dev/null
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
}
