#!/bin/bash
# server_e2e.sh - the real server over real TLS on 127.0.0.1: enrollment and
# its refusals (wrong, expired and used tokens, a server whose certificate is
# not the pinned one), no recording without acceptance, every refused segment
# with its own error and nothing of it stored, duplicates and conflicts, the
# uploader emptying a spool with gaps shown, bad input answered clearly while
# others are served, backup, revocation, policy change, and no plaintext or
# master secret anywhere in the server's folder. Prints TAP.
source "$SRC/tests/integration/lib.sh"
source "$SRC/tests/integration/lib_server.sh"

init_server srv || { echo "Bail out! sealtrace init failed"; exit 1; }
# short limits so that the slow-client and size tests take seconds
python3 - "$SRV_DIR/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["body_max"] = 1 << 20
c["connection_timeout_s"] = 2
json.dump(c, open(p, "w"), indent=1)
PY
start_server || { echo "Bail out! sealtrace serve did not start"; exit 1; }

check "health answers over TLS verified against the server's CA" \
	curl -sf --cacert "$SEALTRACE_CA" "$URL/v1/health" -o /dev/null
check "plain HTTP to the TLS port gets no answer" \
	bash -c "! curl -sf --max-time 3 '${URL/https:/http:}/v1/health' -o /dev/null"
check "an admin call without a token is refused (401)" \
	test "$(curl -s --cacert "$SEALTRACE_CA" -o /dev/null -w '%{http_code}' "$URL/v1/admin/status")" = 401

check "user add alice" q "$SEALTRACE" user add alice@example.com --group eng
check "user add bob" q "$SEALTRACE" user add bob@example.com
"$SEALTRACE" user list --json >"$T/users.json" 2>>"$T/admin.err"
check "user list holds both (and the two officers init made), with public keys only" python3 -c '
import json, sys
u = json.load(open(sys.argv[1]))["users"]
names = sorted(x["name"] for x in u)
assert names == ["alice@example.com", "bob@example.com", "olga@example.com", "omar@example.com"], names
assert all(len(x["public_key"]) > 40 and "secret" not in json.dumps(x) for x in u)
' "$T/users.json"

