#!/bin/bash
# access_rules.sh - least privilege on the real server over TLS on
# 127.0.0.1, through the `sealtrace` CLI and curl, each refusal checked by
# exit code, message and error id:
#  - role grants: an admin asking for an officer or steward token makes a
#    pending request and no token; the asking admin cannot approve it, nor
#    can the person behind it with their officer token; an officer's
#    approval makes a token that works; no officer grants themselves a role;
#  - the two-person rule on purposes: the same officer twice, the proposer
#    and a steward named on it (each with an officer token) are refused;
#    one person with two officer tokens approves once (people are compared,
#    not tokens); an officer who is a steward elsewhere may approve; two
#    approvals make it approved; an approved, a revoked and an expired
#    purpose (the server's clock moved 2 days on with faketime) take no
#    approval, and the list shows each state;
#  - proposals the policy forbids: a purpose it does not list (purpose), a
#    steward who is not a reader (forbidden), "everyone" or a group
#    (broad_grant), a level over the export level (inval);
#  - the audit log records approvals and refusals (ok, two_person);
#  - the known incident (tests/data/policies/incident-everyone.json):
#    refused by `policy apply` and by the API (broad_grant), and a store
#    whose current policy was edited into it behind the server's back makes
#    `sealtrace serve` refuse to start, naming the broad grant.
# Prints TAP.
source "$SRC/tests/integration/lib.sh"
source "$SRC/tests/integration/lib_server.sh"

for p in faketime sqlite3 curl; do
	command -v "$p" >/dev/null || { echo "1..0 # SKIP $p missing (scripts/install.sh)"; exit 0; }
done
FAKETIME_LIB=
for d in /usr/lib/x86_64-linux-gnu/faketime /usr/lib/faketime /usr/local/lib/faketime; do
	[ -f "$d/libfaketimeMT.so.1" ] && FAKETIME_LIB=$d/libfaketimeMT.so.1 && break
done
[ -n "$FAKETIME_LIB" ] || { echo "1..0 # SKIP libfaketimeMT.so.1 not found"; exit 0; }

PURPOSE=computer-use-training
INCIDENT=$SRC/tests/data/policies/incident-everyone.json
# The default policy with two readers for its one purpose.
python3 - "$SRC/policies/default.json" "$T/policy.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
assert [x["name"] for x in p["purposes"]] == ["computer-use-training"], p["purposes"]
p["readers"] = [{"name": "stella@example.com", "purposes": ["computer-use-training"]},
                {"name": "sam@example.com", "purposes": ["computer-use-training"]}]
json.dump(p, open(sys.argv[2], "w"), indent=1)
PY
POLICY=$T/policy.json init_server srv || { echo "Bail out! sealtrace init failed"; exit 1; }
start_server || { echo "Bail out! sealtrace serve did not start"; exit 1; }

