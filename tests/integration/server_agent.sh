#!/bin/bash
# server_agent.sh - a running agent and a real server over TLS: the agent
# uploads what it seals; a new policy stops its recording until the person
# accepts the new notice (and the server records that acceptance), then it
# records under the new notice; `forget` deletes what the server already
# holds of those minutes; a revoked device stops uploading and recording.
# The event-file backend drives the agent, so no display is needed. TAP.
source "$SRC/tests/integration/lib.sh"
source "$SRC/tests/integration/lib_server.sh"

init_server srv || { echo "Bail out! sealtrace init failed"; exit 1; }
start_server || { echo "Bail out! sealtrace serve did not start"; exit 1; }
"$SEALTRACE" user add dana@example.com >/dev/null 2>>"$T/admin.err"
enroll_server "$T/a" "$(new_token dana@example.com)" || { echo "Bail out! enrollment failed"; exit 1; }
A_ID=$(device_id_of "$T/a")

# a few seconds of typing, then the file ends and the agent waits
{
	echo '{"sealtrace_eventfile":1}'
	echo '{"t":0,"type":"screen","screen":0,"x":0,"y":0,"w":1280,"h":1024}'
	echo '{"t":5,"type":"focus","app":"xterm","class":"XTerm","title":"shell","pid":42}'
	t=100
	for c in l s; do
		echo "{\"t\":$t,\"type\":\"key_press\",\"keycode\":46,\"keysym\":108,\"mods\":0,\"text\":\"$c\"}"
		t=$((t + 60))
		echo "{\"t\":$t,\"type\":\"key_release\",\"keycode\":46,\"keysym\":108,\"mods\":0}"
		t=$((t + 60))
	done
} >"$T/typing.jsonl"

status_of() { # FIELD: one field of the agent's status
	ctl "$T/a" status | python3 -c 'import json,sys; v=json.load(sys.stdin).get(sys.argv[1]); print(json.dumps(v) if isinstance(v,(dict,list)) else v)' "$1"
}
segments_on_server() { device_field "$A_ID" segments; }

SEALTRACE_AGENT_SOCKET=$T/a.sock "$AGENT" run --state-dir "$T/a" --backend eventfile \
	--eventfile "$T/typing.jsonl" --backoff-min-ms 50 --backoff-max-ms 500 \
	--notice-check-seconds 0.5 2>>"$T/a.log" &
AGENT_PID=$!
PIDS+=($AGENT_PID)
wait_for 10 test -S "$T/a.sock" || { echo "Bail out! agent did not start: $(cat "$T/a.log")"; exit 1; }
sleep 1
ctl "$T/a" flush >/dev/null
check "the running agent uploads what it seals" wait_for 10 bash -c "[ \"\$(device_field $A_ID segments)\" -ge 1 ]"
check "its status shows the upload" wait_for 5 bash -c "[ \"\$(SEALTRACE_AGENT_SOCKET=$T/a.sock '$AGENT' status --state-dir '$T/a' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"uploaded\"])')\" -ge 1 ]"

# ---- a new policy: recording stops until the person accepts ----
python3 -c '
import json, sys
p = json.load(open(sys.argv[1])); p["retention_days"] = 45
json.dump(p, open(sys.argv[2], "w"))' "$SRC/policies/default.json" "$T/policy2.json"
"$SEALTRACE" policy apply "$T/policy2.json" >/dev/null 2>>"$T/admin.err"
ctl "$T/a" flush >/dev/null
check "the agent learns of the new notice and stops recording" \
	wait_for 10 bash -c "SEALTRACE_AGENT_SOCKET=$T/a.sock '$AGENT' status --state-dir '$T/a' | grep -q '\"notice_pending\":true'"
check "its state says why" bash -c "[ \"\$(SEALTRACE_AGENT_SOCKET=$T/a.sock '$AGENT' status --state-dir '$T/a' | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d[\"state\"], \"accept\" in d[\"reason\"])')\" != 'recording False' ]"
check "the new notice waits beside the accepted one" test -s "$T/a/notice.pending.txt"
NEW=$(sha256sum "$T/a/notice.pending.txt" | cut -d' ' -f1)
"$AGENT" accept --state-dir "$T/a" --accept-notice "$NEW" </dev/null >"$T/accept2.log" 2>&1
check "the person accepts the new notice" test $? -eq 0
check "the agent records again, under the new notice" \
	wait_for 10 bash -c "SEALTRACE_AGENT_SOCKET=$T/a.sock '$AGENT' status --state-dir '$T/a' 2>/dev/null | grep -q '\"state\":\"recording\"'"
check "the accepted notice on disk is the new one" \
	test "$(sha256sum "$T/a/notice.txt" | cut -d' ' -f1)" = "$NEW"
before=$(segments_on_server)
ctl "$T/a" flush >/dev/null
check "and its uploads under the new notice are stored" \
	wait_for 10 bash -c "[ \"\$(device_field $A_ID segments)\" -gt $before ]"

# ---- forget: the server deletes what it holds of those minutes ----
ctl "$T/a" forget 30 >"$T/forget.out" 2>&1
check "forget 30 is accepted by the agent" test $? -eq 0
check "the server deletes the device's segments of the last 30 minutes" \
	wait_for 10 bash -c "[ \"\$(device_field $A_ID segments)\" = 0 ]"
check "the agent counts the request as sent" \
	wait_for 5 bash -c "[ \"\$(SEALTRACE_AGENT_SOCKET=$T/a.sock '$AGENT' status --state-dir '$T/a' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"forgets_sent\"])')\" -ge 1 ]"

# ---- revocation ----
"$SEALTRACE" device revoke "$A_ID" >/dev/null 2>>"$T/admin.err"
ctl "$T/a" flush >/dev/null
check "a revoked device stops uploading and says so" \
	wait_for 10 bash -c "SEALTRACE_AGENT_SOCKET=$T/a.sock '$AGENT' status --state-dir '$T/a' | grep -q '\"upload_state\":\"revoked\"'"
check "and stops recording" bash -c "! SEALTRACE_AGENT_SOCKET=$T/a.sock '$AGENT' status --state-dir '$T/a' | grep -q '\"state\":\"recording\"'"
check "its segments stay on the device (nothing dropped)" \
	test -n "$(ls "$T/a/spool" | grep '\.seg$')"
stop_agent
finish
