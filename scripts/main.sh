#!/bin/bash
# The main job (README's first command): install, build, and run the whole
# path that exists so far.
#   Now: generate a human-shaped one-hour trace, seal it segment by segment,
#   verify every segment with the device's public key, open it with the
#   person's key, check it equals what was generated, and print the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
if [ -f build/build.ninja ]; then :; else meson setup build >/dev/null; fi
ninja -C build
echo
echo "== trace -> seal -> verify -> open (bench-segment, one hour, seed 1)"
build/bench/bench-segment --minutes 60 --seed 1
