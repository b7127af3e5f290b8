"""The app as its users meet it, measured in one run (issue 16):

1. precompute: `matcher build --if-needed` and compileall in the checkout, as scripts/run.sh runs
   them before the server starts (the one-time index build on a fresh clone; a check of a few seconds later);
2. server start: `streamlit run` as scripts/run.sh starts it (no file watcher), to /_stcore/health,
   then its warm-up (scripts/warm_up.py runs Find twins and Case studies once, before any visitor);
3. cold start: headless Chromium opens the page, to the first twins table drawn and the rerun over;
4. interactions: real ones in that browser (on Find twins: weight sliders, the "exclude my
   country" filter, mentor mode, ticking a row, another city; then two case searches and a visit
   to every other page), each from the action to the end of the rerun it
   starts (the server's script_finished on the websocket) and the next frame drawn; for another
   city the action is the Enter that picks it (the typing before it is the person's own time);
5. load: concurrent sessions over Streamlit's own protocol (no browser renders anything), each
   moving a weight slider; p50/p90/p99 of the rerun and the server's CPU (cores) during the run
   and idle.

Baseline in the same run, for ratios on a shared machine: the bare library call the page makes
(`recommend(city, k=10)`, median), and the load average at the start and at the end.

    python -m benchmarks.bench_browser                # this checkout (indexes built if needed)
    python -m benchmarks.bench_browser --fresh        # a fresh clone of HEAD in a temp folder: the
                                                      # one-time build included, then the same steps
    python -m benchmarks.bench_browser --checkout PATH --sessions 20 --moves 10 --think 0

Needs Debian's chromium and the `test` extra (playwright, websockets). Prints a summary and
writes the figures as JSON to <checkout>/artifacts/bench_results/app.json.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT_S = 240
IDLE = ("() => !document.querySelector('[data-testid=\"stStatusWidget\"]') && "
        "!document.querySelector('[data-testid=\"stSpinner\"]')")
TWINS_TABLE = '[class*="st-key-twins_table_"] [data-testid="stDataFrame"]'
BASELINE = """
import statistics, time
from matcher.matcher import Matcher
rec = Matcher.open(build="never").twins
rec.recommend("Milton Keynes", k=10)
times = []
for i in range(40):
    t0 = time.perf_counter()
    rec.recommend("Milton Keynes", k=10, weights={"geography": 0.25 * (i % 12)})
    times.append(time.perf_counter() - t0)
print(statistics.median(times) * 1000)
"""


# ---------------------------------------------------------------------------- measuring helpers
def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), in seconds."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentiles(values) -> dict:
    return {f"p{q}": round(float(np.percentile(values, q)), 3) for q in (50, 90, 99)} | {
        "max": round(float(max(values)), 3), "n": len(values)}


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def checkout_env(checkout: Path) -> dict:
    """The environment of a process that runs the checkout's code with this interpreter."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(checkout))
    for var in ("MATCHER_INDEX_DIR", "MATCHER_DATA_DIR"):  # the checkout's own artifacts/ and data/
        env.pop(var, None)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def app_server(checkout: Path, env: dict | None = None):
    """`streamlit run` of the checkout's app as scripts/run.sh starts it, on a free local port
    (`env`: more environment variables); yields (url, pid, seconds to healthy), stopped on exit."""
    port = free_port()
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app_streamlit.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none", "--runner.postScriptGC", "false"],
        cwd=checkout, env=checkout_env(checkout) | (env or {}), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                if proc.poll() is not None or time.perf_counter() - start > WAIT_S:
                    raise RuntimeError("streamlit did not start") from None
                time.sleep(0.1)
        yield url, proc.pid, time.perf_counter() - start
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def idle_cpu(pid: int, seconds: float = 10.0) -> float:
    """The server's CPU (cores) while nobody uses it (a file watcher would show here)."""
    c0 = cpu_seconds(pid)
    time.sleep(seconds)
    return round((cpu_seconds(pid) - c0) / seconds, 3)


# ---------------------------------------------------------------------------- 1. precompute and baseline
def precompute(checkout: Path) -> float:
    """What scripts/run.sh runs before the server (`matcher build --if-needed`, then compileall), in seconds."""
    start = time.perf_counter()
    for command in (["-c", "import sys; from matcher.cli import main; sys.exit(main())", "build", "--if-needed"],
                    ["-m", "compileall", "-q", "matcher", "app_streamlit.py", "app_workspace.py"]):
        subprocess.run([sys.executable, *command], cwd=checkout, env=checkout_env(checkout), check=True,
                       stdout=sys.stderr)
    return time.perf_counter() - start


