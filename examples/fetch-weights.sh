#!/usr/bin/env bash
# Fetches the ImageNet MobileNet v1 1.0/224 frozen GraphDef used by dropnet's tests and
# `dropnet weights import`, into examples/weights/mobilenet_v1_imagenet.pb (git-ignored).
#
# Source: PyPI sdist nudity==0.2.3 (MIT licence), which ships nudity/files/retrained_graph.pb:
# a TensorFlow frozen GraphDef whose MobileNet part is the original ImageNet MobileNet v1
# 1.0/224 (TF-slim names, 1001 classes, class 0 = background).
#
# Idempotent: does nothing when the file is already there with the expected SHA-256.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
destination_folder="$root/examples/weights"
destination="$destination_folder/mobilenet_v1_imagenet.pb"
# SHA-256 of nudity-0.2.3's retrained_graph.pb, checked so a changed upload is noticed.
expected_sha256="3b90af536f810f5f75e9f6d431bc2e8a3c4fc2ff4f693aa0dd4ae429816f8735"

if [[ -f "$destination" ]] && echo "$expected_sha256  $destination" | sha256sum --check --status; then
  echo "already present: $destination"
  exit 0
fi

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

python3 -m pip download --quiet --no-deps --no-binary :all: "nudity==0.2.3" -d "$scratch"
archive="$(find "$scratch" -maxdepth 1 -name 'nudity-0.2.3*.tar.gz' | head -n 1)"
if [[ -z "$archive" ]]; then
  echo "error: pip did not download the nudity-0.2.3 sdist into $scratch" >&2
  exit 1
fi
tar -xzf "$archive" -C "$scratch" --wildcards '*/nudity/files/retrained_graph.pb'
graph="$(find "$scratch" -name retrained_graph.pb | head -n 1)"

actual_sha256="$(sha256sum "$graph" | cut -d' ' -f1)"
if [[ "$actual_sha256" != "$expected_sha256" ]]; then
  echo "error: retrained_graph.pb has SHA-256 $actual_sha256, expected $expected_sha256" >&2
  echo "       the PyPI upload changed; inspect it before updating expected_sha256" >&2
  exit 1
fi

mkdir -p "$destination_folder"
# Copy then rename so an interrupted run never leaves a partial file under the final name.
cp "$graph" "$destination.partial"
mv "$destination.partial" "$destination"
echo "wrote $destination"
