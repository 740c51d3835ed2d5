#!/bin/bash
# record-demo.sh - a real recording on a virtual display, through the server:
# the export host makes the master key pair; `sealtrace init` and `serve`
# start an HTTPS server on 127.0.0.1 with its public half; an administrator
# adds a person and prints an enrollment token; the agent enrolls with it
# (pinning the server's CA), its person accepts the notice; Xvfb + openbox +
# xterm, a scripted session typed and clicked with xdotool (with a pause in
# the middle); the agent uploads its sealed segments; the server's figures;
# then a data steward proposes a purpose, two privacy officers approve it,
# and the export host exports the recording as training data under it
# (the server itself can open nothing): the manifest and the first steps
# are printed, and the dataset is checked for the canaries typed on purpose.
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
ST=$B/src/server/sealtrace
EXPORT=$B/src/export/sealtrace-export

. scripts/xsession.sh
xsession_start "$T"
sleep 0.5
mkdir -p "$T/work"
# a plain bash (no rc files: the same shell in the recording and the replay)
(cd "$T/work" && xterm -title "demo shell" -class DemoTerm -geometry 90x30+0+0 \
	-e bash --norc --noprofile -i >/dev/null 2>&1 &)
for _ in $(seq 1 200); do W=$(xdotool search --class DemoTerm 2>/dev/null | head -1) && [ -n "$W" ] && break; sleep 0.05; done
# the shell must have the focus and a set-up terminal before the session
# (keys sent earlier are lost): a probe command it runs (bounded)
for _ in $(seq 1 20); do
	xdotool windowactivate --sync "$W" 2>/dev/null || true
	xdotool type --delay 20 "touch .ready" || true; xdotool key Return || true
	for _ in $(seq 1 10); do [ -e "$T/work/.ready" ] && break 2; sleep 0.1; done
done

echo "== export host: master key pair (the server gets the public half only)"
mkdir -m 700 "$T/export"
"$EXPORT" keygen --out "$T/export"
echo "== sealtrace init and serve (HTTPS on 127.0.0.1, a free port)"
"$ST" init "$T/server" --policy policies/demo.json \
	--master-public "$T/export/master.pub" --listen 127.0.0.1:0 \
	--officer olga@example.com --officer omar@example.com >"$T/init.out"
grep -v 'sta_' "$T/init.out" || true
export SEALTRACE_TOKEN
SEALTRACE_TOKEN=$(grep -m1 -oE 'sta_[A-Za-z0-9_-]{43}' "$T/init.out")
OFFICER1=$(sed -n 's/^officer olga@example.com: //p' "$T/init.out")
OFFICER2=$(sed -n 's/^officer omar@example.com: //p' "$T/init.out")
"$ST" serve --data "$T/server" --url-file "$T/url" 2>"$T/server.log" &
PIDS+=($!)
for _ in $(seq 1 200); do [ -s "$T/url" ] && break; sleep 0.05; done
export SEALTRACE_URL SEALTRACE_CA=$T/server/tls/ca.pem
SEALTRACE_URL=$(cat "$T/url")
echo "server: $SEALTRACE_URL"
"$ST" user add demo@example.com --group research
TOKEN=$("$ST" enroll-token --user demo@example.com --ttl 10m)

echo "== the agent enrolls with the token and its person accepts the notice"
"$AGENT" enroll "$SEALTRACE_URL" "$TOKEN" --state-dir "$T/agent" </dev/null >"$T/enroll.out"
head -1 "$T/enroll.out"
hash=$(sha256sum "$T/agent/notice.txt" | cut -d' ' -f1)
"$AGENT" accept --state-dir "$T/agent" --accept-notice "$hash" </dev/null | tail -1
export SEALTRACE_AGENT_SOCKET=$T/agent.sock
"$AGENT" run --state-dir "$T/agent" --backend x11 --backoff-min-ms 100 \
	--backoff-max-ms 2000 2>"$T/agent.log" &
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
echo "== the organisation's kill switch: pause every agent, type, resume"
"$ST" pause --all --reason "demo drill" --wait
"$AGENT" status --state-dir "$T/agent" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("agent during the pause:", d["state"], "-", d.get("message", ""))'
xdotool type --delay 20 "typed during the organisation pause"
"$ST" resume --all --reason "drill over"
for _ in $(seq 1 100); do
	"$AGENT" status --state-dir "$T/agent" | grep -q '"state":"recording"' && break
	sleep 0.05
done
xdotool type --delay 20 "date"; xdotool key Return
# a quiet gap (the export cuts episodes after 3 s here), then canaries:
# personal data the on-device filter must turn into markers
sleep 4
xdotool type --delay 20 "echo card 4111 1111 1111 1111 mail canary.person@example.org"; xdotool key Return
sleep 0.3
"$AGENT" flush --state-dir "$T/agent" | sed 's/^/status after flush: /'
# the uploader sends the spool; wait (bounded) until nothing waits
for _ in $(seq 1 100); do
	[ -z "$(ls "$T/agent/spool" | grep '\.seg$')" ] && break
	sleep 0.1
done
"$AGENT" status --state-dir "$T/agent" | sed 's/^/agent status: /'
kill -TERM "${PIDS[-1]}"
sleep 0.5
echo "== agent log (states and counts only)"
cat "$T/agent.log"
echo "== the server: devices and status (it holds ciphertext only)"
"$ST" device list
"$ST" status
"$ST" backup --out "$T/backup.db"
echo "== a data steward proposes a purpose; two privacy officers approve it"
"$ST" user add stella@example.com >/dev/null
# a steward grant takes two people: one officer asks, the other approves
REQ=$(SEALTRACE_TOKEN=$OFFICER1 "$ST" token create --person stella@example.com --role steward |
	sed -n 's/^request \([0-9]*\):.*/\1/p')
