#!/bin/bash
# Run kcsi's libFuzzer targets (fuzz/README.md lists them).
#
#   fuzz/run.sh [SECONDS] [TARGET...]   replay the target's reproducers, then fuzz it
#                                       for SECONDS seconds (default 30) from its seeds
#   fuzz/run.sh --replay [TARGET...]    only replay the reproducers
#
# TARGET is a name without the fuzz_ prefix (archive, falco, ...); default: every
# target the build has.  Builds build-fuzz/ (clang, ASan+UBSan, libFuzzer) when
# needed.  Seeds: fuzz/corpus/TARGET/ (and, for archive and image, tests/bad/).
# Reproducers: every file under fuzz/crashes/TARGET/, run once each; any crash,
# leak, timeout or out-of-memory fails.  New corpus entries and crash artifacts
# go to a temporary directory, never into the repository.  Prints one summary
# line per target and exits 1 when anything was found (the reproducer's path is
# printed; rerun it with `build-fuzz/fuzz/fuzz_TARGET REPRODUCER`).
#
# Environment: KCSI_FUZZ_BUILD (build directory, default build-fuzz),
# KCSI_FUZZ_WORK (work directory, default a new /tmp/kcsi-fuzz.XXXXXX),
# KCSI_FUZZ_ARGS (extra libFuzzer flags, e.g. "-jobs=4 -workers=4").
# Needs meson, ninja, python3 and kcsi's build dependencies; installs clang
# with apt-get when it is missing (Debian/Ubuntu, as root).
set -u

replay_only=0
if [ "${1:-}" = --replay ]; then
	replay_only=1
	shift
	secs=0
else
	secs=${1:-30}
	shift || true
fi
case $secs in
	''|*[!0-9]*) echo "usage: $0 [SECONDS] [TARGET...] | $0 --replay [TARGET...]" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
build=${KCSI_FUZZ_BUILD:-$root/build-fuzz}

log() { printf 'fuzz: %s\n' "$*" >&2; }

apt_install() {
	command -v apt-get >/dev/null || { log "no apt-get: install $* yourself"; return 1; }
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null ||
		{ DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null &&
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null; }
}

# clang and its libFuzzer runtime (libclang_rt.fuzzer, in libclang-rt-NN-dev,
# which clang only recommends)
have_libfuzzer() {
	local t
	t=$(mktemp -d) || return 1
	printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);\nint LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' >"$t/t.c"
	clang -fsanitize=fuzzer,address,undefined "$t/t.c" -o "$t/t" >/dev/null 2>&1
	local rc=$?
	rm -rf "$t"
	return $rc
}

# build (under meson test the build directory is already made and built)
if [ ! -f "$build/build.ninja" ]; then
	if ! command -v clang >/dev/null; then
		log "installing clang"
		apt_install clang || { log "cannot install clang"; exit 2; }
	fi
	if ! have_libfuzzer; then
		log "installing the libFuzzer runtime"
		apt_install libclang-rt-dev || apt_install "libclang-rt-$(clang -dumpversion | cut -d. -f1)-dev"
		have_libfuzzer || { log "clang cannot link -fsanitize=fuzzer"; exit 2; }
	fi
	log "configuring $build"
	(cd "$root" && CC=clang meson setup "$build" -Dfuzz=true -Db_sanitize=address,undefined \
		-Db_lundef=false) >"${TMPDIR:-/tmp}/kcsi-fuzz-setup.log" 2>&1 ||
		{ cat "${TMPDIR:-/tmp}/kcsi-fuzz-setup.log" >&2; exit 2; }
fi
# the targets this build has: fuzz/fuzz_NAME in its build.ninja
built=$(sed -n 's/^build fuzz\/fuzz_\([a-z_]*\): .*/\1/p' "$build/build.ninja" | sort -u)
targets=${*:-$built}
for t in $targets; do
	grep -qx "$t" <<<"$built" || { log "no target fuzz_$t in $build (built: $(echo $built))"; exit 2; }
done
# shellcheck disable=SC2046
ninja -C "$build" $(printf 'fuzz/fuzz_%s ' $targets) >"${TMPDIR:-/tmp}/kcsi-fuzz-build.log" 2>&1 ||
	{ tail -40 "${TMPDIR:-/tmp}/kcsi-fuzz-build.log" >&2; log "build failed"; exit 2; }

