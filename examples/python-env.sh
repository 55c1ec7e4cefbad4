#!/usr/bin/env bash
# A Python virtual environment for the scripts and tests that need packages from PyPI (Debian's
# python3 refuses `pip install` into the system): made once under examples/generated/venv and
# reused. Installs what the requirements file lists when it changed since the last install,
# then prints the environment's python, so callers write:
#
#   python=$(bash examples/python-env.sh Tests/requirements.txt)
#
# VENV overrides the folder (e.g. a second environment for the TensorFlow peer).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
requirements=${1:?usage: python-env.sh REQUIREMENTS.txt}
venv=${VENV:-$here/generated/venv}

if [[ ! -x "$venv/bin/python" ]]; then
  if ! python3 -m venv "$venv" >&2; then
    echo "python-env: cannot make a virtual environment; install Debian's python3-venv" >&2
    exit 1
  fi
fi
stamp="$venv/.requirements.sha256"
wanted=$(sha256sum "$requirements" | cut -d' ' -f1)
if [[ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]]; then
  echo "python-env: installing $requirements into $venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2
  echo "$wanted" >"$stamp"
fi
echo "$venv/bin/python"
