#!/bin/bash
# bench/agent.sh - the agent's cost on a person's machine, measured under
# Xvfb: a scripted 100 events/s mix (typing, pointer, clicks) driven through
# XTEST for DURATION seconds (default 300), while both the agent (x11
# backend) and a do-nothing floor program receive the same X input. The
# agent is enrolled with a real sealtrace server on 127.0.0.1 (HTTPS) and
# uploads its segments as it goes, so its cost includes the uploader
# (ST_BENCH_LOCAL=1: development enrollment, no server, as before).
# Prints one figure per line as "name: value unit".
# usage: bench/agent.sh [DURATION_S] [EVENTS_PER_S]   (run after a build)
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-300}
RATE=${2:-100}
B=${BUILD:-$PWD/build}
T=$(mktemp -d /tmp/st-bench-agent.XXXXXX)
chmod 700 "$T"
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; sleep 0.3; rm -rf "$T"' EXIT

. scripts/xsession.sh
xsession_start "$T"
xterm -geometry 100x40+0+0 >/dev/null 2>&1 &
PIDS+=($!)
sleep 1

if [ -n "${ST_BENCH_LOCAL:-}" ]; then
	"$B/tests/st-testkit" keygen "$T"
	"$B/src/server/sealtrace" policy notice policies/default.json >"$T/notice.txt"
	hash=$(sha256sum "$T/notice.txt" | cut -d' ' -f1)
	"$B/src/agent/sealtrace-agent" enroll --local --state-dir "$T/a" \
		--policy policies/default.json --notice "$T/notice.txt" \
		--recipient "$T/person.pub" --accept-notice "$hash" >/dev/null
	DEV=--dev
else
	mkdir -m 700 "$T/export"
	"$B/src/export/sealtrace-export" keygen --out "$T/export" >/dev/null
	"$B/src/server/sealtrace" init "$T/server" --policy policies/default.json \
		--master-public "$T/export/master.pub" --listen 127.0.0.1:0 \
	--officer olga@example.com --officer omar@example.com >"$T/init.out"
	export SEALTRACE_TOKEN SEALTRACE_URL SEALTRACE_CA=$T/server/tls/ca.pem
	SEALTRACE_TOKEN=$(grep -m1 -oE 'sta_[A-Za-z0-9_-]{43}' "$T/init.out")
	"$B/src/server/sealtrace" serve --data "$T/server" --url-file "$T/url" 2>"$T/server.log" &
	PIDS+=($!)
	for _ in $(seq 1 200); do [ -s "$T/url" ] && break; sleep 0.05; done
	SEALTRACE_URL=$(cat "$T/url")
	"$B/src/server/sealtrace" user add bench@example.com >/dev/null
	tok=$("$B/src/server/sealtrace" enroll-token --user bench@example.com)
	"$B/src/agent/sealtrace-agent" enroll "$SEALTRACE_URL" "$tok" --state-dir "$T/a" </dev/null >/dev/null
	"$B/src/agent/sealtrace-agent" accept --state-dir "$T/a" \
		--accept-notice "$(sha256sum "$T/a/notice.txt" | cut -d' ' -f1)" </dev/null >/dev/null
	DEV=
fi
# shellcheck disable=SC2086 # DEV is empty or one word
SEALTRACE_AGENT_SOCKET=$T/a.sock "$B/src/agent/sealtrace-agent" run $DEV \
	--state-dir "$T/a" --backend x11 2>"$T/agent.log" &
AG=$!
PIDS+=($AG)
"$B/bench/bench-x11floor" 2>"$T/floor.log" &
FL=$!
PIDS+=($FL)
for _ in $(seq 1 200); do [ -S "$T/a.sock" ] && break; sleep 0.05; done
sleep 0.5

cpu_ns() { cut -d' ' -f1 "/proc/$1/schedstat"; }
spool_bytes() { du -sb "$T/a/spool" | cut -f1; }
a0=$(cpu_ns $AG); f0=$(cpu_ns $FL); s0=$(spool_bytes); t0=$(date +%s%N)
"$B/bench/bench-xdrive" "$DUR" "$RATE" >"$T/drive.txt"
sleep 0.5
a1=$(cpu_ns $AG); f1=$(cpu_ns $FL); t1=$(date +%s%N)
SEALTRACE_AGENT_SOCKET=$T/a.sock "$B/src/agent/sealtrace-agent" flush --state-dir "$T/a" >/dev/null
hwm_a=$(awk '/VmHWM/ {print $2}' /proc/$AG/status)
hwm_f=$(awk '/VmHWM/ {print $2}' /proc/$FL/status)
wall=$(( (t1 - t0) ))
if [ -n "${ST_BENCH_LOCAL:-}" ]; then
	s1=$(spool_bytes)
	summary=$("$B/tests/st-testkit" summary "$T/person.key" "$T/a/device.pub" "$T/person.pub" "$T/a/spool")
else
	# let the uploader send the last segment, then read what the server holds
	for _ in $(seq 1 100); do
		[ -z "$(ls "$T/a/spool" | grep '\.seg$')" ] && break
		sleep 0.1
	done
	"$B/src/server/sealtrace" backup --out "$T/backup.db" >/dev/null
	s1=$((s0 + $(sqlite3 "$T/backup.db" 'select coalesce(sum(length(header) + length(ciphertext)), 0) from segments')))
	summary=$("$B/tests/st-testkit" store-open summary "$T/export/master.key" "$T/backup.db")
	uploaded=$(SEALTRACE_AGENT_SOCKET=$T/a.sock "$B/src/agent/sealtrace-agent" status --state-dir "$T/a" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["uploaded"])')
fi

echo "input: bench-xdrive, XTEST, ${RATE} events/s for ${DUR} s (40% keys, 50% motion, 10% buttons) into Xvfb + openbox + xterm"
cat "$T/drive.txt"
awk -v a="$((a1 - a0))" -v f="$((f1 - f0))" -v w="$wall" 'BEGIN {
	printf "agent_cpu: %.4f %% of one core\n", 100 * a / w
	printf "floor_cpu: %.4f %% of one core\n", 100 * f / w
	printf "agent_cpu_above_floor: %.4f %% of one core\n", 100 * (a - f) / w
	printf "agent_cpu_ns: %d ns\nfloor_cpu_ns: %d ns\nwindow: %.1f s\n", a, f, w / 1e9 }'
echo "agent_peak_rss: $((hwm_a / 1024)).$(( (hwm_a % 1024) * 10 / 1024 )) MiB"
echo "floor_peak_rss: $((hwm_f / 1024)).$(( (hwm_f % 1024) * 10 / 1024 )) MiB"
awk -v b="$((s1 - s0))" -v w="$wall" 'BEGIN { printf "sealed_bytes_per_hour: %d bytes/h\n", b * 3600e9 / w }'
if [ -z "${ST_BENCH_LOCAL:-}" ]; then
	echo "uploaded_segments: $uploaded segments (to https://127.0.0.1, acknowledged and removed from the spool)"
	echo "server_log_lines: $(wc -l <"$T/server.log") lines"
fi
echo "$summary" | sed 's/^/recorded_/'
echo "clock: /proc/PID/schedstat (ns on CPU), wall from date +%s%N; RSS from VmHWM"
