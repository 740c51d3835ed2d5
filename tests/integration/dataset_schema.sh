#!/bin/bash
# dataset_schema.sh - the dataset format's JSON Schemas
# (docs/schema/dataset-step.schema.json, dataset-manifest.schema.json) compile
# under Ajv's strict mode and describe every property; every valid sample in
# docs/schema/samples passes; every invalid sample fails, checked alone, for
# the one reason docs/schema/samples/expected.tsv names; and
# tests/schema/validate.js, which the export tests run on real exports, keeps
# its exit codes and its --export checks (hashes, counts, mode 0700). Skipped
# only when tests/schema/node_modules is missing. Prints TAP.
set -uo pipefail

: "${SRC:?SRC must name the source folder}"
D=$SRC/docs/schema
S=$D/samples
V=$SRC/tests/schema/validate.js
STEP=$D/dataset-step.schema.json
MAN=$D/dataset-manifest.schema.json

if [ ! -d "$SRC/tests/schema/node_modules/ajv" ] || [ ! -d "$SRC/tests/schema/node_modules/ajv-formats" ]; then
	echo "1..0 # SKIP tests/schema/node_modules is missing (run scripts/install.sh, which runs npm ci there)"
	exit 0
fi

T=$(mktemp -d /tmp/st-dataset.XXXXXX)
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

# val ARGS...: runs validate.js, stdout in $T/out, stderr in $T/err, code in $rc
val() {
	node "$V" "$@" >"$T/out" 2>"$T/err"
	rc=$?
}

# 1. both schemas compile in strict mode (an unknown keyword, a typo'd
# "requird" or a type-less "pattern" fails here, not silently later)
for s in "$STEP" "$MAN"; do
	val --compile "$s"
	check "$(basename "$s") compiles under Ajv 2020-12 strict mode" test "$rc" -eq 0
	[ "$rc" -eq 0 ] || diag "$T/err"
done

# 2. both are draft 2020-12 with an $id and a title, and every property at
# every depth says what it is
check "every property of both schemas has a description; \$schema, \$id and title set" \
	node - "$STEP" "$MAN" <<'EOF'
const fs = require('fs');
let bad = 0;
const walk = (node, where) => {
	if (Array.isArray(node)) { node.forEach((n, i) => walk(n, `${where}/${i}`)); return; }
	if (node === null || typeof node !== 'object') return;
	if (node.properties && typeof node.properties === 'object')
		for (const [k, v] of Object.entries(node.properties))
			if (!(typeof v.description === 'string' && v.description.length > 0)) {
				console.log(`# ${where}/properties/${k}: no description`); bad++;
			}
	// if/then/else only restate properties defined elsewhere
	for (const [k, v] of Object.entries(node))
		if (!['if', 'then', 'else'].includes(k)) walk(v, `${where}/${k}`);
};
for (const f of process.argv.slice(2)) {
	const s = JSON.parse(fs.readFileSync(f, 'utf8'));
	if (s.$schema !== 'https://json-schema.org/draft/2020-12/schema' || !s.$id || !s.title) {
		console.log(`# ${f}: $schema, $id or title missing`); bad++;
	}
	walk(s, f);
}
process.exit(bad ? 1 : 0);
EOF

# 3. a valid step sample for each of the twelve action types, and each one
# really is of that type
for t in type key hotkey click double_click right_click middle_click drag scroll move wait redacted; do
	f=$S/valid-step-$t.json
	check "a valid sample of action type $t (valid-step-$t.json)" \
		sh -c "[ -f '$f' ] && grep -q '\"type\": \"$t\"' '$f'"
done

# 4. every valid sample passes, each judged on its own. One validate.js run
# per schema (Ajv compiles once; a run per file costs ~0.4 s each) reports
# every file apart, "FILE:LINE: ...", so each file gets its own verdict.
# lines_of FILE: the error lines about FILE in $T/err
lines_of() { grep -F "$1:" "$T/err" || true; }
vstep=() vman=()
for f in "$S"/valid-step-*.json "$S"/valid-episode*.jsonl; do [ -e "$f" ] && vstep+=("$f"); done
for f in "$S"/valid-manifest*.json; do [ -e "$f" ] && vman+=("$f"); done
for set in step manifest; do
	if [ $set = step ]; then sch=$STEP files=("${vstep[@]}"); else sch=$MAN files=("${vman[@]}"); fi
	val "$sch" "${files[@]}"
	for f in "${files[@]}"; do
		if [ "$rc" -le 1 ] && [ -z "$(lines_of "$f")" ]; then
			ok "valid: $(basename "$f")"
		else
			not_ok "valid: $(basename "$f") (validate.js exit $rc)"
			lines_of "$f" | sed 's/^/# /'
		fi
	done
