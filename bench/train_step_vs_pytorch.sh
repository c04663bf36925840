#!/usr/bin/env bash
# coordexp's training step against the same work in plain PyTorch (bench/train_step_pytorch.py) on the same
# LibTorch, at two Qwen2-VL shapes with Qwen's real vocabulary size (151,657 tokenizer ids + 1,000 coordinate
# tokens + 2, tied head): h256 (hidden 256, 4 layers, 4 heads / 2 KV heads, 43.3M parameters) and h1024
# (hidden 1024, 8 layers, 8 heads / 2 KV heads), vision depth 2, every parameter trained, batches of 4
# images of 224 x 224 with 8-12 objects each.
#
# For each shape: coordexp train --profile (CE only; the default criterion; CE only with the C library's
# default malloc policy, run.keep_freed_memory false), then the Python step on the very shapes coordexp's
# profile recorded, as people run it and with the same malloc policy from the environment. Each run: 2
# warm-up steps, then STEPS steps; medians. Run it on an otherwise idle machine.
#   bench/train_step_vs_pytorch.sh [BUILD_DIR] [STEPS] [SHAPES]   (defaults: build 5 "h256 h1024")
# Writes runs/step_bench/<shape>/*.json and prints the table docs/benchmarks.md quotes.
set -euo pipefail
cd "$(dirname "$0")/.."
build="$(realpath "${1:-build}")"
steps="${2:-5}"
shapes="${3:-h256 h1024}"
cx="$build/tools/coordexp"
out=runs/step_bench
py=/usr/bin/python3
mkdir -p "$out"

if [[ ! -f $out/data/train.json ]]; then
  cat >"$out/synth.json" <<'EOF'
{"image_width": 224, "image_height": 224, "num_train": 64, "num_val": 4, "num_novel": 0, "num_dense": 0,
 "min_objects": 8, "max_objects": 12, "min_object_size": 20, "max_object_size": 60, "num_threads": 1}
EOF
  "$cx" synth --config "$out/synth.json" --out "$out/data" >/dev/null 2>&1
fi

shape_args() {
  case "$1" in
    h256) echo "--hidden 256 --layers 4 --heads 4 --kv-heads 2 --intermediate 1024" ;;
    h1024) echo "--hidden 1024 --layers 8 --heads 8 --kv-heads 2 --intermediate 4096" ;;
    *) echo "unknown shape $1" >&2; exit 2 ;;
  esac
}

# config NAME CRITERION KEEP: a training config for this shape.
config() {
  cat >"$dir/$1.json" <<EOF
{
 "data": {"train_json": "$out/data/train.json", "val_json": "", "num_bins": 1000, "fit": "native",
          "min_pixels": 50176, "max_pixels": 50176, "flip_prob": 0},
 "hf": {"path": "$dir/base", "train_lm": true, "train_projector": true, "train_vision": true},
 "criterion": $2,
 "optim": {"steps": 100, "batch_size": 4, "warmup_steps": 1, "lr": 0.0002},
 "run": {"out_dir": "$dir/run_$1", "threads": 2, "log_every": 1, "checkpoint_every": 100000, "eval_every": 0,
         "keep_freed_memory": $3}
}
EOF
}

for shape in $shapes; do
  dir="$out/$shape"
  mkdir -p "$dir"
  if [[ ! -f $dir/base/config.json ]]; then
    # shellcheck disable=SC2046
    "$cx" hf-tiny --out "$dir/raw" $(shape_args "$shape") --vision-width 64 --vision-depth 2 --real-vocab \
      >/dev/null 2>&1
    "$cx" hf-extend --model "$dir/raw" --out "$dir/base" --bins 1000 >/dev/null 2>&1
    rm -rf "$dir/raw"
  fi
  config ce '{"coord_weight": 0, "matching": "index"}' true
  config default '{}' true
  config ce_system_malloc '{"coord_weight": 0, "matching": "index"}' false
  for run in ce default ce_system_malloc; do
    echo "== $shape coordexp $run" >&2
    "$cx" train --config "$dir/$run.json" --profile "$steps" 2>&1 | grep -E "^(phase|step |head|backward)" >&2
    cp "$dir/run_$run/profile.json" "$dir/profile_$run.json"
  done
  echo "== $shape PyTorch (default malloc)" >&2
  "$py" bench/train_step_pytorch.py --config "$dir/base/config.json" --shapes "$dir/profile_ce.json" \
    --steps "$steps" --warmup 2 --threads 2 --json "$dir/pytorch.json" | tail -1 >&2
  echo "== $shape PyTorch (MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_: coordexp's policy)" >&2
  MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1099511627776 MALLOC_TOP_PAD_=67108864 \
    "$py" bench/train_step_pytorch.py --config "$dir/base/config.json" --shapes "$dir/profile_ce.json" \
    --steps "$steps" --warmup 2 --threads 2 --json "$dir/pytorch_keep.json" | tail -1 >&2
done

"$py" - "$out" $shapes <<'EOF'
import json, sys
out, shapes = sys.argv[1], sys.argv[2:]
print("| shape | PyTorch step (as run) | PyTorch, coordexp's malloc policy | coordexp CE only | "
      "coordexp CE only, default malloc | coordexp default criterion | speed-up vs PyTorch (as run / same policy) |")
print("|---|---|---|---|---|---|---|")
for s in shapes:
    d = f"{out}/{s}"
    med = lambda f, k="median_step_wall_s": json.load(open(f"{d}/{f}"))[k]
    py, pyk = med("pytorch.json"), med("pytorch_keep.json")
    ce, ces, de = med("profile_ce.json"), med("profile_ce_system_malloc.json"), med("profile_default.json")
    print(f"| {s} | {py:.3f} s | {pyk:.3f} s | {ce:.3f} s | {ces:.3f} s | {de:.3f} s ({100 * (de / ce - 1):+.0f}%) "
          f"| {py / ce:.2f}x / {pyk / ce:.2f}x |")
EOF