# ---- enrollment refusals ----
TOK=$(new_token alice@example.com)
check "enroll-token prints a token carrying both fingerprints" test -n "$TOK"
rest=${TOK#ste1.*.}
BAD="ste1.$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=' | head -c 43).$rest"
"$AGENT" enroll "$URL" "$BAD" --state-dir "$T/bad" </dev/null >"$T/bad.log" 2>&1
check "a wrong token is refused (unknown token, 403), nothing enrolled" \
	bash -c "grep -q '403' '$T/bad.log' && grep -qiE 'unknown|invalid' '$T/bad.log' && [ ! -e '$T/bad/identity.json' ]"

EXP=$(new_token alice@example.com --ttl 1s)
sleep 2
"$AGENT" enroll "$URL" "$EXP" --state-dir "$T/exp" </dev/null >"$T/exp.log" 2>&1
check "an expired token is refused (expired)" \
	bash -c "grep -qi 'expired' '$T/exp.log' && [ ! -e '$T/exp/identity.json' ]"

check "enroll with a good token and accept" enroll_server "$T/a" "$TOK"
check "the agent pinned the CA and holds the person's public key" \
	test -s "$T/a/ca.pem" -a -s "$T/a/recipient.pub"
"$AGENT" enroll "$URL" "$TOK" --state-dir "$T/used" </dev/null >"$T/used.log" 2>&1
check "a used token is refused (already used)" \
	bash -c "grep -qi 'used' '$T/used.log' && [ ! -e '$T/used/identity.json' ]"

# a second server: the first server's token must not enroll there
S1_DIR=$SRV_DIR S1_URL=$URL S1_TOKEN=$ADMIN_TOKEN S1_PID=$SRV_PID
init_server other && start_server
OTHER_URL=$URL
SRV_DIR=$S1_DIR URL=$S1_URL ADMIN_TOKEN=$S1_TOKEN SRV_PID=$S1_PID
export SEALTRACE_URL=$URL SEALTRACE_TOKEN=$ADMIN_TOKEN SEALTRACE_CA=$SRV_DIR/tls/ca.pem
TOK2=$(new_token alice@example.com)
"$AGENT" enroll "$OTHER_URL" "$TOK2" --state-dir "$T/mitm" </dev/null >"$T/mitm.log" 2>&1
check "a server whose certificate is not the pinned CA's is refused by the agent" \
	bash -c "[ ! -e '$T/mitm/identity.json' ] && grep -qiE 'pin|certificate|fingerprint' '$T/mitm.log'"
check "...and the token was not spent: it still enrolls on the right server" \
	enroll_server "$T/a2" "$TOK2"

# ---- no acceptance, no recording ----
TOKC=$(new_token bob@example.com)
"$AGENT" enroll "$URL" "$TOKC" --state-dir "$T/c" </dev/null >"$T/c.enroll.log" 2>&1
printf '{"sealtrace_eventfile":1}\n{"t":0,"type":"key_press","keycode":38,"keysym":97,"mods":0,"text":"a"}\n' >"$T/one.jsonl"
"$AGENT" run --state-dir "$T/c" --backend eventfile --eventfile "$T/one.jsonl" \
	--exit-at-end >"$T/c.run.log" 2>&1
rc=$?
check "an enrolled agent without acceptance refuses to record" \
	bash -c "[ $rc -ne 0 ] && grep -qi 'accept' '$T/c.run.log' && [ -z \"\$(ls '$T/c/spool' 2>/dev/null | grep seg)\" ]"
if id nobody >/dev/null 2>&1; then
	chmod 755 "$T" # let nobody reach the folder, which stays 0700 itself
	runuser -u nobody -- "$AGENT" accept --state-dir "$T/c" \
		--accept-notice "$(sha256sum "$T/c/notice.txt" | cut -d' ' -f1)" </dev/null >"$T/c.nobody.log" 2>&1
	rc=$?
	chmod 700 "$T"
	check "an acceptance given as another local user is refused on the device" \
		bash -c "[ $rc -ne 0 ] && [ ! -e '$T/c/consent.json' ]"
fi
H_C=$(sha256sum "$T/c/notice.txt" | cut -d' ' -f1)
out=$("$SRVKIT" post-accept "$T/c" "$URL" "$H_C" someone-else 2>&1)
check "the server refuses an acceptance signed for another local user (403 user_mismatch)" \
	test "$out" = "403 user_mismatch"

# ---- segments: each refusal with its own error, nothing stored ----
TOKB=$(new_token bob@example.com)
check "enroll bob's device" enroll_server "$T/b" "$TOKB"
B_ID=$(device_id_of "$T/b")
for m in ok tamper truncate unsigned foreign over-level extra-kinds; do
	"$SRVKIT" segment "$T/b" "$T/seg-$m" "$m" 7 || diag "srvkit $m failed"
done
declare -A want=(
	[tamper]="422 body_mismatch" [truncate]="400 truncated"
	[unsigned]="422 signature" [foreign]="422 device_unknown"
	[over-level]="422 over_keep" [extra-kinds]="422 not_in_notice")
for m in tamper truncate unsigned foreign over-level extra-kinds; do
	got=$(post_segment "$T/seg-$m")
	check "a $m segment is refused: ${want[$m]} (got $got)" test "$got" = "${want[$m]}"
done
check "nothing of the refused segments was stored" test "$(device_field "$B_ID" segments)" = 0
got=$(post_segment "$T/seg-ok")
check "a good segment is stored (got $got)" test "$got" = "200 stored"
got=$(post_segment "$T/seg-ok")
check "the same segment again is a success: duplicate (got $got)" test "$got" = "200 duplicate"
check "one copy is kept" test "$(device_field "$B_ID" segments)" = 1
"$SRVKIT" segment "$T/b" "$T/seg-other" ok 7
got=$(post_segment "$T/seg-other")
check "other content under a used sequence is refused: 409 conflict (got $got)" test "$got" = "409 conflict"
check "the conflict is flagged" bash -c "'$SEALTRACE' status --json | python3 -c 'import json,sys; assert json.load(sys.stdin)[\"flags\"] >= 1'"

# ---- the uploader empties the spool; gaps are visible ----
A_ID=$(device_id_of "$T/a")
"$SRVKIT" spool-fill "$T/a" 40 >/dev/null 2>"$T/fill.err"
rm -f "$T/a/spool/00000000000000000005.seg" "$T/a/spool/00000000000000000006.seg"
timeout 60 "$AGENT" upload --until-empty --state-dir "$T/a" --backoff-min-ms 20 \
	--backoff-max-ms 200 >"$T/upload.log" 2>&1
check "upload --until-empty exits 0" test $? -eq 0
check "the spool is empty afterwards" test -z "$(ls "$T/a/spool" | grep '\.seg$')"
check "the server holds 38 segments of that device" test "$(device_field "$A_ID" segments)" = 38
check "and shows the 2 missing sequences as gaps" test "$(device_field "$A_ID" gaps)" = 2

# ---- bad input: clear answers, others still served ----
head -c $((2 << 20)) /dev/zero >"$T/big"
code=$(curl -s --cacert "$SEALTRACE_CA" -o "$T/big.out" -w '%{http_code}' \
	-H 'Content-Type: application/vnd.sealtrace.segment' --data-binary @"$T/big" "$URL/v1/segments")
check "an oversized body gets 413 too_large" bash -c "[ $code = 413 ] && grep -q too_large '$T/big.out'"
code=$(curl -s --cacert "$SEALTRACE_CA" -o "$T/json.out" -w '%{http_code}' \
	-H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
	--data-binary '{"name": "x",' "$URL/v1/admin/users")
check "malformed JSON gets 400 json" bash -c "[ $code = 400 ] && grep -q '\"json\"' '$T/json.out'"
code=$(curl -s --cacert "$SEALTRACE_CA" -o "$T/ct.out" -w '%{http_code}' \
	-H 'Content-Type: text/plain' --data-binary @"$T/seg-ok" "$URL/v1/segments")
check "a wrong content type gets 415 content_type" bash -c "[ $code = 415 ] && grep -q content_type '$T/ct.out'"
python3 - "$URL" "$SEALTRACE_CA" >"$T/slow.log" 2>&1 <<'PY' &
import socket, ssl, sys, time, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection((u.hostname, u.port)), server_hostname=u.hostname)
s.sendall(b"POST /v1/segments HTTP/1.1\r\nHost: x\r\nContent-Type: application/vnd.sealtrace.segment\r\nContent-Length: 5000\r\n\r\n0123456789")
s.settimeout(15)
t0 = time.time()
try:
    d = s.recv(100)
