# Sourced by scripts/sanitize.sh and scripts/fuzz.sh. configure_sanitized_build: build-san, the one build
# folder both use, so CI compiles the torch-free library once for the sanitized test suites and the libFuzzer
# targets.
# clang-14 with AddressSanitizer + UndefinedBehaviorSanitizer on everything (COORDEXP_SANITIZE) and
# libFuzzer coverage on the library (COORDEXP_FUZZ); the torch parts are left out (LibTorch from Debian is
# not built with ASan). Needs clang-14 + libclang-rt-14-dev (scripts/setup.sh installs them).
configure_sanitized_build() {
  local cxx="${CXX_SANITIZE:-$(command -v clang++-14 || command -v clang++)}"
  cmake -S . -B build-san -G Ninja -DCMAKE_CXX_COMPILER="$cxx" -DCOORDEXP_SANITIZE=ON -DCOORDEXP_FUZZ=ON \
    -DCOORDEXP_WITH_TORCH=OFF -DCOORDEXP_BUILD_TESTS=ON -DCOORDEXP_BUILD_BENCH=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" >/dev/null
  sanitizer_environment
}

# build-san-torch: the LibTorch parts and their test suites under ASan + UBSan with gcc (LibTorch 1.13's
# headers do not compile with clang-14 in C++20 mode: incomplete c10::IValue in std::vector). LibTorch itself
# is not instrumented; our code and every call into it is.
configure_sanitized_torch_build() {
  cmake -S . -B build-san-torch -G Ninja -DCMAKE_CXX_COMPILER=g++ -DCOORDEXP_SANITIZE=ON \
    -DCOORDEXP_WITH_TORCH=ON -DCOORDEXP_BUILD_TESTS=ON -DCOORDEXP_BUILD_BENCH=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" >/dev/null
  sanitizer_environment
}

# Reports abort; leaks are checked, except process-lifetime allocations of third-party libraries
# (scripts/sanitizer/lsan.supp).
sanitizer_environment() {
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
  export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$PWD/scripts/sanitizer/lsan.supp}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
}
