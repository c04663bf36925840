#!/usr/bin/env bash
# Crash safety: kill training with SIGKILL at random moments N times; after each kill the latest checkpoint
# must load and `--resume` must continue from it. Prints kills, successful resumes and corrupted checkpoints.
# Usage: scripts/kill_test.sh [N=5] [coordexp binary]
set -uo pipefail
cd "$(dirname "$0")/.."
n="${1:-5}"
bin="${2:-build/tools/coordexp}"
work=runs/kill_test
rm -rf "$work"
"$bin" synth --out "$work/data" --quick --size 64 --seed 3 > /dev/null || exit 1
sed -e "s#runs/quick/data#$work/data#g" -e "s#runs/quick/run#$work/run#g" \
    -e 's/"steps": 40/"steps": 100000/' -e 's/"checkpoint_every": 20/"checkpoint_every": 3/' configs/train/quick.json > "$work/config.json"
kills=0; resumes=0; corrupt=0; last_step=0
for ((i = 1; i <= n; i++)); do
  resume=""; [[ $i -gt 1 ]] && resume="--resume"
  "$bin" train --config "$work/config.json" $resume --no-eval > "$work/log_$i.txt" 2>&1 &
  pid=$!
  sleep "$(awk -v s=$RANDOM 'BEGIN { srand(s); printf "%.2f", 3 + 4 * rand() }')"
  kill -9 "$pid" 2> /dev/null && kills=$((kills + 1))
  wait "$pid" 2> /dev/null
  # The checkpoint left behind must load: resume for one step and read the step it reports. A kill before
  # the first checkpoint leaves none, and the check then starts from scratch.
  had_checkpoint=0; [[ -f "$work/run/checkpoint.pt" ]] && had_checkpoint=1
  if "$bin" train --config "$work/config.json" --resume --stop-after 1 --no-eval > "$work/check_$i.txt" 2>&1; then
    step=$(grep -o "resumed from .* at step [0-9]*" "$work/check_$i.txt" | grep -o "[0-9]*$")
    if [[ $had_checkpoint -eq 0 && -z "$step" ]]; then
      resumes=$((resumes + 1)); echo "kill $i: before the first checkpoint; a fresh start works"
    elif [[ -n "$step" && "$step" -ge "$last_step" ]]; then
      resumes=$((resumes + 1)); last_step=$step
      echo "kill $i: checkpoint at step $step loads and training continues"
    else
      corrupt=$((corrupt + 1)); echo "kill $i: no progress recorded (step '$step' after $last_step)"; cat "$work/check_$i.txt"
    fi
  else
    corrupt=$((corrupt + 1)); echo "kill $i: the checkpoint does not load:"; cat "$work/check_$i.txt"
  fi
done
echo "kill test: $kills kills, $resumes successful resumes, $corrupt corrupted checkpoints"
[[ $corrupt -eq 0 && $resumes -eq $n ]]
