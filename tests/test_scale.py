"""Scale machinery at small sizes: index chosen by size, ANN recall on planted data, the
weighted query through ANN, the incremental embedding cache, the Ray embedding path."""
from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest

from matcher.features.text import CachedEncoder
from matcher.index import build_index, choose_index, exact_search

from .conftest import planted_vectors as _planted

from .fakes import FakeEncoder

EXPECTED = {"model_id": "m1", "data_sha256": "a" * 64, "layout_sha256": "b" * 64}


def _scores(X, q, rows):
    """The exact inner products of the given rows (to check the scores an ANN index returns)."""
    return X[rows].astype(np.float64) @ q.astype(np.float64)


def test_index_kind_follows_size():
    assert choose_index(20_143, 1144)["kind"] == "flat"       # the shipped profiles stay exact
    assert choose_index(100_000, 1144)["kind"] == "hnsw"
    assert choose_index(100_000, 384)["kind"] == "flat"
    assert choose_index(1_000_000, 384)["kind"] == "ivf"
    X = _planted(2000)
    assert build_index(X, range(2000), dict(EXPECTED)).manifest["faiss_factory"] == "Flat"
    low = build_index(X, range(2000), dict(EXPECTED), flat_max_work=1000)
    assert low.manifest["index_kind"] == "hnsw" and low.manifest["faiss_factory"].startswith("HNSW")
    ivf = build_index(X, range(2000), dict(EXPECTED), flat_max_work=1000, ivf_min_rows=1000)
    assert ivf.manifest["index_kind"] == "ivf" and ivf.manifest["index_params"]["nlist"] >= 4


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_auto_chosen_ann_returns_exact_top10_on_planted_data(kind):
    X = _planted(4000)
    index = build_index(X, [f"c{i}" for i in range(len(X))], dict(EXPECTED), flat_max_work=1000,
                        ivf_min_rows=1000 if kind == "ivf" else 10**9)
    assert index.kind == kind
    rng = np.random.default_rng(1)
    hits = 0
    for r in rng.choice(len(X), 50, replace=False):
        q = X[r] + 0.05 * rng.normal(size=X.shape[1]).astype(np.float32)
        rows, scores = index.search(q, 10)
        truth, _ = exact_search(q, X, 10)
        hits += len(set(rows) & set(truth))
        assert np.allclose(scores, _scores(X, q, rows), atol=1e-4)  # returned scores are exact
    assert hits / 500 >= 0.98


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_weighted_query_through_ann_matches_exact_weighted_scores(kind):
    X = _planted(4000)
    index = build_index(X, range(len(X)), dict(EXPECTED), kind=kind)
    w = np.concatenate([np.full(16, 0.85), np.full(16, 0.1), np.full(16, 0.05)]).astype(np.float32)
    rng = np.random.default_rng(2)
    hits = 0
    for r in rng.choice(len(X), 40, replace=False):
        q = X[r] * w
        rows, scores = index.search(q, 10)
        truth, _ = exact_search(q, X, 10)
        assert np.allclose(scores, _scores(X, q, rows), atol=1e-4)  # sum_f w_f * cos_f of the returned rows
        assert np.all(np.diff(scores) <= 1e-6)
        hits += len(set(rows) & set(truth))
    assert hits / 400 >= 0.95


@pytest.mark.parametrize("share", [0.03, 0.08, 0.2, 0.5])
def test_filtered_ann_search_respects_the_mask(share):
    X = _planted(4000)
    index = build_index(X, range(len(X)), dict(EXPECTED), kind="hnsw")
    allowed = np.random.default_rng(3).random(len(X)) < share
    q = X[7]
    rows, scores = index.search(q, 10, allowed=allowed)
    assert len(rows) == 10 and allowed[rows].all()
    truth, _ = exact_search(q, X, 10, allowed)
    assert len(set(rows) & set(truth)) >= 9
    assert np.allclose(scores, _scores(X, q, rows), atol=1e-4)


