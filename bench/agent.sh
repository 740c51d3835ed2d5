#!/bin/bash
# bench/agent.sh - the agent's cost on a person's machine, measured under
# Xvfb: a scripted 100 events/s mix (typing, pointer, clicks) driven through
# XTEST for DURATION seconds (default 300), while both the agent (x11
# backend) and a do-nothing floor program receive the same X input.
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

"$B/tests/st-testkit" keygen "$T"
"$B/src/server/sealtrace" policy notice policies/default.json >"$T/notice.txt"
hash=$(sha256sum "$T/notice.txt" | cut -d' ' -f1)
"$B/src/agent/sealtrace-agent" enroll --local --state-dir "$T/a" \
	--policy policies/default.json --notice "$T/notice.txt" \
	--recipient "$T/person.pub" --accept-notice "$hash" >/dev/null
SEALTRACE_AGENT_SOCKET=$T/a.sock "$B/src/agent/sealtrace-agent" run --dev \
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
s1=$(spool_bytes)
hwm_a=$(awk '/VmHWM/ {print $2}' /proc/$AG/status)
hwm_f=$(awk '/VmHWM/ {print $2}' /proc/$FL/status)
wall=$(( (t1 - t0) ))
summary=$("$B/tests/st-testkit" summary "$T/person.key" "$T/a/device.pub" "$T/person.pub" "$T/a/spool")

echo "input: bench-xdrive, XTEST, ${RATE} events/s for ${DUR} s (40% keys, 50% motion, 10% buttons) into Xvfb + openbox + xterm"
cat "$T/drive.txt"
awk -v a="$((a1 - a0))" -v f="$((f1 - f0))" -v w="$wall" 'BEGIN {
	printf "agent_cpu: %.4f %% of one core\n", 100 * a / w
	printf "floor_cpu: %.4f %% of one core\n", 100 * f / w
	printf "agent_cpu_above_floor: %.4f %% of one core\n", 100 * (a - f) / w
	printf "agent_cpu_ns: %d ns\nfloor_cpu_ns: %d ns\nwindow: %.1f s\n", a, f, w / 1e9 }'
echo "agent_peak_rss: $((hwm_a / 1024)).$(( (hwm_a % 1024) * 10 / 1024 )) MiB"
echo "floor_peak_rss: $((hwm_f / 1024)).$(( (hwm_f % 1024) * 10 / 1024 )) MiB"
awk -v b="$((s1 - s0))" -v w="$wall" 'BEGIN { printf "spool_bytes_per_hour: %d bytes/h\n", b * 3600e9 / w }'
echo "$summary" | sed 's/^/recorded_/'
echo "clock: /proc/PID/schedstat (ns on CPU), wall from date +%s%N; RSS from VmHWM"
