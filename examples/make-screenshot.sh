#!/usr/bin/env bash
# The picture of the model card page in README.md: runs the example (examples/run-example.sh),
# then publishes the example model once more with this build, into a scratch copy of its
# state (so the page is this build's even when the example's own model is unchanged), renders
# the top of the published page with Debian's headless Chromium and writes
# examples/model-card.png, its colours reduced with ffmpeg so the PNG stays small.
#
#   bash examples/make-screenshot.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bash examples/run-example.sh >&2
dropnet=$(swift build -c release --show-bin-path)/dropnet
weights=${DROPNET_WEIGHTS:-${XDG_DATA_HOME:-$HOME/.local/share}/dropnet/mobilenet_v1_imagenet.safetensors}
generated=$PWD/examples/generated
out=$PWD/examples/model-card.png
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The frames and cached features are reused; what was published is not.
cp -r "$generated/state" "$work/state"
rm -rf "$work/state/model-cards" "$work/state"/published.* "$work/state/status.json"
DROPNET_LOG_TARGET=stderr "$dropnet" serve --once --weights "$weights" --log-level warning \
  --drop "$generated/drop" --state "$work/state" --output "$work/models" \
  --heldout "$generated/heldout" --name ExampleClassifier >&2
# --no-sandbox: Chromium refuses to run as root with its sandbox; the page is a local file
# whose Content-Security-Policy forbids loading anything anyway.
chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$work/profile" \
  --window-size=1200,2760 --screenshot="$work/page.png" "file://$work/models/ExampleClassifier.html" \
  2>"$work/chromium.log" || {
  cat "$work/chromium.log" >&2
  exit 1
}
ffmpeg -nostdin -loglevel error -y -i "$work/page.png" \
  -vf "split[a][b];[a]palettegen=max_colors=128:stats_mode=full[p];[b][p]paletteuse=dither=none" \
  "$out"
echo "screenshot: $out ($(($(stat -c %s "$out") / 1024)) KiB)" >&2
