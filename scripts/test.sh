#!/usr/bin/env bash
# Set up (first time) and run the whole test suite: scripts/test.sh [pytest options]
set -euo pipefail
cd "$(dirname "$0")/.."
# The browser tests drive Debian's Chromium; the PDF brief is checked with pdftoppm; the workspace
# tests start their own PostgreSQL server from Debian's binaries (tests/workspace_support.py).
if ! command -v chromium >/dev/null || ! command -v pdftoppm >/dev/null \
        || ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    echo "Installing Debian packages chromium, poppler-utils and postgresql (about 60 s)" >&2
    if [ "$(id -u)" -eq 0 ]; then apt_get="apt-get"; else apt_get="sudo apt-get"; fi
    $apt_get update -qq
    DEBIAN_FRONTEND=noninteractive $apt_get install -y -qq chromium poppler-utils postgresql >/dev/null
fi
scripts/setup.sh test
export HF_HUB_OFFLINE=1
exec .venv/bin/python -m pytest "$@"
