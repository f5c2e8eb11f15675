#!/usr/bin/env bash
# bench/run.sh [ARCHIVE...] — time kcsi's views against crit (and checkpointctl
# where installed) on the same checkpoints, in the same run.  With no archive,
# uses the fixtures plus a fresh lab checkpoint of BIGMEM_MIB (default 256) MiB.
# Prints a table: median wall time of RUNS (default 5) runs, and peak RSS.
# This is a benchmark, not a test: it asserts nothing.
set -u
cd "$(dirname "$0")/.."
KCSI=${KCSI:-build/kcsi}
RUNS=${RUNS:-5}
work=$(mktemp -d /tmp/kcsi-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT

archives=("$@")
if [ ${#archives[@]} -eq 0 ]; then
  archives=(tests/data/fixtures/checkpoint-perlbot.tar tests/data/fixtures/checkpoint-revshell.tar)
  if [ "$(id -u)" -eq 0 ] && BIGMEM_MIB=${BIGMEM_MIB:-256} bash lab/scenarios/bigmem.sh "$work/lab" >"$work/lab.log" 2>&1; then
    archives+=("$work/lab/bigmem.tar")
  else
    echo "(no lab checkpoint: $(tail -1 "$work/lab.log" 2>/dev/null))" >&2
  fi
fi

# median seconds and max RSS (KiB) of a command, RUNS times
measure() {
  local times=() rss=0 t r
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -o "$work/time" -f '%e %M' "$@" >/dev/null 2>&1
    r=$(tail -1 "$work/time")
    t=${r% *}; times+=("$t"); [ "${r#* }" -gt "$rss" ] 2>/dev/null && rss=${r#* }
  done
  printf '%s %s\n' "$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")" "$rss"
}

row() { # label, command...
  local label=$1; shift
  read -r t rss < <(measure "$@")
  printf '%-34s %9s s %9s MiB\n' "$label" "$t" "$(( rss / 1024 ))"
}

command -v /usr/bin/time >/dev/null || { echo "bench needs /usr/bin/time (apt-get install time)"; exit 1; }
for a in "${archives[@]}"; do
  size=$(stat -c %s "$a")
  echo "== $(basename "$a") ($(( size / 1048576 )) MiB)"
  row "cat (raw read)" cat "$a"
  row "kcsi show" "$KCSI" show "$a"
  row "kcsi ps --env" "$KCSI" ps --env "$a"
  row "kcsi files" "$KCSI" files "$a"
  row "kcsi net" "$KCSI" net "$a"
  zst="$work/$(basename "$a").zst"
  zstd -q -c "$a" >"$zst"
  row "kcsi ps --env (zstd archive)" "$KCSI" ps --env "$zst"
  if command -v crit >/dev/null; then
    d="$work/x-$(basename "$a")"; mkdir -p "$d"
    row "tar -x (crit needs a directory)" tar -C "$d" -xf "$a"
    row "crit x ps" crit x "$d/checkpoint" ps
    row "crit x fds" crit x "$d/checkpoint" fds
    row "crit x mems" crit x "$d/checkpoint" mems
  fi
  if command -v checkpointctl >/dev/null; then
    row "checkpointctl inspect --all" checkpointctl inspect --all "$a"
  fi
done
