#!/usr/bin/env bash
# Installs every Debian 12 package coordexp needs (idempotent: installed packages are skipped) and
# configures a Release build in ./build. Usage: scripts/setup.sh [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libtorch-dev libopenblas0-openmp libgloo-dev        # tensors, autograd, c10d; OpenBLAS+OpenMP (the
                                                      # reference BLAS makes LibTorch ~20x slower)
  nlohmann-json3-dev libsimdjson-dev libcli11-dev libfmt-dev   # config JSON, fast COCO JSON, CLI
  libpng-dev libcairo2-dev                            # images in and out, drawing
  libturbojpeg0-dev libexif-dev                       # JPEG decoding (TurboJPEG API), EXIF orientation
  libicu-dev                                          # Unicode classes for the BPE pre-tokenizer
  libboost-dev                                        # Boost.Math: Student t quantiles (ablation intervals)
  libgtest-dev libgmock-dev libbenchmark-dev          # tests and benchmarks
  clang-format-14                                     # the source check (scripts/check_source.sh)
  python3-numpy python3-scipy python3-torch python3-regex python3-pil   # independent references used by the tests
  pybind11-dev python3-dev python3-pytest python3-pip python3-setuptools python3-wheel python3-venv   # the Python package, its tests
  # Fuzzing only (scripts/fuzz.sh): clang and its libFuzzer / sanitizer runtimes; the normal build uses gcc.
  clang-14 libclang-rt-14-dev
)
missing=()
for p in "${PACKAGES[@]}"; do
  [[ "$p" == \#* ]] && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
else
  echo "setup: all Debian packages present"
fi

if [[ "${1:-}" != "--no-build" ]]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
  # Two jobs: a LibTorch translation unit needs ~1.5 GB and most of a core.
  cmake --build build -j "${COORDEXP_JOBS:-2}"
fi
