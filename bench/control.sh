#!/bin/sh
# bench/control.sh [AGENTS] - the kill-switch benchmark: a fresh sealtrace
# server (pinned to core 0) holds one HTTPS long-poll per simulated agent
# from bench-control (pinned to core 1), which then pauses them all and
# measures how fast the pause is delivered and confirmed. Builds nothing:
# expects `ninja -C build` (or BUILD=DIR). bench/README.md says what the
# figures mean. Everything it starts is stopped, and its temporary folder
# removed, on any exit.
#
# Environment: BUILD (default build), MAX_SECONDS (bound on setup and on
# connecting the fleet, default 1800), HOLD_S (the server's lease_hold_s,
# default 30), THREADS (the server's HTTP threads, default: its own
# default), WAIT_POLL_MS (count the confirmations by reading the control
# view every that many ms, as `pause --wait` does, instead of from the
# log), ST_BENCH_KEEP=1 keeps the temporary folder (its path is printed).
# shellcheck disable=SC2016 # wait_for's tests expand late, on purpose
set -eu

AGENTS=${1:-10000}
MAX_SECONDS=${MAX_SECONDS:-1800}
HOLD_S=${HOLD_S:-30}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
SEALTRACE=$BUILD/src/server/sealtrace
EXPORT=$BUILD/src/export/sealtrace-export
BENCH=$BUILD/bench/bench-control

die() { echo "bench/control.sh: $*" >&2; exit 1; }

for f in "$SEALTRACE" "$EXPORT" "$BENCH"; do
	[ -x "$f" ] || die "$f missing: run 'ninja -C $BUILD' first"
done

# One descriptor per held poll on each side: raise the soft limit on open
# files to the hard one (the server and the bench inherit it).
# shellcheck disable=SC3045 # dash and bash both have ulimit -n and -H
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# shellcheck disable=SC3045
NOFILE=$(ulimit -n)
if [ "$NOFILE" != unlimited ] && [ "$NOFILE" -lt $((AGENTS + 200)) ]; then
	die "$AGENTS agents need about $((AGENTS + 200)) open files per" \
	    "process; the limit is $NOFILE (ulimit -Hn): give fewer agents"
fi

if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
	PIN_SERVER="taskset -c 0"
	PIN_LOAD="taskset -c 1"
else
	echo "bench/control.sh: fewer than 2 cores or no taskset: running" \
	     "unpinned" >&2
	PIN_SERVER=
	PIN_LOAD=
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/st-bench-control.XXXXXX")
SERVE_PID=
BENCH_PID=
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	rc=$?
	trap - EXIT INT TERM HUP
	for p in $BENCH_PID $SERVE_PID; do
		kill "$p" 2>/dev/null || true
	done
	for p in $BENCH_PID $SERVE_PID; do
		wait "$p" 2>/dev/null || true
	done
	if [ -n "${ST_BENCH_KEEP:-}" ]; then
		echo "bench/control.sh: kept $TMP" >&2
	else
		rm -rf "$TMP"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

wait_for() {
	n=0
	while ! eval "$1"; do
		n=$((n + 1))
		[ "$n" -le "$2" ] || return 1
		sleep 0.1
	done
}

"$EXPORT" keygen --out "$TMP/k" >"$TMP/keygen.log" 2>&1 ||
	die "sealtrace-export keygen failed: $(cat "$TMP/keygen.log")"
DATA=$TMP/data
"$SEALTRACE" init "$DATA" --policy "$ROOT/policies/default.json" \
	--master-public "$TMP/k/master.pub" --listen 127.0.0.1:0 \
	--officer olga@example.com --officer omar@example.com \
	>"$TMP/init.out" 2>"$TMP/init.err" ||
	die "sealtrace init failed: $(cat "$TMP/init.err")"
umask 077
grep -m1 -o 'sta_[A-Za-z0-9_-]\{43\}' "$TMP/init.out" >"$TMP/token"
[ -s "$TMP/token" ] || die "no admin token (sta_...) in the output of init"
rm -f "$TMP/init.out"
CA=$DATA/tls/ca.pem

# Room for every poll, the admin connections and the setup workers; polls
# held long (a renewal every HOLD_S per agent); idle connections kept
# longer than a held poll.
python3 - "$DATA/config.json" "$AGENTS" "$HOLD_S" "${THREADS:-}" <<'PY' ||
import json, sys
p, n, hold, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
c = json.load(open(p))
c["connections_max"] = n + 1000
c["lease_hold_s"] = hold
c["connection_timeout_s"] = max(120, 4 * hold)
if threads:
    c["threads"] = int(threads)
json.dump(c, open(p, "w"), indent=1)
PY
	die "cannot edit $DATA/config.json"

$PIN_SERVER "$SEALTRACE" serve --data "$DATA" --url-file "$TMP/url" \
	>"$TMP/serve.log" 2>&1 &
SERVE_PID=$!
wait_for '[ -s "$TMP/url" ] || ! kill -0 $SERVE_PID 2>/dev/null' 300 ||
	die "sealtrace serve wrote no --url-file in 30 s: $(tail -5 "$TMP/serve.log")"
kill -0 "$SERVE_PID" 2>/dev/null ||
	die "sealtrace serve exited: $(tail -5 "$TMP/serve.log")"
URL=$(head -n 1 "$TMP/url")
URL=${URL%/}
wait_for 'curl -sf --cacert "$CA" "$URL/v1/health" >/dev/null' 50 ||
	die "GET $URL/v1/health failed for 5 s: $(tail -5 "$TMP/serve.log")"

echo "machine: $(nproc) cpus, $(grep -m 1 'model name' /proc/cpuinfo |
	sed 's/.*: //'), load $(cut -d ' ' -f 1-3 /proc/loadavg)"
echo "pinning: server '${PIN_SERVER:-none}', bench '${PIN_LOAD:-none}'"
echo "server_config: $(python3 -c 'import json,sys
c = json.load(open(sys.argv[1]))
print(" ".join("%s=%s" % (k, c[k]) for k in ("connections_max", "lease_hold_s", "lease_validity_ms", "connection_timeout_s", "threads") if k in c))' "$DATA/config.json")"
echo "open_files_limit: $NOFILE per process"
# WAIT_POLL_MS: no log; the confirmations are counted by reading
# GET /v1/admin/control every that many ms, as `sealtrace pause --wait`
# does (every 100 ms)
if [ -n "${WAIT_POLL_MS:-}" ]; then
	set -- --control-poll-ms "$WAIT_POLL_MS"
	echo "counted_by: GET /v1/admin/control every $WAIT_POLL_MS ms"
else
	set -- --server-log "$TMP/serve.log"
fi
# shellcheck disable=SC2086 # PIN_LOAD is a word list
$PIN_LOAD "$BENCH" --url "$URL" --ca "$CA" --token-file "$TMP/token" \
	--agents "$AGENTS" --max-seconds "$MAX_SECONDS" \
	--server-pid "$SERVE_PID" "$@" &
BENCH_PID=$!
brc=0
wait "$BENCH_PID" || brc=$?
BENCH_PID=
echo "server_log_lines: $(wc -l <"$TMP/serve.log") lines"
echo "load_after: $(cut -d ' ' -f 1-3 /proc/loadavg) loadavg"
exit "$brc"
