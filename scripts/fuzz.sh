#!/usr/bin/env bash
# Fuzzes every parser of outside data (fuzz/fuzz_*.cpp) with libFuzzer under ASan + UBSan, each target for
# SECONDS_PER_TARGET seconds (default 10) on a scratch copy of its seed corpus fuzz/corpus/<name>/ (the
# repo corpus never grows). Prints executions per target; exits non-zero when any target crashes (the
# crashing input is kept in build-san/findings/). Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]
# Builds in build-san (see scripts/sanitized_build.sh). COORDEXP_JOBS sets build jobs.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
source scripts/sanitized_build.sh
configure_sanitized_build
cmake --build build-san -j "${COORDEXP_JOBS:-2}" --target fuzz_targets

work="build-san/fuzz-run"
findings="build-san/findings"
rm -rf "$work"
mkdir -p "$work" "$findings"
failed=()
printf '%-24s %12s %8s  %s\n' target executions exec/s result
for source in fuzz/fuzz_*.cpp; do
  target="$(basename "$source" .cpp)"
  name="${target#fuzz_}"
  corpus="$work/$name"
  mkdir -p "$corpus"
  [[ -d "fuzz/corpus/$name" ]] && cp -r "fuzz/corpus/$name/." "$corpus/"
  log="$work/$name.log"
  rc=0
  "build-san/fuzz/$target" -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$findings/$name-" "$corpus" >"$log" 2>&1 || rc=$?
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  result=ok
  if ((rc != 0)); then
    result="CRASH (rc $rc, log $log)"
    failed+=("$target")
  fi
  printf '%-24s %12s %8s  %s\n' "$target" "${execs:-?}" "$(( ${execs:-0} / (seconds > 0 ? seconds : 1) ))" "$result"
done
if ((${#failed[@]})); then
  echo "fuzz: crashes in ${failed[*]}; inputs under $findings/, reproduce with build-san/fuzz/<target> <input>"
  exit 1
fi
echo "fuzz: no crashes"
