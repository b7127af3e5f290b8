"""The index folder: exact search, filters, manifest checks, atomic versions."""
from __future__ import annotations

import json

import faiss
import numpy as np
import pytest

from matcher.errors import IndexMismatchError, IndexMissingError
from matcher.index import FORMAT_VERSION, build_index, exact_search, load_index, save_index


def _vectors(n=200, d=24, seed=0):
    X = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


EXPECTED = {"model_id": "m1", "data_sha256": "a" * 64, "layout_sha256": "b" * 64}


def test_search_matches_numpy_with_and_without_filter():
    X = _vectors()
    index = build_index(X, [f"c{i}" for i in range(len(X))], dict(EXPECTED))
    q = X[3] * 0.7
    rows, scores = index.search(q, 10)
    exact, exact_scores = exact_search(q, X, 10)
    assert list(rows) == list(exact)
    assert np.allclose(scores, exact_scores, atol=1e-5)
    allowed = np.zeros(len(X), dtype=bool)
    allowed[::3] = True
    rows, scores = index.search(q, 10, allowed=allowed)
    exact, exact_scores = exact_search(q, X, 10, allowed)
    assert list(rows) == list(exact)
    assert np.allclose(scores, exact_scores, atol=1e-5)
    assert all(allowed[rows])
    rows, _ = index.search(q, 10, allowed=np.zeros(len(X), dtype=bool))
    assert len(rows) == 0


def test_save_load_roundtrip_and_mismatch_refused(tmp_path):
    X = _vectors()
    index = build_index(X, [f"c{i}" for i in range(len(X))], dict(EXPECTED))
    save_index(index, tmp_path)
    loaded = load_index(tmp_path, {**EXPECTED, "format_version": FORMAT_VERSION})
    assert list(loaded.ids) == list(index.ids)
    assert np.array_equal(loaded.vectors(range(5)), X[:5])
    for key, value in [("model_id", "other-model"), ("data_sha256", "c" * 64), ("layout_sha256", "d" * 64)]:
        with pytest.raises(IndexMismatchError, match="matcher build"):
            load_index(tmp_path, {**EXPECTED, key: value})


def test_tampered_or_missing_index_is_detected(tmp_path):
    with pytest.raises(IndexMissingError):
        load_index(tmp_path, EXPECTED)
    index = build_index(_vectors(), [f"c{i}" for i in range(200)], dict(EXPECTED))
    folder = save_index(index, tmp_path)
    with open(folder / "index.faiss", "r+b") as fh:
        fh.seek(200)
        fh.write(b"\x00\x01\x02\x03")
    with pytest.raises(IndexMismatchError, match="changed after the build"):
        load_index(tmp_path, EXPECTED)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["dim"] = 7
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError):
        load_index(tmp_path, {**EXPECTED, "dim": 24})


def test_failed_build_keeps_the_last_good_index(tmp_path, monkeypatch):
    good = build_index(_vectors(seed=1), [f"c{i}" for i in range(200)], dict(EXPECTED))
    save_index(good, tmp_path)

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(faiss, "write_index", boom)
    with pytest.raises(RuntimeError):
        save_index(build_index(_vectors(seed=2), [f"d{i}" for i in range(200)], dict(EXPECTED)), tmp_path)
    monkeypatch.undo()
    loaded = load_index(tmp_path, EXPECTED)
    assert loaded.ids[0] == "c0"
    assert np.array_equal(loaded.vectors([0]), good.vectors([0]))
