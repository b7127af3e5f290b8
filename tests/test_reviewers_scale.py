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


@pytest.mark.parametrize("seed,n", [(0, 60), (1, 80), (2, 100)])
def test_fair_mode_at_medium_size_equals_the_full_model(seed, n, fake_recommender, monkeypatch):
    """Medium calls (60-100 cities reviewing each other, 3 each, loads of exactly 3): the fair
    mode on candidate lists proves the same worst-off plan and total as CP-SAT on every pair."""
    import random

    import matcher.reviewers as rv
    from matcher.reviewers import ReviewProblem, ReviewRules, solve_problem

    from .test_reviewers import check_rules, profiled_rows, scaled_objectives

    cities = random.Random(seed).sample(profiled_rows(fake_recommender), n)
    rules = ReviewRules(per_plan=3, max_load=3, no_same_country=seed != 1)
    problem = ReviewProblem(fake_recommender, cities, None, rules, None, None)
    monkeypatch.setattr(rv, "FAIR_SPARSE_FROM", 10**9)
    full = solve_problem(problem, mode="fair", explain=False, time_limit=60)
    monkeypatch.setattr(rv, "FAIR_SPARSE_FROM", 0)
    sparse = solve_problem(problem, mode="fair", explain=False, time_limit=60)
    assert full.optimal and sparse.optimal, (full.solver, sparse.solver)
    assert "fair mode on" in sparse.solver and "fair mode on" not in full.solver
    check_rules(problem, sparse)
    assert scaled_objectives(problem, sparse) == scaled_objectives(problem, full)
    total = solve_problem(problem, explain=False)
    assert sparse.worst_plan_affinity >= total.worst_plan_affinity - 1e-4
    assert total.total_affinity >= sparse.total_affinity - 1e-9
