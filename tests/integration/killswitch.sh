#!/bin/bash
# killswitch.sh - invariant 7 (stop means stop) against a real server over
# TLS on 127.0.0.1 and real agents recording one Xvfb display:
#  - `sealtrace pause --all --wait` returns within a second with every
#    connected agent stopped; what is typed afterwards is in no segment the
#    server stores, in no spool and in no file of the server; after
#    `resume --all` typing is stored again;
#  - group and device scopes touch exactly the devices they cover;
#  - a killed server: every agent stops by itself within the lease's
#    validity, and records again only once the restarted server gave it a
#    fresh lease;
#  - agents whose clocks are 5 minutes ahead and behind (faketime, the
#    monotonic clock left real) obey a pause and a lease expiry the same
#    way, and nothing they recorded is refused;
#  - ingest refuses a segment sealed under the lease sequence from before
#    the pause (422 paused) and one under no lease (422 no_lease);
#  - a real lease, answered to a device-signed poll, verifies against the
#    agent's pinned lease key, and only with its own nonce and device;
#  - a verified poll binds its connection to its device (the next poll on
#    it needs no signature check), never another connection or device, and
#    a revocation reaches the bound connection.
# Short settings keep it fast: leases valid 3 s, held polls answered after
# 1 s. Every wait is bounded. TAP.
source "$SRC/tests/integration/lib.sh"
source "$SRC/tests/integration/lib_server.sh"
LEASEKIT=$BUILD/tests/st-leasekit

VALIDITY_MS=3000
# Slack over the validity for "stopped by itself": the agent checks its
# lease on its own timer, and this script sees the state through a status
# call every ~50 ms.
STOP_SLACK_MS=1500
PAUSE_MAX_MS=1000

for p in faketime xdotool Xvfb; do
	command -v "$p" >/dev/null || { echo "1..0 # SKIP $p missing (scripts/install.sh)"; exit 0; }
done

