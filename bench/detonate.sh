#!/usr/bin/env bash
# Times kcsi detonate on the fixtures: command to running restored container, and end of
# run to report written (from --json).  Needs root and the lab (lab/setup.sh).
#
# The budget (once tests/test_detonate.py's test_detonate_speed): a restore under
# RESTORE_BUDGET seconds (default 3.0) and a report under REPORT_BUDGET (2.0); runs over
# it are marked "over" and the script exits 1 when any was.
set -eu
K=${KCSI:-$(dirname "$0")/../build/kcsi}
F=$(dirname "$0")/../tests/data/fixtures
RESTORE_BUDGET=${RESTORE_BUDGET:-3.0}
REPORT_BUDGET=${REPORT_BUDGET:-2.0}
OUT=$(mktemp -d /tmp/kcsi-bench-det.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
printf '%-10s %8s %8s %8s\n' fixture restore_s report_s findings
over=0
for n in perlbot revshell counter; do
  for i in 1 2 3; do
    "$K" detonate "$F/checkpoint-$n.tar" --out "$OUT/$n-$i" --duration "${DURATION:-3}" --json |
      python3 -c '
import json, sys
j = json.load(sys.stdin)
over = j["restore_seconds"] >= float(sys.argv[2]) or j["report_seconds"] >= float(sys.argv[3])
print("%-10s %8.3f %8.3f %8d%s" % (sys.argv[1], j["restore_seconds"], j["report_seconds"], j["findings"],
                                   "  over" if over else ""))
sys.exit(3 if over else 0)' "$n" "$RESTORE_BUDGET" "$REPORT_BUDGET" || over=1
  done
done
if [ $over = 1 ]; then
  echo "over budget (restore < ${RESTORE_BUDGET} s, report < ${REPORT_BUDGET} s)"
  exit 1
fi
echo "within budget (restore < ${RESTORE_BUDGET} s, report < ${REPORT_BUDGET} s)"
