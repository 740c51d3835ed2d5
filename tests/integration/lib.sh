# lib.sh - shared helpers for the integration tests (sourced, bash).
# Real peers only: Xvfb, openbox, xterm, xdotool. Output is TAP; the last
# line is the plan. Every wait is bounded.
set -uo pipefail

: "${BUILD:?BUILD must name the build folder}"
: "${SRC:?SRC must name the source folder}"
AGENT=$BUILD/src/agent/sealtrace-agent
KIT=$BUILD/tests/st-testkit
SEALTRACE=$BUILD/src/server/sealtrace
T=$(mktemp -d /tmp/st-it.XXXXXX)
chmod 700 "$T"
NTEST=0
NFAIL=0
PIDS=()

ok() { NTEST=$((NTEST + 1)); echo "ok $NTEST - $*"; }
not_ok() { NTEST=$((NTEST + 1)); NFAIL=$((NFAIL + 1)); echo "not ok $NTEST - $*"; }
check() { # description, command...
	local d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}
diag() { echo "# $*"; }

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.2
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	if [ "${KEEP:-}" = "" ]; then rm -rf "$T"; else echo "# kept $T"; fi
}
finish() {
	echo "1..$NTEST"
	cleanup
	trap - EXIT
	[ "$NFAIL" -eq 0 ]
	exit $?
}
trap cleanup EXIT

# wait_for SECONDS COMMAND...: polls every 20 ms
wait_for() {
	local limit=$1
	shift
	local end=$(($(date +%s%N) + limit * 1000000000))
	while [ "$(date +%s%N)" -lt "$end" ]; do
		"$@" && return 0
		sleep 0.02
	done
	return 1
}

# start_x [--no-wm]: a fresh Xvfb on a free display, openbox unless --no-wm
start_x() {
	# the server picks a free display itself (-displayfd): two runs at once
	# never share one
	Xvfb -displayfd 3 -screen 0 1280x1024x24 -nolisten tcp 3>"$T/display" >"$T/xvfb.log" 2>&1 &
	PIDS+=($!)
	wait_for 10 test -s "$T/display" || { echo "Bail out! Xvfb did not start"; exit 1; }
	local n
	n=$(head -1 "$T/display")
	export DISPLAY=:$n
	wait_for 10 xdpyinfo -display :$n >/dev/null 2>&1 || { echo "Bail out! Xvfb did not answer"; exit 1; }
	if [ "${1:-}" != "--no-wm" ]; then
		# openbox names its check window before it lists what it
		# supports; xdotool windowactivate needs _NET_ACTIVE_WINDOW
		# listed. An openbox that exits at once ("Failed to open the
		# display", seen once in CI right after xdpyinfo answered) is
		# started again, at most three times in all.
		local try ob
		for try in 1 2 3; do
			openbox >>"$T/openbox.log" 2>&1 &
			ob=$!
			PIDS+=("$ob")
			# ready, or gone (ps shows a reaped or zombie one as
			# not running)
			wait_for 10 sh -c 'xprop -root _NET_SUPPORTING_WM_CHECK 2>/dev/null | grep -q window &&
				xprop -root _NET_SUPPORTED 2>/dev/null | grep -q _NET_ACTIVE_WINDOW ||
				! ps -o stat= -p '"$ob"' | grep -qv Z'
			if ps -o stat= -p "$ob" | grep -qv Z &&
				xprop -root _NET_SUPPORTING_WM_CHECK 2>/dev/null | grep -q window &&
				xprop -root _NET_SUPPORTED 2>/dev/null | grep -q _NET_ACTIVE_WINDOW; then
				return 0
			fi
			echo "# openbox try $try: $(tail -1 "$T/openbox.log" 2>/dev/null)"
			kill "$ob" 2>/dev/null
			wait "$ob" 2>/dev/null
		done
		echo "Bail out! openbox did not start: $(tail -3 "$T/openbox.log" | tr '\n' ' ')"
		exit 1
	fi
}

# xterm_win TITLE CLASS [CMD...]: starts an xterm, prints its window id
xterm_win() {
	local title=$1 class=$2
	shift 2
	xterm -title "$title" -class "$class" -geometry 80x24+0+0 "$@" >/dev/null 2>&1 &
	PIDS+=($!)
	local w=""
	for _ in $(seq 1 250); do
		w=$(xdotool search --classname "$class" 2>/dev/null | head -1)
		[ -n "$w" ] && break
		w=$(xdotool search --class "$class" 2>/dev/null | head -1)
		[ -n "$w" ] && break
		sleep 0.02
	done
	echo "$w"
}

# notice_of POLICY: the notice the policy renders, into $T/notice.txt
notice_of() {
	"$SEALTRACE" policy notice "$1" >"$T/notice.txt"
}

# enroll DIR: person key in $T/keys, agent folder DIR, the default policy
# (or $POLICY) and the notice it renders, accepted by the notice's hash
enroll() {
	local dir=$1 pol=${POLICY:-$SRC/policies/default.json}
	mkdir -p "$T/keys"
	[ -f "$T/keys/person.key" ] || "$KIT" keygen "$T/keys"
	notice_of "$pol" || return 1
	local hash
	hash=$(sha256sum "$T/notice.txt" | cut -d' ' -f1)
	"$AGENT" enroll --local --state-dir "$dir" --policy "$pol" \
		--notice "$T/notice.txt" \
		--recipient "$T/keys/person.pub" --accept-notice "$hash" >"$T/enroll.log" 2>&1
}

# start_agent DIR [run options...]: starts and waits for its socket
start_agent() {
	local dir=$1
	shift
	rm -f "$dir.sock" # a killed agent leaves its socket behind
	SEALTRACE_AGENT_SOCKET=$dir.sock "$AGENT" run --dev --state-dir "$dir" "$@" \
		2>>"$dir.log" &
	AGENT_PID=$!
	PIDS+=($AGENT_PID)
	wait_for 10 test -S "$dir.sock" || { diag "agent did not start: $(cat "$dir.log")"; return 1; }
}

ctl() { # DIR COMMAND [ARGS]
	local dir=$1
	shift
	SEALTRACE_AGENT_SOCKET=$dir.sock "$AGENT" "$@" --state-dir "$dir"
}

stop_agent() {
	kill -TERM "$AGENT_PID" 2>/dev/null
	for _ in $(seq 1 250); do kill -0 "$AGENT_PID" 2>/dev/null || return 0; sleep 0.02; done
	return 1
}

# dump DIR: every event of every spooled segment, JSON Lines
dump() {
	local dir=$1
	"$KIT" dump "$T/keys/person.key" "$dir/device.pub" "$T/keys/person.pub" "$dir/spool"
}

# typed_text FILE: the text of the key presses in a dump, concatenated
typed_text() {
	python3 -c '
import json,sys
print("".join(e.get("text","") for e in map(json.loads,open(sys.argv[1])) if e["type"]=="key_press"), end="")' "$1"
}
