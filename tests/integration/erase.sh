#!/bin/bash
# erase.sh - erase is real, and retention deletes what is past it. A real
# server holds segments of alice and bob; an officer erases alice. Then: the
# CLI says what went (devices, segments, no export); no 16-byte piece of
# alice's sealed secret is left in any file of the data folder (the database
# and its -wal included) nor in a backup made after the erasure, while
# bob's is still there; her device is refused (403 device_revoked); `user
# list` shows her erased; erasing her again is refused (410 erased); bob is
# untouched. An export host holding an older copy of the segments (a backup
# made before the erasure) but taking the person keys from the server's
# current state opens none of alice's segments, each "erased", and all of
# bob's (st-testkit store-open --keys, through st_master_open_person).
# Last, the retention sweeper: rows planted with sqlite3 on the stopped
# server, past the policy's 90 days, are deleted when it starts (and
# `sealtrace retention sweep` finds nothing more); after `policy apply`
# with 30 days, `retention sweep` deletes exactly those past 30; the recent
# ones stay, and both sweeps are in the audit log. Prints TAP.
#
# Nothing here opens the database with SQLite while the server runs: an
# outside connection closing as the last one it can see deletes the -wal
# and -shm under the server (the server holds no lock on the database file
# once its third store is open), which would make the -wal checks below
# meaningless. Reads go through `sealtrace backup` copies instead; the
# searches read the files' bytes without SQLite.
source "$SRC/tests/integration/lib.sh"
source "$SRC/tests/integration/lib_server.sh"

# holds HEX FILE...: prints how many of HEX's 16-byte pieces (a secret of
# 80 bytes has 5) occur in the files, together; exit 0 when any does
cat >"$T/holds.py" <<'PY'
import sys
sec = bytes.fromhex(sys.argv[1])
assert len(sec) == 80, len(sec)
pieces = [sec[i:i + 16] for i in range(0, 80, 16)]
found = set()
for path in sys.argv[2:]:
    data = open(path, "rb").read()
    found |= {i for i, p in enumerate(pieces) if p in data}
print(len(found))
sys.exit(0 if found else 1)
PY
holds() { python3 "$T/holds.py" "$@" >"$T/holds.out"; }
# the data folder's regular files: the database, its -wal and -shm if any,
# keys, config, tmp
data_files() { find "$SRV_DIR" -type f; }
sealed_of() { # FILE NAME: hex of NAME's sealed secret in a database copy
	sqlite3 "$1" "select hex(sealed_secret) from people where name = '$2'"
}
person_id() {
	"$SEALTRACE" user list --json 2>>"$T/admin.err" | python3 -c '
import json, sys
print([u["id"] for u in json.load(sys.stdin)["users"] if u["name"] == sys.argv[1]][0])' "$1"
}
officer() { SEALTRACE_TOKEN=$OFFICER1_TOKEN "$SEALTRACE" "$@"; }
ME=$(id -un)

init_server srv || { echo "Bail out! sealtrace init failed"; exit 1; }
start_server || { echo "Bail out! sealtrace serve did not start"; exit 1; }
DB=$SRV_DIR/sealtrace.db
MASTER_KEY=$T/srv-export/master.key
q "$SEALTRACE" user add alice@example.com
q "$SEALTRACE" user add bob@example.com
enroll_server "$T/a" "$(new_token alice@example.com)" || { echo "Bail out! alice's enrollment failed"; exit 1; }
enroll_server "$T/b" "$(new_token bob@example.com)" || { echo "Bail out! bob's enrollment failed"; exit 1; }
A_ID=$(device_id_of "$T/a")
B_ID=$(device_id_of "$T/b")
ALICE=$(person_id alice@example.com)
BOB=$(person_id bob@example.com)
"$SRVKIT" spool-fill "$T/a" 3 >/dev/null 2>>"$T/fill.err"
"$SRVKIT" spool-fill "$T/b" 2 5 >/dev/null 2>>"$T/fill.err"
for d in a b; do
	timeout 30 "$AGENT" upload --until-empty --state-dir "$T/$d" --backoff-min-ms 20 \
		--backoff-max-ms 200 >>"$T/upload.log" 2>&1
