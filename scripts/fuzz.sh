#!/bin/sh
# Builds the libFuzzer targets (fuzz/) in build-fuzz with clang and runs each
# for FUZZ_SECONDS on a scratch copy of its seed corpus, so fuzz/corpus/ is
# never changed. Prints one line per target on stdout,
#   fuzz NAME: ok (RUNS runs)    or    fuzz NAME: FAILED
# (build output and failure details go to stderr), writes "PASSED FAILED" to
# the file $FUZZ_RESULT when set, and exits 1 when any target failed: a
# crash, a sanitizer report, a leak, an input over FUZZ_TIMEOUT or a run that
# did not finish.
#
# Environment:
#   FUZZ_SECONDS  seconds per target (default: 100 s shared out over the
#                 targets, 12 s each for eight, so that a new target does not
#                 make the default run longer). When CI is set, raised so the
#                 targets together run at least FUZZ_CI_MIN_TOTAL (60) s.
#   FUZZ_TIMEOUT  seconds one input may take before it counts as a hang
#                 (default 10; the slowest seed takes milliseconds).
#   FUZZ_RESULT   file that receives "PASSED FAILED" on one line.
#
# A failing input is kept as build-fuzz/fuzz-work/NAME/crash-* (or leak-*,
# timeout-*, oom-*); replay it with build-fuzz/fuzz/fuzz_NAME FILE.
set -eu

cd "$(dirname "$0")/.."
root=$(pwd)
build=$root/build-fuzz
work=$build/fuzz-work
targets="body open event_json eventfile control policy filter detect token api answers lease checkpoint proof purpose pyautogui wrapped"
# shellcheck disable=SC2086 # split on purpose: one word per target
set -- $targets
ntargets=$#
total_default=100 # seconds all targets fuzz together by default
rss_mb=2048
min_total=${FUZZ_CI_MIN_TOTAL:-60}
seconds=${FUZZ_SECONDS:-$((total_default / ntargets))}
timeout=${FUZZ_TIMEOUT:-10}

for v in "FUZZ_SECONDS=$seconds" "FUZZ_TIMEOUT=$timeout" \
	 "FUZZ_CI_MIN_TOTAL=$min_total"; do
	case ${v#*=} in
	'' | *[!0-9]* | 0)
		echo "fuzz.sh: $v is not a positive whole number of seconds" >&2
		exit 2
		;;
	esac
done
if [ -n "${CI:-}" ] && [ $((seconds * ntargets)) -lt "$min_total" ]; then
	seconds=$(((min_total + ntargets - 1) / ntargets))
	echo "fuzz.sh: CI is set: running each target ${seconds}s so that" \
		"they fuzz at least ${min_total}s together" >&2
fi

result() {
	if [ -n "${FUZZ_RESULT:-}" ]; then
		printf '%d %d\n' "$1" "$2" >"$FUZZ_RESULT"
	fi
}

# Build output goes to stderr so that stdout holds only the result lines.
setup() {
	if [ -f "$build/build.ninja" ]; then
		meson setup --reconfigure "$build" -Dfuzz=true -Dtests=false
	else
		CC=clang meson setup "$build" -Dfuzz=true -Dtests=false
	fi
}
if ! setup >&2 || ! meson compile -C "$build" >&2; then
	echo "fuzz.sh: building $build failed (see above); if it was set up" \
		"with another compiler, remove it and run again" >&2
	for name in $targets; do
		echo "fuzz $name: FAILED"
	done
	result 0 "$ntargets"
	exit 1
fi

# halt_on_error turns UBSan's reports into crashes libFuzzer saves;
# without it UBSan prints and carries on, and the run would pass.
ubsan="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
asan="detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"

passed=0
failed=0
for name in $targets; do
	dir=$work/$name
	log=$dir/fuzz.log
	rm -rf "$dir"
	mkdir -p "$dir/corpus"
	cp -R "$root/fuzz/corpus/$name/." "$dir/corpus/"
	rc=0
	UBSAN_OPTIONS=$ubsan ASAN_OPTIONS=$asan \
		"$build/fuzz/fuzz_$name" -max_total_time="$seconds" \
		-rss_limit_mb="$rss_mb" -timeout="$timeout" \
		-print_final_stats=1 -artifact_prefix="$dir/" \
		"$dir/corpus" >"$log" 2>&1 || rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" |
		tail -n 1)
	artifacts=$(find "$dir" -maxdepth 1 -type f \( -name 'crash-*' -o \
		-name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) |
		sort)
	if [ "$rc" -eq 0 ] && [ -n "$runs" ] && [ -z "$artifacts" ]; then
		echo "fuzz $name: ok ($runs runs)"
		passed=$((passed + 1))
	else
		echo "fuzz $name: FAILED"
		failed=$((failed + 1))
		{
			echo "fuzz.sh: fuzz_$name exited with status $rc;" \
				"full log: $log"
			for a in $artifacts; do
				echo "fuzz.sh: failing input kept as $a; replay:" \
					"$build/fuzz/fuzz_$name $a"
			done
			echo "fuzz.sh: last lines of the log:"
			tail -n 60 "$log"
		} >&2
	fi
done

result "$passed" "$failed"
[ "$failed" -eq 0 ]
