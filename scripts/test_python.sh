#!/usr/bin/env bash
# The Python package's tests: installs it with pip (as a user would, from this repository, reusing the
# build folder) into a temporary folder and runs python/tests with pytest against that installation.
# Usage: scripts/test_python.sh [BUILD_DIR]   (default build)
set -euo pipefail
cd "$(dirname "$0")/.."
build="$(realpath "${1:-build}")"
target="$(mktemp -d)"
trap 'rm -rf "$target"' EXIT
COORDEXP_BUILD="$build" /usr/bin/python3 -m pip install --quiet --no-build-isolation --no-index --no-deps \
  --target "$target" . 2>&1 | grep -v "Running pip as the 'root' user" || true
[[ -f "$target/coordexp/__init__.py" ]] || { echo "test_python: pip did not install the package"; exit 1; }
rm -rf python/coordexp.egg-info build/setuptools 2>/dev/null || true  # what pip and setuptools left behind
COORDEXP_INSTALLED=1 COORDEXP_BUILD="$build" PYTHONPATH="$target" /usr/bin/python3 -m pytest -q -p no:cacheprovider python/tests
