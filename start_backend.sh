#!/usr/bin/env sh
# Set up (virtual environment, pinned dependencies, migrations) and serve on http://127.0.0.1:8000.
# The same as `make serve`, for machines without make.
set -eu
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
exec .venv/bin/mindsync serve "$@"
