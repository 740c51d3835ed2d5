#!/bin/bash
# The main job (README's first command): install, build, and run the whole
# path that exists so far, for real:
#   1. a recording on a virtual X display (Xvfb + openbox + xterm, driven by
#      xdotool) through a real sealtrace server over HTTPS: init, serve,
#      enrollment with a token, acceptance, the person's pause, the
#      organisation's pause and resume (kill switch), upload, and what the
#      server stored opened on the export host's side with the master
#      secret (scripts/record-demo.sh);
#   2. the segment figures on a generated one-hour human-shaped trace: seal,
#      verify, open, sizes (bench-segment).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build
echo
echo "===== 1. recording a real session on a virtual display"
BUILD=$PWD/build ./scripts/record-demo.sh
echo
echo "===== 2. trace -> seal -> verify -> open (bench-segment, one hour)"
build/bench/bench-segment --minutes 60 --passes 3
