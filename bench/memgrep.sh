#!/usr/bin/env bash
# bench/memgrep.sh [ARCHIVE] — memgrep throughput and peak RSS against grep
# over the raw pages images, same run.  Without ARCHIVE, makes a lab bigmem
# checkpoint of BIGMEM_MIB (default 1024) MiB (needs root).  Not a test.
set -u
cd "$(dirname "$0")/.."
KCSI=${KCSI:-build/kcsi}
work=$(mktemp -d /tmp/kcsi-bench-mem-XXXXXX)
trap 'rm -rf "$work"' EXIT
arch=${1:-}
if [ -z "$arch" ]; then
  BIGMEM_MIB=${BIGMEM_MIB:-1024} bash lab/scenarios/bigmem.sh "$work/lab" >"$work/lab.log" 2>&1 || { tail -3 "$work/lab.log"; exit 1; }
  arch="$work/lab/bigmem.tar"
fi
mkdir -p "$work/x" && tar -C "$work/x" -xf "$arch"
pages=$(du -cb "$work"/x/checkpoint/pages-*.img | tail -1 | cut -f1)
marker=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['facts']['markers'][5]['marker'])" "${arch%.tar}.truth.json" 2>/dev/null || echo KCSIMARK)
sync; cat "$arch" >/dev/null  # warm the page cache: measure the scan, not the disk
t() { /usr/bin/time -o "$work/t" -f '%e %M' "$@" >/dev/null 2>&1; tail -n 1 "$work/t"; } # the last line: time notes a non-zero exit on a line of its own
row() { local label=$1; shift; read -r s rss < <(t "$@"); \
  awk -v l="$label" -v s="$s" -v r="$rss" -v b="$pages" 'BEGIN { printf "%-44s %6.2f s  %8.0f MB/s  %6.0f MiB RSS\n", l, s, (s > 0 ? b / s / 1e6 : 0), r / 1024 }'; }
echo "archive $(basename "$arch"): $((pages / 1048576)) MiB of pages"
row "cat pages-*.img" cat "$work"/x/checkpoint/pages-*.img
row "grep -c literal (raw pages)" grep -c -a -F "$marker" "$work"/x/checkpoint/pages-*.img
row "kcsi memgrep literal (archive, in place)" "$KCSI" memgrep --count "$arch" "$marker"
row "kcsi memgrep -i literal" "$KCSI" memgrep --count -i "$arch" "$marker"
row "grep -c -P regex (raw pages)" grep -c -a -P 'KCSIMARK:[0-9]{2}:[0-9a-f]{16}' "$work"/x/checkpoint/pages-*.img
row "kcsi memgrep --regex" "$KCSI" memgrep --count --regex "$arch" 'KCSIMARK:[0-9]{2}:[0-9a-f]{16}'
row "kcsi strings -n 8" "$KCSI" strings -n 8 "$arch"
zstd -q -T2 -c "$arch" >"$work/a.tar.zst"
row "kcsi memgrep literal (zstd archive)" "$KCSI" memgrep --count "$work/a.tar.zst" "$marker"
