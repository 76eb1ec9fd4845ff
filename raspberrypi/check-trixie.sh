#!/usr/bin/env bash
# Check this checkout on Debian 13 "trixie" (Python 3.13) from a Debian 12 machine: build a minimal
# trixie chroot with debootstrap, install the package there from PyPI the way install.sh does (a venv,
# pip install of the checkout, and --with-demo's emulator if the checkout has it), then run
# `speaker wake-test` on the bundled recording from a directory with no config. Needs root and network
# (deb.debian.org and PyPI); about 300 MB in the chroot directory; takes one to three minutes.
#
#   sudo raspberrypi/check-trixie.sh [CHROOT_DIR]      (default /var/tmp/speaker-trixie; kept for reuse)
set -euo pipefail
SOURCE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=${1:-/var/tmp/speaker-trixie}
[ "$(id -u)" = 0 ] || { echo "check-trixie.sh: run as root (debootstrap and chroot need it)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "check-trixie.sh: apt-get install debootstrap" >&2; exit 1; }

if [ ! -x "$ROOT/usr/bin/python3" ]; then
  echo "== debootstrap trixie into $ROOT"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates,libportaudio2 trixie "$ROOT" \
    http://deb.debian.org/debian >/dev/null
fi
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
# TFLite reads /proc/cpuinfo (without it, it crashes)
if ! mountpoint -q "$ROOT/proc"; then
  mount -t proc proc "$ROOT/proc"
  trap 'umount "$ROOT/proc"' EXIT
fi
rm -rf "$ROOT/src" "$ROOT/venv"
mkdir -p "$ROOT/src"
tar -C "$SOURCE" --exclude=./.git --exclude=./.venv --exclude=./tests --exclude=__pycache__ --exclude='*.egg-info' \
  -cf - . | tar -C "$ROOT/src" -xf -
targets=/src
if [ -f "$SOURCE/emulator/pyproject.toml" ]; then targets="/src /src/emulator"; fi
echo "== $(chroot "$ROOT" python3 --version) on Debian $(cat "$ROOT/etc/debian_version"): pip install $targets"
start=$(date +%s)
# shellcheck disable=SC2016  # expanded inside the chroot
chroot "$ROOT" sh -ec '
  python3 -m venv /venv
  /venv/bin/pip install -q --disable-pip-version-check '"$targets"'
  /venv/bin/python -c "import speaker.cli, speaker.app, speaker.wake.factory, speaker.realtime.client"
  cd /tmp && /venv/bin/speaker wake-test /src/speaker/assets/demo_input.wav'
echo "== trixie: installed, imported and detected the wake word in $(($(date +%s) - start)) s"
