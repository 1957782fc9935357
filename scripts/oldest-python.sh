#!/usr/bin/env bash
# The unit tests on the oldest Python that pyproject.toml accepts (3.9), where one is
# installed (pyenv's, on these machines): a venv of its own under $TMPDIR, the package
# installed editable with its test extra. Skips, saying so, without one.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

py="$(ls -d /root/.pyenv/versions/3.9.*/bin/python3 /usr/bin/python3.9 2>/dev/null | sort -V | tail -1 || true)"
if [ -z "$py" ]; then
    echo "skipped: no Python 3.9 on this machine (pyenv's or /usr/bin/python3.9)"
    exit 0
fi
venv="${TMPDIR:-/tmp}/secure-run-py39"
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e '.[test]'
echo "$("$venv/bin/python" --version): tests/unit"
"$venv/bin/python" -m pytest tests/unit -q -p no:cacheprovider
