"""One contract for every index kind (flat, HNSW, IVF), held against `exact_search`, and
exact_search's own rules (ties, filters, blocks, batches)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from matcher.index import (BACKENDS, FORMAT_VERSION, VectorIndex, build_index, exact_search, load_index,
                           save_index)

EXPECTED = {"model_id": "m1", "data_sha256": "a" * 64, "layout_sha256": "b" * 64}
KINDS = ["flat", "hnsw", "ivf"]


@pytest.fixture(scope="module", params=KINDS)
def built(request, planted) -> VectorIndex:
    return build_index(planted, [f"c{i}" for i in range(len(planted))], dict(EXPECTED), kind=request.param)


def _queries(X: np.ndarray, count: int = 40, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return X[rng.choice(len(X), count, replace=False)] + 0.05 * rng.normal(size=(count, X.shape[1])).astype(np.float32)


def _exact_scores(X: np.ndarray, q: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return (X[rows].astype(np.float64) @ q.astype(np.float64)).astype(np.float32)


def _recall(found: list, truth: list) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


def test_registry_names_the_three_kinds(built):
    assert set(BACKENDS) == set(KINDS)
    assert built.manifest["index_kind"] == built.kind and isinstance(built.backend, BACKENDS[built.kind])
    assert BACKENDS[built.kind].plan(len(built.ids))["faiss_factory"] == built.manifest["faiss_factory"]


def test_top_k_agrees_with_exact_search(built, planted):
    found, truth = [], []
    for q in _queries(planted):
        rows, scores = built.search(q, 10)
        t_rows, t_scores = exact_search(q, planted, 10)
        assert len(rows) == 10 and rows.dtype == np.int64
        # The scores returned are the exact inner products of the rows returned (float32 rounding).
        np.testing.assert_allclose(scores, _exact_scores(planted, q, rows), rtol=0, atol=2e-6)
        assert np.all(np.diff(scores) <= 1e-6)
        if built.kind == "flat":
            assert list(rows) == list(t_rows)
            np.testing.assert_allclose(scores, t_scores, rtol=0, atol=2e-6)
        found.append(rows), truth.append(t_rows)
    assert _recall(found, truth) >= (1.0 if built.kind == "flat" else 0.95)


def test_search_batch_gives_the_single_query_answers(built, planted):
    Q = _queries(planted, 12)
    rows, scores = built.search_batch(Q, 10)
    assert rows.shape == scores.shape == (12, 10)
    for i, q in enumerate(Q):
        one_rows, one_scores = built.search(q, 10)
        assert list(rows[i]) == list(one_rows) and np.array_equal(scores[i], one_scores)


@pytest.mark.parametrize("share", [0.2, 0.5])
def test_filtered_search_returns_only_allowed_rows(built, planted, share):
    allowed = np.random.default_rng(3).random(len(planted)) < share
    found, truth = [], []
    for q in _queries(planted, 20):
        rows, scores = built.search(q, 10, allowed=allowed)
        assert len(rows) == 10 and allowed[rows].all()
        np.testing.assert_allclose(scores, _exact_scores(planted, q, rows), rtol=0, atol=2e-6)
        found.append(rows), truth.append(exact_search(q, planted, 10, allowed)[0])
    assert _recall(found, truth) >= (1.0 if built.kind == "flat" else 0.9)
    assert len(built.search(planted[0], 10, allowed=np.zeros(len(planted), dtype=bool))[0]) == 0


def test_small_filter_is_answered_exactly(built, planted):
    allowed = np.random.default_rng(4).random(len(planted)) < 0.02  # under EXACT_SUBSET_SHARE
    for q in _queries(planted, 10):
        rows, scores = built.search(q, 10, allowed=allowed)
        t_rows, t_scores = exact_search(q, planted, 10, allowed)
        assert list(rows) == list(t_rows)
        np.testing.assert_allclose(scores, t_scores, rtol=0, atol=2e-6)  # float32 scoring, like FAISS
    few = np.zeros(len(planted), dtype=bool)
    few[[5, 17, 3001]] = True  # k above the allowed count: all of them
    assert sorted(built.search(planted[5], 10, allowed=few)[0]) == [5, 17, 3001]


def test_vectors_are_the_stored_vectors(built, planted):
    rows = [0, 5, 2999, len(planted) - 1, 5]
    assert np.array_equal(built.vectors(rows), planted[rows])
    assert built.vectors(np.arange(len(planted))).dtype == np.float32
    assert built.vectors([]).shape == (0, planted.shape[1])
    view = built.backend.storage_matrix(built.faiss_index)  # flat and HNSW are read in place
    assert (view is None) == (built.kind == "ivf")
    assert view is None or (not view.flags.owndata and np.array_equal(view, planted))


def test_save_load_round_trip_gives_identical_results(built, planted, tmp_path):
    built = VectorIndex(built.faiss_index, built.ids, dict(built.manifest))  # save_index stamps the manifest
    folder = save_index(built, tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["index_kind"] == built.kind and manifest["faiss_factory"] == built.manifest["faiss_factory"]
    assert (manifest["faiss_factory"] == "Flat") == (built.kind == "flat")
    assert manifest["index_params"] == built.params
    loaded = load_index(tmp_path, {**EXPECTED, "format_version": FORMAT_VERSION})
    assert loaded.kind == built.kind and list(loaded.ids) == list(built.ids)
    assert type(loaded.backend) is type(built.backend)
    assert np.array_equal(loaded.vectors([0, 5, 2999]), planted[[0, 5, 2999]])
    Q = _queries(planted, 10)
    for allowed in (None, np.arange(len(planted)) % 3 == 0, np.arange(len(planted)) % 97 == 0):
        for q in Q:
            a, b = built.search(q, 10, allowed=allowed), loaded.search(q, 10, allowed=allowed)
            assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    for a, b in zip(built.search_batch(Q, 10), loaded.search_batch(Q, 10)):
        assert np.array_equal(a, b)


# ---------------------------------------------------------------------------------- exact_search
def test_exact_search_breaks_ties_by_row_and_returns_all_when_k_is_large():
    X = np.array([[1, 0], [0, 1], [1, 0], [0.5, 0], [1, 0]], dtype=np.float32)
    rows, scores = exact_search(np.array([1.0, 0.0]), X, 2)
    assert list(rows) == [0, 2] and rows.dtype == np.int64 and scores.dtype == np.float32
    assert list(exact_search(np.array([1.0, 0.0]), X, 3, block_rows=2)[0]) == [0, 2, 4]  # ties across blocks
    for dtype in (np.float64, np.float32):
        rows, scores = exact_search(np.array([1.0, 0.0]), X, 50, dtype=dtype)
        assert list(rows) == [0, 2, 4, 3, 1] and list(scores) == [1, 1, 1, 0.5, 0] and scores.dtype == np.float32
    with pytest.raises(ValueError):
        exact_search(np.array([1.0, 0.0]), X, 0)


def test_exact_search_filters_by_mask_or_rows_from_an_array_or_a_function(planted):
    q = planted[9]
    mask = np.random.default_rng(5).random(len(planted)) < 0.3
    by_mask = exact_search(q, planted, 10, mask)
    by_rows = exact_search(q, planted, 10, np.flatnonzero(mask)[::-1])  # order of the rows does not matter
    blocked = exact_search(q, lambda rows: planted[rows], 10, mask, block_rows=97)
    for other in (by_rows, blocked):
        assert np.array_equal(by_mask[0], other[0]) and np.array_equal(by_mask[1], other[1])
    assert mask[by_mask[0]].all()
    everything = exact_search(q, lambda rows: planted[rows], 10, n=len(planted), block_rows=500)
    assert np.array_equal(everything[0], exact_search(q, planted, 10)[0])
    with pytest.raises(ValueError, match="needs n"):
        exact_search(q, lambda rows: planted[rows], 10)
    with pytest.raises(ValueError):
        exact_search(q, planted, 10, mask[:-1])
    empty = exact_search(q, planted, 10, np.zeros(len(planted), dtype=bool))
    assert empty[0].shape == empty[1].shape == (0,)


def test_exact_search_batch_gives_the_single_query_answers(planted):
    Q = planted[:6] * 0.5
    rows, scores = exact_search(Q, planted, 7, block_rows=1000)
    assert rows.shape == scores.shape == (6, 7)
    for i, q in enumerate(Q):
        one = exact_search(q, planted, 7)
        assert np.array_equal(rows[i], one[0]) and np.array_equal(scores[i], one[1])
