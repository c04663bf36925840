#!/usr/bin/env bash
# The main job. Today: set up and build, synthesize the OpenShapes benchmark into runs/openshapes, run the
# method-core benchmarks (Hungarian vs scipy, CoordExp fused vs naive) and an evaluator self-check.
# Training, prediction and the report are not built yet (see README "Status"); this script says so at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
bin=build/tools/coordexp
out=runs/openshapes
echo "== synthesize OpenShapes into $out"
"$bin" synth --out "$out" --seed 0
echo "== Hungarian: coordexp vs scipy (same run)"
bench/matching_vs_scipy.sh
echo "== CoordExp forward+backward: fused vs naive full-vocabulary path"
build/bench/bench_coord_expectation_torch --benchmark_min_time=0.3
echo "== evaluator self-check on the val split"
scripts/smoke.sh "$bin"
echo
echo "main job: training, predict and the report are not built yet; the data is in $out."
