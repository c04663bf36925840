#!/usr/bin/env bash
# The benchmarks whose figures are in the README, each ratio measured within one run.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
echo "== Hungarian: coordexp vs scipy"
bench/matching_vs_scipy.sh
echo "== CoordExp forward+backward: fused vs naive full-vocabulary path"
build/bench/bench_coord_expectation_torch --benchmark_min_time=0.3
echo "== generation: KV cache vs recomputing the prefix"
build/bench/bench_generation_torch --benchmark_min_time=0.5
echo "== COCO evaluation at COCO-val size"
build/bench/bench_coco_eval
echo "== safetensors loading"
build/bench/bench_safetensors
if [[ -d ../shared/data/raccoon/images ]]; then
  echo "== image decode + resize to 448x448 of the raccoon photos: coordexp vs Pillow"
  BUILD=build bench/decode_vs_pillow.sh
  echo "== Pillow-exact bicubic resize vs Pillow"
  /usr/bin/python3 bench/resample_vs_pil.py build
fi
