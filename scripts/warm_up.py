"""Warm the app server up before the first visitor, as scripts/run.sh does once it answers.

Streamlit runs the app only when somebody opens it, so the first visitor used to wait for the
twin index to load (Find twins) and, on Case studies, for the case library and its language
model (about 3 s). This opens one session per page over Streamlit's own websocket protocol, as
a browser would, and waits until each page has run; what the pages load stays in the server's
shared caches for everyone after.

    python scripts/warm_up.py http://localhost:8501 [--timeout 300]

Exits 1 with the reason when the server does not answer or a page shows an error.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time
import urllib.request

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

# The pages that load something of their own, by the URL that opens them (the app restores the
# page from the URL): Find twins (the twin index) and Case studies (the case library and model).
PAGES = {"Find twins": "", "Case studies": "page=Case+studies"}


def wait_until_healthy(url: str, timeout_s: float) -> None:
    """Until the server's health check answers (it starts in about a second)."""
    start = time.monotonic()
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return
        except OSError:
            pass
        if time.monotonic() - start > timeout_s:
            raise TimeoutError(f"the app at {url} did not answer within {timeout_s:.0f} s")
        time.sleep(0.2)


async def run_page(url: str, query: str, timeout_s: float) -> list[str]:
    """One session that opens the app at `query` and waits for the page to finish running; the
    errors it showed (an exception or an error box), if any."""
    problems: list[str] = []
    ws_url = url.replace("http://", "ws://").replace("https://", "wss://") + "/_stcore/stream"
    async with websockets.connect(ws_url, subprotocols=["streamlit"], max_size=None, open_timeout=timeout_s) as ws:
        request = BackMsg()
        request.rerun_script.query_string = query
        request.rerun_script.page_script_hash = ""
        await ws.send(request.SerializeToString())
        while True:
            msg = ForwardMsg.FromString(await asyncio.wait_for(ws.recv(), timeout=timeout_s))
            if msg.WhichOneof("type") == "script_finished":
                return problems
            if msg.WhichOneof("type") == "delta" and msg.delta.WhichOneof("type") == "new_element":
                element = msg.delta.new_element
                if element.WhichOneof("type") == "exception":
                    problems.append(f"{element.exception.type}: {element.exception.message}")
                elif element.WhichOneof("type") == "alert" and element.alert.format == element.alert.ERROR:
                    problems.append(element.alert.body)


def warm_up(url: str, timeout_s: float = 300.0) -> dict[str, float]:
    """Seconds each page took to run for the first time; raises RuntimeError on a page's error."""
    url = url.rstrip("/")
    wait_until_healthy(url, timeout_s)
    took = {}
    for page, query in PAGES.items():
        start = time.perf_counter()
        problems = asyncio.run(run_page(url, query, timeout_s))
        if problems:
            raise RuntimeError(f"{page} shows an error: {problems[0]}")
        took[page] = round(time.perf_counter() - start, 2)
    return took


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("url", help="the app's address, e.g. http://localhost:8501")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the server and each page")
    args = ap.parse_args()
    try:
        took = warm_up(args.url, args.timeout)
    except (OSError, RuntimeError, TimeoutError, websockets.WebSocketException) as exc:
        print(f"The warm-up failed: {exc}", file=sys.stderr)
        return 1
    print("Warmed up: " + ", ".join(f"{page} {s} s" for page, s in took.items()), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
