#!/usr/bin/env bash
# Build kcsi (if needed) and run its tests: tests/run.py [-k PATTERN] [MODULE...]
set -eu
cd "$(dirname "$0")/.."
[ -d build ] || meson setup build
ninja -C build >/dev/null
exec python3 tests/run.py "$@"