# cli TOKEN ARGS...: the CLI as the holder of TOKEN; stdout in $T/out,
# stderr in $T/err, exit code in RC (both kept in $T/cmd.log)
cli() {
	local tok=$1
	shift
	SEALTRACE_TOKEN=$tok "$SEALTRACE" "$@" >"$T/out" 2>"$T/err"
	RC=$?
	{ echo "\$ sealtrace $* -> $RC"; cat "$T/out" "$T/err"; } >>"$T/cmd.log"
}
# api TOKEN METHOD PATH [JSON]: curl; prints "STATUS ERROR_ID" ("-" when
# the answer is not an error); the answer in $T/api.json
api() {
	local tok=$1 method=$2 path=$3 body=${4:-}
	local args=(-s --cacert "$SEALTRACE_CA" -o "$T/api.json" -w '%{http_code}'
		-X "$method" -H "Authorization: Bearer $tok")
	[ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
	local code id
	code=$(curl "${args[@]}" "$URL$path")
	# the server's compact form: {"error":{"id":"...","code":N,...}}
	id=$(sed -n 's/^{"error":{"id":"\([a-z0-9_]*\)".*/\1/p' "$T/api.json")
	echo "$code ${id:--}"
}
# refused WORD...: the last cli call exited 1, printed nothing on stdout
# and the server's message on stderr holds every WORD
refused() {
	[ "$RC" -eq 1 ] && [ ! -s "$T/out" ] || return 1
	local w
	for w in "$@"; do grep -qF -- "$w" "$T/err" || return 1; done
}
# done_ok WORD: the last cli call exited 0 and its stdout holds WORD
done_ok() { [ "$RC" -eq 0 ] && grep -qF -- "$1" "$T/out"; }
tok_of_out() { grep -m1 -oE '^sta_[A-Za-z0-9_-]{43}$' "$T/out"; }
approve_api() { api "$1" POST /v1/purposes/approve "{\"id\":$2}"; }
# purpose_field ID state|approvers: a column of `purpose list` (ID NAME
# STATE STEWARDS APPROVERS LEVEL EXPIRES; lists joined by commas)
purpose_field() {
	SEALTRACE_TOKEN=$OFFICER1_TOKEN "$SEALTRACE" purpose list 2>>"$T/cmd.log" |
		awk -v id="$1" -v f="$2" 'NR > 1 && $1 == id { print (f == "state" ? $3 : $5) }'
}
n_purposes() {
	SEALTRACE_TOKEN=$OFFICER1_TOKEN "$SEALTRACE" purpose list 2>>"$T/cmd.log" | awk 'NR > 1 && $1 ~ /^[0-9]+$/' | wc -l
}
# policy_hash: the current policy's hash, as the API gives it
policy_hash() {
	curl -s --cacert "$SEALTRACE_CA" -H "Authorization: Bearer $ADMIN_TOKEN" "$URL/v1/admin/policy" |
		grep -oE '"policy_hash":"[0-9a-f]{64}"'
}
# propose TOKEN STEWARD... [-- OPTIONS]: proposes the training purpose for
# alice; the new purpose's id in PID_NEW
propose() {
	local tok=$1
	shift
	local args=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do args+=(--steward "$1"); shift; done
	[ "${1:-}" = -- ] && shift
	cli "$tok" purpose propose --name "$PURPOSE" --description "Pointer and app data for the agent model" \
		"${args[@]}" --user alice@example.com --level 2 --expires-days 30 "$@"
	PID_NEW=$(sed -n 's/^purpose \([0-9][0-9]*\) (.*) proposed.*/\1/p' "$T/out")
	[ "$RC" -eq 0 ] && [ -n "$PID_NEW" ]
}

# grant ASKER APPROVER create-args...: an officer or steward grant takes
# two people: ASKER's request, APPROVER's approval; prints the token
grant() {
	local ask=$1 appr=$2 req
	shift 2
	cli "$ask" token create "$@"
	req=$(sed -n 's/^request \([0-9][0-9]*\): .*/\1/p' "$T/out")
	[ -n "$req" ] || return 1
	cli "$appr" token approve "$req"
	tok_of_out
}

for u in stella sam alice oscar; do
	q "$SEALTRACE" user add "$u@example.com" || not_ok "user add $u"
done

# ---- role grants ----
cli "$ADMIN_TOKEN" token create --person oscar@example.com --role officer --name oscar-1
REQ=$(sed -n 's/^request \([0-9][0-9]*\): .*/\1/p' "$T/out")
check "an admin granting the officer role alone makes a pending request (exit 0, \"request N\")" \
	bash -c "[ $RC -eq 0 ] && [ -n '$REQ' ] && grep -q 'needs a privacy officer' '$T/out'"
"$SEALTRACE" token list >"$T/tokens.txt" 2>>"$T/cmd.log"
check "...and no token: none printed, none listed" \
	bash -c "! grep -q 'sta_' '$T/out' '$T/err' && grep -q '^NAME' '$T/tokens.txt' && ! grep -q oscar-1 '$T/tokens.txt'"
cli "$ADMIN_TOKEN" token approve "$REQ"
check "the requesting admin cannot approve it (403: only officers may)" \
	refused "HTTP 403" 'the role "admin" may not do this'
r=$(api "$ADMIN_TOKEN" POST /v1/tokens/approve "{\"request\":$REQ}")
check "...the API's error id is forbidden (got $r)" test "$r" = "403 forbidden"
cli "$OFFICER1_TOKEN" token approve "$REQ"
OSCAR_A=$(tok_of_out)
check "an officer approving it gets the token, shown once" \
	bash -c "[ $RC -eq 0 ] && [ -n '$OSCAR_A' ] && grep -q 'for oscar@example.com as officer' '$T/err'"
cli "$OSCAR_A" purpose list
check "...and the token works (an officer's route)" test "$RC" -eq 0
r=$(api "$OFFICER2_TOKEN" POST /v1/tokens/approve "{\"request\":$REQ}")
check "a decided request is not approved again (got $r)" test "$r" = "409 state"

cli "$ADMIN_TOKEN" token create --person sam@example.com --role steward --name sam-steward
REQ_S=$(sed -n 's/^request \([0-9][0-9]*\): .*/\1/p' "$T/out")
check "an admin creating a steward token makes a pending request too" \
	bash -c "[ $RC -eq 0 ] && [ -n '$REQ_S' ] && grep -q 'steward role needs a privacy officer' '$T/out' && ! grep -q sta_ '$T/out'"
cli "$OFFICER2_TOKEN" token approve "$REQ_S"
SAM_ST=$(tok_of_out)
check "...which an officer approves" test -n "$SAM_ST"

cli "$OFFICER1_TOKEN" token create --person olga@example.com --role steward
check "an officer granting themselves the steward role is refused" \
	refused "you may not grant yourself a role (steward)"
cli "$OFFICER1_TOKEN" token create --person olga@example.com --role auditor
check "...and any other role: nobody grants themselves a role" \
	refused "you may not grant yourself a role (auditor)"
cli "$OFFICER1_TOKEN" token create --person oscar@example.com --role officer --name oscar-x
REQ_X=$(sed -n 's/^request \([0-9][0-9]*\): .*/\1/p' "$T/out")
check "an officer asking for an officer token gets a request, not a token" \
	bash -c "[ $RC -eq 0 ] && [ -n '$REQ_X' ] && ! grep -q sta_ '$T/out'"
cli "$OFFICER1_TOKEN" token approve "$REQ_X"
check "...which the asking officer cannot approve: one officer never makes another alone" \
	refused "you asked for it"
r=$(api "$OFFICER1_TOKEN" POST /v1/tokens '{"name":"olga-self","person":"olga@example.com","role":"officer"}')
check "...and the officer role, by the API: 403 two_person (got $r)" test "$r" = "403 two_person"
"$SEALTRACE" token list >"$T/tokens.txt" 2>>"$T/cmd.log"
check "...no token was made" \
	bash -c "grep -q oscar-1 '$T/tokens.txt' && ! grep -qE 'olga-self|steward-olga' '$T/tokens.txt'"

# Olga as an admin too: what she asks for as admin she cannot approve as
# officer: people are compared, not tokens
cli "$ADMIN_TOKEN" token create --person olga@example.com --role admin --name olga-admin
OLGA_ADMIN=$(tok_of_out)
cli "$OLGA_ADMIN" token create --person stella@example.com --role steward --name stella-steward
REQ_ST=$(sed -n 's/^request \([0-9][0-9]*\): .*/\1/p' "$T/out")
cli "$OFFICER1_TOKEN" token approve "$REQ_ST"
check "the person who asked (with her admin token) cannot approve with her officer token" \
	refused "you asked for it"
cli "$OFFICER2_TOKEN" token approve "$REQ_ST"
STELLA_ST=$(tok_of_out)
check "...another officer can" test -n "$STELLA_ST"

# ---- purposes: the two-person rule ----
propose "$STELLA_ST" stella@example.com
P1=$PID_NEW
check "a steward proposes a purpose the policy lists, naming a reader" test -n "$P1"
cli "$OFFICER1_TOKEN" purpose approve "$P1"
check "the first officer approves: one more must" done_ok "proposed: one more privacy officer must approve it"
cli "$OFFICER1_TOKEN" purpose approve "$P1"
check "the same officer approving twice is refused" refused "you approved it already"
r=$(approve_api "$OFFICER1_TOKEN" "$P1")
check "...403 two_person (got $r)" test "$r" = "403 two_person"

STELLA_OFF=$(grant "$OFFICER2_TOKEN" "$OFFICER1_TOKEN" --person stella@example.com --role officer --name stella-officer)
check "the proposer is given an officer token (one officer asks, the other approves)" test -n "$STELLA_OFF"
cli "$STELLA_OFF" purpose approve "$P1"
check "the proposer approving her own purpose is refused" refused "you proposed it, so you may not approve it"
r=$(approve_api "$STELLA_OFF" "$P1")
check "...403 two_person (got $r)" test "$r" = "403 two_person"

propose "$STELLA_ST" sam@example.com
P2=$PID_NEW
SAM_OFF=$(grant "$OFFICER1_TOKEN" "$OFFICER2_TOKEN" --person sam@example.com --role officer --name sam-officer)
cli "$SAM_OFF" purpose approve "$P2"
check "a steward named on a purpose (with an officer token) approving it is refused" \
	refused "you are a steward named on it"
r=$(approve_api "$SAM_OFF" "$P2")
check "...403 two_person (got $r)" test "$r" = "403 two_person"

cli "$SAM_OFF" purpose approve "$P1"
check "a steward not named on the purpose may approve it: the second approval makes it approved" \
	done_ok "approved: usable by its stewards"
check "purpose list shows it approved, by the two officers" \
	bash -c "[ '$(purpose_field "$P1" state)' = approved ] && [ '$(purpose_field "$P1" approvers | tr , '\n' | sort | paste -sd,)' = 'olga@example.com,sam@example.com' ]"
check "...and the other still proposed" test "$(purpose_field "$P2" state)" = proposed
r=$(approve_api "$OFFICER2_TOKEN" "$P1")
check "an approved purpose takes no more approvals (got $r)" test "$r" = "409 state"

OSCAR_B=$(grant "$OFFICER2_TOKEN" "$OFFICER1_TOKEN" --person oscar@example.com --role officer --name oscar-2)
check "one person can hold two officer tokens" bash -c "[ -n '$OSCAR_B' ] && [ '$OSCAR_B' != '$OSCAR_A' ]"
propose "$STELLA_ST" stella@example.com
P3=$PID_NEW
cli "$OSCAR_A" purpose approve "$P3"
check "...approving with the first counts" done_ok "one more privacy officer"
cli "$OSCAR_B" purpose approve "$P3"
check "...with the second is refused: people are compared, not tokens" \
	refused "you approved it already (with this or another token)"
r=$(approve_api "$OSCAR_B" "$P3")
check "...403 two_person (got $r)" test "$r" = "403 two_person"
check "...so it still needs another officer" \
	bash -c "[ '$(purpose_field "$P3" state)' = proposed ] && [ '$(purpose_field "$P3" approvers)' = oscar@example.com ]"

# ---- proposals the policy forbids ----
n_before=$(n_purposes)
cli "$STELLA_ST" purpose propose --name performance-review --description x --steward stella@example.com \
	--user alice@example.com --level 1 --expires-days 7
check "a purpose the policy does not list is refused" refused "not a purpose of the current policy"
r=$(api "$STELLA_ST" POST /v1/purposes '{"name":"performance-review","description":"x","stewards":["stella@example.com"],"expires_days":7,"scope":{"people":["alice@example.com"],"groups":[],"from":0,"until":4102444800,"level":1}}')
check "...403 purpose (got $r)" test "$r" = "403 purpose"
propose "$STELLA_ST" mallory@example.com
check "a steward who is not a reader for the purpose is refused" refused "is not a reader the policy lets be named"
r=$(api "$STELLA_ST" POST /v1/purposes '{"name":"computer-use-training","description":"x","stewards":["alice@example.com"],"expires_days":7,"scope":{"people":["alice@example.com"],"groups":[],"from":0,"until":4102444800,"level":1}}')
check "...403 forbidden, even for a person the server knows (got $r)" test "$r" = "403 forbidden"
propose "$STELLA_ST" everyone
check "\"everyone\" as a steward is refused as a broad grant" refused 'broad grant: "everyone"'
for s in everyone all-staff@example.com eng@lists.example.com; do
	r=$(api "$STELLA_ST" POST /v1/purposes "{\"name\":\"computer-use-training\",\"description\":\"x\",\"stewards\":[\"stella@example.com\",\"$s\"],\"expires_days\":7,\"scope\":{\"people\":[\"alice@example.com\"],\"groups\":[],\"from\":0,\"until\":4102444800,\"level\":1}}")
	check "steward $s beside a reader: 400 broad_grant (got $r)" test "$r" = "400 broad_grant"
done
propose "$STELLA_ST" stella@example.com -- --level 3
check "a level over the policy's export level is refused (400)" \
	bash -c "[ $RC -eq 1 ] && grep -q 'HTTP 400' '$T/err' && grep -q 'over the policy.s export level 2' '$T/err'"
n_after=$(n_purposes)
check "no refused proposal was stored ($n_before then $n_after)" test "$n_before" = 3 -a "$n_after" = 3

# ---- revoked and expired ----
propose "$STELLA_ST" stella@example.com
P4=$PID_NEW
cli "$OFFICER1_TOKEN" purpose revoke "$P4"
check "an officer revokes a purpose" done_ok "purpose $P4: revoked"
cli "$OFFICER2_TOKEN" purpose approve "$P4"
check "a revoked purpose takes no approval" refused "revoked; propose a new one"
r=$(approve_api "$OFFICER2_TOKEN" "$P4")
check "...403 purpose (got $r)" test "$r" = "403 purpose"
check "...and is listed as revoked" test "$(purpose_field "$P4" state)" = revoked

propose "$STELLA_ST" stella@example.com -- --expires-days 1
P5=$PID_NEW
cli "$OFFICER1_TOKEN" purpose approve "$P5"
check "a purpose for 1 day takes its first approval" done_ok "one more privacy officer"
# The server's wall clock 2 days on (libfaketime; its monotonic clock left
# real): the purpose expires, the 30-day ones do not.
stop_server || not_ok "the server stops"
rm -f "$SRV_DIR.url"
env LD_PRELOAD="$FAKETIME_LIB" FAKETIME=+2d DONT_FAKE_MONOTONIC=1 FAKETIME_FORCE_MONOTONIC_FIX=0 \
	"$SEALTRACE" serve --data "$SRV_DIR" --url-file "$SRV_DIR.url" >>"$SRV_DIR.log" 2>&1 &
SRV_PID=$!
PIDS+=("$SRV_PID")
wait_for 10 test -s "$SRV_DIR.url" || { echo "Bail out! the server did not start under faketime: $(tail -3 "$SRV_DIR.log")"; exit 1; }
URL=$(cat "$SRV_DIR.url")
export SEALTRACE_URL=$URL
cli "$OFFICER2_TOKEN" purpose approve "$P5"
check "two days on, the 1-day purpose takes no approval" refused "expired; propose a new one"
r=$(approve_api "$OFFICER2_TOKEN" "$P5")
check "...403 purpose (got $r)" test "$r" = "403 purpose"
check "...and is listed as expired" test "$(purpose_field "$P5" state)" = expired
check "...while the 30-day approved one is still approved" test "$(purpose_field "$P1" state)" = approved

# ---- the audit log ----
SEALTRACE_TOKEN=$OFFICER1_TOKEN "$SEALTRACE" --json audit list >"$T/audit.json" 2>>"$T/cmd.log"
check "audit list (officer) records approvals and refusals with their results" python3 - "$T/audit.json" "$P1" "$P2" "$P3" "$P5" <<'PY'
import json, sys
log = json.load(open(sys.argv[1]))
p1, p2, p3, p5 = sys.argv[2:6]
def results(action, obj):
    return [e["result"] for e in log if e["action"] == action and e["object"] == obj]
a1 = results("purpose.approve", "purpose:" + p1)
# olga ok, olga x2 refused, stella x2 refused, sam ok, omar refused (state)
assert a1.count("ok") == 2 and a1.count("two_person") == 4 and "state" in a1, a1
assert results("purpose.approve", "purpose:" + p2) == ["two_person"] * 2, p2
assert results("purpose.approve", "purpose:" + p3) == ["ok", "two_person", "two_person"]
assert results("purpose.approve", "purpose:" + p5) == ["ok", "purpose", "purpose"]
props = [e["result"] for e in log if e["action"] == "purpose.propose"]
for want in ("ok", "purpose", "forbidden", "broad_grant", "inval"):
    assert want in props, (want, props)
assert all(e["purpose"] == "computer-use-training" for e in log
           if e["action"] == "purpose.approve"), "purpose column"
# approvers appear as pseudonyms, never names
assert not any("@" in e["actor"] for e in log), "a name in the actor column"
tok = [e["result"] for e in log if e["action"] in ("token.approve", "token.create")]
assert "two_person" in tok and "ok" in tok, tok
PY
cli "$OFFICER1_TOKEN" audit verify
check "the audit log verifies after all of it" done_ok "audit log ok"

# ---- the known incident ----
HASH0=$(policy_hash)
cli "$ADMIN_TOKEN" policy apply "$INCIDENT"
check "policy apply of the incident policy is refused (exit 1, broad grant)" \
	bash -c "[ $RC -eq 1 ] && grep -q 'readers\[0\]: broad grant' '$T/err'"
r=$(curl -s --cacert "$SEALTRACE_CA" -o "$T/apply.json" -w '%{http_code}' -H "Authorization: Bearer $ADMIN_TOKEN" \
	-H 'Content-Type: application/json' --data-binary @"$INCIDENT" "$URL/v1/admin/policy")
check "...and by the API: 400 broad_grant (got $r $(cat "$T/apply.json"))" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))["error"]
assert sys.argv[2] == "400" and d["id"] == "broad_grant" and "broad grant" in d["message"], d' "$T/apply.json" "$r"
HASH1=$(policy_hash)
check "...the current policy is unchanged" bash -c "[ -n '$HASH0' ] && [ '$HASH0' = '$HASH1' ]"