STEWARD=$(SEALTRACE_TOKEN=$OFFICER2 "$ST" token approve "$REQ" 2>/dev/null)
SEALTRACE_TOKEN=$STEWARD "$ST" purpose propose --name computer-use-training \
	--description "UI agents for terminal work" --steward stella@example.com \
	--user demo@example.com --level 2 --expires-days 30
SEALTRACE_TOKEN=$OFFICER1 "$ST" purpose approve 1
SEALTRACE_TOKEN=$OFFICER2 "$ST" purpose approve 1
SEALTRACE_TOKEN=$STEWARD "$ST" purpose list

echo "== export host: the dataset, under the approved purpose"
SEALTRACE_TOKEN=$STEWARD "$EXPORT" dataset --purpose 1 --out "$T/dataset" \
	--master "$T/export/master.key" --idle-seconds 3 --no-progress
python3 - "$T/dataset" <<'PY'
import json, os, sys
d = sys.argv[1]
m = json.load(open(os.path.join(d, "manifest.json")))
print("manifest: export %s, purpose %s (approved by %s), %d people, %d segments,"
      % (m["export_id"], m["purpose"]["name"], ", ".join(m["purpose"]["approvers"]),
         m["people"], m["segments"]["exported"]))
print("  %d episodes, %d steps; actions %s" % (m["episodes"], m["steps"],
      ", ".join("%s %d" % kv for kv in sorted(m["actions"].items()) if kv[1])))
print("  redactions %s; levels %s; audit entry %d" % (m["redactions"] or "none", m["levels"],
      m["audit"]["start_seq"]))
first = sorted(m["files"], key=lambda f: f["path"])[0]["path"]
print("first steps of %s:" % first)
for line in open(os.path.join(d, first)).readlines()[:8]:
    s = json.loads(line)
    print("  %5d ms  %-12s %s" % (s["time_ms"], s["action"]["type"], s["pyautogui"]))
PY
if grep -rqE '4111 1111 1111 1111|canary\.person@example\.org' "$T/dataset"; then
	echo "FAIL: a canary reached the dataset" >&2
	exit 1
fi
echo "no canary in the dataset"
if [ -d tests/schema/node_modules/ajv ]; then
	node tests/schema/validate.js --export "$T/dataset" >/dev/null &&
		echo "the dataset validates against docs/schema (ajv): files, counts and hashes"
fi

echo "== replay: the first episode into a fresh display and a fresh xterm"
mkdir -m 700 "$T/replay"
REC_DISPLAY=$DISPLAY
xsession_start "$T/replay"
(cd "$T/replay" && xterm -title "demo shell" -class ReplayTerm -geometry 90x30+0+0 \
	-e bash --norc --noprofile -i >/dev/null 2>&1 &)
for _ in $(seq 1 200); do RW=$(xdotool search --class ReplayTerm 2>/dev/null | head -1) && [ -n "$RW" ] && break; sleep 0.05; done
# the new shell must have the focus and its terminal set up before the
# episode's first key: a probe command it runs once both hold (bounded)
for _ in $(seq 1 20); do
	xdotool windowactivate --sync "$RW" 2>/dev/null || true
	xdotool type --delay 20 "touch .ready" || true; xdotool key Return || true
	for _ in $(seq 1 10); do [ -e "$T/replay/.ready" ] && break 2; sleep 0.1; done
done
sleep 1 # and back at its prompt: keys typed while a new shell sets up its
	# terminal can be flushed
FIRST=$(ls "$T/dataset/episodes" | head -1)
"$B/src/replay/sealtrace-replay" --speed 2 "$T/dataset/episodes/$FIRST"
sleep 1
if cmp -s "$T/work/greeting.txt" "$T/replay/greeting.txt"; then
	echo "replayed: greeting.txt is the same as in the recording"
else
	echo "FAIL: the replayed episode did not write the same greeting.txt" >&2
	echo "recorded: $(od -c "$T/work/greeting.txt" 2>&1 | head -3)" >&2
	echo "replayed: $(od -c "$T/replay/greeting.txt" 2>&1 | head -3)" >&2
	ls -la "$T/replay" >&2
	exit 1
fi
export DISPLAY=$REC_DISPLAY
SEALTRACE_TOKEN=$OFFICER1 "$ST" audit list | tail -4

echo "== export host: the stored segments, opened with the master secret"
"$KIT" store-open summary "$T/export/master.key" "$T/backup.db"
"$KIT" store-open dump "$T/export/master.key" "$T/backup.db" >"$T/events.jsonl"
typed=$(python3 -c '
import json,sys
print("".join(e.get("text","") if e["type"]=="key_press" else "" for e in map(json.loads,open(sys.argv[1]))))' "$T/events.jsonl")
printf 'typed_text: %s\n' "$typed"
echo "first events:"
head -8 "$T/events.jsonl" | sed 's/^/  /'
# key text is one character per event: look in the text put back together
case $typed in
*organisation*)
	echo "FAIL: text typed during the organisation's pause was recorded" >&2
	exit 1 ;;
*"never recorded"*|*"while paused"*)
	echo "FAIL: text typed while paused was recorded" >&2
	exit 1 ;;
*"echo hello from sealtrace"*) ;;
*)
	echo "FAIL: the typed session did not reach the server" >&2
	exit 1 ;;
esac
