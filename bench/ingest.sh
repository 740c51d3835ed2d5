#!/bin/sh
# bench/ingest.sh [DEVICES [SEGMENTS [WORKERS]]] - the ingest benchmark:
# a fresh sealtrace server pinned to core 0 takes sealed segments from
# bench-ingest (pinned to core 1), then systemd-journal-remote, also on
# core 0, takes the same segments as journal export entries. Builds nothing:
# expects `ninja -C build` (or BUILD=DIR). bench/README.md says what the
# figures mean. Everything it starts is stopped, and its temporary folder
# removed, on any exit.
#
# Environment: BUILD (default build), MAX_SECONDS (bound on each timed
# phase, default 300), JOURNAL_REMOTE (default
# /lib/systemd/systemd-journal-remote; NO_PEER=1 skips the peer),
# ST_BENCH_KEEP=1 keeps the temporary folder (its path is printed).
# shellcheck disable=SC2016 # wait_for's tests expand late, on purpose
set -eu

DEVICES=${1:-256}
SEGMENTS=${2:-180}
WORKERS=${3:-32}
MAX_SECONDS=${MAX_SECONDS:-300}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
JR=${JOURNAL_REMOTE:-/lib/systemd/systemd-journal-remote}
SEALTRACE=$BUILD/src/server/sealtrace
EXPORT=$BUILD/src/export/sealtrace-export
BENCH=$BUILD/bench/bench-ingest

die() { echo "bench/ingest.sh: $*" >&2; exit 1; }

for f in "$SEALTRACE" "$EXPORT" "$BENCH"; do
	[ -x "$f" ] || die "$f missing: run 'ninja -C $BUILD' first"
done
if [ -z "${NO_PEER:-}" ] && [ ! -x "$JR" ]; then
	die "$JR missing: apt-get install systemd-journal-remote, or NO_PEER=1"
fi

# Pinning: the server (and the peer) on core 0, the load on core 1.
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
	PIN_SERVER="taskset -c 0"
	PIN_LOAD="taskset -c 1"
else
	echo "bench/ingest.sh: fewer than 2 cores or no taskset: running" \
	     "unpinned, so the figures are not per core" >&2
	PIN_SERVER=
	PIN_LOAD=
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/st-bench-ingest.XXXXXX")
SERVE_PID=
JR_PID=
BENCH_PID=
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	rc=$?
	trap - EXIT INT TERM HUP
	for p in $BENCH_PID $SERVE_PID $JR_PID; do
		kill "$p" 2>/dev/null || true
	done
	for p in $BENCH_PID $SERVE_PID $JR_PID; do
		wait "$p" 2>/dev/null || true
	done
	if [ -n "${ST_BENCH_KEEP:-}" ]; then
		echo "bench/ingest.sh: kept $TMP" >&2
	else
		rm -rf "$TMP"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# Waits (at most $2 tenths of a second) for the shell test in $1, which is
# evaluated each time (so it is written in single quotes).
wait_for() {
	n=0
	while ! eval "$1"; do
		n=$((n + 1))
		[ "$n" -le "$2" ] || return 1
		sleep 0.1
	done
}

# The master key pair, as on an export host; the server gets the public half.
"$EXPORT" keygen --out "$TMP/k" >"$TMP/keygen.log" 2>&1 ||
	die "sealtrace-export keygen failed: $(cat "$TMP/keygen.log")"

DATA=$TMP/data
"$SEALTRACE" init "$DATA" --policy "$ROOT/policies/default.json" \
	--master-public "$TMP/k/master.pub" --listen 127.0.0.1:0 \
	--officer olga@example.com --officer omar@example.com \
	>"$TMP/init.out" 2>"$TMP/init.err" ||
	die "sealtrace init failed: $(cat "$TMP/init.err")"
# init prints the first admin token once; it goes to a 0600 file only.
umask 077
grep -m1 -o 'sta_[A-Za-z0-9_-]\{43\}' "$TMP/init.out" >"$TMP/token"
[ -s "$TMP/token" ] || die "no admin token (sta_...) in the output of init"
rm -f "$TMP/init.out"
CA=$DATA/tls/ca.pem
[ -r "$CA" ] || die "init made no $CA"

$PIN_SERVER "$SEALTRACE" serve --data "$DATA" --url-file "$TMP/url" \
	>"$TMP/serve.log" 2>&1 &
