"""An edit in the workspace reaching the twin results, on the shipped data (issue 12).

Opens the shipped data and its index, makes a temporary SQLite workspace, lets an officer add a
barrier and a priority sector to Milton Keynes, and times `Matcher.refresh()` (the edited row laid
over the profiles and its vector replaced in the index, in place) plus the next `recommend`.
Baseline in the same run: featurizing every profile again and building a new index (what a
rebuild would cost), and the bare `recommend`.

    python -m benchmarks.bench_workspace
"""
from __future__ import annotations

import os
import statistics
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from matcher.index import build_index  # noqa: E402
from matcher.matcher import Matcher  # noqa: E402
from matcher.workspace import create_user, init_workspace, set_profile  # noqa: E402

BARRIERS = ["Lack of know-how and skills", "Very high investment costs", "Lack of support/awareness by citizens"]
SECTORS = ["Mobility and transport", "Industry", "Energy systems"]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ws, admin = init_workspace(os.path.join(tmp, "workspace.db"), admin_email="admin@example.org",
                                   admin_password="bench-pass-1")
        m = Matcher.open(build="missing", workspace=ws)
        rec = m.twins
        mk = rec.profiles.iloc[rec.resolve("Milton Keynes")]
        officer = create_user(ws, "mk@example.org", "bench-pass-2", "officer", admin, city_id=mk["city_id"])
        rec.recommend("Milton Keynes", k=10)
        edits, bare = [], []
        for i in range(len(BARRIERS)):
            set_profile(ws, mk["city_id"], {"barriers": [BARRIERS[i]], "priority_sectors": [SECTORS[i]]}, i, officer)
            start = time.perf_counter()
            changed = m.refresh()
            result = rec.recommend("Milton Keynes", k=10)
            edits.append(time.perf_counter() - start)
            assert changed == [mk["city_id"]] and result.asker["barriers"] == [BARRIERS[i]]
            start = time.perf_counter()
            rec.recommend("Milton Keynes", k=10)
            bare.append(time.perf_counter() - start)
        start = time.perf_counter()
        X = rec.featurizer.transform(rec.profiles)
        build_index(X, rec.profiles["city_id"], {})
        rebuild = time.perf_counter() - start
    edit = statistics.median(edits)
    print(f"profiles: {len(rec.profiles):,}, index {rec.index.kind}, {rec.index.faiss_index.d} dimensions")
    print(f"edit -> twin results (refresh + recommend): median {edit * 1000:.0f} ms over {len(edits)} edits "
          f"(target under 1 s)")
    print(f"  bare recommend: median {statistics.median(bare) * 1000:.0f} ms")
    print(f"  baseline, featurize every profile and build a new index: {rebuild:.1f} s "
          f"({rebuild / edit:.0f}x the in-place update)")


if __name__ == "__main__":
    main()
