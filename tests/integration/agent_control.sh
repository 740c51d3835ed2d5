#!/bin/bash
# agent_control.sh - the person's controls and the agent's promises, against
# a real Xvfb + openbox + xterm + xdotool: the consent gate, pause and resume
# (and how fast a pause silences), forget, crash recovery, the spool bound,
# and the event-file backend's determinism.
. "$(dirname "$0")/lib.sh"

start_x
W1=$(xterm_win "Notes - alpha" AlphaTerm)
xdotool windowactivate --sync "$W1" 2>/dev/null
A=$T/agent

# 1. consent gate: no acceptance, no recording
mkdir -p "$T/keys"
"$KIT" keygen "$T/keys"
POL=$SRC/policies/default.json
notice_of "$POL"
cp "$T/notice.txt" "$T/notice-shown.txt"
printf 'a notice that is not the policy\n' >"$T/other-notice.txt"
out=$("$AGENT" enroll --local --state-dir "$T/other" --policy "$POL" \
	--notice "$T/other-notice.txt" --recipient "$T/keys/person.pub" </dev/null 2>&1)
check "a notice that the policy does not render is refused (notice = policy)" \
	sh -c "echo \"\$1\" | grep -q 'is not the notice'" _ "$out"
out=$("$AGENT" enroll --local --state-dir "$A" --policy "$POL" \
	--notice "$T/notice-shown.txt" --recipient "$T/keys/person.pub" \
	--accept-notice 0000 </dev/null 2>&1)
check "a wrong notice hash is refused" test $? -ne 0
echo "$out" | grep -q "does not match" || diag "$out"
out=$("$AGENT" run --dev --state-dir "$A" --backend x11 2>&1)
rc=$?
check "run refuses without an accepted notice, saying how to get one" \
	sh -c "[ $rc -ne 0 ] && echo \"\$1\" | grep -q 'sealtrace-agent accept'" _ "$out"
out=$("$AGENT" accept --state-dir "$A" </dev/null 2>&1)
check "accept without a terminal or a hash records nothing" \
	sh -c "echo \"\$1\" | grep -q 'needs the person at a terminal' && [ ! -e '$A/consent.json' ]" _ "$out"
hash=$(sha256sum "$T/notice-shown.txt" | cut -d' ' -f1)
"$AGENT" accept --state-dir "$A" --accept-notice "$hash" >"$T/accept.out" 2>&1
check "accept with the shown notice's hash records acceptance" test -s "$A/consent.json"
check "the notice shown is exactly the notice bytes" \
	sh -c "head -c $(wc -c <"$T/notice-shown.txt") '$T/accept.out' | cmp -s - '$T/notice-shown.txt'"
# the typed phrase, at a real terminal (script gives accept a pty)
P=$T/phrase
"$AGENT" enroll --local --state-dir "$P" --policy "$POL" --notice "$T/notice-shown.txt" \
	--recipient "$T/keys/person.pub" </dev/null >/dev/null 2>&1
printf 'no thanks\n' | script -qec "'$AGENT' accept --state-dir '$P'" /dev/null >"$T/phrase-no.out" 2>&1
check "at a terminal, anything but the phrase records nothing" \
	sh -c "[ ! -e '$P/consent.json' ] && grep -q 'not accepted' '$T/phrase-no.out'"
printf 'I accept\n' | script -qec "'$AGENT' accept --state-dir '$P'" /dev/null >"$T/phrase.out" 2>&1
check "at a terminal, typing the phrase records acceptance" \
	sh -c "grep -q '\"how\": \"phrase\"' '$P/consent.json'"
out=$("$AGENT" run --state-dir "$A" --backend x11 2>&1)
check "a development enrollment runs only with --dev" \
	sh -c "echo \"\$1\" | grep -q 'not under any organisation'" _ "$out"