except Exception as e:
    d = b""
print("closed_after %.1f" % (time.time() - t0))
PY
SLOW=$!
sleep 0.5
t0=$(date +%s%N)
check "while a slow client stalls, others are served" \
	curl -sf --max-time 2 --cacert "$SEALTRACE_CA" "$URL/v1/health" -o /dev/null
wait $SLOW
check "the slow client is cut off after the connection timeout" \
	python3 -c 'import sys; t=float(open(sys.argv[1]).read().split()[1]); assert t < 8, t' "$T/slow.log"
check "the server still serves after all the bad input" \
	curl -sf --cacert "$SEALTRACE_CA" "$URL/v1/health" -o /dev/null

# ---- backup, revoke, policy change ----
check "backup writes a consistent database copy" q "$SEALTRACE" backup --out "$T/backup.db"
check "the copy holds every stored segment" \
	test "$(sqlite3 "$T/backup.db" 'select count(*) from segments')" = 39
check "the backup file is 0600" test "$(stat -c %a "$T/backup.db")" = 600
check "device revoke" q "$SEALTRACE" device revoke "$B_ID"
"$SRVKIT" segment "$T/b" "$T/seg-late" ok 8
got=$(post_segment "$T/seg-late")
check "a revoked device's segment is refused (got $got)" test "$got" = "422 device_revoked"
OLD_NOTICE=$(sha256sum "$T/a/notice.txt" | cut -d' ' -f1)
python3 -c '
import json, sys
p = json.load(open(sys.argv[1])); p["retention_days"] = 30
json.dump(p, open(sys.argv[2], "w"))' "$SRC/policies/default.json" "$T/policy2.json"
check "policy apply" q "$SEALTRACE" policy apply "$T/policy2.json"
"$SRVKIT" segment "$T/a" "$T/seg-a" ok 1000
curl -s --cacert "$SEALTRACE_CA" -H 'Content-Type: application/vnd.sealtrace.segment' \
	--data-binary @"$T/seg-a" "$URL/v1/segments" >"$T/after-apply.json"
check "upload answers now name the new notice" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["result"] == "stored" and d["notice_hash"] != sys.argv[2], d' "$T/after-apply.json" "$OLD_NOTICE"

# ---- sealed end to end: no plaintext, no master secret ----
"$SRVKIT" strings "$T/a" 40 >"$T/plain.txt"
check "the trace's window titles are known to the test" test "$(wc -l <"$T/plain.txt")" -ge 5
stop_server
found=""
while IFS= read -r s; do
	if grep -rqaF -- "$s" "$SRV_DIR" "$SRV_DIR.log"; then found="$found|$s"; fi
done <"$T/plain.txt"
check "no file or log of the server holds a recorded title" test -z "$found"
check "the server's folder holds no master secret" \
	bash -c "! grep -rqa 'master-x25519-secret' '$SRV_DIR'"
finish
