#!/usr/bin/env bash
# Builds dropnet's example data in examples/generated/ (see examples/README.md).
#   examples/make-examples.sh          drop folder, held-out photos, rotation and bad inputs
#   examples/make-examples.sh --long   also a 10-minute 1080p movie for the memory benchmark
# Idempotent: a second run only checks recipes. Quiet unless something fails.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

missing=()
command -v python3 >/dev/null || missing+=("python3")
command -v ffmpeg >/dev/null || missing+=("ffmpeg")
command -v ffprobe >/dev/null || missing+=("ffmpeg (ffprobe)")
[[ -f /usr/share/gcompris-qt/rcc/categorization.rcc ]] || missing+=("gcompris-qt-data")
[[ -f /usr/share/doc/opencv-doc/examples/data/tree.avi ]] || missing+=("opencv-doc")
if ((${#missing[@]})); then
  echo "make-examples: missing ${missing[*]}; install with: apt-get install ffmpeg gcompris-qt-data opencv-doc" >&2
  exit 1
fi
if [[ "$(ffmpeg -hide_banner -encoders 2>/dev/null)" != *libx265* ]]; then
  echo "make-examples: this ffmpeg lacks libx265 (needed for the HEVC clip); install Debian's ffmpeg" >&2
  exit 1
fi

# -B: write no __pycache__ into the source tree.
exec python3 -B "$here/make_examples.py" "$@"
