#!/usr/bin/env bash
# Builds the quality benchmark's data set in examples/generated/quality/ (see examples/README.md,
# "Quality benchmark"): movies of 10 classes in quality/drop/, 240 held-out test photos in
# quality/test/. Idempotent: a second run only checks recipes. Quiet unless something fails.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

missing=()
command -v python3 >/dev/null || missing+=("python3")
command -v ffmpeg >/dev/null || missing+=("ffmpeg")
[[ -d /usr/share/tuxpaint/stamps/animals ]] || missing+=("tuxpaint-stamps-default")
[[ -d /usr/share/tuxpaint/templates ]] || missing+=("tuxpaint-data")
[[ -f /usr/share/gcompris-qt/rcc/details.rcc ]] || missing+=("gcompris-qt-data")
[[ -f /usr/share/doc/opencv-doc/examples/data/home.jpg ]] || missing+=("opencv-doc")
if ((${#missing[@]})); then
  echo "make-quality: missing ${missing[*]}; install with: bash examples/install-dependencies.sh --quality" >&2
  exit 1
fi
if [[ "$(ffmpeg -hide_banner -encoders 2>/dev/null)" != *libx265* ]]; then
  echo "make-quality: this ffmpeg lacks libx265 (needed for the HEVC clips); install Debian's ffmpeg" >&2
  exit 1
fi

# -B: write no __pycache__ into the source tree.
exec python3 -B "$here/make_quality.py" "$@"
