#!/usr/bin/env bash
# End-to-end smoke test of the command line (seconds): synthesize a quick OpenShapes dataset, then evaluate
# the val ground truth against itself turned into detections, which must score AP = 1 exactly.
set -euo pipefail
bin="${1:-build/tools/coordexp}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" --version
"$bin" synth --out "$tmp/openshapes" --quick --seed 1 > "$tmp/synth.log"
gt="$tmp/openshapes/val.json"
test -s "$gt" || { echo "smoke: synth wrote no $gt"; exit 1; }
/usr/bin/python3 - "$gt" "$tmp/dt.json" <<'PY'
import json, sys
gt = json.load(open(sys.argv[1]))
dt = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 1.0}
      for a in gt["annotations"]]
json.dump(dt, open(sys.argv[2], "w"))
PY
"$bin" eval --gt "$gt" --dt "$tmp/dt.json" --json > "$tmp/eval.json"
/usr/bin/python3 - "$tmp/eval.json" <<'PY'
import json, sys
stats = json.load(open(sys.argv[1]))["stats"]
assert abs(stats[0] - 1.0) < 1e-12, f"AP of ground truth against itself is {stats[0]}, expected 1"
print("smoke: synth + eval OK, AP(gt vs gt) =", stats[0])
PY
# The same boxes with every label rotated to another category: AP falls, class-agnostic AP stays 1.
/usr/bin/python3 - "$gt" "$tmp/dt.json" "$tmp/dt_wrong.json" <<'PY'
import json, sys
ids = sorted(c["id"] for c in json.load(open(sys.argv[1]))["categories"])
dt = json.load(open(sys.argv[2]))
for d in dt:
    d["category_id"] = ids[(ids.index(d["category_id"]) + 1) % len(ids)]
json.dump(dt, open(sys.argv[3], "w"))
PY
"$bin" eval --gt "$gt" --dt "$tmp/dt_wrong.json" --json > "$tmp/eval_wrong.json"
"$bin" eval --gt "$gt" --dt "$tmp/dt_wrong.json" --json --class-agnostic --label-accuracy > "$tmp/eval_agnostic.json"
/usr/bin/python3 - "$tmp/eval_wrong.json" "$tmp/eval_agnostic.json" <<'PY'
import json, sys
wrong, agnostic = (json.load(open(p)) for p in sys.argv[1:3])
assert wrong["stats"][0] < 0.5, f"AP with every label wrong is {wrong['stats'][0]}"
assert abs(agnostic["stats"][0] - 1.0) < 1e-12, f"class-agnostic AP of the ground truth boxes is {agnostic['stats'][0]}"
acc = agnostic["label_accuracy"]
assert acc["localised"] == acc["detections"] > 0 and acc["label_accuracy"] == 0, acc
print("smoke: class-agnostic eval OK, AP", wrong["stats"][0], "-> any label", agnostic["stats"][0],
      "; every box localised, every label wrong")
PY
# A quick training run end to end (synthesize, train, evaluate, report), then resume and predict with it.
rm -rf runs/quick
"$bin" synth --out runs/quick/data --quick --size 64 --seed 2 > "$tmp/quick_synth.log"
"$bin" train --config configs/train/quick.json --stop-after 20 --no-eval 2> "$tmp/train1.log"
"$bin" train --config configs/train/quick.json --resume 2> "$tmp/train2.log" || { cat "$tmp/train2.log"; exit 1; }
grep -q "resumed from runs/quick/run/checkpoint.pt at step 20" "$tmp/train2.log" || { echo "smoke: resume not reported"; cat "$tmp/train2.log"; exit 1; }
for f in report.md loss_curve.png pr_curves.png predictions_val.png eval_val.json eval_novel.json; do
  test -s "runs/quick/run/$f" || { echo "smoke: training wrote no $f"; exit 1; }
done
"$bin" predict --run runs/quick/run --input runs/quick/data/val.json --max-images 8 --draw 2 > "$tmp/predict.txt" 2>&1
test -s runs/quick/run/predict/detections.json || { echo "smoke: predict wrote no detections"; cat "$tmp/predict.txt"; exit 1; }
# label alternatives: every box again under its 2 likeliest other labels, marked with label_rank
"$bin" predict --run runs/quick/run --input runs/quick/data/val.json --max-images 8 --draw 0 --label-alternatives 2 \
  --out "$tmp/alt" > "$tmp/predict_alt.txt" 2>&1 || { cat "$tmp/predict_alt.txt"; exit 1; }
