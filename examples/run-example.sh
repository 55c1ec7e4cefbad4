#!/usr/bin/env bash
# The main job on the bundled example, from a fresh machine: installs what is missing, makes
# the example movies from real photos, fetches and imports the ImageNet weights, builds dropnet
# (release) and extracts the dataset.
# Idempotent: a second run reuses everything and decodes nothing.
#
#   bash examples/run-example.sh            # state in examples/generated/state
set -euo pipefail
cd "$(dirname "$0")/.."

bash examples/install-dependencies.sh
bash examples/make-examples.sh
bash examples/fetch-weights.sh
swift build -c release --product dropnet 2>&1 | grep -vE '^\[[0-9]+\/[0-9]+\]'
dropnet=$(swift build -c release --show-bin-path)/dropnet

weights=${DROPNET_WEIGHTS:-${XDG_DATA_HOME:-$HOME/.local/share}/dropnet/mobilenet_v1_imagenet.safetensors}
if [[ ! -f "$weights" ]]; then
  "$dropnet" weights import examples/weights/mobilenet_v1_imagenet.pb --out "$weights"
fi

state=examples/generated/state
"$dropnet" extract --drop examples/generated/drop --state "$state"
echo "frames: $state/frames   manifest: $state/manifest.json"
