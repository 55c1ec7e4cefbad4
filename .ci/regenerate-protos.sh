#!/usr/bin/env bash
# Regenerates every Sources/<Target>/Proto/<name>.pb.swift from the <name>.proto next to it
# (the TensorFlow GraphDef subset in DropnetModel, the CoreML subset in DropnetCoreML, the ONNX
# subset in DropnetONNX).
# The generated code is committed: building the plugin takes ~10 minutes, so neither the
# build nor CI runs this; run it after editing a .proto.
#
# Needs protoc (Debian: apt-get install protobuf-compiler) and protoc-gen-swift from
# swift-protobuf 1.39.0; the plugin is built once, outside the repository, in
# $PROTOC_GEN_SWIFT_BUILD (default /tmp/swift-protobuf) when it is not already there.
# Generated types stay internal to their target (tests reach them via @testable import).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
plugin_checkout="${PROTOC_GEN_SWIFT_BUILD:-/tmp/swift-protobuf}"
plugin_version="1.39.0"
plugin="$plugin_checkout/.build/release/protoc-gen-swift"
# The package mirror on the dropnet build machines; any clone of apple/swift-protobuf works.
plugin_source="${SWIFT_PROTOBUF_SOURCE:-https://github.com/apple/swift-protobuf.git}"

command -v protoc > /dev/null || {
  echo "error: protoc not found; install it (Debian: apt-get install protobuf-compiler)" >&2
  exit 1
}

if [[ ! -x "$plugin" ]]; then
  if [[ ! -d "$plugin_checkout/.git" ]]; then
    git clone --quiet "$plugin_source" "$plugin_checkout"
  fi
  git -C "$plugin_checkout" checkout --quiet "$plugin_version"
  (cd "$plugin_checkout" && swift build -c release --product protoc-gen-swift)
fi

installed_version="$("$plugin" --version)"
if [[ "$installed_version" != *"$plugin_version"* ]]; then
  echo "error: $plugin reports '$installed_version', expected $plugin_version" >&2
  exit 1
fi

shopt -s nullglob
for proto in "$root"/Sources/*/Proto/*.proto; do
  folder="$(dirname "$proto")"
  protoc \
    --plugin=protoc-gen-swift="$plugin" \
    --proto_path="$folder" \
    --swift_out="$folder" \
    --swift_opt=Visibility=Internal \
    "$proto"
  echo "wrote ${proto%.proto}.pb.swift"
done
