#!/usr/bin/env bash
# The main job: set up the machine and build, synthesize the OpenShapes benchmark, train the tiny V-LLM
# detector with the set criterion (configs/train/openshapes.json), evaluate on val and novel, and write the
# report to runs/main/report.md. Extra arguments go to `coordexp train` (e.g. --steps 300, --resume).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
bin=build/tools/coordexp
if [[ ! -s runs/openshapes/train.json ]]; then
  echo "== synthesize OpenShapes into runs/openshapes"
  "$bin" synth --out runs/openshapes --seed 0
fi
echo "== train (progress below; metrics in runs/main/metrics.jsonl)"
"$bin" train --config configs/train/openshapes.json "$@"
echo
echo "== report: runs/main/report.md"
sed -n '1,12p' runs/main/report.md
