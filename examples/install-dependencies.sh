#!/usr/bin/env bash
# Installs the Debian packages dropnet builds with, runs with and makes its example from;
# with --tests, also those only the test suite needs; with --quality, those the quality
# benchmark's data set is made from (examples/README.md, "Quality benchmark"; not needed by
# the tests or CI). Idempotent and quiet when everything is present. Needs root (or sudo) on
# Debian 12.
#
#   bash examples/install-dependencies.sh [--tests] [--quality]
set -euo pipefail

packages=(
  pkg-config
  libopencv-dev        # DropnetCV: video decoding, JPEG, image filters, plots
  libdnnl-dev          # DropnetEngine: oneDNN compute
  libinotifytools0-dev # the daemon's folder watcher
  libsystemd-dev       # journald logging, sd_notify
  ffmpeg               # examples: renders the example movies; tests: reference decoding
  opencv-doc           # OpenCV's sample videos and photos (tests), ImageNet class names
  gcompris-qt-data     # public-domain photos the example movies are made from
  python3-venv         # examples/python-env.sh: PyPI packages for tests and benchmarks
  systemd              # journald for the daemon; systemd-analyze for the unit tests
)
for option in "$@"; do
  case "$option" in
    --tests)
      packages+=(
        systemd-container # systemd-nspawn: DropnetSystemdTests boots a real systemd
        chromium          # tests render the model card page as a person's browser does
      )
      ;;
    --quality)
      packages+=(
        tuxpaint-stamps-default # cut-out photos with alpha channels (the objects), ~160 MB
        tuxpaint-data           # Tux Paint's photographic templates (backgrounds)
      )
      ;;
    *)
      echo "usage: install-dependencies.sh [--tests] [--quality]" >&2
      exit 2
      ;;
  esac
done

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