stop_server || not_ok "the server stops"
DB=$SRV_DIR/sealtrace.db
sqlite3 "$DB" ".backup '$T/good.db'"
changed=$(sqlite3 "$DB" "UPDATE policies SET canonical_json =
	CAST(readfile('$INCIDENT') AS TEXT)
	WHERE hash = (SELECT value FROM settings WHERE key = 'current_policy');
	SELECT changes();")
check "the stored current policy is replaced by the incident's JSON behind the server's back" test "$changed" = 1
rm -f "$SRV_DIR.url"
timeout 20 "$SEALTRACE" serve --data "$SRV_DIR" --url-file "$SRV_DIR.url" >"$T/serve.out" 2>"$T/serve.err"
rc=$?
diag "serve: exit $rc: $(head -c 300 "$T/serve.err")"
check "sealtrace serve refuses to start on it (exit 1, not a timeout; no URL)" \
	bash -c "[ $rc -eq 1 ] && [ ! -e '$SRV_DIR.url' ]"
check "...its stderr names the broad grant, the reader, the way out and the error id broad_grant" \
	bash -c "grep -q 'current policy in the store fails its check' '$T/serve.err' && grep -q 'readers\[0\]: broad grant: \"everyone\"' '$T/serve.err' && grep -q 'restore the database from a backup' '$T/serve.err' && grep -q '(broad_grant)\$' '$T/serve.err'"
# a valid policy with one more reader, slipped in behind the server's back:
# its text no longer hashes to the hash stored with it
cp "$T/good.db" "$DB"
rm -f "$DB-wal" "$DB-shm"
sqlite3 "$DB" "UPDATE policies SET canonical_json = replace(canonical_json,
	'\"readers\":[', '\"readers\":[{\"name\":\"mallory@example.com\",\"purposes\":[\"$PURPOSE\"]},')
	WHERE hash = (SELECT value FROM settings WHERE key = 'current_policy')"
timeout 20 "$SEALTRACE" serve --data "$SRV_DIR" --url-file "$SRV_DIR.url" >"$T/serve.out" 2>"$T/serve.err"
rc=$?
check "a stored policy edited to name one more reader: serve refuses (its text does not hash to its hash)" \
	bash -c "[ $rc -eq 1 ] && grep -q 'does not hash to the policy hash' '$T/serve.err' && [ ! -e '$SRV_DIR.url' ]"
cp "$T/good.db" "$DB"
rm -f "$DB-wal" "$DB-shm"
check "with the stored policy as it was, the server starts again" start_server
finish
