#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what is missing, makes the example data,
# checks the format, builds with warnings as errors and runs every test. .ci/run runs this.
#
#   bash Tests/run-tests.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bash examples/install-dependencies.sh
bash examples/make-examples.sh
bash examples/fetch-weights.sh
bash examples/fetch-test-photos.sh
# The third-party check of exported .mlmodel files (Tests/DropnetCoreMLTests/check_mlmodel.py).
python3 -c "import coremltools" 2>/dev/null || python3 -m pip install --quiet coremltools==9.0

echo "== swift format lint" >&2
swift format lint --strict --recursive --parallel Package.swift Sources Tests

echo "== swift build (warnings are errors: see Package.swift)" >&2
swift build --build-tests 2>&1 | grep -vE "^\[[0-9]+/[0-9]+\]"

echo "== swift test" >&2
swift test --skip-build --disable-swift-testing