work=${KCSI_FUZZ_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/kcsi-fuzz.XXXXXX")}
mkdir -p "$work/tmp"
# the targets' own files (and what a crashed one leaves) stay in the work directory
export TMPDIR=$work/tmp

# UBSan only reports unless told to stop; libFuzzer must see it as a crash.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
# bound what one iteration may decompress (fuzz_archive sets 256M otherwise)
export KCSI_MAX_UNPACKED=${KCSI_MAX_UNPACKED:-256M}
flags=(-rss_limit_mb=2048 -timeout=10)

# the hostile fixtures of tests/bad as seeds: archives, or the CRIU images in them
bad_seeds() {
	if [ "$1" = archive ]; then
		for f in "$root"/tests/bad/*; do
			case $f in *.py|*.tsv|*.md|*.sh) continue ;; esac
			[ -f "$f" ] && cp "$f" "$2/"
		done
	else
		python3 - "$root/tests/bad" "$2" <<'EOF' 2>/dev/null
import os, sys, tarfile
src, dst = sys.argv[1:3]
for f in sorted(os.listdir(src)):
    if not f.endswith(".tar"):
        continue
    try:
        with tarfile.open(os.path.join(src, f)) as t:
            for m in t.getmembers():
                if m.isfile() and m.name.endswith(".img") and m.size <= 65536:
                    data = t.extractfile(m).read()
                    out = "%s--%s" % (f[:-4], m.name.replace("/", "_"))
                    with open(os.path.join(dst, out), "wb") as o:
                        o.write(data)
    except (tarfile.TarError, OSError, EOFError):
        pass
EOF
	fi
}

# run every reproducer of target $1 once; prints a line, returns 1 on a failure
replay() {
	local t=$1 bin=$build/fuzz/fuzz_$1 f bad=0 n=0
	local dir=$root/fuzz/crashes/$t
	for f in "$dir"/*; do
		[ -f "$f" ] || continue
		case $f in *.md) continue ;; esac
		n=$((n + 1))
		if ! "$bin" "${flags[@]}" "$f" </dev/null >"$work/replay-$t-$n.log" 2>&1; then
			bad=1
			printf 'fuzz_%s: reproducer %s crashes again (log %s)\n' "$t" "${f#"$root"/}" "$work/replay-$t-$n.log"
		fi
	done
	[ $bad = 0 ] && [ $replay_only = 1 ] && [ $n -gt 0 ] &&
		printf 'fuzz_%s: %d reproducers replayed, none crashes\n' "$t" "$n"
	replayed=$((replayed + n))
	return $bad
}

fail=0 replayed=0
for t in $targets; do
	bin=$build/fuzz/fuzz_$t
	replay "$t" || fail=1
	[ $replay_only = 1 ] && continue
	d=$work/$t
	mkdir -p "$d/corpus" "$d/artifacts" "$d/seeds"
	seeds=("$root/fuzz/corpus/$t")
	case $t in archive|image) bad_seeds "$t" "$d/seeds"; seeds+=("$d/seeds") ;; esac
	dict=()
	[ -f "$root/fuzz/dict/$t.dict" ] && dict=(-dict="$root/fuzz/dict/$t.dict")
	# shellcheck disable=SC2086
	"$bin" -max_total_time="$secs" "${flags[@]}" "${dict[@]}" -print_final_stats=1 \
		-artifact_prefix="$d/artifacts/" ${KCSI_FUZZ_ARGS:-} \
		"$d/corpus" "${seeds[@]}" </dev/null >"$d/log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$d/log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$d/log" | tail -1)
	rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$d/log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$d/log" | tail -1 | cut -d' ' -f2)
	ft=$(grep -o 'ft: [0-9]*' "$d/log" | tail -1 | cut -d' ' -f2)
	nseed=$(find "$root/fuzz/corpus/$t" -type f 2>/dev/null | wc -l)
	newc=$(find "$d/corpus" -type f | wc -l)
	repro=$(find "$d/artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
		-o -name 'oom-*' \) | sort)
	if [ $rc -ne 0 ] || [ -n "$repro" ]; then
		fail=1
		kind=$(grep -m1 -o -E 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)[^(]*|runtime error: .*' "$d/log" | head -1)
		printf 'fuzz_%s: FAIL after %s execs (%s/s): %s\n' "$t" "${execs:-?}" "${rate:-?}" "${kind:-exit $rc}"
		for r in $repro; do
			printf '  reproducer: %s\n' "$r"
		done
		printf '  log: %s\n  rerun: %s REPRODUCER\n' "$d/log" "$bin"
	else
		printf 'fuzz_%s: ok, %s s, %s seeds, %s execs (%s/s), cov %s, ft %s, %s new corpus entries, peak rss %s MB\n' \
			"$t" "$secs" "$nseed" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$newc" "${rss:-?}"
	fi
done
if [ $replay_only = 1 ]; then
	printf 'fuzz: %d reproducers replayed: %s\n' "$replayed" "$([ $fail = 0 ] && echo 'none crashes' || echo FAILED)"
	[ $fail = 0 ] && [ -z "${KCSI_FUZZ_WORK:-}" ] && rm -rf "$work"
else
	log "work directory (new corpus, logs, artifacts): $work"
fi
exit $fail
