#!/usr/bin/env bash
# bench/hunt.sh [ARCHIVE] — kcsi hunt with 10,000 mixed indicators against a
# single-literal memgrep, grep -F -f over the raw pages and the yara CLI;
# analyze against the yara CLI with kcsi's rules; plain and zstd archives;
# same run, page cache warm.  Without ARCHIVE, makes a lab bigmem checkpoint
# of BIGMEM_MIB (default 1024) MiB (needs root).  Not a test.
set -u
cd "$(dirname "$0")/.."
KCSI=${KCSI:-build/kcsi}
work=$(mktemp -d /tmp/kcsi-bench-hunt-XXXXXX)
trap 'rm -rf "$work"' EXIT
export KCSI_CACHE="$work/cache"
arch=${1:-}
if [ -z "$arch" ]; then
  BIGMEM_MIB=${BIGMEM_MIB:-1024} bash lab/scenarios/bigmem.sh "$work/lab" >"$work/lab.log" 2>&1 || { tail -3 "$work/lab.log"; exit 1; }
  arch="$work/lab/bigmem.tar"
fi
mkdir -p "$work/x" && tar -C "$work/x" -xf "$arch"
pages=$(du -cb "$work"/x/checkpoint/pages-*.img | tail -1 | cut -f1)
marker=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['facts']['markers'][5]['marker'])" "${arch%.tar}.truth.json" 2>/dev/null || echo KCSIMARK)
# 10,000 indicators of every kind (seeded), a few of them really in the checkpoint
python3 - "$work/iocs.txt" "$work/lits.txt" "$marker" <<'PY'
import random, string, sys
random.seed(7)
rs = lambda n: ''.join(random.choice(string.ascii_lowercase) for _ in range(n))
hx = lambda n: ''.join(random.choice('0123456789abcdef') for _ in range(n))
L = ['%d.%d.%d.%d' % (random.randint(1, 223), random.randint(0, 255), random.randint(0, 255), random.randint(1, 254)) for _ in range(2500)]
L += ['%s.%s' % (rs(random.randint(5, 12)), random.choice(['com', 'net', 'org', 'io'])) for _ in range(2500)]
L += ['http://%s.com/%s' % (rs(8), rs(6)) for _ in range(1500)]
L += ['%s@%s.com' % (rs(6), rs(7)) for _ in range(1000)]
L += [hx(64) for _ in range(1000)]
L += ['literal:' + rs(random.randint(10, 20)) for _ in range(999)]
L += ['hex:' + hx(16) for _ in range(495)]
L += ['regex:/%s[0-9]{4,8}%s/' % (rs(4), rs(3)) for _ in range(5)]
L.append('literal:' + sys.argv[3])
open(sys.argv[1], 'w').write('\n'.join(L) + '\n')
open(sys.argv[2], 'w').write('\n'.join(l.split(':', 1)[1] if l.startswith(('literal:', 'hex:', 'regex:')) else l for l in L if not l.startswith(('hex:', 'regex:'))) + '\n')
PY
sync; cat "$arch" >/dev/null
# output to a file, not /dev/null: GNU grep stops at the first match when
# its output is /dev/null (even with -c), which made its rows meaningless
t() { /usr/bin/time -o "$work/t" -f '%e %M' "$@" >"$work/out" 2>&1; tail -n 1 "$work/t"; } # the last line: time notes a non-zero exit on a line of its own
row() { local label=$1; shift; read -r s rss < <(t "$@"); \
  awk -v l="$label" -v s="$s" -v r="$rss" -v b="$pages" 'BEGIN { printf "%-52s %6.2f s  %8.0f MB/s  %6.0f MiB RSS\n", l, s, (s > 0 ? b / s / 1e6 : 0), r / 1024 }'; }
echo "archive $(basename "$arch"): $((pages / 1048576)) MiB of pages, $(nproc) cores"
row "kcsi memgrep, one literal" "$KCSI" memgrep --count "$arch" "$marker"
row "kcsi memgrep, the same text as a regex" "$KCSI" memgrep --count -E "$arch" "$(sed 's/[][\\.*^$+?(){}|]/\\&/g' <<<"$marker")"
row "grep -c -F, one literal (raw pages)" grep -c -a -F "$marker" "$work"/x/checkpoint/pages-*.img
row "kcsi hunt, one literal" "$KCSI" hunt -e "literal:$marker" "$arch"
row "kcsi hunt, 10,000 indicators (compiling)" "$KCSI" hunt -i "$work/iocs.txt" "$arch"
row "kcsi hunt, 10,000 indicators (compiled, cached)" "$KCSI" hunt -i "$work/iocs.txt" "$arch"
row "kcsi hunt, 10,000 indicators, one thread" "$KCSI" hunt --threads 1 -i "$work/iocs.txt" "$arch"
row "grep -c -F -f (9,500 literals, raw pages)" grep -c -a -F -f "$work/lits.txt" "$work"/x/checkpoint/pages-*.img
if command -v yara >/dev/null; then
  python3 - "$work/lits.txt" "$work/r.yar" <<'PY'
import sys
lits = [l.strip() for l in open(sys.argv[1]) if l.strip()]
with open(sys.argv[2], 'w') as f:
    f.write('rule iocs { strings:\n')
    for i, l in enumerate(lits):
        f.write('  $s%d = "%s"\n' % (i, l.replace('\\', '\\\\').replace('"', '\\"')))
    f.write(' condition: any of them }\n')
PY
  row "yara (9,500 strings, raw pages)" yara -s "$work/r.yar" "$work"/x/checkpoint/
fi
# analyze (strings, IOCs, secrets, content rules and kcsi's YARA rules in one
# pass, and the archive's SHA-256) beside the yara CLI with the same rules
# over the raw pages
row "kcsi analyze (everything, kcsi's YARA rules)" "$KCSI" analyze "$arch"
command -v yara >/dev/null && row "yara CLI, kcsi's rules (raw pages)" yara rules/kcsi.yar "$work"/x/checkpoint/
zstd -q -T2 -c "$arch" >"$work/a.tar.zst"
row "kcsi memgrep, one literal (zstd archive)" "$KCSI" memgrep --count "$work/a.tar.zst" "$marker"
row "zstd -dc | grep -c -F, one literal" sh -c "zstd -dc '$work/a.tar.zst' | grep -c -a -F '$marker'"
row "kcsi hunt, 10,000 indicators (zstd archive)" "$KCSI" hunt -i "$work/iocs.txt" "$work/a.tar.zst"
row "zstd -dc | grep -c -F -f (9,500 literals)" sh -c "zstd -dc '$work/a.tar.zst' | grep -c -a -F -f '$work/lits.txt'"
