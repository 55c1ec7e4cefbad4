#!/usr/bin/env bash
# Installs the Debian packages the quality benchmark's data set is made from (see
# examples/README.md, "Quality benchmark"), on top of examples/install-dependencies.sh:
#   tuxpaint-stamps-default  cut-out photos with alpha channels (the objects), ~160 MB download
#   tuxpaint-data            Tux Paint's photographic templates (backgrounds)
# Not needed by the test suite or CI. Idempotent and quiet when everything is present; needs
# root (or sudo) on Debian 12.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

bash "$here/install-dependencies.sh"

packages=(tuxpaint-stamps-default tuxpaint-data)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
