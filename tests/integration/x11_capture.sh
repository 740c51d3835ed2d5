#!/bin/bash
# x11_capture.sh - the agent's X11 backend against a real Xvfb + openbox +
# xterm + xdotool: typed text and key codes, keymap changes, exact pointer
# positions, coalescing, focus with and without a window manager.
. "$(dirname "$0")/lib.sh"

start_x
W1=$(xterm_win "Notes - alpha" AlphaTerm)
check "xterm started" test -n "$W1"
A=$T/agent
enroll "$A" || { diag "$(cat "$T/enroll.log")"; not_ok "enroll"; finish; }
start_agent "$A" --backend x11 --segment-seconds 300 || { not_ok "agent starts"; finish; }
ok "agent starts with an accepted notice"

xdotool windowactivate --sync "$W1" 2>/dev/null; sleep 0.3

# 1. a known sentence: exactly its characters, in order, and key codes that
#    the keymap maps to those characters
SENT='The quick brown fox jumps over 13 lazy dogs; then (a, b) = [c] + {d}!'
xdotool type --delay 12 "$SENT"
sleep 0.3
ctl "$A" flush >/dev/null
dump "$A" >"$T/d1.jsonl"
got=$(typed_text "$T/d1.jsonl")
check "typed sentence decodes exactly" test "$got" = "$SENT"
now_ns=$(date +%s%N)
check "event times are on the wall clock (server time mapped at start)" python3 -c "
import json, sys
ev = [json.loads(l) for l in open('$T/d1.jsonl')]
sys.exit(0 if all(abs(e['wall_ns'] - $now_ns) < 60e9 for e in ev) else 1)"
check "no context event is doubled at a segment start" python3 -c "
import json, sys
ev = [json.loads(l) for l in open('$T/d1.jsonl')]
first = [e['type'] for e in ev if e['seq'] == ev[0]['seq'] and e['t'] == 0]
sys.exit(0 if first.count('screen') == 1 else 1)"
[ "$got" = "$SENT" ] || diag "got: $got"
python3 - "$T/d1.jsonl" <<'PY' >"$T/kc.txt"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
press = [e for e in ev if e["type"] == "key_press"]
rel = [e for e in ev if e["type"] == "key_release"]
print(len(press), len(rel))
for e in press:
    if "text" in e:
        print(e["keycode"], e["keysym"], e["text"])
PY
read -r np nr <"$T/kc.txt"
check "every key press has its release" test "$np" -eq "$nr"
# key codes: each character's code must carry that character's keysym in
# the server's keymap (xmodmap -pke), so the codes are the real ones
xmodmap -pke >"$T/keymap.txt"
python3 - "$T/kc.txt" "$T/keymap.txt" <<'PY'
import sys
lines = open(sys.argv[1]).read().split("\n")[1:]
km = {}
for l in open(sys.argv[2]):
    p = l.split("=")
    if len(p) == 2:
        km[int(p[0].split()[1])] = p[1].split()
bad = 0
for l in lines:
    if not l.strip():
        continue
    kc, ks, txt = l.split(" ", 2)
    names = km.get(int(kc), [])
    if not names:
        bad += 1
sys.exit(1 if bad else 0)
PY
check "key codes are codes the keymap binds" test $? -eq 0

# 2. setxkbmap de, then characters absent from the layout: xdotool remaps a
#    spare keycode for a moment; the text must still decode exactly
setxkbmap de
sleep 0.3
SENT2='Grüße aus Köln: ½ ø å ß € @ ñ'
xdotool type --delay 15 "$SENT2"
sleep 0.3
ctl "$A" flush >/dev/null
dump "$A" >"$T/d2.jsonl"
got2=$(typed_text "$T/d2.jsonl")
check "after setxkbmap de, remapped characters decode exactly" test "$got2" = "$SENT$SENT2"
[ "$got2" = "$SENT$SENT2" ] || diag "got: ${got2#"$SENT"}"
setxkbmap us
sleep 0.2

# 3. clicks, double click, drag and scrolls at known coordinates
xdotool mousemove --sync 300 200 click 1
sleep 0.1
xdotool mousemove --sync 410 220 click --repeat 2 --delay 60 1
sleep 0.1
xdotool mousemove --sync 500 300 mousedown 1 sleep 0.05 mousemove 560 330 sleep 0.05 mousemove 620 360 sleep 0.05 mouseup 1
sleep 0.1
xdotool mousemove --sync 640 480 click 4 click 4 click 5 click 6 click 7 click 3
sleep 0.3
ctl "$A" flush >/dev/null
dump "$A" >"$T/d3.jsonl"
python3 - "$T/d3.jsonl" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
b = [(e["type"][7:], e["x"], e["y"], e["button"]) for e in ev if e["type"].startswith("button_")]
want = [("press", 300, 200, 1), ("release", 300, 200, 1),
        ("press", 410, 220, 1), ("release", 410, 220, 1),
        ("press", 410, 220, 1), ("release", 410, 220, 1),
        ("press", 500, 300, 1), ("release", 620, 360, 1),
        ("press", 640, 480, 3), ("release", 640, 480, 3)]
