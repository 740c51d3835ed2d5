#!/bin/bash
# audit_tamper.sh - the audit log is tamper-evident from outside the host: a
# real server writes 31 entries, an auditor saves a signed checkpoint at 21
# (cp1) off the host, and `sealtrace audit verify --checkpoint cp1` passes on
# the untouched log, with and without the audit key pinned. Then the host's
# attacker edits its database (on a fresh copy of the data folder each time,
# server stopped, with the sqlite3 tool or a forger that uses the entry bytes
# of src/access/audit.h): an edited entry, a deleted one (with and without
# renumbering the rest), a forged entry inserted with a valid hash, two
# entries swapped, the tail cut off, the tail cut off and regrown, and a
# rewrite that recomputes every chain hash after the change and has the
# server re-sign its own checkpoints. Each time verify exits 1 and names the
# first bad entry, or the saved checkpoint with "rewritten" / "truncated".
# Last, the untouched copy still verifies. Prints TAP.
source "$SRC/tests/integration/lib.sh"
source "$SRC/tests/integration/lib_server.sh"

# ---- the forger: entry bytes, chain and tree exactly as audit.h says ----
cat >"$T/forge.py" <<'PY'
import hashlib, sqlite3, struct, sys

MAGIC = b"sealtrace-audit-v1"
FIELDS = ("actor", "role", "action", "object", "purpose", "result")
COLS = "seq, time_s, actor, role, action, object, purpose, result, prev, hash"

def encode(e):
    b = MAGIC + struct.pack(">Qq", e["seq"], e["time_s"])
    for f in FIELDS:
        v = e[f].encode()
        b += struct.pack(">H", len(v)) + v
    return b + e["prev"]

def chain_hash(e):
    return hashlib.sha256(encode(e)).digest()

def mth(leaves):
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()

def rows(db):
    out = []
    for r in db.execute("SELECT %s FROM audit ORDER BY seq" % COLS):
        out.append(dict(zip(COLS.split(", "), r)))
    return out

def store(db, e):
    db.execute("UPDATE audit SET time_s=?, actor=?, role=?, action=?, "
               "object=?, purpose=?, result=?, prev=?, hash=? WHERE seq=?",
               (e["time_s"],) + tuple(e[f] for f in FIELDS) +
               (e["prev"], e["hash"], e["seq"]))

cmd, path = sys.argv[1], sys.argv[2]
db = sqlite3.connect(path)
es = rows(db)
if cmd == "check":
    # check DB SIZE ROOT_HEX: every stored hash and link recomputed, and the
    # RFC 6962 root of the first SIZE leaves compared with ROOT_HEX
    prev = bytes(32)
    for i, e in enumerate(es):
        if e["seq"] != i + 1 or e["prev"] != prev or chain_hash(e) != e["hash"]:
            sys.exit("entry %d does not recompute" % (i + 1))
        prev = e["hash"]
    size, root = int(sys.argv[3]), sys.argv[4]
    leaves = [hashlib.sha256(b"\x00" + encode(e)).digest() for e in es[:size]]
    if mth(leaves).hex() != root:
        sys.exit("root of %d leaves differs" % size)
    print("recomputed %d entries" % len(es))
elif cmd == "rewrite":
    # rewrite DB K FIELD VALUE: entry K changed, every hash from K on resealed
    k, field, value = int(sys.argv[3]), sys.argv[4], sys.argv[5]
    es[k - 1][field] = value
    for i in range(k - 1, len(es)):
        es[i]["prev"] = es[i - 1]["hash"] if i else bytes(32)
        es[i]["hash"] = chain_hash(es[i])
        store(db, es[i])
    db.commit()
    print("resealed %d entries" % (len(es) - k + 1))
elif cmd == "reseal-one":
    # reseal-one DB K FIELD VALUE: entry K changed and its own hash
    # recomputed, the entries after it left alone
    k, field, value = int(sys.argv[3]), sys.argv[4], sys.argv[5]
    es[k - 1][field] = value
    es[k - 1]["hash"] = chain_hash(es[k - 1])
    store(db, es[k - 1])
    db.commit()
    print("resealed entry %d" % k)
