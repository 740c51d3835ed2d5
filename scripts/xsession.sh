# xsession.sh - sourced by scripts and benchmarks that need a virtual
# display: `xsession_start DIR` starts Xvfb (it picks a free display
# itself) and openbox, exports DISPLAY, and appends their pids to PIDS.
# Every wait is bounded (10 s per try). openbox's messages go to
# DIR/openbox.log.
xsession_start() {
	local dir=$1
	Xvfb -displayfd 3 -screen 0 1280x1024x24 -nolisten tcp 3>"$dir/display" >/dev/null 2>&1 &
	PIDS+=($!)
	for _ in $(seq 1 200); do [ -s "$dir/display" ] && break; sleep 0.05; done
	[ -s "$dir/display" ] || { echo "Xvfb did not start" >&2; return 1; }
	export DISPLAY=:$(head -1 "$dir/display")
	for _ in $(seq 1 200); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.05; done
	# ready when it names itself and says it keeps _NET_ACTIVE_WINDOW:
	# openbox sets the check window before its _NET_SUPPORTED list, and
	# `xdotool windowactivate` refuses a manager whose list lacks it. One
	# that exits at once is started again (three tries in all).
	local try ob
	for try in 1 2 3; do
		openbox >>"$dir/openbox.log" 2>&1 &
		ob=$!
		PIDS+=("$ob")
		for _ in $(seq 1 200); do
			xprop -root _NET_SUPPORTING_WM_CHECK 2>/dev/null | grep -q window &&
				xprop -root _NET_SUPPORTED 2>/dev/null | grep -q _NET_ACTIVE_WINDOW &&
				return 0
			ps -o stat= -p "$ob" | grep -qv Z || break
			sleep 0.05
		done
		kill "$ob" 2>/dev/null
		wait "$ob" 2>/dev/null
		echo "openbox try $try did not start: $(tail -1 "$dir/openbox.log")" >&2
	done
	return 1
}
