#!/bin/bash
# access_matrix.sh - the full permission matrix against a real server: every
# role (and no token) on every endpoint, with the objects an endpoint takes
# (the caller's own, another person's, one that does not exist), each answer
# compared with the hand-written expectation in tests/data/permissions.tsv.
# A wrong routes[] table in src/server/api.c disagrees with that file and
# fails here. Also: the table is complete (every role on every row, every
# route of the server in it), every refusal carries the right error id and
# every role refusal is audited as "denied", and the comparison and the
# completeness check are shown to fail on a deliberately broken table.
# Prints TAP.
source "$SRC/tests/integration/lib.sh"
source "$SRC/tests/integration/lib_server.sh"

MATRIX=$SRC/tests/data/permissions.tsv
ROLES=(none admin officer steward auditor person)
NOBODY=nobody@example.com
MISSING_ID=999999
T0=$(date +%s%N)

# ---- a server whose policy names the steward as a reader ----
python3 - "$SRC/policies/default.json" "$T/policy.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["readers"] = [{"name": "stella@example.com",
                 "purposes": ["computer-use-training"]}]
json.dump(p, open(sys.argv[2], "w"), indent=1)
PY
POLICY=$T/policy.json init_server srv || { echo "Bail out! sealtrace init failed"; exit 1; }
start_server || { echo "Bail out! sealtrace serve did not start"; exit 1; }

# The person behind each role. The admin is a person-bound admin token (not
# init's, which has no person) so that "own" means something for every role;
# the gate looks at the role only, so either admin token answers the same.
declare -A WHO=([none]=paul@example.com [admin]=ada@example.com
	[officer]=olga@example.com [steward]=stella@example.com
	[auditor]=audrey@example.com [person]=paul@example.com)
ANOTHER=alice@example.com
ERASED=eve@example.com # erased once, by the officer's row
for u in ada stella audrey paul alice eve; do
	q "$SEALTRACE" user add "$u@example.com" || { echo "Bail out! user add $u: $(tail -3 "$T/cmd.log")"; exit 1; }
done
declare -A TOK=([none]="" [officer]=$OFFICER1_TOKEN)
for role in admin auditor person; do
	TOK[$role]=$(SEALTRACE_TOKEN=$ADMIN_TOKEN "$SEALTRACE" token create \
		--person "${WHO[$role]}" --role "$role" --name "matrix-$role" 2>>"$T/cmd.log")
	[ -n "${TOK[$role]}" ] || { echo "Bail out! token create $role: $(tail -3 "$T/cmd.log")"; exit 1; }
done
# a steward grant takes two people: the admin asks, an officer approves
req=$(SEALTRACE_TOKEN=$ADMIN_TOKEN "$SEALTRACE" token create --person "${WHO[steward]}" \
	--role steward --name matrix-steward 2>>"$T/cmd.log" | sed -n 's/^request \([0-9]*\):.*/\1/p')
TOK[steward]=$(SEALTRACE_TOKEN=$OFFICER1_TOKEN "$SEALTRACE" token approve "$req" 2>>"$T/cmd.log")
[ -n "${TOK[steward]}" ] || { echo "Bail out! token create steward: $(tail -3 "$T/cmd.log")"; exit 1; }
# Spare tokens for tokens/revoke, one per role and object, so that no row
# revokes a token another row needs and the rows may run in any order. Their
# texts are kept: afterwards each must work exactly when its row was refused.
declare -A SPARE
for role in "${ROLES[@]}"; do
	for obj in own another; do
		who=${WHO[$role]}
		[ "$obj" = own ] || who=$ANOTHER
		SPARE[$obj-$role]=$(SEALTRACE_TOKEN=$ADMIN_TOKEN "$SEALTRACE" token create \
			--person "$who" --role person --name "spare-$obj-$role" 2>>"$T/cmd.log")
		[ -n "${SPARE[$obj-$role]}" ] ||
			{ echo "Bail out! spare token $obj-$role: $(tail -3 "$T/cmd.log")"; exit 1; }
	done
done

jfield() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
# A token request for the officer to approve: the admin asks for a steward
# role (an admin's grant of it waits for an officer).
REQ_ID=$(curl -sS --cacert "$SEALTRACE_CA" -H "Authorization: Bearer ${TOK[admin]}" \
	-H 'Content-Type: application/json' \
	--data-binary "{\"name\":\"matrix-requested\",\"person\":\"$ANOTHER\",\"role\":\"steward\"}" \
	"$URL/v1/tokens" | jfield request)
