#!/bin/bash
# capture_kinds.sh - notice = policy: a capture kind the accepted notice
# does not list is never captured, and every segment header's kinds bitmask
# shows it. One policy per kind, each a real recording under Xvfb.
. "$(dirname "$0")/lib.sh"

start_x
W=$(xterm_win "Kinds - test" KindsTerm)
# header bits (docs/format.md): 1,2 keys; 3 pointer; 4,5 buttons; 6 scroll;
# 24 text, 25 title, 26 app
case_run() { # NAME PYTHON_EDIT
	local name=$1 edit=$2 dir=$T/$1
	python3 - "$SRC/policies/default.json" "$T/$name.json" "$edit" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
exec(sys.argv[3])
json.dump(p, open(sys.argv[2], "w"), indent=1)
PY
	POLICY=$T/$name.json enroll "$dir" || { diag "$(cat "$T/enroll.log")"; return 1; }
	start_agent "$dir" --backend x11 --segment-seconds 300 || return 1
	xdotool windowactivate --sync "$W"; sleep 0.2
	xdotool type --delay 10 "kinds check"; xdotool key Return
	xdotool mousemove --sync 300 300 click 1 click 5
	sleep 0.2
	ctl "$dir" flush >/dev/null
	stop_agent
	dump "$dir" >"$T/$name.jsonl"
}

check_json() { # NAME PYTHON_EXPR(ev, kinds)
	python3 - "$T/$1.jsonl" "$2" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
kinds = 0
for e in ev:
    kinds |= e["kinds"]
types = {e["type"] for e in ev}
ok = bool(ev) and eval(sys.argv[2])
if not ok:
    print("# types", sorted(types), "kinds", hex(kinds), file=sys.stderr)
sys.exit(0 if ok else 1)
PY
}
bit() { echo "(1 << $1)"; }

case_run nokeys 'p["capture"]["keys"] = False; p["capture"]["text"] = False'
check "keys off: no key event is captured" check_json nokeys '"key_press" not in types and "key_release" not in types'
check "keys off: no header says keys or text" check_json nokeys "not kinds & ($(bit 1) | $(bit 2) | $(bit 24))"

case_run notext 'p["capture"]["text"] = False'
check "text off: keys carry no text" check_json notext '"key_press" in types and all(not e.get("text") for e in ev if e["type"].startswith("key"))'
check "text off: no header says text" check_json notext "not kinds & $(bit 24)"

case_run nopointer 'p["capture"]["pointer"] = False'
check "pointer off: no pointer, button or scroll event" check_json nopointer 'not types & {"pointer", "button_press", "button_release", "scroll"}'
check "pointer off: no header says pointer" check_json nopointer "not kinds & ($(bit 3) | $(bit 4) | $(bit 5) | $(bit 6))"

case_run notitles 'p["capture"]["titles"] = False'
check "titles off: focus events carry no title" check_json notitles '"focus" in types and all(not e.get("title") for e in ev if e["type"] == "focus")'
check "titles off: no header says title" check_json notitles "not kinds & $(bit 25)"

case_run noapps 'p["capture"]["apps"] = False'
check "apps off: focus events carry no app, class or pid" check_json noapps 'all(not e.get("app") and not e.get("class") and not e.get("pid") for e in ev if e["type"] == "focus")'
check "apps off: no header says app" check_json noapps "not kinds & $(bit 26)"

case_run all 'pass'
check "with every kind listed, every kind is captured" check_json all "kinds & $(bit 1) and kinds & $(bit 3) and kinds & $(bit 24) and kinds & $(bit 25) and kinds & $(bit 26)"
finish
