#!/usr/bin/env bash
# The main job on the bundled example, from a fresh machine: installs what is missing, makes
# the example movies from real photos, fetches and imports the ImageNet weights, builds dropnet
# (release), then runs the daemon's own path once over the example drop folder (extract,
# train, publish: `dropnet serve --once`) and says where the model and its model card page are,
# what it knows and how it does on photos that were never in a movie.
# Idempotent: a second run reuses everything; with nothing changed it trains nothing.
#
#   bash examples/run-example.sh        # model in examples/generated/models
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

generated=$PWD/examples/generated
# The daemon's lines go to stderr here (DROPNET_LOG_TARGET), even where journald runs.
DROPNET_LOG_TARGET=stderr "$dropnet" serve --once --weights "$weights" \
  --drop "$generated/drop" --state "$generated/state" --output "$generated/models" \
  --heldout "$generated/heldout" --name ExampleClassifier
echo
"$dropnet" status --state "$generated/state"
echo
echo "model: $generated/models/ExampleClassifier.mlmodel (and .json beside it)"
echo "model card: $generated/models/ExampleClassifier.html (open it in a browser)"
