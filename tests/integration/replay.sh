#!/bin/bash
# replay.sh - sealtrace-replay against a real Xvfb + openbox + xterm: a
# hand-made episode's pyautogui strings type shell commands into a fresh
# xterm (after a click moves the focus there from a decoy that swallows
# input), and the files those commands write must hold exactly what the
# strings say: plain text, every printable ASCII character, escapes and
# characters missing from the keymap (é € 😀), a hotkey (ctrl+u clears the
# line), wheel notches as the xterm reports them, a double click and a drag
# that select words a middle click pastes. A malformed step or a click off
# the screen refuses the whole episode before anything is typed; --dry-run
# prints no typed text; the keymap is as before.
. "$(dirname "$0")/lib.sh"

REPLAY=$BUILD/src/replay/sealtrace-replay
[ -x "$REPLAY" ] || { echo "Bail out! $REPLAY not built"; exit 1; }

# xterm and the shell in it speak UTF-8, so é and € reach the files as such
export LC_ALL=C.UTF-8

start_x
KEYMAP_BEFORE=$(xmodmap -pke)
# A: the target, at the top left; bash without history expansion, so '!'
# is an ordinary character
WA=$(xterm_win "Shell - alpha" AlphaTerm -e bash --norc --noprofile +H)
check "target xterm started" test -n "$WA"
# B: a decoy to the right that swallows what it gets; it has the focus, so
# the episode's first click must move it to A or nothing gets written
WB=$(xterm_win "Decoy - beta" BetaTerm -e sh -c 'cat >/dev/null')
check "decoy xterm started" test -n "$WB"
for title in "Shell - alpha" "Decoy - beta"; do
	wait_for 10 sh -c "xdotool search --onlyvisible --name '$title' >/dev/null" ||
		{ echo "Bail out! xterm '$title' not shown"; exit 1; }
done
xdotool windowmove --sync "$WB" 700 0
xdotool windowactivate --sync "$WB" 2>/dev/null
sleep 0.5

# the text area of A in root coordinates; xterm's default font is 6x13 with
# a 2-pixel inner border, so row r, column c (from 1) is at
#   x = AX + 2 + 6 (c - 1) + 3,  y = AY + 2 + 13 (r - 1) + 6
# (xwininfo: xdotool getwindowgeometry adds the frame's offset twice)
geom=$(xwininfo -id "$(xdotool search --onlyvisible --name 'Shell - alpha' | head -1)")
AX=$(sed -n 's/.*Absolute upper-left X: *//p' <<<"$geom")
AY=$(sed -n 's/.*Absolute upper-left Y: *//p' <<<"$geom")
WIDTH=$(sed -n 's/.*Width: *//p' <<<"$geom")
HEIGHT=$(sed -n 's/.*Height: *//p' <<<"$geom")
cx=$((AX + 200)) cy=$((AY + 150))
# cell_x C [OFFSET]: a point in column C, OFFSET pixels into it (default 3)
cell_x() { echo $((AX + 2 + 6 * ($1 - 1) + ${2:-3})); }
row1_y=$((AY + 2 + 6))
diag "xterm A at $AX,$AY ${WIDTH}x$HEIGHT"

# Every printable ASCII character; inside a single-quoted shell word ' is
# written '\'' and nothing else is special.
ASCII=$(python3 -c 'print("".join(chr(c) for c in range(32, 127)), end="")')
UNI='é € Ünïcödé 😀 ½'

# pylit S: S as a single-quoted Python literal the way the exporter writes
# it: \\ \' \n \r \t escaped, every other character raw
python3 - "$T" "$ASCII" "$UNI" "$cx" "$cy" "$(cell_x 2)" "$(cell_x 7 1)" \
	"$(cell_x 12 1)" "$row1_y" >"$T/episode.jsonl" <<'PY'
import json, sys
T, ascii_, uni, cx, cy, w1, d1, d2, ry = sys.argv[1:10]
def pylit(s):
    out = "'"
    for c in s:
        out += {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r",
                "\t": "\\t"}.get(c, c)
    return out + "'"
def shq(s):
    return "'" + s.replace("'", "'\\''") + "'"
def w(s):
    return "pyautogui.write(" + pylit(s) + ")"
def click(kind, x, y):
    return "pyautogui.%s(x=%s, y=%s)" % (kind, x, y)
PRINTF = "printf %s" + chr(92) + chr(92) + "n "  # the shell sees %s\\n
ESC = chr(92) + "033"                         # printf's own \033
wheel = ("stty raw -echo; printf " + shq(ESC + "[?1000h") + "; head -c 42 > "
         + T + "/wheel.bin; printf " + shq(ESC + "[?1000l") + "; stty sane")