[[ $REQ_ID =~ ^[0-9]+$ ]] || { echo "Bail out! no token request ($REQ_ID)"; exit 1; }
# Two proposed purposes: one for the approve rows, one for the revoke rows.
propose() {
	SEALTRACE_TOKEN=${TOK[steward]} "$SEALTRACE" purpose propose --json \
		--name computer-use-training --description "matrix $1" \
		--steward stella@example.com --user "$ANOTHER" --level 1 \
		--expires-days 30 2>>"$T/cmd.log" | jfield id
}
P_APPROVE=$(propose approve)
P_REVOKE=$(propose revoke)
[[ $P_APPROVE =~ ^[0-9]+$ && $P_REVOKE =~ ^[0-9]+$ ]] ||
	{ echo "Bail out! purpose propose: $(tail -3 "$T/cmd.log")"; exit 1; }

# request ROLE PATH OBJECT: sets QUERY, BODY, CTYPE and NO_BODY (1: a POST
# sent empty) for the row; fails for an object the path does not take.
NO_BODY_PATHS=" /v1/admin/backup /v1/retention/sweep /v1/audit/checkpoint "
request() {
	local role=$1 path=$2 obj=$3
	QUERY="" BODY="{}" CTYPE=application/json NO_BODY=0
	case " $NO_BODY_PATHS " in *" $path "*) NO_BODY=1 ;; esac
	case $path in
	/v1/admin/devices/*/revoke) NO_BODY=1 ;;
	/v1/segments) CTYPE=application/vnd.sealtrace.segment ;;
	esac
	case "$path $obj" in
	*" -" | "/v1/admin/devices/"*"/revoke none") return 0 ;;
	*" badtype") CTYPE=text/plain BODY=x ;;
	"/v1/access own") QUERY="?user=${WHO[$role]}" ;;
	"/v1/access another") QUERY="?user=$ANOTHER" ;;
	"/v1/access none") QUERY="?user=$NOBODY" ;;
	"/v1/access unset") QUERY="" ;;
	"/v1/tokens/revoke own") BODY="{\"name\":\"spare-own-$role\"}" ;;
	"/v1/tokens/revoke another") BODY="{\"name\":\"spare-another-$role\"}" ;;
	"/v1/tokens/revoke none") BODY='{"name":"no-such-token"}' ;;
	"/v1/tokens/approve existing") BODY="{\"request\":$REQ_ID}" ;;
	"/v1/tokens/approve none") BODY="{\"request\":$MISSING_ID}" ;;
	"/v1/purposes/approve existing") BODY="{\"id\":$P_APPROVE}" ;;
	"/v1/purposes/revoke existing") BODY="{\"id\":$P_REVOKE}" ;;
	"/v1/purposes/"*" none") BODY="{\"id\":$MISSING_ID}" ;;
	"/v1/erase another") BODY="{\"user\":\"$ERASED\"}" ;;
	"/v1/erase none") BODY="{\"user\":\"$NOBODY\"}" ;;
	*) return 1 ;;
	esac
}

# rows FILE: the data lines of a matrix file
rows() { grep -v -e '^#' -e '^[[:space:]]*$' "$1"; }

# ---- run every row once; answers go to $T/got.tsv ----
# One curl for all the rows (a process per row costs more than the rows on
# a loaded machine), each row a transfer of its own on a connection of its
# own ("Connection: close"), so that no row's answer leans on another's.
# quote STRING: sets Q to STRING as one double-quoted curl config value
# (no command substitution: a fork per value would cost more than the rows)
quote() { local v=${1//\\/\\\\}; Q="\"${v//\"/\\\"}\""; }
mkdir -p "$T/b"
: >"$T/curl.cfg"
: >"$T/rows.tsv"
n=0 sep=""
while IFS=$'\t' read -r role method path obj want; do
	n=$((n + 1))
	if ! request "$role" "$path" "$obj"; then
		# the script cannot make this row's request: it fails as such
		printf '%s\t%s\t%s\t%s\t%s\tno-request\n' "$n" "$role" "$method" "$path" "$obj" >>"$T/rows.tsv"
		continue
	fi
	printf '%s\t%s\t%s\t%s\t%s\tsent\n' "$n" "$role" "$method" "$path" "$obj" >>"$T/rows.tsv"
	{
		echo "$sep" && sep=next
		quote "$URL$path$QUERY"; echo "url = $Q"
		quote "$SEALTRACE_CA"; echo "cacert = $Q"
		echo "request = $method"
		echo "max-time = 10"
		echo 'header = "Connection: close"'
		if [ "$role" != none ]; then
			quote "Authorization: Bearer ${TOK[$role]:-unknown-role}"; echo "header = $Q"
		fi
		if [ "$method" = POST ] && [ "$NO_BODY" = 1 ]; then
			echo 'header = "Content-Type:"'
			echo 'data-binary = ""'
		elif [ "$method" = POST ]; then
			quote "Content-Type: $CTYPE"; echo "header = $Q"
			quote "$BODY"; echo "data-binary = $Q"
		fi
		quote "$T/b/$n"; echo "output = $Q"
		echo "write-out = \"$n\\t%{http_code}\\n\""
	} >>"$T/curl.cfg"
done < <(rows "$MATRIX")
curl -sS -K "$T/curl.cfg" >"$T/status.tsv" 2>"$T/curl.err"
# got: role method path object status error-id ("-" when the body has none)
python3 - "$T/rows.tsv" "$T/status.tsv" "$T/b" >"$T/got.tsv" <<'PY'
import re, sys
rows, status, bodies = sys.argv[1:]
st = dict(l.rstrip("\n").split("\t") for l in open(status) if "\t" in l)
for l in open(rows):
    n, *key, sent = l.rstrip("\n").split("\t")
    if sent != "sent":
        print("\t".join(key + [sent, "-"]))
        continue
    try:
        body = open(f"{bodies}/{n}", "rb").read(4096).decode("utf-8", "replace")
    except OSError:
        body = ""
    m = re.search(r'"error":\{"id":"([a-z0-9_]+)"', body)
    print("\t".join(key + [st.get(n, "000"), m.group(1) if m else "-"]))
PY

# compare EXPECTED GOT: one line per expected row, "PASS<TAB>text" or
# "FAIL<TAB>text". A refusal must also say why: 401 with error id "auth",
# 403 with "forbidden".
compare() {
	local -A st id
	local role method path obj want s e key
	while IFS=$'\t' read -r role method path obj s e; do
		st["$role $method $path $obj"]=$s
		id["$role $method $path $obj"]=$e
	done <"$2"
	while IFS=$'\t' read -r role method path obj want; do
		key="$role $method $path $obj"
		s=${st[$key]:-missing} e=${id[$key]:--}
		if [ "$s" != "$want" ]; then
			printf 'FAIL\t%s: expected %s, got %s (error id %s)\n' "$key" "$want" "$s" "$e"
		elif [ "$want" = 403 ] && [ "$e" != forbidden ]; then
			printf 'FAIL\t%s: 403 with error id %s, not forbidden\n' "$key" "$e"
		elif [ "$want" = 401 ] && [ "$e" != auth ]; then
			printf 'FAIL\t%s: 401 with error id %s, not auth\n' "$key" "$e"
		else
			printf 'PASS\t%s -> %s\n' "$key" "$s"
		fi
	done < <(rows "$1")
}

# complete FILE: prints every gap in a matrix file; fails when there is one.
# Every (method, path, object) has each role exactly once, and every path
# the server routes (routes[] in api.c, plus the device-revoke pattern) has
# rows, so that a new endpoint without expectations fails here.
complete() {
	python3 - "$1" "$SRC/src/server/api.c" "${ROLES[@]}" <<'PY'
import re, sys
path, api, roles = sys.argv[1], sys.argv[2], sys.argv[3:]
bad = []
seen = {}
for n, line in enumerate(open(path), 1):
    if line.startswith("#") or not line.strip():
        continue
    f = line.rstrip("\n").split("\t")
    if len(f) != 5 or f[0] not in roles or not re.fullmatch(r"[1-5][0-9][0-9]", f[4]):
        bad.append(f"line {n}: not role<TAB>method<TAB>path<TAB>object<TAB>status")
        continue
    seen.setdefault(tuple(f[1:4]), []).append(f[0])
for k, rs in seen.items():
    for r in roles:
        if rs.count(r) != 1:
            bad.append(f"{' '.join(k)}: role {r} has {rs.count(r)} rows, not 1")
paths = {k[1] for k in seen}
src = open(api).read()
table = re.search(r"routes\[\] = \{(.*?)\n\};", src, re.S)
routed = [p for p in re.findall(r'\{"(/v1/[^"]*)"', table.group(1)) if "{" not in p] if table else []
if len(routed) < 10:
    bad.append(f"{api}: found {len(routed)} routes in routes[]; the check cannot see the table")
for p in routed:
    if p not in paths:
        bad.append(f"{p}: routed by the server, no rows here")
if not any(re.fullmatch(r"/v1/admin/devices/[0-9a-f]{32}/revoke", p) for p in paths):
    bad.append("/v1/admin/devices/ID/revoke: routed by the server, no rows here")
for b in bad:
    print(b)
print(f"{len(seen)} requests x {len(roles)} roles = {sum(map(len, seen.values()))} rows, {len(routed)} routes", file=sys.stderr)
sys.exit(1 if bad else 0)
PY
}

# ---- the matrix ----
NROWS=0
while IFS=$'\t' read -r verdict text; do
	NROWS=$((NROWS + 1))
	if [ "$verdict" = PASS ]; then ok "$text"; else not_ok "$text"; fi
done < <(compare "$MATRIX" "$T/got.tsv")
check "the matrix has rows (${NROWS})" test "$NROWS" -ge 300
complete "$MATRIX" >"$T/complete.out" 2>"$T/complete.err"
check "the matrix is complete: every role on every request, every routed path ($(cat "$T/complete.err"))" \
	test ! -s "$T/complete.out"
while read -r l; do diag "incomplete: $l"; done <"$T/complete.out"

# Every refusal by a role was audited as "denied", with the path as object.
# The gate writes it; the one refusal the handler makes (a person asking for
# another's history) is audited as access.read instead, so it is not counted.
want_denied=$(rows "$MATRIX" | awk -F'\t' '$5 == 403 && !($1 == "person" && $3 == "/v1/access")' | wc -l)
got_denied=$(curl -sS --cacert "$SEALTRACE_CA" -H "Authorization: Bearer $OFFICER1_TOKEN" \
	"$URL/v1/audit/entries?limit=10000" | python3 -c '
import json, sys
print(sum(1 for e in json.load(sys.stdin)["entries"] if e["action"] == "denied"))')
check "every role refusal is in the audit log as denied ($got_denied of $want_denied)" \
	test "$got_denied" = "$want_denied"

# ---- a refusal changed nothing; an answer of 200 did what it said ----
# Each spare token is dead exactly when the table says its revoke row
# succeeded (200), and alive (its person reads their own history) otherwise.
for key in $(printf '%s\n' "${!SPARE[@]}" | sort); do
	obj=${key%%-*} role=${key#*-}
	want=$(rows "$MATRIX" | awk -F'\t' -v r="$role" -v o="$obj" \
		'$1 == r && $2 == "POST" && $3 == "/v1/tokens/revoke" && $4 == o { print ($5 == 200 ? 401 : 200) }')
	got=$(curl -sS --cacert "$SEALTRACE_CA" -o /dev/null -w '%{http_code}' \
		-H "Authorization: Bearer ${SPARE[$key]}" "$URL/v1/access")
	check "spare-$key after its revoke row: ${want:-no row} (got $got)" test "$got" = "${want:-none}"
done
curl -sS --cacert "$SEALTRACE_CA" -H "Authorization: Bearer $OFFICER1_TOKEN" \
	"$URL/v1/purposes" >"$T/purposes.json"
check "purpose $P_APPROVE was approved once, by the officer alone; $P_REVOKE is revoked" \
	python3 - "$T/purposes.json" "$P_APPROVE" "$P_REVOKE" <<'PY'
import json, sys
ps = {p["id"]: p for p in json.load(open(sys.argv[1]))["purposes"]}
a, r = ps[int(sys.argv[2])], ps[int(sys.argv[3])]
assert a["approvers"] == ["olga@example.com"] and a["state"] == "proposed", a
assert r["approvers"] == [] and r["state"] == "revoked", r
PY
curl -sS --cacert "$SEALTRACE_CA" -H "Authorization: Bearer $ADMIN_TOKEN" \
	"$URL/v1/admin/users" >"$T/users.json"
check "eve was erased (by the officer's row) and nobody else" python3 -c '
import json, sys
gone = sorted(u["name"] for u in json.load(open(sys.argv[1]))["users"] if u["erased"])
assert gone == ["eve@example.com"], gone' "$T/users.json"
curl -sS --cacert "$SEALTRACE_CA" -H "Authorization: Bearer $OFFICER1_TOKEN" \
	"$URL/v1/tokens" >"$T/tokens.json"
check "the requested steward token was made once, by the approval" python3 -c '
import json, sys
t = [x for x in json.load(open(sys.argv[1]))["tokens"] if x["name"] == "matrix-requested"]
assert len(t) == 1 and t[0]["role"] == "steward" and not t[0]["revoked"], t' "$T/tokens.json"
check "a token the server never made is refused (401 auth)" bash -c "
	curl -sS --cacert '$SEALTRACE_CA' -o '$T/fake' -w '%{http_code}' \
		-H 'Authorization: Bearer sta_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' \
		'$URL/v1/admin/status' | grep -qx 401 && grep -q '\"id\":\"auth\"' '$T/fake'"

# ---- the checks can fail ----
# Against a made-up server that answers exactly as the table says (so these
# do not depend on whether the real one agrees), one wrong answer or one
# wrong expectation is found, and only that one.
rows "$MATRIX" | awk -F'\t' -v OFS='\t' \
	'{ print $1, $2, $3, $4, $5, ($5 == 403 ? "forbidden" : $5 == 401 ? "auth" : "-") }' >"$T/got-ideal.tsv"
compare "$MATRIX" "$T/got-ideal.tsv" | grep '^FAIL' >"$T/ideal.out"
check "a server that answers as the table says passes" test ! -s "$T/ideal.out"
# A server whose table lets a person list users.
FLIP="person	GET	/v1/admin/users	-"
awk -F'\t' -v OFS='\t' -v k="$FLIP" '$1"\t"$2"\t"$3"\t"$4 == k { $5 = 200; $6 = "-" } 1' \
	"$T/got-ideal.tsv" >"$T/got-wrong.tsv"
compare "$MATRIX" "$T/got-wrong.tsv" | grep '^FAIL' >"$T/wrong.out"
check "a server that lets a person list users fails exactly that row" \
	bash -c "[ \$(wc -l <'$T/wrong.out') = 1 ] && grep -q 'person GET /v1/admin/users -: expected 403, got 200' '$T/wrong.out'"
# A server that refuses with the right status but the wrong reason.
awk -F'\t' -v OFS='\t' -v k="$FLIP" '$1"\t"$2"\t"$3"\t"$4 == k { $6 = "not_found" } 1' \
	"$T/got-ideal.tsv" >"$T/got-why.tsv"
compare "$MATRIX" "$T/got-why.tsv" | grep '^FAIL' >"$T/why.out"
check "a 403 without the error id forbidden fails that row" \
	bash -c "[ \$(wc -l <'$T/why.out') = 1 ] && grep -q 'person GET /v1/admin/users -: 403 with error id not_found' '$T/why.out'"
# A table with one expectation flipped (the officer may not approve tokens).
sed 's|^officer\tPOST\t/v1/tokens/approve\t-\t400$|officer\tPOST\t/v1/tokens/approve\t-\t403|' \
	"$MATRIX" >"$T/flipped.tsv"
compare "$T/flipped.tsv" "$T/got-ideal.tsv" | grep '^FAIL' >"$T/flipped.out"
check "a table with one row flipped fails exactly that row" \
	bash -c "[ \$(wc -l <'$T/flipped.out') = 1 ] && grep -q 'officer POST /v1/tokens/approve -: expected 403, got 400' '$T/flipped.out'"
# A table missing one row (the auditor on keys/rotate) is incomplete.
grep -v "^auditor	POST	/v1/keys/rotate	-	" "$MATRIX" >"$T/short.tsv"
complete "$T/short.tsv" >"$T/short.out" 2>/dev/null
check "a table with a row missing is reported incomplete" \
	grep -q 'POST /v1/keys/rotate -: role auditor has 0 rows' "$T/short.out"
# A table without an endpoint the server routes (as if keys/people were new).
grep -v "	/v1/keys/people	" "$MATRIX" >"$T/noroute.tsv"
complete "$T/noroute.tsv" >"$T/noroute.out" 2>/dev/null
check "a table without rows for a routed path is reported incomplete" \
	grep -qx '/v1/keys/people: routed by the server, no rows here' "$T/noroute.out"

diag "$NROWS rows, $NTEST checks, in $(( ($(date +%s%N) - T0) / 1000000 )) ms"
finish
