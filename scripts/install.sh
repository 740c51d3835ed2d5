#!/bin/sh
# Installs everything sealtrace needs to build, run its main job and run every
# test on a fresh Debian 12 machine, as root. Idempotent: packages already
# present are left alone, and apt-get update runs only when a package is missing.
set -eu

PKGS="
build-essential pkg-config meson ninja-build clang libclang-rt-14-dev
libsodium-dev libzstd-dev zstd libjansson-dev libcmocka-dev libvectorscan-dev
libxcb1-dev libxcb-xinput-dev libxcb-record0-dev libxcb-randr0-dev
libxcb-xkb-dev libxcb-xtest0-dev libxkbcommon-dev libxkbcommon-x11-dev
xvfb openbox xterm xdotool x11-xkb-utils x11-utils x11-xserver-utils
libsqlite3-dev sqlite3 libhttp-parser-dev
python3 libmicrohttpd-dev libgnutls28-dev gnutls-bin libcurl4-gnutls-dev curl
ca-certificates openssl systemd-journal-remote
faketime nettle-dev softhsm2 libp11-kit-dev
nodejs npm
"

missing=""
for p in $PKGS; do
    # NodeSource's nodejs package bundles npm (and conflicts with Debian's)
    [ "$p" = npm ] && command -v npm >/dev/null 2>&1 && continue
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -n "$missing" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "install.sh: missing packages:$missing; run this script as root" >&2
        exit 1
    fi
    echo "install.sh: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
else
    echo "install.sh: all packages present"
fi

# The dataset schema validator (tests/schema): Ajv at the versions its lockfile
# pins. Offline, dataset_schema skips rather than the whole run failing.
schema_dir="$(dirname "$0")/../tests/schema"
if [ ! -d "$schema_dir/node_modules/ajv" ] || [ ! -d "$schema_dir/node_modules/ajv-formats" ]; then
    echo "install.sh: npm ci in tests/schema"
    (cd "$schema_dir" && npm ci --no-audit --no-fund) ||
        echo "install.sh: npm ci in tests/schema failed; the dataset_schema test will be skipped" >&2
fi