# the exporter's escapes: \xHH for é and \u for €, raw UTF-8 for the rest
out3 = w(PRINTF + shq(uni) + " > " + T + "/out3.txt")
out3 = out3.replace("é", chr(92) + "xe9", 1).replace("€", chr(92) + "u20ac", 1)
steps = [
    click("click", cx, cy),
    w("echo hello > " + T + "/out1.txt"),
    "pyautogui.press('enter')",
    w("garbage that must vanish") + "; pyautogui.hotkey('ctrl', 'u')",
    w(PRINTF + shq(ascii_) + " > " + T + "/out2.txt"),
    "pyautogui.press('enter')",
    out3,
    "pyautogui.press('enter')",
    "",
    "pyautogui.sleep(0.2)",
    # \n in the text is Return, as in pyautogui
    w("echo line > " + T + "/out4.txt" + chr(10)),
    # the wheel: raw mode and xterm's mouse reporting (mode 1000) turn each
    # notch into reports that head keeps: up, up, down (a press each), then
    # right and left (a press and a release each)
    w(wheel),
    "pyautogui.press('enter'); pyautogui.sleep(1.5)",
    "pyautogui.scroll(2, x=%s, y=%s); pyautogui.scroll(-1, x=%s, y=%s)" % (cx, cy, cx, cy),
    "pyautogui.hscroll(1, x=%s, y=%s); pyautogui.hscroll(-1, x=%s, y=%s)" % (cx, cy, cx, cy),
    "pyautogui.sleep(0.3)",
    # a double click selects the word in row 1, a middle click pastes it
    # where the text cursor is
    w("clear; echo WORDX DRAGY") + "; pyautogui.press('enter')",
    "pyautogui.sleep(0.3)",
    click("doubleClick", w1, ry),
    w("echo ") + "; " + click("middleClick", cx, cy),
    w(" > " + T + "/out5.txt") + "; pyautogui.press('enter')",
    # a drag from the left edge of the second word to the left edge of the
    # third selects it (xterm ends a selection at the nearest boundary)
    w("clear; echo WORDX DRAGY ZZZZ") + "; pyautogui.press('enter'); pyautogui.sleep(0.3)",
    "pyautogui.moveTo(x=%s, y=%s); pyautogui.dragTo(x=%s, y=%s, duration=0.2, button='left')" % (d1, ry, d2, ry),
    w("echo ") + "; " + click("middleClick", cx, cy) + "; " + w(" > " + T + "/out6.txt") + "; pyautogui.press('enter')",
]
for i, s in enumerate(steps):
    print(json.dumps({"index": i, "t_ms": i * 100, "app": "xterm",
                      "action": {"type": "redacted" if not s else "other"},
                      "pyautogui": s}, ensure_ascii=False))
PY
check "episode written (hand-made, $(wc -l <"$T/episode.jsonl") steps)" \
	test "$(wc -l <"$T/episode.jsonl")" -eq 24

# 1. --dry-run: ops, never typed text, and nothing reaches the display
"$REPLAY" --dry-run "$T/episode.jsonl" >"$T/dry.out" 2>"$T/dry.err"
rc=$?
check "--dry-run exits 0" test "$rc" -eq 0
check "--dry-run lists kinds and lengths" grep -q "write (24 bytes of text)" "$T/dry.out"
check "--dry-run names keys, hides characters" grep -q "hotkey ctrl+<character>" "$T/dry.out"
leaks=0
for w in hello garbage WORDX printf "$T" é €; do
	if grep -qF -- "$w" "$T/dry.out" "$T/dry.err"; then
		diag "dry run shows '$w'"
		leaks=1
	fi
done
check "--dry-run prints no typed text" test "$leaks" -eq 0
sleep 0.3
check "--dry-run typed nothing" test ! -e "$T/out1.txt"

# 2. a malformed step refuses the whole file before anything is typed
python3 - "$T" >"$T/bad.jsonl" <<'PY'
import json, sys
T = sys.argv[1]
for i, s in enumerate([f"pyautogui.write('echo bad > {T}/bad.txt')",
                       "pyautogui.press('enter')",
                       "pyautogui.write('secret'); pyautogui.typo(1)"]):
    print(json.dumps({"index": 40 + i, "pyautogui": s}))
PY
"$REPLAY" "$T/bad.jsonl" 2>"$T/bad.err"
rc=$?
check "a malformed step: exit 1" test "$rc" -eq 1
check "the refusal names the step and the column" \
	grep -q "step 42 (line 3): pyautogui string, column 28: unknown function" "$T/bad.err"
check "the refusal quotes no typed text" sh -c "! grep -q 'secret\|bad.txt\|echo' '$T/bad.err'"
sleep 1
check "nothing was typed before the refusal" test ! -e "$T/bad.txt"

