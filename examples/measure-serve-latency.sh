#!/usr/bin/env bash
# Time from dropping a new 10 s movie (a new label folder) to the published model, with
# `dropnet serve` at its default settings (settle 5 s, debounce 30 s, 15 fast-pass epochs) on
# the example drop folder. Needs a release build and the imported weights:
#
#   swift build -c release && bash examples/measure-serve-latency.sh [WEIGHTS.safetensors]
set -euo pipefail
cd "$(dirname "$0")/.."
dropnet=.build/release/dropnet
weights=${1:-${DROPNET_WEIGHTS:-$HOME/.local/share/dropnet/mobilenet_v1_imagenet.safetensors}}
example=examples/generated/drop
run=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$run"' EXIT
mkdir -p "$run/drop" "$run/state" "$run/out"
cp -r "$example/." "$run/drop/"
OMP_WAIT_POLICY=PASSIVE "$dropnet" serve --drop "$run/drop" --state "$run/state" \
  --output "$run/out" --weights "$weights" >"$run/log" 2>&1 &
pid=$!
# The first model (fast pass, then the second pass's verdict) comes before the measurement.
until grep -qE "(published|rejected).*pass=full" "$run/log"; do sleep 0.2; done
mkdir "$run/incoming"
cp "$example/fish.mov" "$run/incoming/clip.mov"
start=$(date +%s.%N)
mv "$run/incoming" "$run/drop/newlabel"
until grep -qE "published.*label=[^ ]*newlabel.*pass=fast" "$run/log"; do sleep 0.2; done
fast=$(date +%s.%N)
until sed -n '/newlabel.*pass=fast/,$p' "$run/log" | tail -n +2 | grep -qE "(published|rejected).*pass=full"; do
  sleep 0.2
done
full=$(date +%s.%N)
echo "drop -> published fast pass: $(echo "$fast - $start" | bc) s"
echo "drop -> second pass published or rejected: $(echo "$full - $start" | bc) s"
grep -E "newlabel|pass=fast|pass=full" "$run/log" | grep -E "extracted|training_started|published|rejected" | tail -5 | cut -c1-160
