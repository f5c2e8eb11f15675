#!/usr/bin/env bash
# Build kcsi (if needed) and run its tests: tests/run.py [-k PATTERN] [MODULE...]
set -eu
cd "$(dirname "$0")/.."
# as root, prepare the lab first (idempotent; fast when done): the sandbox, responder
# and lab tests need podman, runc, CRIU and the lab image
if [ "$(id -u)" = 0 ] && [ -z "${KCSI_NO_LAB_SETUP:-}" ]; then
  bash lab/setup.sh >/tmp/kcsi-lab-setup.log 2>&1 || { tail -5 /tmp/kcsi-lab-setup.log; exit 1; }
  bash lab/containerd/setup.sh >/tmp/kcsi-containerd-setup.log 2>&1 || { tail -5 /tmp/kcsi-containerd-setup.log; exit 1; }
fi
bash deploy/tools/install.sh >/tmp/kcsi-deploy-tools.log 2>&1 || { tail -5 /tmp/kcsi-deploy-tools.log; exit 1; }
[ -d build ] || meson setup build
ninja -C build >/dev/null
# the fuzz build (clang, libFuzzer; installed if missing): the fuzz findings'
# regression tests run their targets; every reproducer of fuzz/crashes/ is replayed
if [ -z "${KCSI_NO_FUZZ_BUILD:-}" ]; then
  bash fuzz/run.sh --replay >/tmp/kcsi-fuzz-replay.log 2>&1 || { tail -20 /tmp/kcsi-fuzz-replay.log; exit 1; }
fi
exec python3 tests/run.py "$@"