elif cmd == "insert":
    # insert DB K: entries K.. move up one; a forged entry K, linked to K-1
    # with its own correct hash, claims the admin revoked token t7
    k = int(sys.argv[3])
    db.execute("UPDATE audit SET seq = seq + 1000000 WHERE seq >= ?", (k,))
    db.execute("UPDATE audit SET seq = seq - 999999 WHERE seq >= 1000000")
    f = dict(seq=k, time_s=es[k - 2]["time_s"], actor="token:admin",
             role="admin", action="token.revoke", object="token:t7",
             purpose="", result="ok", prev=es[k - 2]["hash"])
    f["hash"] = chain_hash(f)
    db.execute("INSERT INTO audit (%s) VALUES (?,?,?,?,?,?,?,?,?,?)" % COLS,
               (f["seq"], f["time_s"]) + tuple(f[x] for x in FIELDS) +
               (f["prev"], f["hash"]))
    db.commit()
    print("inserted entry %d" % k)
PY

DB_OF() { echo "$SRV_DIR/sealtrace.db"; }
aud() { SEALTRACE_TOKEN=$AUD "$SEALTRACE" "$@"; }
# denied: an admin asking for the audit log is refused, and that is audited
denied() { "$SEALTRACE" audit list >/dev/null 2>&1; }
tokens() { # FROM TO: token.create, then a denied entry, for each
	for i in $(seq "$1" "$2"); do
		"$SEALTRACE" token create --person bob@example.com --role auditor --name "t$i" \
			>/dev/null 2>>"$T/admin.err"
		denied
	done
}

init_server srv || { echo "Bail out! sealtrace init failed"; exit 1; }
start_server || { echo "Bail out! sealtrace serve did not start"; exit 1; }
q "$SEALTRACE" user add bob@example.com
AUD=$("$SEALTRACE" token create --person bob@example.com --role auditor --name aud 2>>"$T/admin.err" |
	grep -oE 'sta_[A-Za-z0-9_-]{43}')
[ -n "$AUD" ] || { echo "Bail out! no auditor token"; exit 1; }
tokens 1 10
aud audit list --json >"$T/list1.json" 2>&1
check "21 entries before the checkpoint: token.create and denied by turns" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert [x["seq"] for x in d] == list(range(1, 22)), d
assert all(x["action"] == ("token.create" if x["seq"] % 2 == 0 or x["seq"] == 1 else "denied") for x in d), d
assert d[8]["result"] == "forbidden" and d[9]["object"] == "token:t5", d' "$T/list1.json"
aud audit checkpoint --out "$T/cp1" >"$T/cp1.out" 2>&1
check "audit checkpoint --out cp1 saves the server's signed checkpoint of 21 entries" \
	bash -c "grep -q '^checkpoint of 21 entries written to' '$T/cp1.out' && grep -qx 'size 21' '$T/cp1'"
tokens 11 15
CP1_ROOT=$(sed -n 's/^root //p' "$T/cp1")

aud audit verify --checkpoint "$T/cp1" >"$T/v0.out" 2>&1
rc=$?
check "verify --checkpoint cp1 passes on the untouched log (exit $rc)" \
	bash -c "[ $rc = 0 ] && grep -q '^audit log ok: 31 entries, chain intact, root [0-9a-f]\{64\}; 1 saved checkpoint consistent' '$T/v0.out'"
aud audit verify --checkpoint "$T/cp1" --audit-key "$SRV_DIR/keys/audit.pub" >"$T/v0k.out" 2>&1
rc=$?
check "and with the audit key pinned (exit $rc), without the unpinned-key warning" \
	bash -c "[ $rc = 0 ] && grep -q '^audit log ok: 31 entries' '$T/v0k.out' && ! grep -q 'pin one' '$T/v0k.out'"
# the pin is real: another server's audit key refuses the same checkpoints
"$SEALTRACE" init "$T/other" --policy "$SRC/policies/default.json" \
	--master-public "$T/srv-export/master.pub" --listen 127.0.0.1:0 \
	--officer x@example.com --officer y@example.com >/dev/null 2>&1
