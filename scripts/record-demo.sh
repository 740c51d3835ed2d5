#!/bin/bash
# record-demo.sh - a real recording on a virtual display: Xvfb + openbox +
# xterm, an agent enrolled in development mode whose person accepted the
# notice, a scripted session typed and clicked with xdotool (with a pause in
# the middle), then the spool opened with the person's key and summarised.
# Called by scripts/main.sh after the build; BUILD names the build folder.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-$PWD/build}
T=$(mktemp -d /tmp/sealtrace-demo.XXXXXX)
chmod 700 "$T"
PIDS=()
cleanup() { kill "${PIDS[@]}" 2>/dev/null || true; sleep 0.2; rm -rf "$T"; }
trap cleanup EXIT
AGENT=$B/src/agent/sealtrace-agent
KIT=$B/tests/st-testkit

. scripts/xsession.sh
xsession_start "$T"
sleep 0.5
mkdir -p "$T/work"
(cd "$T/work" && xterm -title "demo shell" -class DemoTerm -geometry 90x30+0+0 >/dev/null 2>&1 &)
for _ in $(seq 1 200); do W=$(xdotool search --class DemoTerm 2>/dev/null | head -1) && [ -n "$W" ] && break; sleep 0.05; done

echo "== enroll (development mode) and accept the notice"
"$KIT" keygen "$T"
"$B/src/server/sealtrace" policy notice policies/default.json >"$T/notice.txt"
hash=$(sha256sum "$T/notice.txt" | cut -d' ' -f1)
"$AGENT" enroll --local --state-dir "$T/agent" --policy policies/default.json \
	--notice "$T/notice.txt" --recipient "$T/person.pub" \
	--accept-notice "$hash" | tail -2
export SEALTRACE_AGENT_SOCKET=$T/agent.sock
"$AGENT" run --dev --state-dir "$T/agent" --backend x11 2>"$T/agent.log" &
PIDS+=($!)
for _ in $(seq 1 200); do [ -S "$T/agent.sock" ] && break; sleep 0.05; done

echo "== a scripted session in xterm (xdotool)"
xdotool windowactivate --sync "$W"
xdotool type --delay 20 "echo hello from sealtrace > greeting.txt"; xdotool key Return
xdotool type --delay 20 "ls -l"; xdotool key Return
xdotool mousemove --sync 200 150 click 1 sleep 0.1 click --repeat 2 --delay 80 1
xdotool mousemove 300 200 mousedown 1 sleep 0.05 mousemove 400 260 sleep 0.05 mouseup 1
xdotool click 5 click 5 click 4
xdotool key ctrl+l
"$AGENT" pause --state-dir "$T/agent" | sed 's/^/status after pause: /'
xdotool type --delay 20 "this is typed while paused and never recorded"
"$AGENT" resume --state-dir "$T/agent" >/dev/null
xdotool type --delay 20 "date"; xdotool key Return
sleep 0.3
"$AGENT" flush --state-dir "$T/agent" | sed 's/^/status after flush: /'
"$AGENT" status --state-dir "$T/agent" >/dev/null
kill -TERM "${PIDS[-1]}"
sleep 0.5
echo "== agent log (states and counts only)"
cat "$T/agent.log"
echo "== the spool, opened with the person's key"
"$KIT" summary "$T/person.key" "$T/agent/device.pub" "$T/person.pub" "$T/agent/spool"
"$KIT" dump "$T/person.key" "$T/agent/device.pub" "$T/person.pub" "$T/agent/spool" >"$T/events.jsonl"
printf 'typed_text: %s\n' "$(python3 -c '
import json,sys
print("".join(e.get("text","") if e["type"]=="key_press" else "" for e in map(json.loads,open(sys.argv[1]))))' "$T/events.jsonl")"
echo "first events:"
head -8 "$T/events.jsonl" | sed 's/^/  /'
if grep -q "typed while paused" "$T/events.jsonl"; then
	echo "FAIL: text typed while paused was recorded" >&2
	exit 1
fi
