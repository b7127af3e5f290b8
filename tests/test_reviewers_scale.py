"""Reviewer assignment at scale (issue 14): the priced sparse flow (each plan's best reviewers,
pairs added by reduced cost) reaches the same optimum as the flow on all pairs, with minimum
loads, the more-mature split and forbidden pairs."""
from __future__ import annotations

import numpy as np
import pytest

from matcher.reviewers import FLOW_SCALE, ReviewNetwork, solve_priced


@pytest.mark.parametrize("seed", range(8))
def test_priced_flow_equals_the_flow_on_all_pairs(seed, monkeypatch):
    import matcher.reviewers as rv

    monkeypatch.setattr(rv, "SPARSE_K", 2)  # a tiny first set, so pricing must add pairs
    rng = np.random.default_rng(seed)
    P, R = int(rng.integers(20, 60)), int(rng.integers(30, 90))
    S = rng.gamma(0.5, size=(P, 8)) @ rng.gamma(0.5, size=(R, 8)).T
    free = rng.random((P, R)) > 0.2
    ahead = rng.random((P, R)) > 0.6
    split = rng.random(P) > 0.5
    need = np.full(P, 3, dtype=np.int64)
    cap = np.full(R, int(rng.integers(3, 6)), dtype=np.int64)
    low = np.full(R, int(rng.integers(0, 2)), dtype=np.int64)
    costs = -np.rint(S * FLOW_SCALE).astype(np.int64)
    net = ReviewNetwork(need, cap, low, split, ahead)
    full = net.solve(*np.nonzero(free), costs)
    priced = solve_priced(ReviewNetwork(need, cap, low, split, ahead), free, costs)
    assert (full is None) == (priced is None)
    if full is not None:
        total = lambda pairs: int(sum(-costs[p, r] for p, r in pairs))  # noqa: E731
        assert total(priced) == total(full)
        assert all(free[p, r] for p, r in priced)
