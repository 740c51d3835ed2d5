#!/bin/bash
# The full test run (README's second command; .ci/run calls it):
#   1. normal build, every test (unit + integration under Xvfb)
#   2. sanitizer build (address, undefined), the unit tests
#   3. every libFuzzer target for a bounded time (FUZZ_SECONDS each)
# Ends with "N passed, N failed" and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

./scripts/install.sh || { echo "install failed"; echo "0 passed, 1 failed"; exit 1; }

passed=0
failed=0
add() { passed=$((passed + $1)); failed=$((failed + $2)); }

setup() { # dir, meson args...
	local dir=$1
	shift
	if [ -f "$dir/build.ninja" ]; then
		meson configure "$dir" "$@" >/dev/null
	else
		meson setup "$dir" "$@" >/dev/null
	fi
}

run_suite() { # label, builddir, meson test args...
	local label=$1 dir=$2
	shift 2
	echo "== $label"
	rm -f "$dir/meson-logs/testlog.json"
	meson test -C "$dir" --print-errorlogs "$@"
	local rc=$?
	if [ -f "$dir/meson-logs/testlog.json" ]; then
		read -r p f < <(python3 scripts/count_tests.py "$dir/meson-logs/testlog.json")
	else
		p=0 f=1
	fi
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	echo "$label: $p passed, $f failed"
	add "$p" "$f"
}

echo "== build (gcc, -Werror)"
if setup build && ninja -C build; then
	run_suite "tests" build
else
	echo "build failed"
	add 0 1
fi

echo "== build (address + undefined sanitizers)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
if setup build-asan -Db_sanitize=address,undefined -Db_lundef=false &&
	ninja -C build-asan; then
	run_suite "unit tests under sanitizers" build-asan --suite unit
else
	echo "sanitizer build failed"
	add 0 1
fi

echo "== fuzzing"
FUZZ_RESULT=$ROOT/build-fuzz-result.txt
rm -f "$FUZZ_RESULT"
FUZZ_RESULT=$FUZZ_RESULT ./scripts/fuzz.sh
if [ -f "$FUZZ_RESULT" ]; then
	read -r p f <"$FUZZ_RESULT"
	add "$p" "$f"
else
	add 0 1
fi

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
