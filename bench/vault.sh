#!/usr/bin/env bash
# kcsi vault put of a large archive beside sha256sum and cp of the same file,
# in the same run: wall time, throughput, peak memory (max RSS) and the bytes
# the process read (rchar, /proc/PID/io), which shows the single read pass.
# usage: bench/vault.sh [SIZE_MIB (default 1024)] [DIR (default $TMPDIR or /tmp)]
set -eu
cd "$(dirname "$0")/.."
KCSI=${KCSI:-build/kcsi}
size=${1:-1024}
base=${2:-${TMPDIR:-/tmp}}/kcsi-bench-vault.$$
mkdir -p "$base"
trap 'chmod -R u+w "$base" 2>/dev/null; rm -rf "$base"' EXIT
src=$base/checkpoint-bench.tar
# a real checkpoint at the front, random bytes after it (incompressible)
cat tests/data/fixtures/checkpoint-perlbot.tar > "$src"
head -c $(( size * 1048576 - $(stat -c %s "$src") )) /dev/urandom >> "$src"
bytes=$(stat -c %s "$src")

# measure CMD...: prints "seconds peak_rss_kib rchar" (VmHWM and rchar are
# sampled every 2 ms from /proc until the process exits)
measure() {
  python3 - "$@" <<'PY'
import subprocess, sys, time
t = time.monotonic()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
rchar = hwm = 0
while p.poll() is None:
    try:
        for l in open('/proc/%d/io' % p.pid):
            if l.startswith('rchar:'):
                rchar = int(l.split()[1])
        for l in open('/proc/%d/status' % p.pid):
            if l.startswith('VmHWM:'):
                hwm = max(hwm, int(l.split()[1]))
    except (OSError, ValueError):
        pass
    time.sleep(0.002)
el = time.monotonic() - t
if p.returncode:
    sys.exit('failed: %s' % ' '.join(sys.argv[1:]))
print('%.3f %d %d' % (el, hwm, rchar))
PY
}

row() { # name seconds rss rchar
  awk -v n="$1" -v s="$2" -v r="$3" -v c="$4" -v b="$bytes" \
    'BEGIN { printf "%-22s %8.2f s %9.0f MB/s %8.1f MiB %10.2f\n", n, s, b / s / 1e6, r / 1024, c / b }'
}

"$KCSI" vault init --store "$base/vault" >/dev/null
cat "$src" > /dev/null # warm the page cache: every tool reads from memory
echo "file: $bytes bytes; $(nproc) CPUs; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
printf '%-22s %10s %14s %12s %10s\n' tool time throughput peak-RSS read/size
read -r s r c < <(measure sha256sum "$src"); row "sha256sum" "$s" "$r" "$c"
read -r s r c < <(measure cp "$src" "$base/copy.tar"); row "cp" "$s" "$r" "$c"
rm -f "$base/copy.tar"
read -r s r c < <(measure "$KCSI" vault put --store "$base/vault" "$src"); row "kcsi vault put" "$s" "$r" "$c"
id=$(sha256sum "$src" | cut -d' ' -f1)
read -r s r c < <(measure "$KCSI" vault get --store "$base/vault" "$id" --out "$base/out.tar"); row "kcsi vault get" "$s" "$r" "$c"
cmp "$src" "$base/out.tar"
rm -f "$base/out.tar"
read -r s r c < <(measure "$KCSI" vault verify --store "$base/vault" --no-record "$id"); row "kcsi vault verify" "$s" "$r" "$c"
