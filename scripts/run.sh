#!/usr/bin/env bash
# Set up (first time), build the indexes (first time), then start the app on the shipped data
# and warm it up (Ctrl-C stops it):
#   scripts/run.sh [port]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export HF_HUB_OFFLINE=1
port="${1:-8501}"
# Precomputed before the server starts, with progress: the twin index and the case-study index
# (about 30 s the first time, a few seconds to check them later), so the first page opens on
# ready indexes instead of building them while the user waits.
echo "Checking the indexes (the first time builds them, about half a minute)" >&2
.venv/bin/matcher build --if-needed
# The app's own modules compiled once (an editable install leaves them as sources).
.venv/bin/python -m compileall -q matcher app_streamlit.py app_workspace.py >/dev/null
echo "Starting the app" >&2
# No file watcher (it scanned .venv and kept a core busy) and no full garbage collection after
# every rerun (most of a rerun's time): .streamlit/config.toml says so too.
.venv/bin/streamlit run app_streamlit.py --server.headless true --server.port "$port" \
    --browser.gatherUsageStats false --server.fileWatcherType none \
    --runner.postScriptGC false &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT INT TERM
# Find twins and Case studies run once before anyone opens them (the index, the case library
# and its language model load now, not while the first visitor waits).
.venv/bin/python scripts/warm_up.py "http://localhost:${port}" || echo "(the warm-up failed; the app still runs)" >&2
echo "Ready: open http://localhost:${port}" >&2
wait "$server"