done
nvalid=$((${#vstep[@]} + ${#vman[@]}))
check "at least 14 valid samples ($nvalid)" test "$nvalid" -ge 14

# 5. every invalid sample fails on its own, for its named reason and no
# other: an error line "FILE:LINE: PATH: MESSAGE", and every other error
# line about it only the if/then/else or discriminator restating that error
# one level up. A sample that is valid by mistake gets "FILE: valid, but
# expected invalid" and fails its own line.
istep=() iman=()
while IFS=$'\t' read -r file schema line path msg; do
	case $file in '#'* | '') continue ;; esac
	case $schema in step) istep+=("$S/$file") ;; manifest) iman+=("$S/$file") ;; esac
done <"$S/expected.tsv"
: >"$T/err.step"
: >"$T/err.manifest"
rc_step=0 rc_manifest=0
if [ ${#istep[@]} -gt 0 ]; then val --expect-invalid "$STEP" "${istep[@]}"; rc_step=$rc; cp "$T/err" "$T/err.step"; fi
if [ ${#iman[@]} -gt 0 ]; then val --expect-invalid "$MAN" "${iman[@]}"; rc_manifest=$rc; cp "$T/err" "$T/err.manifest"; fi
listed=" "
ninvalid=0
while IFS=$'\t' read -r file schema line path msg; do
	case $file in '#'* | '') continue ;; esac
	listed="$listed$file "
	ninvalid=$((ninvalid + 1))
	f=$S/$file
	case $schema in
	step) cp "$T/err.step" "$T/err"; rc=$rc_step ;;
	manifest) cp "$T/err.manifest" "$T/err"; rc=$rc_manifest ;;
	*) : >"$T/err"; rc=2 ;;
	esac
	if [ "$path" = - ]; then at="$f:$line: "; else at="$f:$line: $path: "; fi
	mine=$(lines_of "$f")
	other=$(printf '%s\n' "$mine" | grep -vF "$at" |
		grep -vE ': must match "(then|else)" schema$|: value of tag "type" must be in oneOf' || true)
	if [ "$rc" -le 1 ] && printf '%s\n' "$mine" | grep -qF "$at$msg" && [ -z "$other" ]; then
		ok "invalid: $file ($msg at ${path/-/line} $line)"
	else
		not_ok "invalid: $file ($msg at ${path/-/line} $line; validate.js exit $rc)"
		printf '%s\n' "$mine" | sed 's/^/# /'
	fi
done <"$S/expected.tsv"
check "at least 12 invalid samples ($ninvalid)" test "$ninvalid" -ge 12

# every invalid sample in the folder is in expected.tsv, so none is skipped
unlisted=""
for f in "$S"/invalid-*; do
	b=$(basename "$f")
	case $listed in *" $b "*) ;; *) unlisted="$unlisted $b" ;; esac
done
check "every invalid-* sample is listed in expected.tsv${unlisted:+ (not:$unlisted)}" test -z "$unlisted"

# 6. validate.js itself: the exit codes the export tests rely on
val "$STEP" "$S/valid-step-click.json" "$S/invalid-step-level-4.json"
check "one invalid file among valid ones: exit 1, naming it with its line" \
	sh -c "[ $rc -eq 1 ] && grep -qF '$S/invalid-step-level-4.json:1: /level: must be <= 3' '$T/err' && ! grep -q valid-step-click '$T/err'"
val --expect-invalid "$STEP" "$S/invalid-step-level-4.json" "$S/valid-step-click.json"
check "--expect-invalid with one valid file: exit 1, naming it" \
	sh -c "[ $rc -eq 1 ] && grep -qF '$S/valid-step-click.json: valid, but expected invalid' '$T/err'"
