# lib_server.sh - helpers for the server tests (sourced after lib.sh): a real
# `sealtrace serve` over TLS on 127.0.0.1 with a port the kernel picks, the
# export host's master key beside it, and agents enrolled through it.
SRVKIT=$BUILD/tests/st-srvkit
EXPORT=$BUILD/src/export/sealtrace-export

# init_server NAME [init options...]: master key pair and a data folder
# $T/NAME; sets SRV_DIR and ADMIN_TOKEN
init_server() {
	local name=$1
	shift
	mkdir -p -m 700 "$T/$name-export"
	"$EXPORT" keygen --out "$T/$name-export" >"$T/$name-keygen.log" 2>&1 || return 1
	"$SEALTRACE" init "$T/$name" --policy "${POLICY:-$SRC/policies/default.json}" \
		--master-public "$T/$name-export/master.pub" --listen 127.0.0.1:0 \
		--officer "${OFFICER1:-olga@example.com}" --officer "${OFFICER2:-omar@example.com}" "$@" \
		>"$T/$name-init.out" 2>"$T/$name-init.err" || { cat "$T/$name-init.err"; return 1; }
	SRV_DIR=$T/$name
	ADMIN_TOKEN=$(grep -m1 -oE 'sta_[A-Za-z0-9_-]{43}' "$T/$name-init.out")
	OFFICER1_TOKEN=$(sed -n 's/^officer [^ ]*: \(sta_[A-Za-z0-9_-]*\)$/\1/p' "$T/$name-init.out" | sed -n 1p)
	OFFICER2_TOKEN=$(sed -n 's/^officer [^ ]*: \(sta_[A-Za-z0-9_-]*\)$/\1/p' "$T/$name-init.out" | sed -n 2p)
	[ -n "$ADMIN_TOKEN" ] && [ -n "$OFFICER1_TOKEN" ] && [ -n "$OFFICER2_TOKEN" ]
}

# start_server [serve options...]: serves $SRV_DIR; sets URL, SRV_PID and the
# admin environment (SEALTRACE_URL, SEALTRACE_TOKEN, SEALTRACE_CA)
start_server() {
	rm -f "$SRV_DIR.url"
	"$SEALTRACE" serve --data "$SRV_DIR" --url-file "$SRV_DIR.url" "$@" \
		>>"$SRV_DIR.log" 2>&1 &
	SRV_PID=$!
	PIDS+=($SRV_PID)
	wait_for 10 test -s "$SRV_DIR.url" || { diag "server did not start: $(tail -5 "$SRV_DIR.log")"; return 1; }
	URL=$(cat "$SRV_DIR.url")
	export SEALTRACE_URL=$URL SEALTRACE_TOKEN=$ADMIN_TOKEN SEALTRACE_CA=$SRV_DIR/tls/ca.pem
}

# restart_server: same folder, same port (kill -9 tests)
restart_server() {
	local port=${URL##*:}
	start_server --listen "127.0.0.1:$port"
}

stop_server() {
	kill -TERM "$SRV_PID" 2>/dev/null
	for _ in $(seq 1 500); do kill -0 "$SRV_PID" 2>/dev/null || return 0; sleep 0.02; done
	return 1
}

# new_token USER [--ttl T]: prints a fresh enrollment token
new_token() {
	local user=$1
	shift
	"$SEALTRACE" enroll-token --user "$user" "$@" 2>>"$T/admin.err" |
		grep -oE 'ste1\.[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}' | head -1
}

# enroll_server DIR TOKEN: enrolls an agent folder and accepts its notice
enroll_server() {
	local dir=$1 tok=$2
	"$AGENT" enroll "$URL" "$tok" --state-dir "$dir" </dev/null >"$dir.enroll.log" 2>&1 || return 1
	"$AGENT" accept --state-dir "$dir" --accept-notice "$(sha256sum "$dir/notice.txt" | cut -d' ' -f1)" \
		</dev/null >>"$dir.enroll.log" 2>&1
}

# post_segment FILE: POSTs a segment with curl; prints "STATUS ID"
post_segment() {
	local body
	body=$(curl -sS --cacert "$SRV_DIR/tls/ca.pem" -o - -w '\n%{http_code}' \
		-H 'Content-Type: application/vnd.sealtrace.segment' \
		--data-binary @"$1" "$URL/v1/segments")
	local code=${body##*$'\n'}
	local json=${body%$'\n'*}
	local id
	id=$(printf '%s' "$json" | python3 -c 'import json,sys
d=json.load(sys.stdin)
print(d["error"]["id"] if "error" in d else d.get("result","?"))' 2>/dev/null)
	echo "$code ${id:-none}"
}

# device_field DEVICE_ID FIELD: a field of `sealtrace device list --json`
device_field() {
	"$SEALTRACE" device list --json 2>>"$T/admin.err" | python3 -c '
import json, sys
d = json.load(sys.stdin)
for x in d["devices"]:
    if x["id"] == sys.argv[1]:
        print(x[sys.argv[2]])
' "$1" "$2"
}

device_id_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["device_id"])' "$1/identity.json"; }

# wait_for runs its command in a child bash: give it these
export SEALTRACE T
export -f device_field

# q COMMAND...: runs it with its output in $T/cmd.log (TAP keeps stdout)
q() { "$@" >>"$T/cmd.log" 2>&1; }
