#!/usr/bin/env bash
# Create .venv and install the project with the given extras, once per pyproject.toml version.
# Usage: scripts/setup.sh [extras]   e.g. scripts/setup.sh test
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "Creating .venv with $($python --version)" >&2
    "$python" -m venv .venv
fi
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)-${extras:-base}"
if [ ! -f "$stamp" ]; then
    echo "Installing matcher${extras:+[$extras]} and its dependencies (about 2-3 minutes the first time)" >&2
    .venv/bin/python -m pip install --quiet --upgrade pip
    # torch is pinned in pyproject.toml so pip takes the CPU wheel, never the CUDA build.
    .venv/bin/python -m pip install --quiet -e ".${extras:+[$extras]}"
    touch "$stamp"
fi
