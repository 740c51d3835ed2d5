#!/bin/bash
# server_init.sh - the real `sealtrace-export keygen` and `sealtrace init`:
# the master key pair (0600 secret, never overwritten), a data folder with
# private modes whose store holds only the admin token's hash, the token
# printed once, init refusing a non-empty folder, a folder with a store and
# a master secret (leaving nothing behind), and every --help exiting 0.
# Prints TAP.
. "$(dirname "$0")/lib.sh"

EXPORT=$BUILD/src/export/sealtrace-export
POLICY=$SRC/policies/default.json

# run PROGRAM ARGS...: stdout in $T/out, stderr in $T/err, code in $rc
run() {
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
}
mode() { stat -c %a "$1"; }
show() { sed 's/^/# /' "$T/err"; }

# 1. the master key pair on the "export host"
run "$EXPORT" keygen --out "$T/export"
check "keygen exits 0" test "$rc" -eq 0
check "keygen: master.key is 0600 and labelled a master secret" \
	sh -c "[ \"\$(stat -c %a '$T/export/master.key')\" = 600 ] &&
	       head -1 '$T/export/master.key' | grep -qx 'sealtrace-key v1 master-x25519-secret'"
check "keygen: master.pub labelled a master public key" \
	sh -c "head -1 '$T/export/master.pub' | grep -qx 'sealtrace-key v1 master-x25519-public'"
check "keygen: the folder is 0700" test "$(mode "$T/export")" = 700
cp "$T/export/master.key" "$T/key.before"
run "$EXPORT" keygen --out "$T/export"
check "keygen refuses to overwrite (exit 1, key unchanged)" \
	sh -c "[ $rc -eq 1 ] && grep -q 'never overwritten' '$T/err' &&
	       cmp -s '$T/key.before' '$T/export/master.key'"
run "$EXPORT" keygen
check "keygen without --out is a usage error (exit 2)" test "$rc" -eq 2

# 2. init
D=$T/data
run "$SEALTRACE" init "$D" --policy "$POLICY" --master-public "$T/export/master.pub" \
	--listen 127.0.0.1:0 --host st.example.com --officer olga@example.com --officer omar@example.com
check "init exits 0" test "$rc" -eq 0
[ "$rc" -eq 0 ] || show
check "init prints exactly one admin token" \
	test "$(grep -Ec '^sta_[A-Za-z0-9_-]{43}$' "$T/out")" -eq 1
check "init says the token is shown only once" grep -q 'shown only once' "$T/out"
check "init prints one token per privacy officer, each named" \
	sh -c "grep -Eq '^officer olga@example.com: sta_[A-Za-z0-9_-]{43}$' '$T/out' &&
	       grep -Eq '^officer omar@example.com: sta_[A-Za-z0-9_-]{43}$' '$T/out'"
check "the officers are people and their tokens are stored hashed as officers" \
	sh -c "[ \"\$(sqlite3 '$D/sealtrace.db' \"select count(*) from tokens t join people p on p.id = t.person_id where t.role = 'officer'\")\" = 2 ] &&
	       ! grep -q \"\$(grep -m1 -oE 'officer olga[^ ]*: sta_.*' '$T/out' | cut -c30-)\" '$D/sealtrace.db'"
TOKEN=$(grep -E '^sta_' "$T/out")
check "init: nothing on stderr" test ! -s "$T/err"
check "data folder, tls, keys and tmp are 0700" \
	sh -c "[ $(mode "$D") = 700 ] && [ $(mode "$D/tls") = 700 ] &&
	       [ $(mode "$D/keys") = 700 ] && [ $(mode "$D/tmp") = 700 ]"
ok_modes=1
for f in config.json sealtrace.db tls/ca.key tls/server.key keys/lease.key keys/audit.key; do
	[ "$(mode "$D/$f")" = 600 ] || { ok_modes=0; diag "$f is $(mode "$D/$f")"; }
done
check "config, store and every secret key are 0600" test "$ok_modes" -eq 1
check "master.pub is the export host's public key" cmp -s "$D/master.pub" "$T/export/master.pub"
check "no master secret anywhere in the data folder" \
	sh -c "! grep -rq 'master-x25519-secret' '$D'"