val "$STEP" "$S/invalid-episode-bad-third-line.jsonl"
check "a .jsonl file is checked line by line: the bad third line is named, no other" \
	sh -c "[ $rc -eq 1 ] && [ \$(grep -c . '$T/err') -eq 1 ] && grep -q 'jsonl:3: /action/keys' '$T/err'"
val "$STEP"
check "no FILE: usage error, exit 2" test "$rc" -eq 2
val "$STEP" "$T/no-such-file.json"
check "a missing FILE: exit 2 naming it" sh -c "[ $rc -eq 2 ] && grep -q no-such-file.json '$T/err'"
printf '{"type": "object", "requird": ["x"]}\n' >"$T/typo.schema.json"
val --compile "$T/typo.schema.json"
check "a schema with an unknown keyword does not compile (strict mode): exit 2" \
	sh -c "[ $rc -eq 2 ] && grep -q 'requird' '$T/err'"
val --frobnicate "$STEP" "$S/valid-step-click.json"
check "an unknown option: exit 2" test "$rc" -eq 2

# 7. --export: a whole folder, made from the valid samples (the manifest's
# files entry is the sample episode's hash and size)
mkexport() { # DIR: a fresh, valid export folder
	rm -rf "$1"
	mkdir -m 700 "$1" && mkdir "$1/episodes" &&
		cp "$S/valid-manifest.json" "$1/manifest.json" &&
		cp "$S/valid-episode.jsonl" "$1/episodes/e9b2e61c0-0001.jsonl"
}
E=$T/export
mkexport "$E"
val --export "$E"
check "--export: the sample export folder is valid (hash, size and every count agree)" \
	sh -c "[ $rc -eq 0 ] && [ ! -s '$T/err' ]"
[ "$rc" -eq 0 ] || diag "$T/err"

mkexport "$E"
chmod 755 "$E"
val --export "$E"
check "--export: a folder others can read is refused (exports are 0700)" \
	sh -c "[ $rc -eq 1 ] && grep -q 'mode 755, expected 700' '$T/err'"

mkexport "$E"
sed -i 's/"text":"grep -n/"text":"grep -in/' "$E/episodes/e9b2e61c0-0001.jsonl"
val --export "$E"
check "--export: an episode changed after the manifest was written fails its sha256" \
	sh -c "[ $rc -eq 1 ] && grep -q '/files/0/sha256: does not match' '$T/err'"

mkexport "$E"
python3 - "$E/manifest.json" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
m["actions"]["click"] += 1
m["steps"] += 1
json.dump(m, open(sys.argv[1], "w"))
EOF
val --export "$E"
check "--export: a manifest whose counts disagree with the steps is refused" \
	sh -c "[ $rc -eq 1 ] && grep -q '/steps: 13, but the episodes hold 12' '$T/err' &&
	       grep -q '/actions/click: 2, but the episodes hold 1' '$T/err'"

mkexport "$E"
python3 - "$E" <<'EOF'
import hashlib, json, os, sys
d = sys.argv[1]
p = os.path.join(d, "episodes/e9b2e61c0-0001.jsonl")
lines = open(p).read().splitlines(True)
s = json.loads(lines[4])
s["time_ms"] += 1
lines[4] = json.dumps(s, separators=(",", ":")) + "\n"
data = "".join(lines).encode()
open(p, "wb").write(data)
m = json.load(open(os.path.join(d, "manifest.json")))
m["files"][0].update(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))
json.dump(m, open(os.path.join(d, "manifest.json"), "w"))
EOF
val --export "$E"
check "--export: a step whose time_ms disagrees with its time is refused (re-hashed: that alone)" \
	sh -c "[ $rc -eq 1 ] && [ \$(grep -c . '$T/err') -eq 1 ] && grep -q 'jsonl:5: /time: ' '$T/err'"
[ "$rc" -eq 1 ] || diag "$T/err"

mkexport "$E"
cp "$E/episodes/e9b2e61c0-0001.jsonl" "$E/episodes/e9b2e61c0-0002.jsonl"
echo 'left over' >"$E/scratch.txt"
val --export "$E"
check "--export: an unlisted episode file and a stray file are both refused" \
	sh -c "[ $rc -eq 1 ] && grep -q 'e9b2e61c0-0002.jsonl: not listed' '$T/err' &&
	       grep -q 'scratch.txt: not part of an export' '$T/err'"

echo "1..$NTEST"
[ "$NFAIL" -eq 0 ]