grep -q '"label_rank":1' "$tmp/alt/detections.json" || { echo "smoke: no label alternatives written"; exit 1; }
echo "smoke: quick train + resume + report + predict OK"
# A Hugging Face Qwen2-VL checkpoint (tiny, random, written here): vocabulary extension, fine-tuning with the
# same trainer, the Hugging Face export, prediction from the run.
rm -rf runs/qwen_tiny
"$bin" hf-tiny --out runs/qwen_tiny/base 2> "$tmp/hf_tiny.log"
"$bin" hf-extend --model runs/qwen_tiny/base --out runs/qwen_tiny/extended --bins 64 2> "$tmp/hf_extend.log"
"$bin" train --config configs/train/qwen_tiny_finetune.json 2> "$tmp/qwen_train.log" || { cat "$tmp/qwen_train.log"; exit 1; }
for f in report.md hf/config.json hf/model.safetensors hf/tokenizer.json; do
  test -s "runs/qwen_tiny/run/$f" || { echo "smoke: Qwen fine-tuning wrote no $f"; exit 1; }
done
"$bin" predict --run runs/qwen_tiny/run --input runs/quick/data/val.json --max-images 4 --draw 1 > "$tmp/qwen_predict.txt" 2>&1 \
  || { cat "$tmp/qwen_predict.txt"; exit 1; }
echo "smoke: Qwen2-VL extend + fine-tune + export + predict OK"
# Real photos (../shared/data/raccoon, read in place, never copied): the dataset checker, a short run on the JPEGs
# letterboxed at their aspect, predict on a folder of JPEGs with drawings on the original photos, and eval of the
# run's detections against the test file in original pixels.
raccoon=../shared/data/raccoon
if [[ -s "$raccoon/raccoon_train.json" ]]; then
  "$bin" data check --data "$raccoon/raccoon_test.json" > "$tmp/check.txt" || { cat "$tmp/check.txt"; exit 1; }
  grep -q "40 usable" "$tmp/check.txt" || { echo "smoke: data check on raccoon_test.json:"; cat "$tmp/check.txt"; exit 1; }
  rm -rf runs/raccoon_quick
  "$bin" train --config configs/train/raccoon_quick.json 2> "$tmp/raccoon_train.log" || { cat "$tmp/raccoon_train.log"; exit 1; }
  mkdir -p "$tmp/jpegs" && cp "$raccoon"/images/raccoon-1{0,1,2}.jpg "$tmp/jpegs/"
  "$bin" predict --run runs/raccoon_quick --input "$tmp/jpegs" --out "$tmp/raccoon_predict" --draw 3 > "$tmp/raccoon_predict.txt" 2>&1 \
    || { cat "$tmp/raccoon_predict.txt"; exit 1; }
  test -s "$tmp/raccoon_predict/detections.json" || { echo "smoke: predict on JPEGs wrote no detections"; exit 1; }
  ls "$tmp/raccoon_predict"/image_*.png > /dev/null || { echo "smoke: predict on JPEGs drew nothing"; exit 1; }
  "$bin" eval --gt "$raccoon/raccoon_test.json" --dt runs/raccoon_quick/detections_val.json --json > "$tmp/raccoon_eval.json" \
    || { echo "smoke: eval of the raccoon run failed"; exit 1; }
  echo "smoke: raccoon JPEGs: data check + train + predict on a folder + eval OK"
else
  echo "smoke: $raccoon not found, the real-photo checks are skipped"
fi
# Malformed input must give a clear error (exit 2), never a crash.
echo '{"images": [' > "$tmp/bad.json"
if "$bin" eval --gt "$tmp/bad.json" --dt "$tmp/dt.json" 2> "$tmp/err.txt"; then
  echo "smoke: malformed ground truth was accepted"; exit 1
fi
grep -q "bad.json" "$tmp/err.txt" || { echo "smoke: error does not name the file:"; cat "$tmp/err.txt"; exit 1; }
