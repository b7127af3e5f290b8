"""A warm interaction in the app: moving a weight slider on Find twins (whole script rerun
through streamlit.testing.v1.AppTest), beside the bare library call it makes, in one run.

    python -m benchmarks.bench_app [--repeat 20]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from streamlit.testing.v1 import AppTest  # noqa: E402

from matcher.matcher import Matcher  # noqa: E402

APP = str(Path(__file__).resolve().parent.parent / "app_streamlit.py")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    at = AppTest.from_file(APP, default_timeout=600).run()
    assert not at.exception, at.exception
    values = [0.25 * (i % 12) for i in range(args.repeat)]
    rerun = []
    for v in values:
        start = time.perf_counter()
        at.slider(key="w_geography").set_value(v).run()
        rerun.append((time.perf_counter() - start) * 1000)
    assert not at.exception
    rec = Matcher.open(build="never").twins
    bare = []
    for v in values:
        start = time.perf_counter()
        rec.recommend("Milton Keynes", k=10, weights={"geography": v})
        bare.append((time.perf_counter() - start) * 1000)
    a, b = statistics.median(rerun), statistics.median(bare)
    print(f"weight-slider move, whole app rerun (AppTest): median {a:.0f} ms, p90 "
          f"{sorted(rerun)[int(0.9 * len(rerun)) - 1]:.0f} ms over {len(rerun)} moves")
    print(f"the library call it makes (recommend, k=10):    median {b:.1f} ms")
    print(f"app overhead over the bare call: {a / b:.1f}x; target: under 300 ms per move")


if __name__ == "__main__":
    main()