SERVE_PID=$!
wait_for '[ -s "$TMP/url" ] || ! kill -0 $SERVE_PID 2>/dev/null' 300 ||
	die "sealtrace serve wrote no --url-file in 30 s: $(cat "$TMP/serve.log")"
kill -0 "$SERVE_PID" 2>/dev/null ||
	die "sealtrace serve exited: $(cat "$TMP/serve.log")"
URL=$(head -n 1 "$TMP/url")
URL=${URL%/}
wait_for 'curl -sf --cacert "$CA" "$URL/v1/health" >/dev/null' 50 ||
	die "GET $URL/v1/health failed for 5 s: $(cat "$TMP/serve.log")"

PEER_ARGS=
if [ -z "${NO_PEER:-}" ]; then
	# The server's own certificate serves the peer too (it names
	# 127.0.0.1), so one CA file verifies both.
	TRUST=
	if "$JR" --version | grep -q '+GNUTLS'; then
		TRUST=--trust=all
	fi
	# Without GnuTLS in systemd, --trust is refused and client
	# certificates are not checked anyway ("Certificate checking
	# disabled"): the same as --trust=all.
	tries=0
	while :; do
		tries=$((tries + 1))
		[ "$tries" -le 10 ] || die "systemd-journal-remote would not" \
			"start: $(cat "$TMP/jr.log")"
		PORT=$(shuf -i 20000-60000 -n 1)
		if ss -Hltn "sport = :$PORT" | grep -q .; then
			continue
		fi
		$PIN_SERVER "$JR" --listen-https="127.0.0.1:$PORT" \
			--key="$DATA/tls/server.key" \
			--cert="$DATA/tls/server.pem" $TRUST \
			--split-mode=none --output="$TMP/remote.journal" \
			>"$TMP/jr.log" 2>&1 &
		JR_PID=$!
		if wait_for 'ss -Hltn "sport = :$PORT" | grep -q . ||
			     ! kill -0 $JR_PID 2>/dev/null' 50 &&
		   kill -0 "$JR_PID" 2>/dev/null; then
			break
		fi
		kill "$JR_PID" 2>/dev/null || true
		wait "$JR_PID" 2>/dev/null || true
		JR_PID=
	done
	PEER_ARGS="--peer-journal https://127.0.0.1:$PORT --peer-ca $CA
		--peer-pid $JR_PID"
fi

echo "machine: $(nproc) cpus, $(grep -m 1 'model name' /proc/cpuinfo |
	sed 's/.*: //'), load $(cut -d ' ' -f 1-3 /proc/loadavg)"
echo "pinning: server and peer '${PIN_SERVER:-none}', load '${PIN_LOAD:-none}'"
# In the background, so that a signal to this script stops it at once
# (a shell runs its traps only after a foreground command ends).
# shellcheck disable=SC2086 # PIN_* and PEER_ARGS are word lists
$PIN_LOAD "$BENCH" --url "$URL" --ca "$CA" --token-file "$TMP/token" \
	--devices "$DEVICES" --segments "$SEGMENTS" --workers "$WORKERS" \
	--max-seconds "$MAX_SECONDS" --server-pid "$SERVE_PID" $PEER_ARGS &
BENCH_PID=$!
brc=0
wait "$BENCH_PID" || brc=$?
BENCH_PID=
echo "load_after: $(cut -d ' ' -f 1-3 /proc/loadavg) loadavg"

# Cross-checks from each side's own store, after the run.
status=$(printf 'Authorization: Bearer %s\n' "$(cat "$TMP/token")" |
	curl -sf --cacert "$CA" -H @- "$URL/v1/admin/status" 2>/dev/null) ||
	status=
if [ -n "$status" ]; then
	n=$(printf '%s' "$status" | grep -o '"segments": *[0-9]*' |
		grep -o '[0-9]*$')
	echo "server_segments_stored: ${n:-?} segments"
fi
echo "server_db_bytes: $(cat "$DATA"/sealtrace.db* | wc -c) bytes (database, WAL and index, after the run)"
if [ -n "$JR_PID" ]; then
	kill "$JR_PID" 2>/dev/null || true
	wait "$JR_PID" 2>/dev/null || true
	JR_PID=
	n=$(journalctl --file "$TMP/remote.journal" -o cat 2>/dev/null |
		grep -c '^sealtrace segment$' || true)
	echo "journal_entries_stored: $n entries"
	echo "journal_file_bytes: $(wc -c <"$TMP/remote.journal") bytes"
fi
exit "$brc"
