#!/usr/bin/env bash
# Times kcsi detonate on the fixtures: command to running restored container, and end of
# run to report written (from --json).  Needs root and the lab (lab/setup.sh).
set -eu
K=${KCSI:-$(dirname "$0")/../build/kcsi}
F=$(dirname "$0")/../tests/data/fixtures
OUT=$(mktemp -d /tmp/kcsi-bench-det.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
printf '%-10s %8s %8s %8s\n' fixture restore_s report_s findings
for n in perlbot revshell counter; do
  for i in 1 2 3; do
    "$K" detonate "$F/checkpoint-$n.tar" --out "$OUT/$n-$i" --duration "${DURATION:-3}" --json |
      python3 -c 'import json,sys; j=json.load(sys.stdin); print("%-10s %8.3f %8.3f %8d" % (sys.argv[1], j["restore_seconds"], j["report_seconds"], j["findings"]))' "$n"
  done
done
