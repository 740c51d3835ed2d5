#!/bin/bash
# keys_hsm.sh - the master secret's custody on the export host with a real
# PKCS#11 token (SoftHSM2 in a temporary folder): `sealtrace-export keygen
# --pkcs11` leaves no plain secret on disk, only a 0600 wrapped file that
# the token alone opens; wrong PIN, wrong token, a loose PIN file, an
# altered file and another token's key each fail with a clear message and
# exit 1; `check-master` loads it. Then, against a real `sealtrace serve`,
# `rotate` moves every person's secret from the plain master to the
# token-wrapped one and on to a third, with the stored segments untouched
# and still opened. That part is skipped (TAP "# SKIP") while the server
# answers 404 on /v1/keys/people. Prints TAP.
source "$SRC/tests/integration/lib.sh"
source "$SRC/tests/integration/lib_server.sh"

MODULE=${ST_TEST_PKCS11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
if ! command -v softhsm2-util >/dev/null || [ ! -r "$MODULE" ]; then
	echo "1..0 # SKIP SoftHSM2 is not installed (scripts/install.sh installs it)"
	cleanup
	trap - EXIT
	exit 0
fi

# run PROGRAM ARGS...: stdout in $T/out, stderr in $T/err, code in $rc
run() {
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
}
show() { sed 's/^/# /' "$T/err"; }
mode() { stat -c %a "$1"; }
# pubhex FILE: the hex line of a key file
pubhex() { sed -n 2p "$1"; }
# fails_with WORDS...: the last run exited 1 and its message holds each word
fails_with() {
	[ "$rc" -eq 1 ] || { show; return 1; }
	local w
	for w in "$@"; do grep -qF -- "$w" "$T/err" || { show; return 1; }; done
}

# ---- a token in a temporary folder ----
mkdir -m 700 "$T/hsm" "$T/hsm/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
	"$T/hsm/tokens" >"$T/hsm/softhsm2.conf"
export SOFTHSM2_CONF=$T/hsm/softhsm2.conf
unset SEALTRACE_PKCS11_MODULE SEALTRACE_PKCS11_PIN
TOKEN=sealtrace-test
softhsm2-util --init-token --free --label "$TOKEN" --pin 4321 --so-pin 8765 >"$T/hsm.log" 2>&1 &&
	softhsm2-util --init-token --free --label other-token --pin 4321 --so-pin 8765 >>"$T/hsm.log" 2>&1 ||
	{ echo "Bail out! softhsm2-util --init-token failed: $(tail -2 "$T/hsm.log")"; exit 1; }
printf '4321\n' >"$T/pin"
chmod 600 "$T/pin"
printf '1111\n' >"$T/badpin"
chmod 600 "$T/badpin"
P11=(--pkcs11-module "$MODULE" --pin-file "$T/pin")

# ---- keygen --pkcs11 ----
H=$T/hsm-master
run "$EXPORT" keygen --out "$H" --pkcs11 "${P11[@]}" --pkcs11-token "$TOKEN"
check "keygen --pkcs11 exits 0 and says the secret was never written" \
	bash -c "[ $rc -eq 0 ] && grep -q 'made now' '$T/out' && grep -q 'never written' '$T/out'"; [ "$rc" -eq 0 ] || show
check "the folder holds master.wrapped and master.pub, and no master.key" \
	test "$(ls "$H" | tr '\n' ' ')" = "master.pub master.wrapped "
check "no file there is a plain master secret" \
	bash -c "! grep -rqa 'master-x25519-secret' '$H'"
check "master.wrapped is 0600 in a 0700 folder" \
	test "$(mode "$H/master.wrapped")/$(mode "$H")" = "600/700"
check "master.wrapped names its token, key, mechanism and public key" \
	bash -c "head -1 '$H/master.wrapped' | grep -qx 'sealtrace-master-wrapped v1' &&
		 grep -qx 'token: $TOKEN' '$H/master.wrapped' &&
		 grep -qx 'key: sealtrace-master-wrap' '$H/master.wrapped' &&
		 grep -qx 'mechanism: CKM_AES_GCM' '$H/master.wrapped' &&
		 grep -qx \"public: \$(sed -n 2p '$H/master.pub')\" '$H/master.wrapped' &&
		 grep -qE '^sealed: [0-9a-f]{96}$' '$H/master.wrapped'"

W=(--master-wrapped "$H/master.wrapped")
run "$EXPORT" check-master "${W[@]}" "${P11[@]}"
check "check-master loads it through the token: the secret matches master.pub" \
	bash -c "[ $rc -eq 0 ] && grep -q \"master public key $(pubhex "$H/master.pub")\" '$T/out'"; [ "$rc" -eq 0 ] || show
run env SEALTRACE_PKCS11_MODULE="$MODULE" SEALTRACE_PKCS11_PIN=4321 \
	"$EXPORT" check-master "${W[@]}"
check "the module and the PIN may come from SEALTRACE_PKCS11_MODULE / _PIN" test "$rc" -eq 0; [ "$rc" -eq 0 ] || show

# ---- refusals: each exits 1 with a message saying what is wrong ----
run "$EXPORT" check-master "${W[@]}" --pkcs11-module "$MODULE" --pin-file "$T/badpin"
check "a wrong PIN: exit 1, 'wrong PIN', the token named" fails_with "wrong PIN" "'$TOKEN'"
run "$EXPORT" check-master "${W[@]}" "${P11[@]}" --pkcs11-token no-such-token
check "a wrong token label: exit 1, the label named, the tokens there listed" \
	fails_with "no token labelled 'no-such-token'" "'$TOKEN'"
run "$EXPORT" check-master "${W[@]}" --pkcs11-module /nonexistent/pkcs11.so --pin-file "$T/pin"
check "a module that is not there: exit 1, 'cannot be loaded'" fails_with "cannot be loaded"
chmod 644 "$T/pin"
run "$EXPORT" check-master "${W[@]}" "${P11[@]}"
check "a PIN file others may read: exit 1, 'chmod 600'" fails_with "chmod 600 $T/pin"
chmod 600 "$T/pin"
chmod 644 "$H/master.wrapped"
run "$EXPORT" check-master "${W[@]}" "${P11[@]}"
check "a wrapped file others may read: exit 1, 'chmod 600'" fails_with "chmod 600"
chmod 600 "$H/master.wrapped"
cp -p "$H/master.wrapped" "$T/wrapped.orig"
python3 - "$H/master.wrapped" <<'PY'
import sys
p = sys.argv[1]
t = open(p).read()
i = t.index("public: ") + 8
open(p, "w").write(t[:i] + ("1" if t[i] == "0" else "0") + t[i + 1:])
PY
run "$EXPORT" check-master "${W[@]}" "${P11[@]}"
check "an altered public key line (GCM additional data): exit 1, 'does not open'" \
	fails_with "does not open with key 'sealtrace-master-wrap'"
cp -p "$T/wrapped.orig" "$H/master.wrapped"
head -c 200 "$T/wrapped.orig" >"$H/master.wrapped"
run "$EXPORT" check-master "${W[@]}" "${P11[@]}"
check "a cut wrapped file: exit 1, 'cut short'" fails_with "cut short"
cp -p "$T/wrapped.orig" "$H/master.wrapped"
run "$EXPORT" check-master "${W[@]}" --pkcs11-module "$MODULE"
check "no PIN anywhere: a usage error (exit 2) naming --pin-file" \
	bash -c "[ $rc -eq 2 ] && grep -q -- '--pin-file' '$T/err'"

# another token with a key of the same label wraps another master
O=$T/other-master
run "$EXPORT" keygen --out "$O" "${P11[@]}" --pkcs11-token other-token
check "keygen in another token (its own key of the same label)" test "$rc" -eq 0; [ "$rc" -eq 0 ] || show
run "$EXPORT" check-master --master-wrapped "$O/master.wrapped" "${P11[@]}" --pkcs11-token "$TOKEN"
check "that file opened with the first token: exit 1, 'another key of that label'" \
	fails_with "another key of that label"
cp "$O/master.pub" "$T/other.pub"
cp "$H/master.pub" "$O/master.pub"
run "$EXPORT" check-master --master-wrapped "$O/master.wrapped" "${P11[@]}"
check "a master.pub beside it that is another master's: exit 1, 'different keygens'" \
	fails_with "different keygens"
cp "$T/other.pub" "$O/master.pub"

# keygen never overwrites, and reuses the token's key
cp -p "$H/master.wrapped" "$T/w.before"
run "$EXPORT" keygen --out "$H" --pkcs11 "${P11[@]}" --pkcs11-token "$TOKEN"
check "keygen into a folder with a master: exit 1, 'never overwritten', file unchanged" \
	bash -c "[ $rc -eq 1 ] && grep -q 'never overwritten' '$T/err' && cmp -s '$T/w.before' '$H/master.wrapped'"
run "$EXPORT" keygen --out "$T/hsm-second" "${P11[@]}" --pkcs11-token "$TOKEN"
check "a second keygen in the token reuses its key ('already there'), a new master" \
	bash -c "[ $rc -eq 0 ] && grep -q 'already there' '$T/out' &&
		 ! cmp -s '$T/hsm-second/master.pub' '$H/master.pub'"
run "$EXPORT" keygen --out "$T/hsm-nopin" --pkcs11 --pkcs11-module "$MODULE" --pkcs11-token "$TOKEN"
check "keygen --pkcs11 without a PIN: exit 2, nothing made" \
	bash -c "[ $rc -eq 2 ] && [ ! -e '$T/hsm-nopin/master.wrapped' ]"

# the plain form is unchanged
run "$EXPORT" keygen --out "$T/plain"
check "keygen without a token still writes master.key (0600) and master.pub" \
	bash -c "[ $rc -eq 0 ] && [ \"\$(stat -c %a '$T/plain/master.key')\" = 600 ] && [ -s '$T/plain/master.pub' ]"
run "$EXPORT" check-master --master "$T/plain/master.key"
check "check-master --master loads it" test "$rc" -eq 0; [ "$rc" -eq 0 ] || show
chmod 644 "$T/plain/master.key"
run "$EXPORT" check-master --master "$T/plain/master.key"
check "a plain master key at 0644: exit 1, 'chmod 600'" fails_with "chmod 600"
chmod 600 "$T/plain/master.key"
run "$EXPORT" check-master --master "$T/plain/master.key" --pin-file "$T/pin"
check "--master with token flags: a usage error (exit 2)" test "$rc" -eq 2

# ---- help ----
run "$EXPORT" --help
check "sealtrace-export --help lists check-master and rotate, and rotate is no longer 'not built yet'" \
	bash -c "[ $rc -eq 0 ] && grep -q '^  check-master' '$T/out' && grep -q '^  rotate' '$T/out' &&
		 ! sed -n '/not built yet/,\$p' '$T/out' | grep -q rotate"
for c in keygen check-master rotate; do
	run "$EXPORT" "$c" --help
	check "sealtrace-export $c --help exits 0 and explains the token flags" \
		bash -c "[ $rc -eq 0 ] && grep -q -- '--pkcs11-module' '$T/out'"
done
run "$EXPORT" rotate --master "$T/plain/master.key"
check "rotate without --new-public: a usage error (exit 2)" test "$rc" -eq 2
run env -u SEALTRACE_URL -u SEALTRACE_TOKEN "$EXPORT" rotate --master "$T/plain/master.key" \
	--new-public "$H/master.pub"
check "rotate without a server URL: a usage error (exit 2) naming SEALTRACE_URL" \
	bash -c "[ $rc -eq 2 ] && grep -q SEALTRACE_URL '$T/err'"

# ---- rotation against the server ----
# `sealtrace init` names the first privacy officers once it takes --officer
# (unless lib_server.sh's init_server already passes them)
SRV_OPTS=()
if "$SEALTRACE" init --help 2>/dev/null | grep -q -- '--officer' &&
	! declare -f init_server | grep -q -- '--officer'; then
	SRV_OPTS=(--officer officer1@example.com --officer officer2@example.com)
fi
init_server srv "${SRV_OPTS[@]}" || { echo "Bail out! sealtrace init failed"; exit 1; }
start_server || { echo "Bail out! sealtrace serve did not start"; exit 1; }
OLD=$T/srv-export
# keys_code TOKEN: the status of GET /v1/keys/people with that token
keys_code() {
	curl -s -o /dev/null -w '%{http_code}' --cacert "$SEALTRACE_CA" \
		-H "Authorization: Bearer $1" "$URL/v1/keys/people"
}

if [ "$(keys_code "$ADMIN_TOKEN")" = 404 ]; then
	NTEST=$((NTEST + 1))
	echo "ok $NTEST - rotate against sealtrace serve # SKIP the server answers 404 on /v1/keys/people (the /v1/keys API has not landed)"
	finish
fi

# A privacy officer's token that may list the keys: $SEALTRACE_OFFICER_TOKEN,
# else one of the tokens `sealtrace init` printed, else one granted by
# `sealtrace token create --person ... --role officer`.
OTOK=""
for t in ${SEALTRACE_OFFICER_TOKEN:-} $(grep -oE 'sta_[A-Za-z0-9_-]{43}' "$T/srv-init.out"); do
	if [ "$(keys_code "$t")" = 200 ]; then
		OTOK=$t
		break
	fi
done
if [ -z "$OTOK" ]; then
	q "$SEALTRACE" user add officer@example.com
	t=$("$SEALTRACE" token create --person officer@example.com --role officer \
		--name keys-hsm 2>>"$T/admin.err" | grep -oE 'sta_[A-Za-z0-9_-]{43}' | head -1)
	[ -n "$t" ] && [ "$(keys_code "$t")" = 200 ] && OTOK=$t
fi
if [ -z "$OTOK" ]; then
	not_ok "a privacy officer's token may GET /v1/keys/people (none from SEALTRACE_OFFICER_TOKEN, sealtrace init's output or 'sealtrace token create --role officer'; the admin token gets $(keys_code "$ADMIN_TOKEN"))"
	finish
fi

# listing: master_public and the people's ids of GET /v1/keys/people, one
# page (this test has few people), "MASTER ID ID ..."
listing() {
	curl -sf --cacert "$SEALTRACE_CA" -H "Authorization: Bearer $OTOK" "$URL/v1/keys/people" |
		python3 -c 'import json,sys
d = json.load(sys.stdin)
print(d["master_public"], *sorted(p["id"] for p in d["people"]))' 2>>"$T/cmd.log"
}
# sealed: the sealed secrets of the listing, sorted, one a line
sealed() {
	curl -sf --cacert "$SEALTRACE_CA" -H "Authorization: Bearer $OTOK" "$URL/v1/keys/people" |
		python3 -c 'import json,sys
print(*sorted(p["sealed_secret"] for p in json.load(sys.stdin)["people"]), sep="\n")' 2>>"$T/cmd.log"
}
# user_id NAME: a person's id from `sealtrace user list --json`
user_id() {
	"$SEALTRACE" user list --json 2>>"$T/admin.err" | python3 -c 'import json,sys
print(*[u["id"] for u in json.load(sys.stdin)["users"] if u["name"] == sys.argv[1]])' "$1"
}
# opened MASTER_KEY NAME: every stored segment opened with a plain master
# (st-testkit store-open summary on a backup), its summary in $T/NAME.sum
opened() {
	rm -f "$T/$2.db"
	"$SEALTRACE" backup --out "$T/$2.db" >>"$T/cmd.log" 2>&1 || return 1
	"$KIT" store-open summary "$1" "$T/$2.db" >"$T/$2.sum" 2>"$T/$2.err"
}

q "$SEALTRACE" user add alice@example.com
q "$SEALTRACE" user add bob@example.com
q "$SEALTRACE" user add carol@example.com
CAROL=$(user_id carol@example.com)
check "erase carol (officer)" q env SEALTRACE_TOKEN="$OTOK" "$SEALTRACE" erase --user carol@example.com
TOK=$(new_token alice@example.com)
check "enroll alice's device" enroll_server "$T/a" "$TOK"
"$SRVKIT" segment "$T/a" "$T/seg1" ok 1 2>>"$T/cmd.log"
"$SRVKIT" segment "$T/a" "$T/seg2" ok 2 2>>"$T/cmd.log"
check "two segments stored" test "$(post_segment "$T/seg1") $(post_segment "$T/seg2")" = "200 stored 200 stored"
opened "$OLD/master.key" before
check "they open with the plain master before any rotation" \
	grep -qx 'segments: 2 segments' "$T/before.sum"
read -r -a L0 <<<"$(listing)"
PEOPLE=$((${#L0[@]} - 1))
check "the listing names the plain master and alice, bob (and any officers), not erased carol" \
	bash -c "[ '${L0[0]:-}' = '$(pubhex "$OLD/master.pub")' ] && [ $PEOPLE -ge 2 ] &&
		 [ -n '$CAROL' ] && ! grep -qw '$CAROL' <<<'${L0[*]:-}'"
sealed >"$T/sealed.0"

# 1. plain master -> the token-wrapped master made above
run env SEALTRACE_TOKEN="$OTOK" "$EXPORT" rotate --master "$OLD/master.key" \
	--new-public "$H/master.pub"
NEWHEX=$(pubhex "$H/master.pub")
check "rotate onto the token-wrapped master: 'rotated $PEOPLE people to master ${NEWHEX:0:16}'" \
	bash -c "[ $rc -eq 0 ] && grep -qx 'rotated $PEOPLE people to master ${NEWHEX:0:16}' '$T/out'"; [ "$rc" -eq 0 ] || show
read -r -a L1 <<<"$(listing)"
check "the server's master is the new one; the same people" \
	test "${L1[*]:-}" = "$NEWHEX ${L0[*]:1}"
sealed >"$T/sealed.1"
check "every sealed secret changed" \
	bash -c "[ -s '$T/sealed.1' ] && [ -z \"\$(comm -12 '$T/sealed.0' '$T/sealed.1')\" ]"
opened "$OLD/master.key" after1
check "the old master opens none of the stored segments' person keys now" \
	grep -qx 'unreadable: 2 segments' "$T/after1.sum"
SEALTRACE_PKCS11_MODULE=$MODULE ST_TESTKIT_PIN_FILE=$T/pin \
	"$KIT" store-open summary "wrapped:$H/master.wrapped" "$T/after1.db" >"$T/hsm.sum" 2>"$T/hsm.err"
check "the segments open with the master in the token (SoftHSM2): init, rotate onto it, open" \
	bash -c "grep -qx 'segments: 2 segments' '$T/hsm.sum' && grep -qx 'unreadable: 0 segments' '$T/hsm.sum'"
run env SEALTRACE_TOKEN="$OTOK" "$EXPORT" rotate --master "$OLD/master.key" \
	--new-public "$T/hsm-second/master.pub"
check "rotating again from the old master is refused: not the server's current master" \
	fails_with "current master"
run env SEALTRACE_TOKEN="$OTOK" "$EXPORT" rotate "${W[@]}" --pkcs11-module "$MODULE" \
	--pin-file "$T/badpin" --new-public "$T/plain/master.pub"
check "rotating with the token and a wrong PIN: exit 1, 'wrong PIN'" fails_with "wrong PIN"
check "...and nothing changed on the server" test "$(listing | cut -d' ' -f1)" = "$NEWHEX"

# 2. token-wrapped master -> a plain third master: the token opens every
# person's secret (each checked against their public key), and the
# segments, never re-sealed, open with the third master
run env SEALTRACE_TOKEN="$OTOK" "$EXPORT" rotate "${W[@]}" "${P11[@]}" \
	--new-public "$T/plain/master.pub"
THIRD=$(pubhex "$T/plain/master.pub")
check "rotate from the token-wrapped master onto a third: exit 0" \
	bash -c "[ $rc -eq 0 ] && grep -qx 'rotated $PEOPLE people to master ${THIRD:0:16}' '$T/out'"; [ "$rc" -eq 0 ] || show
opened "$T/plain/master.key" after2
check "the segments stored before both rotations open with the third master, untouched" \
	bash -c "grep -qx 'segments: 2 segments' '$T/after2.sum' && grep -qx 'unreadable: 0 segments' '$T/after2.sum'"
check "the server's folder holds no master secret" \
	bash -c "! grep -rqa 'master-x25519-secret' '$SRV_DIR'"

finish
