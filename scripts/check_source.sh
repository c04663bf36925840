#!/usr/bin/env bash
# Source checks, run first by the test command: every C++ file is formatted as .clang-format says
# (fix with `scripts/check_source.sh --fix`), and the rules of scripts/check_source.py hold (no function in
# src/ over 120 lines, includes only from higher layers to lower ones).
set -euo pipefail
cd "$(dirname "$0")/.."
format=$(command -v clang-format-14 || command -v clang-format || true)
[[ -n "$format" ]] || { echo "check_source: clang-format not found (scripts/setup.sh installs it)"; exit 1; }
mapfile -t files < <(git ls-files -co --exclude-standard -- '*.cpp' '*.hpp' '*.h' '*.cc' | sort)
if [[ "${1:-}" == "--fix" ]]; then
  "$format" -i "${files[@]}"
  echo "check_source: formatted ${#files[@]} files"
fi
unformatted=()
for f in "${files[@]}"; do
  [[ -f "$f" ]] || continue
  "$format" --dry-run --Werror "$f" >/dev/null 2>&1 || unformatted+=("$f")
done
status=0
if ((${#unformatted[@]})); then
  echo "check_source: ${#unformatted[@]} file(s) not clang-formatted (run scripts/check_source.sh --fix):"
  printf '  %s\n' "${unformatted[@]}"
  status=1
fi
python3 scripts/check_source.py . || status=1
((status == 0)) && echo "check_source: ${#files[@]} C++ files formatted; function lengths and include layers ok"
exit $status
