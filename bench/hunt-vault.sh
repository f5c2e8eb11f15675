#!/usr/bin/env bash
# bench/hunt-vault.sh [N (default 20)] [ARCHIVE] — kcsi hunt over N checkpoints
# stored in a vault (decrypted into memory, never to disk), all at once and
# one at a time, beside the same N archives hunted as plain files.  CPU% over
# 100 is more than one core at work.  The N archives are copies of ARCHIVE
# (default the perlbot fixture), each with one small member added so that
# each is evidence of its own.  Not a test.
set -eu
cd "$(dirname "$0")/.."
KCSI=${KCSI:-build/kcsi}
n=${1:-20}
src=${2:-tests/data/fixtures/checkpoint-perlbot.tar}
work=$(mktemp -d /tmp/kcsi-bench-hunt-vault-XXXXXX)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
export KCSI_CACHE="$work/cache" KCSI_PASSPHRASE=bench KCSI_ACTOR=bench
mkdir -p "$work/plain"
for i in $(seq "$n"); do
  cp "$src" "$work/plain/ckpt-$i.tar"
  printf 'copy %d\n' "$i" >"$work/note-$i.txt"
  tar -C "$work" -rf "$work/plain/ckpt-$i.tar" "note-$i.txt"
done
"$KCSI" vault init --store "$work/vault" >/dev/null
for f in "$work"/plain/*.tar; do "$KCSI" vault put --store "$work/vault" "$f" >/dev/null; done
mb=$(du -cb "$work"/plain/*.tar | tail -1 | cut -f1)
iocs=(-e 127.6.6.6 -e literal:PBKEY- -e 'regex:/[a-z]{4}\.(sh|pl)\b/')
t() { /usr/bin/time -o "$work/t" -f '%e %P %M' "$@" >"$work/out" 2>&1; tail -n 1 "$work/t"; }
row() { local label=$1; shift; read -r s cpu rss < <(t "$@"); \
  awk -v l="$label" -v s="$s" -v c="$cpu" -v r="$rss" -v b="$mb" 'BEGIN { printf "%-48s %6.2f s  %6.0f MB/s  CPU %5s  %5.0f MiB RSS\n", l, s, (s > 0 ? b / s / 1e6 : 0), c, r / 1024 }'; }
echo "$n checkpoints, $((mb / 1048576)) MiB in all, $(nproc) cores"
"$KCSI" hunt "${iocs[@]}" "$work/plain" >/dev/null # compile once
row "kcsi hunt --store (vault, all at once)" "$KCSI" hunt --store "$work/vault" --reason bench "${iocs[@]}"
row "kcsi hunt --store --jobs 1 (vault, one at a time)" "$KCSI" hunt --store "$work/vault" --reason bench --jobs 1 --threads 1 "${iocs[@]}"
row "kcsi hunt (plain archives, all at once)" "$KCSI" hunt "${iocs[@]}" "$work/plain"
row "kcsi hunt --store --index-only (vault index)" "$KCSI" hunt --store "$work/vault" --reason bench --index-only "${iocs[@]}"