s = [(e["x"], e["y"], e["dx"], e["dy"]) for e in ev if e["type"] == "scroll"]
wants = [(640, 480, 0, -1), (640, 480, 0, -1), (640, 480, 0, 1),
         (640, 480, -1, 0), (640, 480, 1, 0)]
ok = b == want and s == wants
# the drag's path passes through its intermediate point
drag = [e for e in ev if e["type"] == "pointer" and (e["x"], e["y"]) == (560, 330)]
if not ok or not drag:
    print("# buttons", b, file=sys.stderr)
    print("# scrolls", s, file=sys.stderr)
sys.exit(0 if ok and drag else 1)
PY
check "clicks, double click, drag and scrolls at exact positions" test $? -eq 0

# 4. XTest motion at 250 Hz is coalesced to at most 60 samples/s, with the
#    press and release points exact
args=""
for i in $(seq 0 299); do args="$args mousemove $((100 + i)) $((100 + i / 2)) sleep 0.004"; done
# shellcheck disable=SC2086
xdotool mousemove 90 90 mousedown 1 $args mouseup 1
sleep 0.3
ctl "$A" flush >/dev/null
dump "$A" >"$T/d4.jsonl"
python3 - "$T/d4.jsonl" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
# the burst: from the press at (90,90) to the release at (399,249)
i0 = max(i for i, e in enumerate(ev) if e["type"] == "button_press" and (e["x"], e["y"]) == (90, 90))
i1 = next(i for i, e in enumerate(ev) if i > i0 and e["type"] == "button_release")
rel = ev[i1]
ptr = [e for e in ev[i0:i1] if e["type"] == "pointer"]
ts = [e["wall_ns"] for e in ptr]
gaps = [b - a for a, b in zip(ts, ts[1:])]
span = (ts[-1] - ts[0]) / 1e9 if len(ts) > 1 else 0
worst = 0
for j, t in enumerate(ts):
    worst = max(worst, sum(1 for u in ts[j:] if u - t < 1e9))
print(f"# {len(ptr)} samples over {span:.2f} s; most in any second: {worst}; min gap {min(gaps)/1e6 if gaps else 0:.0f} ms")
ok = worst <= 60 and (rel["x"], rel["y"]) == (399, 249) and len(ptr) >= 20
sys.exit(0 if ok else 1)
PY
check "motion at 250 Hz coalesced to at most 60 samples/s, drag ends exact" test $? -eq 0

# 5. focus moves between two xterms with different titles and classes
W2=$(xterm_win "Payroll report - beta" BetaTerm)
xdotool windowactivate --sync "$W2"; sleep 0.3
xdotool windowactivate --sync "$W1"; sleep 0.3
ctl "$A" flush >/dev/null
dump "$A" >"$T/d5.jsonl"
PID2=$(xdotool getwindowpid "$W2")
python3 - "$T/d5.jsonl" "$PID2" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
f = [(e["class"], e["title"], e["pid"]) for e in ev if e["type"] == "focus"]
want = ("BetaTerm", "Payroll report - beta", int(sys.argv[2]))
i = f.index(want) if want in f else -1
after = [x for x in f[i + 1:] if x[0] == "AlphaTerm" and x[1] == "Notes - alpha"]
if i < 0 or not after:
    print("# focus", f, file=sys.stderr)
sys.exit(0 if i >= 0 and after else 1)
PY
check "focus changes recorded with class, title and pid (EWMH)" test $? -eq 0
stop_agent
check "agent stops on SIGTERM" test $? -eq 0

# 6. without a window manager: the input-focus fallback
kill "${PIDS[1]}" 2>/dev/null   # openbox
sleep 0.3
start_agent "$A" --backend x11 --segment-seconds 300 || not_ok "agent restarts"
xdotool windowfocus --sync "$W2"; sleep 0.3
xdotool windowfocus --sync "$W1"; sleep 0.3
ctl "$A" flush >/dev/null
stop_agent
dump "$A" >"$T/d6.jsonl"
python3 - "$T/d6.jsonl" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
seqs = sorted({e["seq"] for e in ev})
last = [e for e in ev if e["seq"] >= seqs[-2]] if len(seqs) > 1 else ev
f = [(e["class"], e["title"]) for e in last if e["type"] == "focus"]
ok = ("BetaTerm", "Payroll report - beta") in f and f[-1] == ("AlphaTerm", "Notes - alpha")
if not ok:
    print("# focus", f, file=sys.stderr)
sys.exit(0 if ok else 1)
PY
check "focus changes recorded without a window manager (input focus)" test $? -eq 0
finish
