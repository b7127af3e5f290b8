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