done
check "alice's 3 segments and bob's 2 are stored" \
	bash -c "[ \"\$(device_field $A_ID segments)\" = 3 ] && [ \"\$(device_field $B_ID segments)\" = 2 ]"
q "$SEALTRACE" backup --out "$T/before.db"
A_SEALED=$(sealed_of "$T/before.db" alice@example.com)
B_SEALED=$(sealed_of "$T/before.db" bob@example.com)
check "the server keeps an 80-byte sealed secret for each (read from a backup made before the erasure)" \
	test "${#A_SEALED}${#B_SEALED}" = 160160
check "before the erasure alice's sealed secret is in the database files (the search can see it)" \
	holds "$A_SEALED" $(data_files)
ALICE_TOKEN=$("$SEALTRACE" token create --person alice@example.com --role person --name alice-self 2>>"$T/admin.err" |
	grep -oE 'sta_[A-Za-z0-9_-]{43}')
SEALTRACE_TOKEN=$ALICE_TOKEN "$SEALTRACE" access >"$T/access1.out" 2>&1
rc=$?
check "before the erasure alice's own token reads her access history (exit $rc)" test "$rc" = 0
H_A=$(sha256sum "$T/a/notice.txt" | cut -d' ' -f1)
H_B=$(sha256sum "$T/b/notice.txt" | cut -d' ' -f1)
check "before the erasure alice's device is served (a signed acceptance: 201 ok)" \
	test "$("$SRVKIT" post-accept "$T/a" "$URL" "$H_A" "$ME" 2>&1)" = "201 ok"
check "a backup made before the erasure holds all 5 pieces of alice's sealed secret" \
	bash -c "python3 '$T/holds.py' '$A_SEALED' '$T/before.db' | grep -qx 5"

# ---- the erasure ----
t0=$(date +%s)
officer erase --user alice@example.com >"$T/erase.out" 2>&1
rc=$?
t1=$(date +%s)
check "erase --user alice (officer) exits 0 (got $rc) and reports 1 device revoked, 3 segments deleted, 1 token revoked" \
	bash -c "[ $rc = 0 ] && grep -qx 'alice@example.com erased: their key is destroyed, 1 devices revoked, 3 segments deleted, 1 tokens revoked' '$T/erase.out'"
check "it says no export held her data" grep -qx 'no export held their data' "$T/erase.out"
check "it says the erasure is complete once key backups older than it are gone (7 days)" \
	bash -c "grep -Eqx 'complete when no key backup older than now remains: by ($(date -u -d @$((t0 + 7 * 86400)) +%F)|$(date -u -d @$((t1 + 7 * 86400)) +%F)) [0-9]{2}:[0-9]{2}Z' '$T/erase.out'"
data_files >"$T/files.txt"
check "no file of the data folder holds any 16-byte piece of alice's sealed secret ($(wc -l <"$T/files.txt") files, -wal: $(test -e "$DB-wal" && stat -c %s "$DB-wal" || echo none))" \
	bash -c "! python3 '$T/holds.py' '$A_SEALED' \$(cat '$T/files.txt') >/dev/null"
check "the database and its -wal if any: none of alice's, all of bob's" \
	bash -c "! python3 '$T/holds.py' '$A_SEALED' '$DB' \$(ls '$DB-wal' 2>/dev/null) >/dev/null &&
		python3 '$T/holds.py' '$B_SEALED' '$DB' \$(ls '$DB-wal' 2>/dev/null) | grep -qx 5"
q "$SEALTRACE" backup --out "$T/after.db"
check "in a backup made after it her people row keeps no sealed secret and says erased" \
	test "$(sqlite3 "$T/after.db" "select quote(sealed_secret) || ' ' || erased from people where name = 'alice@example.com'")" = "NULL 1"
check "a backup made after the erasure holds no piece of it, and bob's whole" \
	bash -c "! python3 '$T/holds.py' '$A_SEALED' '$T/after.db' >/dev/null &&
		python3 '$T/holds.py' '$B_SEALED' '$T/after.db' | grep -qx 5"
check "alice's device is refused: a signed request answers 403 device_revoked" \
	test "$("$SRVKIT" post-accept "$T/a" "$URL" "$H_A" "$ME" 2>&1)" = "403 device_revoked"