def baseline_ms(checkout: Path) -> float:
    """Median of the bare library call the page makes, in ms (its own process, warm index)."""
    out = subprocess.run([sys.executable, "-c", BASELINE], cwd=checkout, env=checkout_env(checkout), check=True,
                         capture_output=True, text=True).stdout
    return round(float(out.split()[-1]), 2)


# ---------------------------------------------------------------------------- 2-4. one browser session
def browser_session(url: str, interactions: int) -> dict:
    """Cold start to the first twins table, then timed interactions in one headless Chromium page."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise RuntimeError("chromium is not installed (Debian's chromium package; scripts/test.sh installs it)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            finished: list[float] = []  # when each "script finished" message arrived

            def on_frame(payload):
                from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

                if isinstance(payload, bytes) and ForwardMsg.FromString(payload).WhichOneof("type") == "script_finished":
                    finished.append(time.perf_counter())

            page.on("websocket", lambda ws: ws.on("framereceived", on_frame))
            start = time.perf_counter()
            page.goto(url, timeout=WAIT_S * 1000)
            page.wait_for_selector(f"{TWINS_TABLE}:visible", timeout=WAIT_S * 1000)
            page.wait_for_function(IDLE, timeout=WAIT_S * 1000)
            cold = time.perf_counter() - start
            times, kinds = timed_interactions(page, finished, interactions)
            text = page.inner_text("body")
        finally:
            browser.close()
    by_kind = {k: percentiles([t for t, kk in zip(times, kinds) if kk == k]) for k in dict.fromkeys(kinds)}
    return {"page_open_to_first_results_s": round(cold, 2), "interaction_s": percentiles(times),
            "by_kind_s": by_kind, "each_s": [round(t, 3) for t in times], "traceback": "Traceback" in text}


def timed_interactions(page, finished: list[float], n: int) -> tuple[list[float], list[str]]:
    """`n` interactions a user makes on Find twins, each timed to the end of its rerun and the
    next frame drawn: weight sliders, the country filter on and off, mentor mode on and off,
    two ticked rows, two other cities (the rest: more slider moves)."""
    def timed(kind, action):
        if isinstance(action, tuple):  # (what the user does before, the action that asks the app)
            action[0]()
            action = action[1]
        seen = len(finished)
        t0 = time.perf_counter()
        action()
        while len(finished) == seen:
            if time.perf_counter() - t0 > WAIT_S:
                raise RuntimeError(f"no rerun after the {kind} interaction")
            page.wait_for_timeout(5)
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        times.append(time.perf_counter() - t0)
        kinds.append(kind)

    def slider(i):
        thumb = page.locator(f'.st-key-w_{("geography", "size", "narrative", "barriers")[i % 4]} input[type="range"]')
        thumb.focus()
        return lambda: thumb.press("ArrowRight" if i % 8 < 4 else "ArrowLeft")

    def click(selector):
        return lambda: page.locator(selector).first.click()

    def tick(row):
        def action():
            box = page.locator(f"{TWINS_TABLE}:visible").first.bounding_box()
            page.mouse.click(box["x"] + 18, box["y"] + 35 + row * 35 + 17)  # the row's tick box
        return action

    def city(label):
        def typing():  # the person's own typing: the list filters as they type, no rerun yet
            page.locator('.st-key-twins_city [data-testid="stSelectbox"]').click()
            page.keyboard.type(label)
            page.wait_for_timeout(100)
        return typing, lambda: page.keyboard.press("Enter")

    times: list[float] = []
    kinds: list[str] = []
    fixed = [("filter", click(".st-key-f_exclude_country label")), ("filter", click(".st-key-f_exclude_country label")),
             ("mentor", click(".st-key-f_mentor label")), ("mentor", click(".st-key-f_mentor label")),
             ("tick a row", tick(2)), ("tick a row", tick(4)),
             ("another city", city("Ghent (BE)")), ("another city", city("Milton Keynes (GB)"))]
    plan = [("slider", None)] * max(0, n - len(fixed)) + fixed[:n]
    for i, (kind, action) in enumerate(plan):
        timed(kind, slider(i) if action is None else action)
    for kind, action in other_pages(page):
        timed(kind, action)
    return times, kinds


def other_pages(page) -> list[tuple[str, object]]:
    """The other pages, once each after Find twins: two case searches (each timed from its Enter),
    and back. The first visit to Case studies loads the case library and its language model
    (once per server), so it is reported on its own."""
    def go(name):
        return lambda: page.locator(".st-key-page label").filter(has_text=name).first.click()

    def search(query):
        def typing():
            page.locator(".st-key-case_query input").fill(query)
        return typing, lambda: page.locator(".st-key-case_query input").press("Enter")

    return [("first visit to Case studies", go("Case studies")), ("case search", search("heat pumps in social housing")),
            ("case search", search("green bonds")), *((("another page", go(name)) for name in
            ("Cohorts", "Peer reviewers", "My city", "Board", "Data", "Case studies", "Find twins")))]


# ---------------------------------------------------------------------------- 5. sessions over the protocol
async def protocol_session(url: str, moves: int, think_s: float = 0.0, slider_key: str = "w_geography") -> dict:
    """One session over Streamlit's own protocol (no browser, nothing rendered): the first run,
    then `moves` weight-slider moves, each timed from the BackMsg sent to the server's
    script_finished; `think_s` seconds between moves (a person reading the result). Like the
    browser, it keeps the large messages it was sent and names them in each rerun request, so the
    server sends a reference instead of a message it has already sent unchanged."""
    import websockets
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    out: dict = {"error": None, "moves_s": [], "kb": []}
    cached: set[str] = set()  # hashes of the cacheable messages received, as the browser keeps them
    ws_url = url.replace("http://", "ws://") + "/_stcore/stream"
    try:
        async with websockets.connect(ws_url, subprotocols=["streamlit"], max_size=None, open_timeout=60) as ws:
            async def run(states: dict) -> tuple[float, str | None]:
                msg = BackMsg()
                msg.rerun_script.query_string = ""
                msg.rerun_script.page_script_hash = ""
                msg.rerun_script.cached_message_hashes[:] = sorted(cached)
                for wid, value in states.items():
                    w = msg.rerun_script.widget_states.widgets.add()
                    w.id = wid
                    w.double_array_value.data[:] = [value]
                t0 = time.perf_counter()
                await ws.send(msg.SerializeToString())
                slider, size = None, 0
                while True:
                    raw = await asyncio.wait_for(ws.recv(), timeout=WAIT_S)
                    size += len(raw)
                    fwd = ForwardMsg.FromString(raw)
                    kind = fwd.WhichOneof("type")
                    if fwd.metadata.cacheable and fwd.hash:
                        cached.add(fwd.hash)
                    if kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                        el = fwd.delta.new_element
                        if el.WhichOneof("type") == "slider" and slider_key in el.slider.id:
                            slider = el.slider.id
                    if kind == "script_finished":
                        out["kb"].append(size / 1000)  # what the server sent for this rerun
                        return time.perf_counter() - t0, slider

            first, slider = await run({})
            out["first_run_s"] = first
            if not slider:
                raise RuntimeError(f"the weight slider {slider_key} was not found")
            for i in range(moves):
                if think_s:
                    await asyncio.sleep(think_s)
                took, _ = await run({slider: 0.25 * (1 + i % 11)})
                out["moves_s"].append(took)
    except Exception as exc:  # noqa: BLE001 - recorded; the caller reports or asserts on it
        out["error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
    return out


def protocol_load(url: str, pid: int, sessions: int, moves: int, think_s: float = 0.0) -> dict:
    """`sessions` concurrent protocol sessions after one warm-up session (not counted)."""
    asyncio.run(protocol_session(url, 1))

    async def all_sessions():
        return await asyncio.wait_for(
            asyncio.gather(*(protocol_session(url, moves, think_s) for _ in range(sessions))), timeout=900)

    start, cpu0 = time.perf_counter(), cpu_seconds(pid)
    results = asyncio.run(all_sessions())
    wall, cpu = time.perf_counter() - start, cpu_seconds(pid) - cpu0
    errors = [r["error"] for r in results if r["error"]]
    moved = [t for r in results for t in r["moves_s"]]
    return {"sessions": sessions, "moves_per_session": moves, "think_s": think_s, "wall_s": round(wall, 1),
            "errors": errors, "first_run_s": percentiles([r["first_run_s"] for r in results if "first_run_s" in r]),
            "slider_move_rerun_s": percentiles(moved) if moved else None,
            "kb_sent_per_rerun": round(float(np.median([k for r in results for k in r["kb"]] or [0])), 1),
            "server_cpu_cores": round(cpu / wall, 2)}


# ---------------------------------------------------------------------------- the run
def fresh_clone(source: Path, parent: Path) -> Path:
    """A clone of the source's committed HEAD (no artifacts/, no uncommitted edits)."""
    target = parent / "matcher-fresh"
    subprocess.run(["git", "clone", "--quiet", str(source), str(target)], check=True)
    return target


