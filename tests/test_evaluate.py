"""Evaluation metrics and baselines."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from matcher.settings import default_data_dir
from matcher.evaluate import _random_metrics, evaluate_twins, format_report, load_labelled_pairs


@pytest.mark.parametrize("n, m", [(10, 1), (30, 3), (200, 7)])
def test_random_baseline_expectation_matches_simulation(n, m):
    rng = np.random.default_rng(0)
    first = np.array([np.min(np.flatnonzero(rng.permutation(n) < m)) + 1 for _ in range(20000)])
    expected = _random_metrics(n, m, ks=(1, 5))
    assert expected["hit@1"] == pytest.approx(np.mean(first <= 1), abs=0.01)
    assert expected["hit@5"] == pytest.approx(np.mean(first <= 5), abs=0.015)
    assert expected["mrr"] == pytest.approx(np.mean(1 / first), abs=0.01)


def test_shipped_labelled_pairs_resolve_and_report(fake_recommender):
    pairs = load_labelled_pairs(default_data_dir() / "labelled_pairs" / "twins.csv")
    assert {"Milton Keynes", "Lyon"} <= set(pairs["city"]) | set(pairs["peer"])
    report = evaluate_twins(fake_recommender, pairs, ks=(1, 10))
    assert report["unresolved"] == []
    overall = report["relations"]["all"]["metrics"]
    assert {"recommender", "random (expected)", "same country first (expected)", "size only"} <= set(overall)
    for metrics in overall.values():
        assert 0 <= metrics["mrr"] <= 1 and 0 <= metrics["hit@1"] <= metrics["hit@10"] <= 1
    assert "hit@10" in format_report(report)


def test_missing_pair_columns_are_reported(tmp_path):
    path = tmp_path / "pairs.csv"
    pd.DataFrame([{"city": "Lyon"}]).to_csv(path, index=False)
    with pytest.raises(Exception, match="required column 'country_code'"):
        load_labelled_pairs(path)


def test_first_hit_distribution_is_exact():
    from math import comb

    from matcher.evaluate import _first_hit_distribution

    for n, m in [(5, 1), (12, 3), (40, 7), (9, 9)]:
        exact = [comb(n - r, m - 1) / comb(n, m) for r in range(1, n - m + 2)]
        assert np.allclose(_first_hit_distribution(n, m), exact)


def test_every_system_ranks_the_pool_the_recommender_ranks(fake_recommender):
    """The block-similarity scores of the evaluation order the pool as the FAISS search does."""
    from matcher.evaluate import FacetSimilarities, weight_array

    rec = fake_recommender
    sims = FacetSimilarities(rec)
    for city in ("Lyon", "Milton Keynes"):
        q = rec.resolve(city)
        w = {"size": 2.0, "narrative": 0.1}
        scores = sims.of([q])[0] @ weight_array(rec, sims.facets, w)
        order = sims.pool[np.argsort(-scores, kind="stable")]
        order = order[order != q]
        faiss_order = rec.ranked_rows(q, weights=w)
        assert set(order) == set(faiss_order)
        ours = scores[[sims.position[int(r)] for r in faiss_order]]
        assert np.all(np.diff(ours) <= 1e-5)  # the FAISS order is non-increasing in our scores


def test_nearest_by_distance_and_extra_systems_are_scored_in_the_same_run(fake_recommender):
    pairs = pd.DataFrame([
        {"city": "Glasgow", "country_code": "GB", "peer": "Edinburgh", "peer_country_code": "GB",
         "relation": "near", "source": "test"},
        {"city": "Lyon", "country_code": "FR", "peer": "Milton Keynes", "peer_country_code": "GB",
         "relation": "far", "source": "test"}])
    report = evaluate_twins(fake_recommender, pairs, ks=(1, 5), systems={"size heavy": {"size": 5.0}})
    near = report["relations"]["near"]["metrics"]
    assert near["nearest by distance"]["mrr"] > near["random (expected)"]["mrr"]
    assert "size heavy" in near and report["systems"]["size heavy"]["size"] > report["systems"]["recommender"]["size"]
    assert report["pool"] == int(fake_recommender.profiles["has_climate_profile"].sum())
