#!/usr/bin/env bash
# Set up (first time) and start the app on the shipped data: scripts/run.sh [port]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export HF_HUB_OFFLINE=1
port="${1:-8501}"
echo "Starting the app: open http://localhost:${port} (first start builds the indexes, about a minute)" >&2
exec .venv/bin/streamlit run app_streamlit.py --server.headless true --server.port "$port" \
    --browser.gatherUsageStats false --server.fileWatcherType none
