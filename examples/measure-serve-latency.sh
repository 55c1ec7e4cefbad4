#!/usr/bin/env bash
# Time from dropping a new 10 s movie (a new label folder) to the published model, with
# `dropnet serve` at its default settings (settle 5 s, debounce 30 s, 15 fast-pass epochs) on
# the example drop folder. Needs a release build and the imported weights:
#
#   swift build -c release && bash examples/measure-serve-latency.sh [WEIGHTS.safetensors]
#
# DROPNET=PATH measures another build.
#
# The daemon logs to journald when journald runs, else to stderr: the events are read from
# both (the journal by the daemon's pid and DROPNET_* fields, the stderr log by its text).
set -euo pipefail
cd "$(dirname "$0")/.."
dropnet=${DROPNET:-.build/release/dropnet}
weights=${1:-${DROPNET_WEIGHTS:-$HOME/.local/share/dropnet/mobilenet_v1_imagenet.safetensors}}
example=examples/generated/drop
[[ -x "$dropnet" ]] || { echo "no $dropnet: swift build -c release" >&2; exit 1; }
[[ -f "$weights" ]] || { echo "no $weights: dropnet weights import (see README)" >&2; exit 1; }
run=$(mktemp -d)
pid=""
# The daemon writes its state as it stops: wait for it before removing the folder.
trap 'if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi; rm -rf "$run"' EXIT
mkdir -p "$run/drop" "$run/state" "$run/out"
cp -r "$example/." "$run/drop/"
# The journal's entries of this run only: a reused pid's older entries come before this second.
since="@$(date +%s)"
OMP_WAIT_POLICY=PASSIVE "$dropnet" serve --drop "$run/drop" --state "$run/state" \
  --output "$run/out" --weights "$weights" >"$run/log" 2>&1 &
pid=$!

# Field values of the daemon's journal entries matching MATCHES, one line each (none when
# journald is not running): journal FIELD MATCHES...
journal() {
  local field=$1
  shift
  journalctl --quiet --no-pager --since="$since" "_PID=$pid" "$@" --output=cat \
    --output-fields="$field" 2>/dev/null || true
}
# How many second-pass verdicts (published or rejected) there are.
verdicts() {
  local logged journaled
  logged=$(grep -cE "(published|rejected).*pass=full" "$run/log" || true)
  journaled=$(journal DROPNET_EVENT DROPNET_PASS=full DROPNET_EVENT=published DROPNET_EVENT=rejected | grep -c . || true)
  echo $((logged + journaled))
}
# Whether a fast-pass model with the new label is published.
new_label_published() {
  grep -qE "published.*label=[^ ]*newlabel.*pass=fast" "$run/log" ||
    journal DROPNET_LABEL DROPNET_EVENT=published DROPNET_PASS=fast | grep -q newlabel
}
alive() { kill -0 "$pid" 2>/dev/null || { echo "dropnet serve exited:" >&2; cat "$run/log" >&2; exit 1; }; }
seconds() { printf '%d.%01d' $(($1 / 1000000000)) $((($1 / 100000000) % 10)); }

# The first model (fast pass, then the second pass's verdict) comes before the measurement.
until (($(verdicts) >= 1)); do alive; sleep 0.2; done
mkdir "$run/incoming"
cp "$example/fish.mov" "$run/incoming/clip.mov"
start=$(date +%s%N)
mv "$run/incoming" "$run/drop/newlabel"
until new_label_published; do alive; sleep 0.2; done
fast=$(date +%s%N)
until (($(verdicts) >= 2)); do alive; sleep 0.2; done
full=$(date +%s%N)
echo "drop -> published fast pass: $(seconds $((fast - start))) s"
echo "drop -> second pass published or rejected: $(seconds $((full - start))) s"