# 2. pause: nothing typed after it appears anywhere; resume records again
start_agent "$A" --backend x11 --segment-seconds 300 || { not_ok "agent starts"; finish; }
xdotool type --delay 10 "before pause "
sleep 0.2
t0=$(date +%s%N)
ctl "$A" pause >"$T/pause.out"
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
xdotool type --delay 10 "SECRETPAUSEDCANARY"
xdotool mousemove 777 555 click 1
sleep 0.3
check "status says paused, by you" grep -q '"state":"paused".*"reason":"paused by you"' "$T/pause.out"
check "the state file a tray reads says paused" grep -q '"state":"paused"' "$A/state.json"
diag "pause command returned in $ms ms (process start included)"
# pause-to-silence measured inside the agent's loop: a pause answered over
# the socket, with no process start, must take under 100 ms
python3 - "$A.sock" <<'PY' >"$T/lat.txt"
import socket, sys, time, json
def call(cmd):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
    t = time.monotonic(); s.sendall((json.dumps(cmd) + "\n").encode())
    r = s.makefile().readline(); dt = time.monotonic() - t; s.close()
    return json.loads(r), dt
call({"cmd": "resume"})
worst = 0
for _ in range(10):
    r, dt = call({"cmd": "pause"}); worst = max(worst, dt)
    assert r["state"] == "paused"
    call({"cmd": "resume"})
call({"cmd": "pause"})
print(f"{worst*1000:.1f}")
PY
lat=$(cat "$T/lat.txt")
diag "pause-to-silence, worst of 10 over the socket: $lat ms"
check "pause-to-silence under 100 ms" python3 -c "import sys; sys.exit(0 if float('$lat') < 100 else 1)"
xdotool type --delay 10 "SECONDPAUSEDCANARY"
ctl "$A" resume >/dev/null
xdotool type --delay 10 "after resume"
sleep 0.2
ctl "$A" flush >/dev/null
dump "$A" >"$T/p.jsonl"
txt=$(typed_text "$T/p.jsonl")
check "typing before the pause is recorded" sh -c "echo '$txt' | grep -q 'before pause'"
check "typing after resume is recorded" sh -c "echo '$txt' | grep -q 'after resume'"
check "nothing typed while paused is in any segment" sh -c "! echo '$txt' | grep -q CANARY"
check "no click while paused is in any segment" sh -c "! grep -q '\"x\":777,\"y\":555' '$T/p.jsonl'"
# key codes of the canary are not there either: its letters, as a code run
python3 - "$T/p.jsonl" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
m = [e["marker"] for e in ev if e["type"] == "session"]
# start, pause, resume(after pause), then the same for the socket loop
sys.exit(0 if m[0] == 1 and 2 in m and 3 in m else 1)
PY
check "pause and resume are visible as session markers" test $? -eq 0
check "no spool or state file holds the canary" \
	sh -c "! grep -rqa CANARY '$A' && ! grep -qa CANARY '$A.log'"

# 3. forget: the last minutes of unsent recording are deleted
xdotool type --delay 10 "FORGETMECANARY"
sleep 0.2
ctl "$A" flush >/dev/null
ctl "$A" forget 5 >"$T/forget.out"
check "forget deletes the spooled segments of the last minutes" grep -q '"segments_deleted":[1-9]' "$T/forget.out"
check "forget leaves a deletion request for what was sent" test -s "$A/forget-requests.jsonl"
ctl "$A" flush >/dev/null
dump "$A" >"$T/f.jsonl"
check "nothing of the forgotten minutes remains" sh -c "! grep -q FORGETME '$T/f.jsonl' && ! grep -rqa FORGETME '$A/spool'"
python3 - "$T/f.jsonl" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if any(e["type"] == "session" and e["marker"] == 4 and e["reason"] == 6 for e in ev) else 1)
PY
check "forget leaves a visible gap marker" test $? -eq 0

