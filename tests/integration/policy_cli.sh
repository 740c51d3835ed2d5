#!/bin/bash
# policy_cli.sh - the offline policy tools of the real `sealtrace` program:
# `policy check` passes the default policy and refuses every bad one (and the
# broad-grant incident) with "FILE: PATH: message" and exit 1; `policy
# notice` prints exactly docs/notice-default.txt and refuses a failing
# policy; usage errors exit 2. Prints TAP.
set -uo pipefail

: "${BUILD:?BUILD must name the build folder}"
: "${SRC:?SRC must name the source folder}"
ST=$BUILD/src/server/sealtrace
P=$SRC/tests/data/policies
T=$(mktemp -d /tmp/st-policy.XXXXXX)
trap 'rm -rf "$T"' EXIT
NTEST=0
NFAIL=0

ok() { NTEST=$((NTEST + 1)); echo "ok $NTEST - $*"; }
not_ok() { NTEST=$((NTEST + 1)); NFAIL=$((NFAIL + 1)); echo "not ok $NTEST - $*"; }
check() { # description, command...
	local d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}
diag() { sed 's/^/# /' "$@"; }

# run ARGS...: runs sealtrace, stdout in $T/out, stderr in $T/err, code in $rc
run() {
	"$ST" "$@" >"$T/out" 2>"$T/err"
	rc=$?
}

# 1. the default policy passes, naming its hash
run policy check "$SRC/policies/default.json"
check "default policy: check exits 0" test "$rc" -eq 0
check "default policy: 'FILE: ok (policy sha256 HEX)' on stdout, nothing on stderr" \
	sh -c "grep -Eq '^$SRC/policies/default.json: ok \\(policy sha256 [0-9a-f]{64}\\)\$' '$T/out' && [ ! -s '$T/err' ]"
[ "$rc" -eq 0 ] || diag "$T/err"
hash1=$(sed -n 's/.*sha256 \([0-9a-f]*\).*/\1/p' "$T/out")

# 2. the hash does not depend on key order or whitespace
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps(d, sort_keys=True))' \
	"$SRC/policies/default.json" >"$T/reordered.json"
run policy check "$T/reordered.json"
hash2=$(sed -n 's/.*sha256 \([0-9a-f]*\).*/\1/p' "$T/out")
check "the policy hash ignores key order and whitespace" \
	test -n "$hash1" -a "$hash1" = "$hash2"

# 3. every bad policy: exit 1, its problem as "FILE: PATH: message"
while IFS=$'\t' read -r file code path word; do
	case $file in '#'* | '') continue ;; esac
	run policy check "$P/$file"
	if [ "$rc" -eq 1 ] && grep -qF "$P/$file: $path: " "$T/err" &&
		grep -F "$P/$file: $path: " "$T/err" | grep -qF "$word" &&
		[ ! -s "$T/out" ]; then
		ok "$file refused at $path ($code)"
	else
		not_ok "$file refused at $path ($code): exit $rc"
		diag "$T/err"
	fi
done <"$P/expected.tsv"

# 4. the known incident: every employee able to read recordings, chats and
# performance data. Refused with the broad-grant error, whatever else.
run policy check "$P/incident-everyone.json"
check "incident: check exits 1" test "$rc" -eq 1
check "incident: readers[0] 'everyone' refused as a broad grant" \
	grep -qF "$P/incident-everyone.json: readers[0]: broad grant: \"everyone\"" "$T/err"
check "incident: readers[1].name all-employees refused as a broad grant" \
	grep -qF "$P/incident-everyone.json: readers[1].name: broad grant: \"all-employees@example.com\"" "$T/err"
check "incident: the message says what to write instead" \
	grep -q 'write one person.s e-mail address' "$T/err"

# 5. the incident is schema-valid: only `policy check` can refuse it
if python3 -c 'import jsonschema' 2>/dev/null; then
	check "incident and default are valid under docs/schema/policy.schema.json; bad-level4 is not" \
		python3 - "$SRC/docs/schema/policy.schema.json" "$P/incident-everyone.json" \
		"$SRC/policies/default.json" "$P/bad-level4.json" <<'EOF'
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
for f in sys.argv[2:4]:
    errs = list(v.iter_errors(json.load(open(f))))
    if errs:
        print("# %s: %s" % (f, errs[0].message)); sys.exit(1)
sys.exit(0 if list(v.iter_errors(json.load(open(sys.argv[4])))) else 1)
EOF
else
	ok "schema validation # SKIP python3 jsonschema not installed"
fi

# 6. the notice: exactly docs/notice-default.txt, twice the same
run policy notice "$SRC/policies/default.json"
check "notice: exits 0 with nothing on stderr" sh -c "[ $rc -eq 0 ] && [ ! -s '$T/err' ]"
check "notice: stdout is byte-equal to docs/notice-default.txt" \
	cmp -s "$T/out" "$SRC/docs/notice-default.txt"
cp "$T/out" "$T/notice1"
run policy notice "$T/reordered.json"
check "notice: the same bytes from a reordered policy" cmp -s "$T/out" "$T/notice1"
check "notice: names the pause, status and forget commands" \
	sh -c "grep -q '^      sealtrace-agent pause\$' '$T/notice1' &&
	       grep -q '^      sealtrace-agent status\$' '$T/notice1' &&
	       grep -q '^      sealtrace-agent forget MINUTES\$' '$T/notice1'"

# 7. no notice for a failing policy
run policy notice "$P/incident-everyone.json"
check "notice: the incident policy is refused (exit 1, nothing on stdout)" \
	sh -c "[ $rc -eq 1 ] && [ ! -s '$T/out' ] && grep -q 'broad grant' '$T/err'"

# 8. usage errors exit 2; --help exits 0
run policy check "$T/no-such-file.json"
check "check: a missing file is a usage error (exit 2) naming the file" \
	sh -c "[ $rc -eq 2 ] && grep -q 'no-such-file.json' '$T/err'"
run policy check
check "check: no FILE exits 2" test "$rc" -eq 2
run policy frobnicate x
check "policy: an unknown subcommand exits 2" test "$rc" -eq 2
run
check "no command exits 2" test "$rc" -eq 2
run --help
check "--help exits 0 and lists policy check" \
	sh -c "[ $rc -eq 0 ] && grep -q 'policy check FILE' '$T/out'"
run policy --help
check "policy --help exits 0" test "$rc" -eq 0
for c in token purpose audit; do
	run "$c"
	if [ "$rc" -eq 2 ] && grep -q "not a command" "$T/err"; then
		ok "$c without a subcommand: a usage error (exit 2)"
	else
		not_ok "$c without a subcommand: a usage error (exit 2) (got $rc)"
	fi
done
SEALTRACE_URL= SEALTRACE_TOKEN= SEALTRACE_CONFIG= HOME=$T run erase --user x@example.com
check "erase: no server configured is a usage error (exit 2)" test "$rc" -eq 2
SEALTRACE_URL= SEALTRACE_TOKEN= SEALTRACE_CONFIG= HOME=$T run policy apply "$SRC/policies/default.json"
check "policy apply: no server configured is a usage error (exit 2)" \
	sh -c "[ $rc -eq 2 ] && grep -q 'SEALTRACE_URL' '$T/err'"

echo "1..$NTEST"
[ "$NFAIL" -eq 0 ]
