#!/usr/bin/env bash
# Fetches two CC0 photos the prediction tests use, scikit-image's `chelsea.png` (a tabby cat,
# photo Stefan van der Walt) and `coffee.png` (an espresso, photo Rachel Michetti), from the
# scikit-image 0.26.0 wheel on PyPI, into examples/generated/test-photos/ (git-ignored).
# Nothing else of the wheel is kept or installed. Idempotent.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
destination="$root/examples/generated/test-photos"
if [[ -f "$destination/chelsea.png" && -f "$destination/coffee.png" ]]; then
  exit 0
fi
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
python3 -m pip download --quiet --no-deps --only-binary=:all: "scikit-image==0.26.0" -d "$scratch"
mkdir -p "$destination"
python3 - "$scratch" "$destination" <<'PY'
import glob, os, sys, zipfile
scratch, destination = sys.argv[1], sys.argv[2]
wheel = glob.glob(os.path.join(scratch, "scikit_image-0.26.0-*.whl"))[0]
with zipfile.ZipFile(wheel) as archive:
    for name in ("chelsea.png", "coffee.png"):
        with open(os.path.join(destination, name), "wb") as out:
            out.write(archive.read("skimage/data/" + name))
PY
echo "wrote $destination/chelsea.png and coffee.png"
