#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what is missing, makes the example data,
# checks the format, builds with warnings as errors and runs every test. .ci/run runs this.
#
#   bash Tests/run-tests.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# Numeric results depend on the CPU's kernels: say which, first, so a red run elsewhere reads
# at once (the oneDNN instruction set follows the build, from `dropnet info`).
echo "== machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores" >&2

bash examples/install-dependencies.sh --tests
bash examples/make-examples.sh
bash examples/fetch-weights.sh
bash examples/fetch-test-photos.sh
# The third-party readers of exported models (Tests/DropnetExportTests/check_mlmodel.py and
# check_runtimes.py: coremltools, onnx, ONNX Runtime, LiteRT, MediaPipe).
DROPNET_PYTHON=$(bash examples/python-env.sh Tests/requirements.txt)
export DROPNET_PYTHON

echo "== swift format lint" >&2
swift format lint --strict --recursive --parallel Package.swift Sources Tests

echo "== swift build (warnings are errors: see Package.swift)" >&2
swift build --build-tests 2>&1 | grep -vE "^\[[0-9]+/[0-9]+\]"
"$(swift build --show-bin-path)/dropnet" info >&2

echo "== swift test" >&2
# As root, the tests of the service under journald and a real systemd (DropnetDaemonTests,
# DropnetSystemdTests) must run: a skip of theirs fails (RequiredEnvironment.swift).
if [[ $(id -u) -eq 0 ]]; then export DROPNET_REQUIRE_SYSTEMD_TEST=1; fi
swift test --skip-build --disable-swift-testing
