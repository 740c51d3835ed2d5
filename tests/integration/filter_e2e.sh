#!/bin/bash
# filter_e2e.sh - the on-device filter end to end: xdotool types normal work
# mixed with canaries into xterm (a card number, an AWS key, a password after
# a sudo command line into a real no-echo prompt, an email, a tax sentence and
# a medical sentence whose sensitive word comes last, a login window); then
# every byte the agent wrote and every opened segment is scanned: no canary,
# neither as text nor as its key-code sequence; the ordinary text intact.
. "$(dirname "$0")/lib.sh"

start_x
W=$(xterm_win "bash - work" WorkTerm)
check "xterm started" test -n "$W"
A=$T/agent
POLICY=$SRC/policies/default.json enroll "$A" || { diag "$(cat "$T/enroll.log")"; not_ok "enroll"; finish; }
start_agent "$A" --backend x11 --segment-seconds 300 || { not_ok "agent starts"; finish; }
xdotool windowactivate --sync "$W"; sleep 0.3

say() { xdotool type --delay 8 "$1"; xdotool key Return; sleep 0.05; }
say "ls -la /tmp"
say "echo build finished"
say "# card 4111 1111 1111 1111 for the refund"
say "export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE"
say "sudo -v; read -s -p '[sudo] password for root: ' PW; echo"
sleep 0.2
say "Hunter2CanaryPw"
say "# mail canary.person@example.org about lunch"
say "# this weekend I must finally finish my tax return"
say "# the doctor called: the biopsy shows cancer"
say "echo all done here"
# a login window: whatever is typed there is a secret
L=$(xterm_win "Sign in - Payroll" LoginTerm -e bash -c 'read -s -p "Password: " P; sleep 30')
xdotool windowactivate --sync "$L"; sleep 0.3
say "PayrollCanary77"
xdotool windowactivate --sync "$W"; sleep 0.2
say "echo back to work"
sleep 0.3
ctl "$A" flush >/dev/null
stop_agent
dump "$A" >"$T/d.jsonl"
typed=$(typed_text "$T/d.jsonl")
diag "typed text kept: $typed"

CANARIES=("4111 1111 1111 1111" "4111111111111111" "AKIAIOSFODNN7EXAMPLE" "Hunter2CanaryPw"
	"canary.person@example.org" "tax return" "biopsy shows cancer" "PayrollCanary77")
for c in "${CANARIES[@]}"; do
	check "canary '$c' is in no opened segment" sh -c "! printf '%s' \"\$1\" | grep -qF -- \"\$2\"" _ "$typed" "$c"
	check "canary '$c' is in no file the agent wrote" sh -c "! grep -rqaF -- \"\$1\" '$A' '$A.log'" _ "$c"
done
# key-code sequences: each canary's characters as the keymap's key codes
xmodmap -pke >"$T/keymap.txt"
python3 - "$T/d.jsonl" "$T/keymap.txt" "${CANARIES[@]}" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
codes = [e["keycode"] for e in ev if e["type"] == "key_press"]
km = {}
for l in open(sys.argv[2]):
    p = l.split("=")
    if len(p) == 2 and p[1].split():
        for s in p[1].split()[:2]:
            km.setdefault(s, int(p[0].split()[1]))
names = {" ": "space", ".": "period", "@": "at", "-": "minus", "_": "underscore"}
bad = 0
for c in sys.argv[3:]:
    seq = [km.get(names.get(ch, ch)) for ch in c if ch != " "]
    if None in seq or len(seq) < 6:
        continue
    for i in range(len(codes) - len(seq) + 1):
        if codes[i:i + len(seq)] == seq:
            print(f"# key codes of '{c}' found", file=sys.stderr); bad += 1
sys.exit(1 if bad else 0)
PY
check "no canary's key-code sequence is in any segment" test $? -eq 0
for ok_text in "ls -la /tmp" "echo build finished" "echo all done here" "echo back to work"; do
	check "ordinary text '$ok_text' is intact" sh -c "printf '%s' \"\$1\" | grep -qF -- \"\$2\"" _ "$typed" "$ok_text"
done
python3 - "$T/d.jsonl" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
kinds = sorted({e["kind"] for e in ev if e["type"] == "redaction"})
gaps = [e for e in ev if e["type"] == "session" and e["marker"] == 4 and e["reason"] == 7]
titles = {e["title"] for e in ev if e["type"] == "focus"}
print("# redaction kinds:", kinds, "level-4 gaps:", len(gaps), "titles:", sorted(titles), file=sys.stderr)
# card 1, email 4, aws 20, password 29; two level-4 sentences
ok = {1, 4, 20, 29} <= set(kinds) and len(gaps) >= 2
sys.exit(0 if ok else 1)
PY
check "markers for card, email, AWS key and passwords; gaps for level 4" test $? -eq 0
finish