def warm_up(checkout: Path, url: str) -> dict:
    """What scripts/run.sh runs once the server answers (scripts/warm_up.py), in seconds."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "scripts/warm_up.py", url], cwd=checkout, env=checkout_env(checkout), check=True)
    return round(time.perf_counter() - start, 2)


def measure(checkout: Path, interactions: int, sessions: int, moves: int, think: list[float]) -> dict:
    report: dict = {"checkout": checkout.name, "cpus": os.cpu_count(), "load_average_start": load_average()}
    report["precompute_s"] = round(precompute(checkout), 1)
    report["baseline_recommend_ms"] = baseline_ms(checkout)
    with app_server(checkout) as (url, pid, started):
        report["server_start_s"] = round(started, 2)
        report["warm_up_s"] = warm_up(checkout, url)
        report["browser"] = browser_session(url, interactions)
        report["server_cpu_cores_idle"] = idle_cpu(pid)
        report["load"] = [protocol_load(url, pid, sessions, moves, t) for t in think] if sessions else []
    report["baseline_recommend_ms_end"] = baseline_ms(checkout)
    report["load_average_end"] = load_average()
    return report


def summary(r: dict) -> str:
    b = r["browser"]
    lines = [f"machine: {r['cpus']} cpus, load average {r['load_average_start']} at the start, "
             f"{r['load_average_end']} at the end",
             f"baseline: bare recommend(k=10) median {r['baseline_recommend_ms']} ms "
             f"(end of run: {r['baseline_recommend_ms_end']} ms)",
             f"precompute (matcher build --if-needed): {r['precompute_s']} s",
             f"server start to healthy: {r['server_start_s']} s; warm-up (Find twins, Case studies): {r['warm_up_s']} s",
             f"page open to first results (Chromium): {b['page_open_to_first_results_s']} s   target < 15 s",
             f"interactions in the browser ({b['interaction_s']['n']}): p50 {b['interaction_s']['p50']} s, "
             f"p90 {b['interaction_s']['p90']} s, max {b['interaction_s']['max']} s   target p90 < 0.5 s",
             *(f"    {k}: p50 {v['p50']} s, max {v['max']} s (n={v['n']})" for k, v in b["by_kind_s"].items()),
             f"server CPU while idle: {r['server_cpu_cores_idle']} cores"]
    for ld in r["load"]:
        m = ld["slider_move_rerun_s"] or {}
        lines.append(f"{ld['sessions']} sessions x {ld['moves_per_session']} slider moves over the protocol, "
                     f"think time {ld['think_s']} s: p50 {m.get('p50')} s, p90 {m.get('p90')} s, p99 {m.get('p99')} s; "
                     f"server CPU {ld['server_cpu_cores']} cores; {ld['kb_sent_per_rerun']} kB sent per rerun; "
                     f"errors {len(ld['errors'])}   target p90 < 2 s")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--checkout", type=Path, default=ROOT, help="the checkout to measure (default: this one)")
    where.add_argument("--fresh", action="store_true", help="measure a fresh clone of this checkout's HEAD")
    ap.add_argument("--interactions", type=int, default=20)
    ap.add_argument("--sessions", type=int, default=20, help="concurrent protocol sessions (0: no load test)")
    ap.add_argument("--moves", type=int, default=10, help="slider moves per protocol session")
    ap.add_argument("--think", type=float, nargs="+", default=[0.0, 2.0],
                    help="seconds between one session's moves; one load run per value (default: 0 and 2)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="matcher-bench-") as tmp:
        checkout = fresh_clone(ROOT, Path(tmp)) if args.fresh else args.checkout.resolve()
        report = measure(checkout, args.interactions, args.sessions, args.moves, args.think)
        report["fresh_clone"] = bool(args.fresh)
    out = ROOT / "artifacts" / "bench_results" / "app.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(summary(report))
    print(f"(figures: {out})")


if __name__ == "__main__":
    main()
