#!/usr/bin/env bash
# Set up (first time) and show explained twin cities: scripts/run.sh ["City"] [matcher twins options]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export HF_HUB_OFFLINE=1
if [ $# -eq 0 ]; then set -- "Milton Keynes"; fi
exec .venv/bin/matcher twins "$@"