init_server srv || { echo "Bail out! sealtrace init failed"; exit 1; }
# Short leases. The request window stays the server's default (900 s),
# which the 5-minute skews below must fit in: the device-request
# signature's time check is a separate guard from the lease, which uses no
# device clock at all.
python3 - "$SRV_DIR/config.json" "$VALIDITY_MS" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["lease_validity_ms"] = int(sys.argv[2])
c["lease_hold_s"] = 1
# confirmations stored by the batch bound alone: never quiet for a minute
c["confirm_quiet_ms"] = 60000
c["confirm_batch_ms"] = 500
json.dump(c, open(p, "w"), indent=1)
PY
start_server || { echo "Bail out! sealtrace serve did not start"; exit 1; }
MASTER_KEY=$T/srv-export/master.key

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# astatus DIR: the agent's status JSON
astatus() { SEALTRACE_AGENT_SOCKET=$1.sock "$AGENT" status --state-dir "$1" 2>/dev/null; }
# afield DIR FIELD: one field of it
afield() {
	astatus "$1" | python3 -c 'import json,sys
v = json.load(sys.stdin).get(sys.argv[1])
print(json.dumps(v) if isinstance(v, (dict, list)) else v)' "$2"
}
# is_state DIR STATE [REASON]: state is STATE (and the reason holds REASON).
# Plain bash on the compact JSON, whose first "state" and "reason" are the
# agent's own (the lease's come later): these checks run in tight waits,
# where a python start per call would be slower than what is measured.
is_state() {
	local s st r
	s=$(astatus "$1") || return 1
	st=${s#*\"state\":\"}
	st=${st%%\"*}
	r=${s#*\"reason\":\"}
	r=${r%%\"*}
	[ "$st" = "$2" ] && [[ "$r" == *"${3:-}"* ]]
}
# lease_field DIR FIELD: a field of the status's lease object
lease_field() {
	astatus "$1" | python3 -c 'import json,sys
print(json.load(sys.stdin)["lease"].get(sys.argv[1]))' "$2"
}
all_state() { # STATE REASON DIR...
	local s=$1 r=$2 d
	shift 2
	for d in "$@"; do is_state "$d" "$s" "$r" || return 1; done
}
spool_empty() { ! compgen -G "$1/spool/*.seg" >/dev/null; }
all_spools_empty() {
	local d
	for d in "$@"; do spool_empty "$d" || return 1; done
}
flush_all() {
	local d
	for d in "$@"; do ctl "$d" flush >/dev/null 2>&1; done
}
show_states() {
	local d
	for d in "$@"; do diag "$(basename "$d"): $(astatus "$d" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("state"), "|", d.get("reason"), "| waiting", d.get("segments_waiting"), "| refused", d.get("refused"), "|", d.get("upload_state"))' 2>&1)"; done
}

# run_agent DIR [WRAPPER...]: the x11 backend on this display, short
# backoff; the agent's own pid in $DIR.pid (a faketime wrapper forks)
run_agent() {
	local dir=$1
	shift
	rm -f "$dir.sock" "$dir.pid"
	# shellcheck disable=SC2016 # expanded by the inner bash
	"$@" env SEALTRACE_AGENT_SOCKET="$dir.sock" bash -c 'echo $$ >"$1.pid"; shift; exec "$@"' \
		_ "$dir" "$AGENT" run --state-dir "$dir" --backend x11 \
		--backoff-min-ms 50 --backoff-max-ms 300 2>>"$dir.log" &
	PIDS+=($!)
	wait_for 10 test -s "$dir.pid" || return 1
	PIDS+=("$(cat "$dir.pid")")
	wait_for 10 test -S "$dir.sock" || { diag "agent did not start: $(tail -3 "$dir.log")"; return 1; }
}

# typed DUMP: the typed text of a store-open or spool dump
typed() { typed_text "$1"; }
# stored_dump NAME: a backup, and every stored segment opened with the
# master secret as the export host would (into $T/NAME.jsonl)
stored_dump() {
	rm -f "$T/$1.db"
	"$SEALTRACE" backup --out "$T/$1.db" >>"$T/cmd.log" 2>&1 || return 1
	"$KIT" store-open dump "$MASTER_KEY" "$T/$1.db" >"$T/$1.jsonl" 2>"$T/$1.err"
}
control_json() {
	curl -sf --cacert "$SEALTRACE_CA" -H "Authorization: Bearer $ADMIN_TOKEN" "$URL/v1/admin/control"
}
word() { tr -dc '[:lower:]' </dev/urandom | head -c 4; }
contains() { [[ "$1" == *"$2"* ]]; }
lacks() { ! contains "$1" "$2"; }

# ---- people, devices, display ----
q "$SEALTRACE" user add alice@example.com --group g1
q "$SEALTRACE" user add bob@example.com --group g1
q "$SEALTRACE" user add carol@example.com --group g2
A=$T/alice B=$T/bob C=$T/carol
for who in alice bob carol; do
	enroll_server "$T/$who" "$(new_token $who@example.com)" ||
		{ echo "Bail out! enrolling $who failed: $(tail -3 "$T/$who.enroll.log")"; exit 1; }
done
C_ID=$(device_id_of "$C")
ok "alice (g1), bob (g1) and carol (g2) enrolled through tokens, notices accepted"

start_x
W=$(xterm_win "notes - killswitch" KsTerm -e cat)
[ -n "$W" ] || { echo "Bail out! no xterm"; exit 1; }
type_text() { # TEXT: typed into the xterm (its cat writes to the pty only)
	xdotool windowactivate --sync "$W" 2>/dev/null
	xdotool type --delay 8 "$1"
}

for d in "$A" "$B" "$C"; do
	run_agent "$d" || { echo "Bail out! agent $(basename "$d") did not start"; exit 1; }
done
check "three agents record under their leases (status recording)" \
	wait_for 15 all_state recording "" "$A" "$B" "$C"
all_state recording "" "$A" "$B" "$C" || show_states "$A" "$B" "$C"

BEFORE=before$(word)
type_text "$BEFORE "
sleep 0.3
flush_all "$A" "$B" "$C"
check "what was typed before the pause is uploaded" wait_for 15 all_spools_empty "$A" "$B" "$C"
EPOCH0=$(control_json | python3 -c 'import json,sys; print(json.load(sys.stdin)["epoch"])' 2>/dev/null)
check "GET /v1/admin/control answers with the epoch (got ${EPOCH0:-none})" test -n "$EPOCH0"

# ---- pause --all: within a second, everyone, nothing typed afterwards kept ----
t0=$(now_ms)
"$SEALTRACE" pause --all --reason drill --wait >"$T/pause-all.out" 2>&1
rc=$?
t1=$(now_ms)
PAUSE_MS=$((t1 - t0))
check "sealtrace pause --all --reason drill --wait exits 0" test $rc -eq 0
[ $rc -eq 0 ] || diag "pause: $(cat "$T/pause-all.out")"
check "and returns within ${PAUSE_MAX_MS} ms (took ${PAUSE_MS} ms)" test "$PAUSE_MS" -le "$PAUSE_MAX_MS"
check "when it returns every agent is paused by the organisation" \
	all_state paused "organisation" "$A" "$B" "$C"
all_state paused "organisation" "$A" "$B" "$C" || show_states "$A" "$B" "$C"
check "the server lists the pause in force, reason drill, every agent confirmed" python3 -c '
import json, sys
d = json.loads(sys.argv[1])
p = [x for x in d["pauses"] if x["scope"] == "all"]
assert len(p) == 1 and p[0]["reason"] == "drill", p
assert p[0]["confirmed"] == 3 and p[0]["pending"] == 0, p[0]
assert d["epoch"] > int(sys.argv[2]), d["epoch"]' "$(control_json)" "$EPOCH0"

# the three confirmations are believed at once (above) and stored together
# once the first waited confirm_batch_ms (500 ms): the quiet time (60 s)
# has not run out
stored_confirms() {
	sqlite3 "$SRV_DIR/sealtrace.db" "SELECT count(*) FROM pause_confirms
		WHERE epoch = (SELECT max(epoch) FROM pauses)" 2>/dev/null
}
confirms_stored() { [ "$(stored_confirms)" = "$1" ]; }
check "the confirmations are stored within confirm_batch_ms" \
	wait_for 5 confirms_stored 3
n=$(grep -c '^stored 3 pause confirmations$' "$SRV_DIR.log")
check "in one transaction: the log says \"stored 3 pause confirmations\" once (got $n)" \
	test "$n" = 1

# enrollment waits for the end of a pause of everyone (docs/api.md)
q "$SEALTRACE" user add frank@example.com --group g4
TOK_F=$(new_token frank@example.com)
F=$T/frank
"$AGENT" enroll "$URL" "$TOK_F" --state-dir "$F" </dev/null >"$T/frank-paused.log" 2>&1
check "enrolling is refused while everyone is paused (403 paused), nothing enrolled" \
	bash -c "grep -q 403 '$T/frank-paused.log' && grep -qi paused '$T/frank-paused.log' && [ ! -e '$F/identity.json' ]"
[ -e "$F/identity.json" ] || rm -rf "$F"

M1=pausedwalrus$(word)
type_text "$M1 "
sleep 0.3
flush_all "$A" "$B" "$C"
check "the agents send what they sealed before the pause" wait_for 15 all_spools_empty "$A" "$B" "$C"
sleep 0.5
check "and stay paused" all_state paused "organisation" "$A" "$B" "$C"

# a segment recorded after the pause under the lease from before it, sent
# later; and one recorded under no lease at all
ST_SRVKIT_LEASE_SEQ=$EPOCH0 "$SRVKIT" segment "$A" "$T/seg-old-lease" ok 500000 2>>"$T/cmd.log"
got=$(post_segment "$T/seg-old-lease")
check "a segment sealed under the lease from before the pause is refused: 422 paused (got $got)" \
	test "$got" = "422 paused"
ST_SRVKIT_LEASE_SEQ=0 "$SRVKIT" segment "$A" "$T/seg-no-lease" ok 500001 2>>"$T/cmd.log"
got=$(post_segment "$T/seg-no-lease")
check "a segment sealed under no lease (0) is refused: 422 no_lease (got $got)" \
	test "$got" = "422 no_lease"

stored_dump paused
check "the server's stored segments open with the master secret" \
	bash -c "[ -s '$T/paused.jsonl' ] && [ ! -s '$T/paused.err' ]"
got=$(typed "$T/paused.jsonl")
check "what was typed before the pause is stored" contains "$got" "$BEFORE"
check "the marker typed after the pause is in no stored segment" lacks "$got" "$M1"
leftover=""
for d in "$A" "$B" "$C"; do
	if spool_empty "$d"; then continue; fi
	leftover="$leftover $(basename "$d")"
done
check "no spool holds a segment (all were sent, and opened above)" test -z "$leftover"
check "no spool, agent file or log holds the marker's bytes" \
	bash -c "! grep -rqaF -- '$M1' '$A' '$B' '$C' '$A.log' '$B.log' '$C.log'"
check "no server table holds the marker (sqlite3 .dump of the backup)" \
	bash -c "! sqlite3 '$T/paused.db' .dump | grep -qaF -- '$M1'"
check "no file of the server's data folder, its log or the backup holds the marker's bytes" \
	bash -c "! grep -rqaF -- '$M1' '$SRV_DIR' '$SRV_DIR.log' '$T/paused.db'"

# ---- resume --all: recording again, typing stored ----
check "sealtrace resume --all exits 0" q "$SEALTRACE" resume --all --reason "drill over"
check "every agent records again" wait_for 5 all_state recording "" "$A" "$B" "$C"
check "the token refused during the pause enrolls now (it was not spent)" enroll_server "$F" "$TOK_F"
M2=resumedotter$(word)
type_text "$M2 "
sleep 0.3
flush_all "$A" "$B" "$C"
check "the agents upload what they recorded after the resume" wait_for 15 all_spools_empty "$A" "$B" "$C"
stored_dump resumed
got=$(typed "$T/resumed.jsonl")
check "the marker typed after the resume is stored, once per agent" \
	test "$(grep -o "$M2" <<<"$got" | wc -l)" -eq 3
check "and the paused marker still is not" lacks "$got" "$M1"

# ---- group scope: g1 is alice and bob ----
t0=$(now_ms)
q "$SEALTRACE" pause --group g1 --reason "g1 drill" --wait
rc=$?
t1=$(now_ms)
check "pause --group g1 --wait exits 0 within ${PAUSE_MAX_MS} ms (took $((t1 - t0)) ms)" \
	test $rc -eq 0 -a $((t1 - t0)) -le $PAUSE_MAX_MS
check "alice and bob are paused by the organisation" all_state paused organisation "$A" "$B"
sleep 0.5
check "carol (g2) keeps recording" is_state "$C" recording
check "the server counts two devices in the g1 pause" python3 -c '
import json, sys
p = [x for x in json.loads(sys.argv[1])["pauses"] if x["scope"] == "group"]
assert len(p) == 1 and p[0]["value"] == "g1" and p[0]["devices"] == 2, p' "$(control_json)"
check "resume --group g1" q "$SEALTRACE" resume --group g1
check "alice and bob record again" wait_for 5 all_state recording "" "$A" "$B"

# ---- device scope: carol's device only ----
q "$SEALTRACE" pause --device "$C_ID" --reason "one device" --wait
check "pause --device pauses that device" wait_for 1 is_state "$C" paused organisation
sleep 0.5
check "and no other" all_state recording "" "$A" "$B"
check "resume --device" q "$SEALTRACE" resume --device "$C_ID"
check "carol records again" wait_for 5 is_state "$C" recording
check "no pause is left in force" python3 -c '
import json, sys
assert json.loads(sys.argv[1])["pauses"] == []' "$(control_json)"

# ---- clock skew: dave's clock 5 minutes ahead, erin's 5 minutes behind ----
q "$SEALTRACE" user add dave@example.com --group g3
q "$SEALTRACE" user add erin@example.com --group g3
D=$T/dave E=$T/erin
enroll_server "$D" "$(new_token dave@example.com)" || not_ok "enroll dave"
enroll_server "$E" "$(new_token erin@example.com)" || not_ok "enroll erin"
# The monotonic clock stays real (the agent counts a lease's validity on
# it). FAKETIME_FORCE_MONOTONIC_FIX=0: libfaketime 0.9.10's rewrite of
# pthread_cond_timedwait on a CLOCK_MONOTONIC condition variable makes
# every timed wait return at once on this glibc, so the agent's threads
# would spin (~90% of a core each) and slow everything else down.
export DONT_FAKE_MONOTONIC=1 FAKETIME_FORCE_MONOTONIC_FIX=0
run_agent "$D" faketime -m -f +5m || not_ok "dave's agent starts under faketime +5m"
run_agent "$E" faketime -m -f -5m || not_ok "erin's agent starts under faketime -5m"
unset DONT_FAKE_MONOTONIC FAKETIME_FORCE_MONOTONIC_FIX
check "both record under their leases" wait_for 15 all_state recording "" "$D" "$E"
all_state recording "" "$D" "$E" || show_states "$D" "$E"
# the agents' own wall clocks: their status says since when they record
skew_of() { # DIR: seconds between the agent's "since" and now
	python3 -c 'import datetime,sys,time
s = datetime.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
print(round(s.timestamp() - time.time()))' "$(afield "$1" since)"
}
SK_D=$(skew_of "$D") SK_E=$(skew_of "$E")
check "their wall clocks are skewed: dave ${SK_D} s, erin ${SK_E} s from this one" \
	test "${SK_D:-0}" -ge 280 -a "${SK_D:-0}" -le 310 -a "${SK_E:-0}" -le -290 -a "${SK_E:-0}" -ge -320
type_text "skew$(word) "
sleep 0.3
flush_all "$D" "$E"
wait_for 15 all_spools_empty "$D" "$E"
t0=$(now_ms)
q "$SEALTRACE" pause --group g3 --reason "skew drill" --wait
rc=$?
t1=$(now_ms)
check "a pause stops both at once (--wait exit 0 in $((t1 - t0)) ms)" \
	test $rc -eq 0 -a $((t1 - t0)) -le $PAUSE_MAX_MS
check "both are paused by the organisation" all_state paused organisation "$D" "$E"
check "resume --group g3" q "$SEALTRACE" resume --group g3
check "both record again" wait_for 5 all_state recording "" "$D" "$E"
type_text "skew$(word) "
sleep 0.3
ALL=("$A" "$B" "$C" "$D" "$E")

# ---- the server dies: every agent stops by itself within the validity ----
flush_all "${ALL[@]}"
wait_for 15 all_spools_empty "${ALL[@]}"
check "all five agents record before the kill" all_state recording "" "${ALL[@]}"
declare -A RECEIVED
for d in "${ALL[@]}"; do RECEIVED[$d]=$(lease_field "$d" received); done
disown "$SRV_PID" # no "Killed" job report on stderr
kill -9 "$SRV_PID"
t0=$(now_ms)
wait_for $(((VALIDITY_MS + STOP_SLACK_MS) / 1000 + 2)) all_state stopped "cannot reach server" "${ALL[@]}"
t1=$(now_ms)
STOP_MS=$((t1 - t0))
check "server killed (-9): every agent stops, 'cannot reach server', within ${VALIDITY_MS} ms + ${STOP_SLACK_MS} ms (took ${STOP_MS} ms)" \
	test "$STOP_MS" -le $((VALIDITY_MS + STOP_SLACK_MS))
all_state stopped "cannot reach server" "${ALL[@]}" || show_states "${ALL[@]}"
check "the skewed agents among them stopped within the validity too" \
	all_state stopped "cannot reach server" "$D" "$E"
sleep 1.5
check "and they stay stopped while the server is away" all_state stopped "cannot reach server" "${ALL[@]}"
restart_server || { echo "Bail out! the server did not restart"; exit 1; }
t0=$(now_ms)
check "the restarted server's fresh leases set every agent recording again" \
	wait_for 10 all_state recording "" "${ALL[@]}"
diag "back to recording $(($(now_ms) - t0)) ms after the restart"
fresh=""
for d in "${ALL[@]}"; do
	[ "$(lease_field "$d" received)" -gt "${RECEIVED[$d]:-0}" ] 2>/dev/null &&
		[ "$(lease_field "$d" state)" = record ] || fresh="$fresh $(basename "$d")"
done
check "each of them holds a record lease received since the kill${fresh:+ (not:$fresh)}" test -z "$fresh"

# ---- nothing the skewed agents recorded was refused ----
type_text "after$(word) "
sleep 0.3
flush_all "${ALL[@]}"
check "every spool empties after the restart" wait_for 15 all_spools_empty "${ALL[@]}"
for d in "$D" "$E"; do
	n=$(basename "$d")
	id=$(device_id_of "$d")
	up=$(afield "$d" uploaded)
	dup=$(afield "$d" duplicates)
	srv=$(device_field "$id" segments)
	check "$n (skewed clock): the server stores all it uploaded ($srv stored, $up uploaded + ${dup:-0} duplicates)" \
		test -n "$srv" -a "$srv" = "$((up + ${dup:-0}))" -a "$up" -gt 0
	check "$n: refused 0" test "$(afield "$d" refused)" = 0
done
for d in "$A" "$B" "$C"; do
	check "$(basename "$d"): refused 0 (what was sealed before each pause was accepted after it)" \
		test "$(afield "$d" refused)" = 0
done
bad=""
for d in "${ALL[@]}"; do
	[ "$(lease_field "$d" refused)" = 0 ] || bad="$bad $(basename "$d")"
done
check "no agent refused a lease the real server sent${bad:+ (refused by:$bad)}" test -z "$bad"

# ---- a real lease verifies against the pinned key, only with its nonce ----
# frank's device runs no agent: the tool's poll is the only one for it
"$LEASEKIT" poll "$F" "$URL" 0 >"$T/leasekit.out" 2>"$T/leasekit.err"
rc=$?
diag "leasekit: $(tr '\n' ';' <"$T/leasekit.out") $(tr '\n' ' ' <"$T/leasekit.err")"
check "a device-signed POST /v1/device/lease gets a record lease that verifies with the pinned lease.pub" \
	grep -q '^verified seq=[0-9]* state=record validity_ms='"$VALIDITY_MS" "$T/leasekit.out"
check "the same lease is refused for another nonce (lease_replay)" grep -qx 'other_nonce lease_replay' "$T/leasekit.out"
check "for another device (lease_device)" grep -qx 'other_device lease_device' "$T/leasekit.out"
check "under another pinned key, or with one bit flipped (signature)" \
	bash -c "grep -qx 'other_key signature' '$T/leasekit.out' && grep -qx 'flipped signature' '$T/leasekit.out'"
check "and below a newer sequence already held (lease_old)" grep -qx 'newer_held lease_old' "$T/leasekit.out"
check "st-leasekit exits 0" test $rc -eq 0

# ---- a lease poll's connection is bound to its device ----
# A verified poll binds its HTTPS connection: the next poll on it is taken
# without a second signature check (what keeps a pause cheap at 10,000
# agents), a new connection is not, nor another device on the same one,
# and a revocation reaches the bound connection at once.
rm -f "$T/bind.then"
"$LEASEKIT" bind "$F" "$URL" "$T/bind.then" >"$T/bind.out" 2>"$T/bind.err" &
BIND_PID=$!
check "st-leasekit bind: the checks before the revocation ran" \
	wait_for 20 grep -q '^fresh_wrong_sig ' "$T/bind.out"
"$SEALTRACE" device revoke "$(device_id_of "$F")" >/dev/null 2>>"$T/admin.err"
touch "$T/bind.then"
wait "$BIND_PID"
rc=$?
diag "bind: $(tr '\n' ';' <"$T/bind.out") $(tr '\n' ' ' <"$T/bind.err")"
check "a signed poll is answered" grep -qx 'first ok' "$T/bind.out"
check "the next poll on that connection is answered though its signature does not verify" \
	grep -qx 'bound_wrong_sig ok' "$T/bind.out"
check "and one with no time or signature header at all" grep -qx 'bound_unsigned ok' "$T/bind.out"
check "on that connection, another device's poll is refused (auth)" grep -qx 'bound_other auth' "$T/bind.out"
check "on a new connection, a poll without signature is refused" \
	bash -c "grep -q '^fresh_unsigned ' '$T/bind.out' && ! grep -qx 'fresh_unsigned ok' '$T/bind.out'"
check "on a new connection, the wrong signature is refused (signature)" grep -qx 'fresh_wrong_sig signature' "$T/bind.out"
check "after the device is revoked, the bound connection's next poll is refused (device_revoked)" \
	grep -qx 'after device_revoked' "$T/bind.out"
check "st-leasekit bind exits 0" test $rc -eq 0

for d in "${ALL[@]}"; do kill -TERM "$(cat "$d.pid")" 2>/dev/null; done
finish