# 4. crash safety: kill -9 during heavy input, restart
( for i in $(seq 1 30); do xdotool type --delay 1 "heavy input $i "; done ) &
TYPER=$!
sleep 1.0
ctl "$A" flush >/dev/null
sleep 0.3
kill -9 "$AGENT_PID"
wait "$TYPER" 2>/dev/null
before=$(ls "$A/spool" | grep -c '\.seg$')
sha_before=$(cd "$A/spool" && sha256sum ./*.seg | sort)
start_agent "$A" --backend x11 --segment-seconds 300 || not_ok "agent restarts after kill -9"
check "restart reports the unclean stop" grep -q "restarted after an unclean stop" "$A.log"
xdotool type --delay 10 "after crash"
sleep 0.2
ctl "$A" flush >/dev/null
dump "$A" >"$T/c.jsonl" 2>"$T/c.err"
check "every spooled segment verifies and opens after kill -9" test ! -s "$T/c.err"
check "segments durable before the crash are intact" sh -c "cd '$A/spool' && echo \"\$1\" | sha256sum -c --quiet -" _ "$sha_before"
python3 - "$T/c.jsonl" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if any(e["type"] == "session" and e["marker"] == 4 and e["reason"] == 4 for e in ev) else 1)
PY
check "the crash is a visible gap marker" test $? -eq 0
check "recording resumes after the restart" sh -c "grep -q '\"text\":\"h\"' '$T/c.jsonl' && python3 -c 'import sys' "
stop_agent
diag "$before segments were in the spool at the kill"

# 5. spool bound: recording stops, the state says so, nothing is dropped
B=$T/small
enroll "$B" || not_ok "enroll second agent"
start_agent "$B" --backend x11 --segment-seconds 0.3 --spool-max 4096 || not_ok "agent with a small spool"
for i in $(seq 1 12); do xdotool type --delay 2 "filling the spool line $i with text"; xdotool key Return; sleep 0.35; done
sleep 0.5
ctl "$B" status >"$T/full.out"
check "a full spool stops recording and says so" grep -q '"state":"stopped".*spool full' "$T/full.out"
n=$(ls "$B/spool" | grep -c '\.seg$')
bytes=$(cat "$B"/spool/*.seg | wc -c)
check "the spool stays within its bound" test "$bytes" -le 4096
stop_agent
dump "$B" >"$T/full.jsonl" 2>"$T/full.err"
check "every segment written before the bound is intact" test ! -s "$T/full.err"
check "the segment that did not fit is never dropped silently: the stop says so" \
	grep -q "could not be spooled before stopping" "$B.log"
diag "$n segments ($bytes bytes) in a 4096-byte spool"

# 6. the eventfile backend: identical bodies for the same input
E1=$T/ev1
E2=$T/ev2
enroll "$E1"
enroll "$E2"
python3 - >"$T/in.jsonl" <<'PY'
import json
print(json.dumps({"sealtrace_eventfile": 1, "tick_ns": 1000000, "anchor_ns": 1790000000000000000}))
t = 0
print(json.dumps({"t": 0, "type": "screen", "screen": 0, "x": 0, "y": 0, "w": 1280, "h": 1024}))
print(json.dumps({"t": 1, "type": "focus", "app": "xterm", "class": "XTerm", "title": "bash", "pid": 9}))
for i, c in enumerate("deterministic replay " * 20):
    t += 37
    print(json.dumps({"t": t, "type": "key_press", "keycode": 38, "keysym": ord(c), "mods": 0, "text": c}))
    t += 11
    print(json.dumps({"t": t, "type": "key_release", "keycode": 38, "keysym": ord(c), "mods": 0}))
for i in range(300):
    t += 5
    print(json.dumps({"t": t, "type": "pointer", "x": 100 + i, "y": 200 + i // 3, "screen": 0}))
PY
for e in "$E1" "$E2"; do
	SEALTRACE_AGENT_SOCKET=$e.sock "$AGENT" run --dev --state-dir "$e" --backend eventfile \
		--eventfile "$T/in.jsonl" --speed 0 --exit-at-end 2>>"$e.log"
done
"$KIT" bodies "$T/keys/person.key" "$E1/device.pub" "$T/keys/person.pub" "$E1/spool" >"$T/e1.jsonl"
"$KIT" bodies "$T/keys/person.key" "$E2/device.pub" "$T/keys/person.pub" "$E2/spool" >"$T/e2.jsonl"
diag "bodies: $(wc -l <"$T/e1.jsonl") segments"
check "the eventfile backend gives identical segment bodies for the same input" \
	sh -c "test -s '$T/e1.jsonl' && cmp -s '$T/e1.jsonl' '$T/e2.jsonl'"
finish
