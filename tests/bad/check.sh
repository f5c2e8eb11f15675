#!/bin/bash
# Run `kcsi ps` on every fixture listed in expect.tsv and check the exit code,
# that stderr is exactly one line starting with "kcsi: " without control
# characters, that it contains the expected substring, and that nothing
# crashes or hangs.
#
#   tests/bad/check.sh [KCSI]     (default build/kcsi)
#
# Exits 1 when any row fails.  A row after a "# KNOWN-BUG" line (exit code,
# message substring, why: what kcsi does today) must behave as that line
# records: XFAIL; it fails when it behaves as the row requires (XPASS: drop
# the mark) or in any other way.  KCSI_BAD_STRICT=1 holds KNOWN-BUG rows to
# the required behaviour instead.
set -u
here=$(cd "$(dirname "$0")" && pwd)
kcsi=${1:-$here/../../build/kcsi}
strict=${KCSI_BAD_STRICT:-0}
fail=0 pass=0 xfail=0 known=0 kcode= ksub=
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
msg() { head -n 1 "$tmp/err" | cut -c 1-240 | cat -v; }
# why the last run does not match exit code $2 and message text $3 (empty: it does)
verdict() {
	local rc=$1 code=$2 sub=$3
	if [ "$rc" -ne "$code" ]; then
		echo "exit $rc, expected $code"
	elif [ "$code" -ne 0 ]; then
		if [ "$(wc -l <"$tmp/err")" -ne 1 ] || ! head -c 6 "$tmp/err" | grep -q '^kcsi: '; then
			echo "stderr is not one 'kcsi: ' line"
		elif LC_ALL=C grep -q '[[:cntrl:]]' "$tmp/err"; then
			echo "control characters in the message"
		elif [ "$sub" != - ] && ! grep -qF -- "$sub" "$tmp/err"; then
			echo "message lacks '$sub'"
		elif [ -s "$tmp/out" ]; then
			echo "printed to stdout although it failed"
		fi
	fi
}
while IFS=$'\t' read -r file code sub env; do
	case $file in
		'# KNOWN-BUG'*)
			known=1
			kcode=$code ksub=$sub
			continue ;;
		'#'*|'') continue ;;
	esac
	envs=()
	[ "$env" != - ] && envs=("$env")
	env "${envs[@]}" timeout 120 "$kcsi" ps "$here/$file" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	why=$(verdict "$rc" "$code" "$sub")
	if [ $known = 1 ] && [ "$strict" != 1 ]; then
		kwhy=$(verdict "$rc" "$kcode" "$ksub")
		if [ -z "$why" ]; then
			fail=$((fail + 1))
			printf 'XPASS %s (a KNOWN-BUG row now behaves as required: drop the mark)\n' "$file"
		elif [ -z "$kwhy" ]; then
			xfail=$((xfail + 1))
			printf 'XFAIL %s: %s: %s\n' "$file" "$why" "$(msg)"
		else
			fail=$((fail + 1))
			printf 'FAIL  %s: KNOWN-BUG row changed: %s: %s\n' "$file" "$kwhy" "$(msg)"
		fi
	elif [ -z "$why" ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		printf 'FAIL  %s: %s: %s\n' "$file" "$why" "$(msg)"
	fi
	known=0
done <"$here/expect.tsv"
printf 'tests/bad: %d passed, %d failed, %d known bugs\n' "$pass" "$fail" "$xfail"
[ $fail -eq 0 ]