SEALTRACE_TOKEN=$ALICE_TOKEN "$SEALTRACE" access >"$T/access2.out" 2>&1
rc=$?
check "her own token is refused now (exit $rc): $(head -c 120 "$T/access2.out")" \
	bash -c "[ $rc = 1 ] && grep -q 'HTTP 401' '$T/access2.out'"
"$SRVKIT" segment "$T/a" "$T/seg-late" ok 9 2>>"$T/fill.err"
got=$(post_segment "$T/seg-late")
check "and her new segment is refused (got $got)" test "$got" = "422 device_revoked"
"$SEALTRACE" user list >"$T/users.txt" 2>&1
"$SEALTRACE" user list --json >"$T/users.json" 2>&1
check "user list shows alice erased and bob not" \
	bash -c "grep -Eq '^alice@example.com +- +$ALICE .* yes\$' '$T/users.txt' &&
		grep -Eq '^bob@example.com +- +$BOB .* no\$' '$T/users.txt' &&
		python3 -c 'import json,sys
u = {x[\"name\"]: x[\"erased\"] for x in json.load(open(sys.argv[1]))[\"users\"]}
assert u[\"alice@example.com\"] is True and u[\"bob@example.com\"] is False, u' '$T/users.json'"
officer erase --user alice@example.com >"$T/erase2.out" 2>&1
rc=$?
check "erasing her again is refused (exit $rc): HTTP 410, erased" \
	bash -c "[ $rc = 1 ] && grep -q 'HTTP 410' '$T/erase2.out' && grep -q 'erased' '$T/erase2.out'"
code=$(curl -s --cacert "$SEALTRACE_CA" -o "$T/erase3.json" -w '%{http_code}' \
	-H "Authorization: Bearer $OFFICER1_TOKEN" -H 'Content-Type: application/json' \
	--data '{"user":"alice@example.com"}' "$URL/v1/erase")
check "POST /v1/erase for her again: 410 with error id erased (got $code)" \
	bash -c "[ $code = 410 ] && python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))[\"error\"][\"id\"] == \"erased\"' '$T/erase3.json'"
check "bob is untouched: his 2 segments, his sealed secret, his device served" \
	bash -c "[ \"\$(device_field $B_ID segments)\" = 2 ] && [ \"\$(device_field $B_ID active)\" = True ] &&
		[ \"\$(sqlite3 '$T/after.db' \"select hex(sealed_secret) from people where name = 'bob@example.com'\")\" = '$B_SEALED' ] &&
		[ \"\$('$SRVKIT' post-accept '$T/b' '$URL' '$H_B' '$ME' 2>&1)\" = '201 ok' ]"
officer audit list --json >"$T/audit1.json" 2>&1
check "the audit log holds the erasure (ok) and the refused second one (erased)" python3 -c '
import json, sys
d = [(x["action"], x["role"], x["result"]) for x in json.load(open(sys.argv[1]))]
assert d.count(("erase", "officer", "ok")) == 1 and d.count(("erase", "officer", "erased")) == 2, d' "$T/audit1.json"

# ---- the export host: old segments, the server's current person keys ----
"$KIT" store-open summary "$MASTER_KEY" "$T/before.db" >"$T/open-before.sum" 2>"$T/open-before.err"
rc=$?
check "the master secret opens all 5 segments of the before-erase backup with its own keys (exit $rc)" \
	bash -c "[ $rc = 0 ] && grep -qx 'segments: 5 segments' '$T/open-before.sum' && grep -qx 'unreadable: 0 segments' '$T/open-before.sum'"
"$KIT" store-open summary "$MASTER_KEY" "$T/before.db" --keys "$T/after.db" >"$T/open-keys.sum" 2>"$T/open-keys.err"
rc=$?
check "with the person keys of the after-erase backup it fails (exit $rc): 3 segments erased, bob's 2 open" \
	bash -c "[ $rc = 1 ] && grep -qx 'segments: 2 segments' '$T/open-keys.sum' &&
		grep -qx 'unreadable: 3 segments' '$T/open-keys.sum' && grep -qx 'erased: 3 segments' '$T/open-keys.sum'"
check "each of alice's 3 segments reports erased, no segment of bob's does" \
	bash -c "[ \$(grep -c '^stored segment [0-9]* (person $ALICE): erased: ' '$T/open-keys.err') = 3 ] &&
		! grep -q '$BOB' '$T/open-keys.err' && [ \$(wc -l <'$T/open-keys.err') = 3 ]"

# ---- retention: 90 days in the default policy, then 30 ----
# plant SEQ AGE_MIN...: on the stopped server, copies of bob's first
# segment row whose last minute is AGE_MIN minutes before now, as seq SEQ,
# SEQ+1, ... (valid under every CHECK: seq unique per device, t_end_min >
# t_start_min); prints the rows inserted
plant() {
	local seq=$1 sql="" now_min=$(($(date +%s) / 60))
	shift
	for age in "$@"; do
		sql+="INSERT INTO segments (device_id, seq, person_id, header, ciphertext, t_start_min,
			t_end_min, lease_seq, level, kinds, notice_hash, received_s)
			SELECT device_id, $seq, person_id, header, ciphertext, $((now_min - age - 1)),
			$((now_min - age)), lease_seq, level, kinds, notice_hash, received_s
			FROM segments WHERE device_id = x'$B_ID' ORDER BY seq LIMIT 1;"
		seq=$((seq + 1))
	done
	sqlite3 "$DB" "$sql SELECT total_changes();"
}
# bob_seqs FILE: bob's segment sequence numbers in a database copy
bob_seqs() { sqlite3 "$1" "select group_concat(seq, ' ') from (select seq from segments where device_id = x'$B_ID' order by seq)"; }
D=1440
R=$((90 * D))
stop_server || { echo "Bail out! the server did not stop"; exit 1; }
OLD=$(bob_seqs "$DB")
n=$(plant 1001 $((200 * D)) $((R + D)) $((R + 10)) $((R - 10)) $((45 * D)) $((31 * D)) $((29 * D)))
check "7 rows planted on the stopped server ($OLD kept): 200 d, 91 d, 90 d + 10 min, 90 d - 10 min, 45 d, 31 d, 29 d old" \
	test "$n" = 7
start_server || { echo "Bail out! serve did not restart"; exit 1; }
officer --json retention sweep >"$T/sweep1.out" 2>&1
q "$SEALTRACE" backup --out "$T/sweep1.db"
check "the three past 90 days are gone once the server has started, the 4 younger stay ($(bob_seqs "$T/sweep1.db"))" \
	test "$(bob_seqs "$T/sweep1.db")" = "$OLD 1004 1005 1006 1007"
check "and retention sweep (officer) then finds nothing more: $(tr -d '\n' <"$T/sweep1.out")" \
	grep -q '"deleted": *0' "$T/sweep1.out"
python3 -c '
import json, sys
p = json.load(open(sys.argv[1])); p["retention_days"] = 30
json.dump(p, open(sys.argv[2], "w"))' "$SRC/policies/default.json" "$T/policy30.json"
q "$SEALTRACE" policy apply "$T/policy30.json"
"$SEALTRACE" --json retention sweep >"$T/sweep2.out" 2>&1
rc=$?
q "$SEALTRACE" backup --out "$T/sweep2.db"
check "after policy apply with 30 days, retention sweep (admin) deletes exactly the 3 past 30 days (exit $rc, $(tr -d '\n' <"$T/sweep2.out"))" \
	bash -c "[ $rc = 0 ] && grep -q '\"deleted\": *3' '$T/sweep2.out' &&
		[ \"\$(sqlite3 '$T/sweep2.db' \"select group_concat(seq, ' ') from (select seq from segments where device_id = x'$B_ID' order by seq)\")\" = '$OLD 1007' ]"
officer audit list --json >"$T/audit2.json" 2>&1
check "audit list shows the sweeps that deleted: segments:3 at start (actor server) and by the admin" python3 -c '
import json, sys
d = [(x["actor"], x["role"], x["action"], x["object"]) for x in json.load(open(sys.argv[1]))]
assert d.count(("server", "server", "retention.sweep", "segments:3")) == 1, d
assert d.count(("token:admin", "admin", "retention.sweep", "segments:3")) == 1, d' "$T/audit2.json"
finish
