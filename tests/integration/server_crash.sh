#!/bin/bash
# server_crash.sh - nothing acknowledged is lost and nothing is stored twice:
# the server is killed with SIGKILL again and again while an agent uploads
# 1,000 sealed segments, and restarted each time on the same port; at the
# end the server holds every segment exactly once and the agent's spool is
# empty. Then the server stays down while the agent has more to send (short
# backoff settings): the agent keeps it spooled and catches up once the
# server is back. Last, SIGTERM during an upload: the server stops cleanly
# (exit 0), what it acknowledged is kept, and the agent sends the rest to
# the restarted server. Prints TAP.
source "$SRC/tests/integration/lib.sh"
source "$SRC/tests/integration/lib_server.sh"

N=${CRASH_SEGMENTS:-1000}
KILLS=${CRASH_KILLS:-8}

init_server srv || { echo "Bail out! sealtrace init failed"; exit 1; }
start_server || { echo "Bail out! sealtrace serve did not start"; exit 1; }
"$SEALTRACE" user add carol@example.com >/dev/null 2>>"$T/admin.err"
enroll_server "$T/a" "$(new_token carol@example.com)" || { echo "Bail out! enrollment failed: $(cat "$T/a.enroll.log")"; exit 1; }
A_ID=$(device_id_of "$T/a")
check "$N sealed segments spooled" bash -c "'$SRVKIT' spool-fill '$T/a' $N | grep -q 'spooled: $N'"

timeout 300 "$AGENT" upload --until-empty --state-dir "$T/a" --backoff-min-ms 20 \
	--backoff-max-ms 300 >"$T/upload.log" 2>&1 &
UP=$!
kills=0
for i in $(seq 1 "$KILLS"); do
	# kill soon and often: a fast server can take 1,000 segments in a
	# couple of seconds
	sleep "0.$((RANDOM % 3 + 1))"
	kill -0 "$UP" 2>/dev/null || break
	kill -9 "$SRV_PID"
	wait "$SRV_PID" 2>/dev/null
	kills=$((kills + 1))
	sleep 0.1
	restart_server || { diag "restart $i failed"; break; }
done
diag "server killed $kills times during the upload"
wait "$UP"
rc=$?
check "the uploader finished (exit $rc)" test "$rc" -eq 0
check "the server was killed at least 3 times mid-upload" test "$kills" -ge 3
check "the agent's spool is empty" test -z "$(ls "$T/a/spool" | grep '\.seg$')"
check "nothing was refused into quarantine" test -z "$(ls "$T/a/spool/quarantine" 2>/dev/null)"
check "the server holds exactly $N segments of the device" test "$(device_field "$A_ID" segments)" = "$N"
check "with no gap" test "$(device_field "$A_ID" gaps)" = 0
stop_server
check "no duplicate (device, seq) rows and the database is intact" bash -c "
	[ \"\$(sqlite3 '$SRV_DIR/sealtrace.db' 'pragma integrity_check')\" = ok ] &&
	[ \"\$(sqlite3 '$SRV_DIR/sealtrace.db' 'select count(*) from (select distinct device_id, seq from segments)')\" = $N ]"

# ---- down for a while: spool, back off, catch up ----
"$SRVKIT" spool-fill "$T/a" 20 7 >/dev/null
timeout 120 "$AGENT" upload --until-empty --state-dir "$T/a" --backoff-min-ms 50 \
	--backoff-max-ms 400 >"$T/upload2.log" 2>&1 &
UP=$!
sleep 2
check "while the server is down the segments stay spooled" \
	test "$(ls "$T/a/spool" | grep -c '\.seg$')" = 20
check "and the uploader keeps retrying" kill -0 "$UP"
restart_server
wait "$UP"
check "after the server is back the agent catches up" test $? -eq 0
check "the server holds all $((N + 20))" test "$(device_field "$A_ID" segments)" = "$((N + 20))"

# ---- SIGTERM mid-upload: a clean stop, nothing acknowledged lost ----
"$SRVKIT" spool-fill "$T/a" 300 9 >/dev/null
timeout 120 "$AGENT" upload --until-empty --state-dir "$T/a" --backoff-min-ms 50 \
	--backoff-max-ms 400 >"$T/upload3.log" 2>&1 &
UP=$!
wait_for 10 bash -c "[ \$(ls '$T/a/spool' | grep -c '\.seg\$') -lt 290 ]"
kill -TERM "$SRV_PID"
wait "$SRV_PID"
rc=$?
check "SIGTERM during uploads stops the server cleanly (exit $rc)" test "$rc" -eq 0
left=$(ls "$T/a/spool" | grep -c '\.seg$')
check "it stopped mid-upload ($left of 300 still spooled)" test "$left" -gt 0
restart_server
wait "$UP"
check "after the restart the agent sends the rest" test $? -eq 0
check "the server holds all $((N + 320)), each once" test "$(device_field "$A_ID" segments)" = "$((N + 320))"
check "with no gap" test "$(device_field "$A_ID" gaps)" = 0
finish