def test_cache_reencodes_only_changed_texts_and_appends_deltas(tmp_path):
    path = tmp_path / "cache.npz"
    texts = [f"passage {i} on district heating" for i in range(3000)]  # ~12 digests end in a zero byte
    first = FakeEncoder(model_id="counting-8", dim=8)
    c = CachedEncoder(first, path)
    full = c.encode(texts)
    c.save()
    assert len(first.calls) == 3000
    edited = list(texts)
    for i in range(0, 3000, 100):  # 1% edited
        edited[i] += " (revised)"
    edited.append("a new passage")
    second = FakeEncoder(model_id="counting-8", dim=8)
    c2 = CachedEncoder(second, path)
    again = c2.encode(edited)
    assert sorted(second.calls) == sorted([edited[i] for i in range(0, 3000, 100)] + ["a new passage"])
    unchanged = [i for i in range(3000) if i % 100]
    assert np.array_equal(again[unchanged], full[unchanged])
    c2.save()
    assert path.with_name("cache.npz.delta").is_dir()  # only the 31 new vectors were written
    assert len(list(path.with_name("cache.npz.delta").glob("*.npz"))) == 1
    third = FakeEncoder(model_id="counting-8", dim=8)
    c3 = CachedEncoder(third, path)
    assert np.array_equal(c3.encode(edited), again)
    assert third.calls == [] and len(c3) == 3031
    # a large change compacts into one snapshot
    c3.encode([f"other {i}" for i in range(2000)])
    c3.save()
    assert not list(path.with_name("cache.npz.delta").glob("*.npz"))
    assert len(CachedEncoder(FakeEncoder(model_id="counting-8", dim=8), path)) == 5031


def test_cache_reads_the_old_hex_layout(tmp_path):
    from matcher.features.text import text_key

    enc = FakeEncoder(model_id="counting-8", dim=8)
    vecs = enc.encode(["a", "b"])
    with open(tmp_path / "old.npz", "wb") as fh:
        np.savez(fh, keys=np.array([text_key(enc.model_id, t) for t in "ab"], dtype="<U64"), vectors=vecs,
                 model_id=np.array(enc.model_id))
    fresh = FakeEncoder(model_id="counting-8", dim=8)
    c = CachedEncoder(fresh, tmp_path / "old.npz")
    assert np.array_equal(c.encode(["b", "a"]), vecs[::-1]) and fresh.calls == []


def test_language_filter_without_per_row_sets():
    from matcher.builds import twins_in_memory
    from matcher.candidates import TwinFilters

    rows = []
    for i in range(30):
        rows.append({"city_id": f"c{i}", "name": f"Town {i}", "country_code": "DE" if i % 2 else "FR",
                     "population": 10000 + i, "lat": 50.0, "lon": 5.0 + i / 10,
                     "languages": ["de"] if i % 2 else ["fr"], "networks": ["Net A"] if i % 3 == 0 else []})
    from matcher.schema import validate_profiles

    profiles = validate_profiles(pd.DataFrame(rows))
    rec = twins_in_memory(profiles, FakeEncoder(model_id="counting-8", dim=8))
    got = rec.recommend("Town 1", k=30, filters=TwinFilters(profiled_only=False, languages=["DE"]))
    assert {m.city_id for m in got.matches} == {f"c{i}" for i in range(3, 30, 2)}
    got = rec.recommend("Town 1", k=30, filters=TwinFilters(profiled_only=False, networks=["Net A"]))
    assert {m.city_id for m in got.matches} == {f"c{i}" for i in range(0, 30, 3)}


HAS_RAY = importlib.util.find_spec("ray") is not None


@pytest.mark.integration
@pytest.mark.skipif(not HAS_RAY, reason="Ray is not installed: pip install 'matcher[ray]' to test the Ray path")
def test_ray_embedding_gives_the_local_vectors(tmp_path):
    import ray

    from matcher.embed import embed_local, embed_ray, read_embeddings

    cases = pd.read_parquet("data/case_studies/case_studies.parquet")
    texts = [t for t in (list(cases["summary"]) + list(cases["title"])) if isinstance(t, str)]
    texts = (texts * 3)[:300]
    texts[5] = ""  # an empty text gives a zero row on both engines
    src = tmp_path / "corpus.parquet"
    pd.DataFrame({"id": [f"p{i}" for i in range(len(texts))], "text": texts}).to_parquet(src)
    local = embed_local(src, "text", tmp_path / "local.parquet")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        stats = embed_ray(src, "text", tmp_path / "ray.parquet", concurrency=2, batch_size=64)
    finally:
        ray.shutdown()
    assert stats.rows == local.rows == 300
    a, b = read_embeddings(tmp_path / "local.parquet"), read_embeddings(tmp_path / "ray.parquet")
    assert a.shape == b.shape == (300, 384)
    assert np.allclose(a, b, atol=1e-5)
    assert not a[5].any()
    assert list(pd.read_parquet(tmp_path / "ray.parquet")["id"]) == [f"p{i}" for i in range(300)]


def test_embed_cli_local_with_fake_model_errors_cleanly(tmp_path, capsys):
    from matcher.cli import main

    src = tmp_path / "corpus.parquet"
    pd.DataFrame({"id": [1], "body": ["x"]}).to_parquet(src)
    assert main(["embed", str(src), "--column", "text", "--out", str(tmp_path / "o.parquet")]) == 2
    assert "has no column 'text'" in capsys.readouterr().err
