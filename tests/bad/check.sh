#!/bin/bash
# Run `kcsi ps` on every fixture listed in expect.tsv and check the exit code,
# that stderr is exactly one line starting with "kcsi: " without control
# characters, that it contains the expected substring, and that nothing
# crashes or hangs.
#
#   tests/bad/check.sh [KCSI]     (default build/kcsi)
#
# Exits 1 when any row fails; KNOWN-BUG rows are reported as XFAIL instead
# unless KCSI_BAD_STRICT=1.
set -u
here=$(cd "$(dirname "$0")" && pwd)
kcsi=${1:-$here/../../build/kcsi}
strict=${KCSI_BAD_STRICT:-0}
fail=0 pass=0 xfail=0 known=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
msg() { head -n 1 "$tmp/err" | cut -c 1-240 | cat -v; }
while IFS=$'\t' read -r file code sub env; do
	case $file in
		'# KNOWN-BUG:'*) known=1; continue ;;
		'#'*|'') continue ;;
	esac
	envs=()
	[ "$env" != - ] && envs=("$env")
	env "${envs[@]}" timeout 120 "$kcsi" ps "$here/$file" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	why=
	if [ $rc -ne "$code" ]; then
		why="exit $rc, expected $code"
	elif [ "$code" -ne 0 ]; then
		if [ "$(wc -l <"$tmp/err")" -ne 1 ] || ! head -c 6 "$tmp/err" | grep -q '^kcsi: '; then
			why="stderr is not one 'kcsi: ' line"
		elif LC_ALL=C grep -q '[[:cntrl:]]' "$tmp/err"; then
			why="control characters in the message"
		elif [ "$sub" != - ] && ! grep -qF -- "$sub" "$tmp/err"; then
			why="message lacks '$sub'"
		elif [ -s "$tmp/out" ]; then
			why="printed to stdout although it failed"
		fi
	fi
	if [ -z "$why" ]; then
		pass=$((pass + 1))
		[ $known = 1 ] && printf 'XPASS %s (a KNOWN-BUG row now passes: drop the mark)\n' "$file"
	elif [ $known = 1 ] && [ "$strict" != 1 ]; then
		xfail=$((xfail + 1))
		printf 'XFAIL %s: %s: %s\n' "$file" "$why" "$(msg)"
	else
		fail=$((fail + 1))
		printf 'FAIL  %s: %s: %s\n' "$file" "$why" "$(msg)"
	fi
	known=0
done <"$here/expect.tsv"
printf 'tests/bad: %d passed, %d failed, %d known bugs\n' "$pass" "$fail" "$xfail"
[ $fail -eq 0 ]