aud audit verify --checkpoint "$T/cp1" --audit-key "$T/other/keys/audit.pub" >"$T/v0x.out" 2>&1
rc=$?
check "with another audit key pinned verify fails (exit $rc): the signature is checked" \
	bash -c "[ $rc = 1 ] && grep -q 'not by the audit key given' '$T/v0x.out' && ! grep -q 'audit log ok' '$T/v0x.out'"
stop_server || { echo "Bail out! the server did not stop"; exit 1; }
sqlite3 "$(DB_OF)" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
cp -a "$SRV_DIR" "$T/pristine"
check "the test's forger reproduces every chain hash the server wrote and cp1's tree root" \
	bash -c "python3 '$T/forge.py' check '$T/pristine/sealtrace.db' 21 '$CP1_ROOT' | grep -qx 'recomputed 31 entries'"

# ---- the attacker on the host: one fresh copy of the data folder each ----
restore() { rm -rf "$SRV_DIR" && cp -a "$T/pristine" "$SRV_DIR"; }
sq() { sqlite3 "$(DB_OF)" "$1; SELECT total_changes();"; }
# run_verify NAME [options...]: starts the server on the tampered copy, runs
# verify with cp1, stops it; output in $T/NAME.out, exit in VRC, the
# server's log of this run in $T/NAME.log
run_verify() {
	local name=$1 from
	shift
	from=$(($(wc -l <"$SRV_DIR.log") + 1))
	start_server || { VRC=start; return; }
	aud audit verify --checkpoint "$T/cp1" "$@" >"$T/$name.out" 2>&1
	VRC=$?
	stop_server
	tail -n +"$from" "$SRV_DIR.log" >"$T/$name.log"
}
fails_naming() { # NAME TEXT: verify exited 1 and its message holds TEXT
	[ "$VRC" = 1 ] && grep -qF -- "$2" "$T/$1.out" && ! grep -q 'audit log ok' "$T/$1.out"
}
# tampered N NAME TEXT: the tampering changed N rows, and fails_naming
tampered() { [ "$n" = "$1" ] && fails_naming "$2" "$3"; }

# an edited entry: the denial at 9 made to look like a success
restore
n=$(sq "UPDATE audit SET result = 'ok' WHERE seq = 9 AND result = 'forbidden'")
run_verify edit
check "edit: entry 9's result changed; verify exits 1 (got $VRC) naming entry 9 as modified" \
	tampered 1 edit "entry 9: its content does not match its hash (modified)"
check "edit: the server saw the break at entry 9 when it started" \
	grep -q "chain is broken at entry 9;" "$T/edit.log"

# an edited entry whose own hash was recomputed: it is sound by itself, the
# next entry no longer follows it
restore
python3 "$T/forge.py" reseal-one "$(DB_OF)" 10 object token:t9 >"$T/reseal.forge" 2>&1
resealed() {
	grep -qx 'resealed entry 10' "$T/reseal.forge" &&
		fails_naming reseal "entry 11: does not follow entry 10 (an entry was deleted, inserted or moved before it)"
}
run_verify reseal
check "edit and reseal entry 10 alone: verify exits 1 (got $VRC) naming entry 11, which no longer follows it" resealed

# a deleted entry: the gap in the sequence shows where
restore
n=$(sq "DELETE FROM audit WHERE seq = 12")
run_verify delete
check "delete: entry 12 deleted; verify exits 1 (got $VRC) naming entry 12 as deleted" \
	tampered 1 delete "entry 12: sequence 13 where 12 was expected (deleted or reordered)"

