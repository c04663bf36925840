#!/usr/bin/env bash
# JPEG decode + resize to 448x448: coordexp (bench_image_decode) against Pillow (python3-pil), side by side in
# one run at 1 and 2 threads, median images/s of 5 passes over every photo, with ratios (the issue's goal is
# coordexp >= 2x Pillow). Reads the photos where they are, never copies them.
# Usage: bench/decode_vs_pillow.sh [IMAGES_DIR]  (default ../shared/data/raccoon/images; BUILD=build folder
# holding bench/bench_image_decode, default build)
set -euo pipefail
cd "$(dirname "$0")/.."
images="${1:-../shared/data/raccoon/images}"
build="${BUILD:-build}"
[[ -x "$build/bench/bench_image_decode" ]] || {
  echo "decode_vs_pillow: build $build/bench/bench_image_decode first (cmake --build $build --target bench_image_decode)"
  exit 1
}
/usr/bin/python3 bench/decode_vs_pillow.py --images "$images" --coordexp "$build/bench/bench_image_decode" \
  --threads 1 2 --repetitions 5 --size 448
