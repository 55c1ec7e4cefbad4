#!/usr/bin/env bash
# The main job on the bundled example, from a fresh machine: installs what is missing, makes
# the example movies from real photos, builds dropnet (release) and extracts the dataset.
# Idempotent: a second run reuses everything and decodes nothing.
#
#   bash examples/run-example.sh            # state in examples/generated/state
set -euo pipefail
cd "$(dirname "$0")/.."

bash examples/install-dependencies.sh
bash examples/make-examples.sh
swift build -c release --product dropnet 2>&1 | grep -vE '^\[[0-9]+\/[0-9]+\]'
dropnet=$(swift build -c release --show-bin-path)/dropnet

state=examples/generated/state
"$dropnet" extract --drop examples/generated/drop --state "$state"
echo "frames: $state/frames   manifest: $state/manifest.json"