# a deleted entry, the rest renumbered to hide the gap
restore
n=$(sq "DELETE FROM audit WHERE seq = 12; UPDATE audit SET seq = seq + 1000000 WHERE seq > 12;
	UPDATE audit SET seq = seq - 1000001 WHERE seq > 1000000")
run_verify renumber
check "delete and renumber 13..31: verify exits 1 (got $VRC) naming entry 12 as modified" \
	tampered 39 renumber "entry 12: its content does not match its hash (modified)"

# an inserted entry: well formed and linked to entry 14, so the chain
# breaks at the entry it displaced
restore
python3 "$T/forge.py" insert "$(DB_OF)" 15 >"$T/insert.forge" 2>&1
run_verify insert
inserted() {
	grep -qx 'inserted entry 15' "$T/insert.forge" &&
		[ "$(sqlite3 "$(DB_OF)" "select action || ' ' || object from audit where seq = 15")" = 'token.revoke token:t7' ] &&
		[ "$(sqlite3 "$(DB_OF)" "select max(seq) from audit")" = 32 ] &&
		fails_naming insert "entry 16: its content does not match its hash (modified)"
}
check "insert: a forged entry 15 with a valid hash; verify exits 1 (got $VRC) naming entry 16, the one it displaced" \
	inserted

# two entries swapped: each keeps its own content, prev and hash
restore
n=$(sq "UPDATE audit SET seq = 1000006 WHERE seq = 6; UPDATE audit SET seq = 6 WHERE seq = 11;
	UPDATE audit SET seq = 11 WHERE seq = 1000006")
run_verify reorder
check "reorder: entries 6 and 11 swapped; verify exits 1 (got $VRC) naming entry 6" \
	tampered 3 reorder "entry 6: its content does not match its hash (modified)"

# the tail cut off, entries 16..21 of cp1's 21 included
restore
n=$(sq "DELETE FROM audit WHERE seq > 15")
run_verify truncate
check "truncate: entries 16..31 cut off; verify exits 1 (got $VRC) naming cp1: truncated" \
	tampered 16 truncate "truncated: the log has 15 entries, checkpoint $T/cp1 says 21"

# the tail cut off, the server's own checkpoints dropped, and new activity
# on top: the chain is whole again, only cp1 remembers
restore
n=$(sq "DELETE FROM audit WHERE seq > 15; DELETE FROM audit_checkpoints")
start_server || { echo "Bail out! serve did not start on the regrown copy"; exit 1; }
tokens 16 20
stop_server
run_verify regrow
check "truncate to 15, drop the server's 2 checkpoints, regrow to 25: verify exits 1 (got $VRC) naming cp1: rewritten or truncated" \
	tampered 18 regrow "checkpoint size 21 ($T/cp1): the log's first 21 entries no longer have root $CP1_ROOT (rewritten or truncated since the checkpoint)"

# the rewrite: entry 5 changed, every hash after it recomputed, and the
# server's stored checkpoints dropped so that it re-signs the rewritten log
# with its own audit key at the next request (what the host could do)
restore
python3 "$T/forge.py" rewrite "$(DB_OF)" 5 result ok >"$T/rewrite.forge" 2>&1
n=$(sq "DELETE FROM audit_checkpoints")
check "rewrite: 27 entries resealed from entry 5 (now ok), the server's 2 checkpoints dropped" \
	bash -c "grep -qx 'resealed 27 entries' '$T/rewrite.forge' && [ '$n' = 2 ] &&
		[ \"\$(sqlite3 '$(DB_OF)' 'select result from audit where seq = 5')\" = ok ]"
start_server || { echo "Bail out! serve did not start on the rewritten copy"; exit 1; }
aud audit verify --audit-key "$SRV_DIR/keys/audit.pub" >"$T/rewrite-nocp.out" 2>&1
rc=$?
check "rewrite: without a saved checkpoint the rewritten log passes (exit $rc): the chain and the re-signed checkpoint agree" \
	bash -c "[ $rc = 0 ] && grep -q '^audit log ok: 31 entries, chain intact' '$T/rewrite-nocp.out'"
stop_server
run_verify rewrite --audit-key "$SRV_DIR/keys/audit.pub"
check "rewrite: with cp1 verify exits 1 (got $VRC) naming cp1: rewritten or truncated" \
	fails_naming rewrite "checkpoint size 21 ($T/cp1): the log's first 21 entries no longer have root $CP1_ROOT (rewritten or truncated since the checkpoint)"

# ---- and the untouched log still verifies ----
restore
run_verify final --audit-key "$SRV_DIR/keys/audit.pub"
check "restored untouched copy: verify --checkpoint cp1 --audit-key passes (exit $VRC)" \
	bash -c "[ '$VRC' = 0 ] && grep -q '^audit log ok: 31 entries, chain intact' '$T/final.out'"
finish