# 3. a click off the screen refuses the whole file too
python3 - "$T" >"$T/off.jsonl" <<'PY'
import json, sys
T = sys.argv[1]
for i, s in enumerate([f"pyautogui.write('echo off > {T}/off.txt')",
                       "pyautogui.press('enter')",
                       "pyautogui.click(x=5000, y=10)"]):
    print(json.dumps({"index": i, "pyautogui": s}))
PY
"$REPLAY" "$T/off.jsonl" 2>"$T/off.err"
rc=$?
check "a click off the screen: exit 1 naming the screen" \
	sh -c "[ $rc -eq 1 ] && grep -q 'step 2 (line 3): refused before replaying anything: click at 5000,10 is off the 1280x1024 screen' '$T/off.err'"
sleep 1
check "nothing was typed before that refusal" test ! -e "$T/off.txt"

# 4. the replay itself
start=$(date +%s)
"$REPLAY" "$T/episode.jsonl" 2>"$T/replay.err"
rc=$?
diag "replay took $(($(date +%s) - start)) s"
check "replay exits 0" test "$rc" -eq 0
[ "$rc" -eq 0 ] || diag "$(cat "$T/replay.err")"
check "summary: 23 steps executed, 1 skipped (redacted)" \
	grep -q "23 steps executed, 1 skipped (redacted) of 24" "$T/replay.err"

# expect FILE CONTENT: the file appears within 5 s and holds exactly CONTENT
expect() {
	local f=$1 want=$2 got
	wait_for 5 test -s "$f" || { diag "$f never appeared"; return 1; }
	sleep 0.1
	got=$(cat "$f"; echo x)
	got=${got%x}
	if [ "$got" != "$want" ]; then
		diag "$(basename "$f"): got $(printf '%q' "$got"), want $(printf '%q' "$want")"
		return 1
	fi
}
check "the click moved the focus; write and press typed a command" \
	expect "$T/out1.txt" $'hello\n'
check "ctrl+u cleared the line; every printable ASCII character typed exactly" \
	expect "$T/out2.txt" "$ASCII"$'\n'
check "characters missing from the keymap (\\xe9, \\u20ac, raw UTF-8) typed exactly" \
	expect "$T/out3.txt" "$UNI"$'\n'
check "\\n in a write presses Return" expect "$T/out4.txt" $'line\n'
# seven mouse reports: ESC [ M, then 32 + the button code (64 wheel up, 65
# down, 67 right, 66 left, 3 a release), 32 + the column, 32 + the row of
# the cell under (cx, cy): the pointer was exactly there
cell=$(printf '%02x%02x' $((32 + (cx - AX - 2) / 6 + 1)) $((32 + (cy - AY - 2) / 13 + 1)))
want=""
for b in 60 60 61 63 23 62 23; do want="${want}1b5b4d$b$cell"; done
wait_for 5 test "$(stat -c %s "$T/wheel.bin" 2>/dev/null || echo 0)" -ge 42
got=$(od -An -tx1 "$T/wheel.bin" 2>/dev/null | tr -d ' \n')
check "scroll(2), scroll(-1), hscroll(1), hscroll(-1): the notches xterm reports, at the cell under x, y" \
	test "$got" = "$want"
[ "$got" = "$want" ] || diag "wheel reports $got, want $want"
check "a double click selects a word, a middle click pastes it" \
	expect "$T/out5.txt" $'WORDX\n'
check "a drag selects a word, a middle click pastes it" \
	expect "$T/out6.txt" $'DRAGY\n'
check "the keymap is as before (the spare keycode restored)" \
	test "$(xmodmap -pke)" = "$KEYMAP_BEFORE"

# 5. the command line
"$REPLAY" --help >"$T/help.out"
check "--help exits 0 and documents every option" sh -c \
	"grep -q -- --display '$T/help.out' && grep -q -- --speed '$T/help.out' &&
	 grep -q -- --delay-ms '$T/help.out' && grep -q -- --dry-run '$T/help.out'"
"$REPLAY" 2>/dev/null
check "no episode: exit 2" test $? -eq 2
"$REPLAY" --speed fast "$T/episode.jsonl" 2>/dev/null
check "a bad --speed: exit 2" test $? -eq 2
"$REPLAY" --display :9999 "$T/bad.jsonl" 2>"$T/nodisp.err"
check "every step is parsed before the display is opened" \
	sh -c "grep -q 'unknown function' '$T/nodisp.err' && ! grep -q 'X display' '$T/nodisp.err'"
printf '%s\n' '{"index": 0, "pyautogui": "pyautogui.sleep(0)"}' >"$T/one.jsonl"
"$REPLAY" --display :9999 "$T/one.jsonl" 2>"$T/nodisp.err"
rc=$?
check "an unreachable display: exit 1 naming it" sh -c \
	"[ $rc -eq 1 ] && grep -q 'cannot connect to X display :9999' '$T/nodisp.err'"
finish
