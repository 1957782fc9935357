#!/usr/bin/env bash
# checkov in a venv of its own (it pins old versions of packages the test environment
# uses, e.g. packaging and networkx), for tests/kubernetes. Prints the executable's path:
#   export SECURE_RUN_CHECKOV="$(scripts/checkov.sh)"
set -euo pipefail
venv="${SECURE_RUN_CHECKOV_VENV:-${TMPDIR:-/tmp}/secure-run-checkov}"
if [ ! -x "$venv/bin/checkov" ]; then
    python3 -m venv "$venv" >&2
    "$venv/bin/python" -m pip install -q --disable-pip-version-check checkov >&2
fi
echo "$venv/bin/checkov"