check "the token is not stored in the folder (only its hash)" \
	sh -c "! grep -rqF '$TOKEN' '$D'"
if command -v openssl >/dev/null; then
	check "the server certificate verifies against the CA and names the host" \
		sh -c "openssl verify -CAfile '$D/tls/ca.pem' '$D/tls/server.pem' >/dev/null 2>&1 &&
		       openssl x509 -in '$D/tls/server.pem' -noout -ext subjectAltName 2>/dev/null |
		       grep -q 'DNS:st.example.com'"
	check "the CA fingerprint printed is the SHA-256 of its DER" \
		sh -c "fp=\$(openssl x509 -in '$D/tls/ca.pem' -outform DER | sha256sum | cut -d' ' -f1);
		       grep -q \"sha256 \$fp\" '$T/out'"
else
	ok "certificate checks with openssl # SKIP openssl not installed"
	ok "CA fingerprint with openssl # SKIP openssl not installed"
fi
if command -v sqlite3 >/dev/null; then
	check "the store holds the admin token row, two officers' and the current policy" \
		sh -c "[ \"\$(sqlite3 '$D/sealtrace.db' \"select group_concat(name||','||role, ' ') from (select * from tokens order by name)\")\" = 'admin,admin officer-1,officer officer-2,officer' ] &&
		       [ \"\$(sqlite3 '$D/sealtrace.db' 'select count(*) from policies')\" = 1 ]"
else
	ok "store contents # SKIP sqlite3 not installed"
fi
check "the policy stored is the one 'policy check' hashes" \
	sh -c "h=\$('$SEALTRACE' policy check '$POLICY' | sed -n 's/.*sha256 \([0-9a-f]*\).*/\1/p');
	       command -v sqlite3 >/dev/null || exit 0;
	       [ \"\$(sqlite3 '$D/sealtrace.db' 'select lower(hex(hash)) from policies')\" = \"\$h\" ]"

# 3. refusals, leaving nothing behind
run "$SEALTRACE" init "$D" --policy "$POLICY" --master-public "$T/export/master.pub" --officer olga@example.com --officer omar@example.com
check "init refuses a folder that holds a store (exit 1, says so)" \
	sh -c "[ $rc -eq 1 ] && grep -q 'already holds a sealtrace store' '$T/err' && [ ! -s '$T/out' ]"
mkdir "$T/busy"
echo mine >"$T/busy/notes.txt"
run "$SEALTRACE" init "$T/busy" --policy "$POLICY" --master-public "$T/export/master.pub" --officer olga@example.com --officer omar@example.com
check "init refuses a non-empty folder and leaves it as it was" \
	sh -c "[ $rc -eq 1 ] && grep -q 'not empty' '$T/err' &&
	       [ \"\$(ls -A '$T/busy')\" = notes.txt ]"
run "$SEALTRACE" init "$T/d2" --policy "$POLICY" --master-public "$T/export/master.key" --officer olga@example.com --officer omar@example.com
check "init refuses a master secret, says it belongs on the export host, makes nothing" \
	sh -c "[ $rc -eq 1 ] && grep -q 'export host' '$T/err' && [ ! -e '$T/d2' ] && [ ! -s '$T/out' ]"
printf '{"version": 1, "readers": ["everyone"]}' >"$T/broad.json"
run "$SEALTRACE" init "$T/d3" --policy "$T/broad.json" --master-public "$T/export/master.pub" --officer olga@example.com --officer omar@example.com
check "init refuses a broad-grant policy and makes nothing" \
	sh -c "[ $rc -eq 1 ] && grep -q 'broad grant' '$T/err' && [ ! -e '$T/d3' ]"
run "$SEALTRACE" init "$T/d4" --policy "$POLICY"
check "init without --master-public is a usage error (exit 2)" \
	sh -c "[ $rc -eq 2 ] && [ ! -e '$T/d4' ]"
run "$SEALTRACE" init "$T/d5" --policy "$POLICY" --master-public "$T/export/master.pub" \
	--tls-cert "$D/tls/server.pem" --officer olga@example.com --officer omar@example.com
check "init with only some of the --tls-* files is a usage error" test "$rc" -eq 2
run "$SEALTRACE" init "$T/d6" --policy "$POLICY" --master-public "$T/export/master.pub" \
	--officer olga@example.com
check "init with fewer than two privacy officers is a usage error, makes nothing" \
	sh -c "[ $rc -eq 2 ] && grep -q 'two --officer' '$T/err' && [ ! -e '$T/d6' ]"
run "$SEALTRACE" init "$T/d7" --policy "$POLICY" --master-public "$T/export/master.pub" \
	--officer olga@example.com --officer olga@example.com
check "init with the same officer twice is refused, makes nothing" \
	sh -c "[ $rc -eq 2 ] && grep -q 'named twice' '$T/err' && [ ! -e '$T/d7' ]"

# 4. serve refuses a master secret in its folder
cp "$T/export/master.key" "$D/keys/oops.key"
run timeout 10 "$SEALTRACE" serve --data "$D"
check "serve refuses to start with a master secret in the data folder" \
	sh -c "[ $rc -eq 1 ] && grep -q 'oops.key' '$T/err' && grep -q 'export host' '$T/err'"
rm -f "$D/keys/oops.key"

# 5. administration without a server: usage errors and the config rule
run env -u SEALTRACE_URL -u SEALTRACE_TOKEN HOME="$T" "$SEALTRACE" status
check "status without a URL is a usage error naming SEALTRACE_URL" \
	sh -c "[ $rc -eq 2 ] && grep -q SEALTRACE_URL '$T/err'"
printf '{"url": "https://127.0.0.1:1", "token": "%s"}' "$TOKEN" >"$T/admin.json"
chmod 644 "$T/admin.json"
run "$SEALTRACE" --config "$T/admin.json" status
check "a config file others may read is refused (chmod 600 advice)" \
	sh -c "[ $rc -eq 1 ] && grep -q 'chmod 600' '$T/err'"
check "no command prints the token it was given" \
	sh -c "! grep -qF '$TOKEN' '$T/out' '$T/err'"
touch "$T/exists.db"
run "$SEALTRACE" --url https://127.0.0.1:1 --token "$TOKEN" backup --out "$T/exists.db"
check "backup refuses an existing file before asking the server" \
	sh -c "[ $rc -eq 1 ] && grep -q 'never replaces' '$T/err'"

# 6. every --help tells something and exits 0; commands not built yet exit 2
run "$SEALTRACE" --help
check "sealtrace --help exits 0 and lists init and serve" \
	sh -c "[ $rc -eq 0 ] && grep -q 'init DIR' '$T/out' && grep -q 'serve' '$T/out'"
for c in init serve user device enroll-token policy backup status token purpose erase audit access retention; do
	run "$SEALTRACE" "$c" --help
	if [ "$rc" -eq 0 ] && grep -q "usage: sealtrace $c" "$T/out"; then
		ok "sealtrace $c --help exits 0"
	else
		not_ok "sealtrace $c --help exits 0 (got $rc)"
	fi
done
run "$SEALTRACE" token
check "sealtrace token without a subcommand is a usage error (exit 2)" test "$rc" -eq 2
run "$EXPORT" --help
check "sealtrace-export --help exits 0" sh -c "[ $rc -eq 0 ] && grep -q keygen '$T/out'"
run "$EXPORT" keygen --help
check "sealtrace-export keygen --help exits 0" test "$rc" -eq 0
run "$EXPORT" dataset --help
check "sealtrace-export dataset --help exits 0 and names the purpose and the audit" \
	sh -c "[ $rc -eq 0 ] && grep -q 'usage: sealtrace-export dataset' '$T/out' && grep -q 'audit log' '$T/out'"
run "$EXPORT" dataset --purpose p --out "$T/x"
check "sealtrace-export dataset with a purpose that is not a number: usage error, nothing made" \
	sh -c "[ $rc -eq 2 ] && grep -q 'needs --purpose ID' '$T/err' && [ ! -e '$T/x' ]"

finish
