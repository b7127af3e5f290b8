"""Hit@k and MRR of twin recommendations against labelled pairs, beside baselines computed
in the same run on the same candidate pool: random ranking and same-country-first (both as
exact expectations), nearest by great-circle distance, the recommender restricted to one facet
(size only, geography only), and the recommender without the survey-text facets (a leak-free
view for labels drawn from the same survey sessions). Any further weightings (a preset, fitted
weights) are scored beside them.

Every system ranks the same pool (the candidates `TwinRecommender.candidate_mask` allows, the
query itself left out) by sum_f w_f * sim_f, with sim_f the block inner product of facet f:
the score the FAISS search ranks by. Ties are broken at random, as an exact expectation."""
from __future__ import annotations

import csv
import io
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from .candidates import TwinFilters
from .errors import MatcherError, ProfileValidationError
from .io import check_input_file, decode_text
from .limits import Limits
from .twins import TwinRecommender

PAIR_COLUMNS = ("city", "country_code", "peer", "peer_country_code", "relation", "source")
EARTH_RADIUS_KM = 6371.0088
# The focus-group labels were written from the same sessions as the barriers, sectors and
# needs the seeds give those cities, so those facets partly restate the label.
SURVEY_TEXT_FACETS = ("barriers", "sectors", "narrative")


def load_labelled_pairs(path: str | Path, limits: Limits | None = None) -> pd.DataFrame:
    """A CSV of labelled twin pairs (columns PAIR_COLUMNS; the first four required), as text. The
    file passes the loaders' checks (no link, size limit, encodings) before it is parsed."""
    path = check_input_file(path, limits, what="labelled pairs")

    def fail(message):
        return ProfileValidationError([{"file": str(path), "row": None, "column": None, "value": None,
                                        "message": f"cannot read labelled pairs: {message}"}], str(path))
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise fail(str(exc)) from None
    text = decode_text(raw, path, what="labelled pairs")
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (ValueError, csv.Error) as exc:  # ParserError and EmptyDataError are ValueErrors
        raise fail((str(exc).splitlines() or [type(exc).__name__])[0][:200]) from None
    frame.columns = [str(c) for c in frame.columns]
    missing = [c for c in PAIR_COLUMNS[:4] if c not in frame.columns]
    if missing:
        raise ProfileValidationError([{"file": str(path), "row": None, "column": c, "value": None,
                                       "message": f"required column '{c}' is missing"} for c in missing], str(path))
    for c in PAIR_COLUMNS[4:]:
        if c not in frame.columns:
            frame[c] = ""
    return frame


# ---------------------------------------------------------------------------- expectations
def _first_hit_distribution(n: int, m: int) -> np.ndarray:
    """P(first of m relevant items is at rank r), r = 1..n-m+1, for a uniformly random order.
    P(first > r) = C(n-r, m) / C(n, m) = prod_{i<r} (n-m-i) / (n-i), as a running product."""
    if m <= 0 or n <= 0:
        return np.zeros(0)
    i = np.arange(n - m + 1, dtype=np.float64)
    survive = np.cumprod((n - m - i) / (n - i))  # P(first > r) for r = 1..n-m+1
    before = np.concatenate([[1.0], survive[:-1]])
    return before - survive


def _random_metrics(n: int, m: int, ks, offset: int = 0) -> dict:
    dist = _first_hit_distribution(n, m)
    ranks = np.arange(1, len(dist) + 1) + offset
    out = {f"hit@{k}": float(dist[ranks <= k].sum()) for k in ks}
    out["mrr"] = float((dist / ranks).sum())
    return out


def _observed_metrics(rank: float, ks) -> dict:
    out = {f"hit@{k}": float(rank <= k) for k in ks}
    out["mrr"] = 0.0 if not np.isfinite(rank) else 1.0 / rank
    return out


def _ranked_metrics(scores: np.ndarray, relevant: np.ndarray, ks) -> dict:
    """Metrics of the first relevant item when the pool is sorted by `scores` (high first), ties
    broken uniformly at random (exact expectation over the tie order)."""
    if not relevant.any():
        return _observed_metrics(float("inf"), ks)
    best = scores[relevant].max()
    above = int((scores > best).sum())
    tied = scores == best
    return _random_metrics(int(tied.sum()), int((tied & relevant).sum()), ks, offset=above)


def _mean(rows: list[dict]) -> dict:
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]} if rows else {}


# ---------------------------------------------------------------------------- labels
def collect_partners(recommender: TwinRecommender, pairs: pd.DataFrame):
    """Labelled pairs as {relation: {row: set of partner rows}} (both directions, plus "all"),
    and the pairs that did not resolve (line numbers of the file)."""
    partners: dict[str, dict[int, set[int]]] = defaultdict(lambda: defaultdict(set))
    unresolved = []
    for i, rec in enumerate(pairs.to_dict("records"), start=2):
        try:
            a = recommender.resolve(rec["city"], rec.get("country_code") or None)
            b = recommender.resolve(rec["peer"], rec.get("peer_country_code") or None)
        except MatcherError as exc:
            unresolved.append(f"line {i}: {exc}")
            continue
        if a == b:
            continue
        for rel in ("all", rec.get("relation") or "unlabelled"):
            partners[rel][a].add(b)
            partners[rel][b].add(a)
    return {rel: dict(table) for rel, table in partners.items()}, unresolved


# ---------------------------------------------------------------------------- similarities
class FacetSimilarities:
    """Per-facet similarities of query cities to every candidate of the pool: the block inner
    products x_q[sl] . x_c[sl] of the index vectors, so sum_f w_f * sim_f is the twin score."""

    def __init__(self, recommender: TwinRecommender, filters: TwinFilters | None = None):
        self.rec = recommender
        self.facets = list(recommender.featurizer.facet_slices_)
        self.slices = [recommender.featurizer.facet_slices_[f] for f in self.facets]
        mask = recommender.candidate_mask(filters or TwinFilters(), {}, None)
        self.pool = np.flatnonzero(mask)
        self.position = {int(r): i for i, r in enumerate(self.pool)}
        self._X = np.asarray(recommender.vectors(self.pool), dtype=np.float32)
        p = recommender.profiles
        lat = pd.to_numeric(p["lat"], errors="coerce").to_numpy(dtype=float)
        lon = pd.to_numeric(p["lon"], errors="coerce").to_numpy(dtype=float)
        self.lat, self.lon = np.radians(lat), np.radians(lon)
        self.country = p["country_code"].to_numpy(dtype=object)

    def of(self, rows) -> np.ndarray:
        """(len(rows), pool size, facets) similarities (a query's own row included: see `eligible`)."""
        rows = np.asarray(list(rows), dtype=np.int64)
        Q = np.asarray(self.rec.vectors(rows), dtype=np.float32)
        out = np.empty((len(rows), len(self.pool), len(self.facets)), dtype=np.float32)
        for j, sl in enumerate(self.slices):
            out[:, :, j] = Q[:, sl] @ self._X[:, sl].T
        return out

    def eligible(self, row: int) -> np.ndarray:
        """The pool without the query itself."""
        mask = np.ones(len(self.pool), dtype=bool)
        if int(row) in self.position:
            mask[self.position[int(row)]] = False
        return mask

    def pair(self, row_a: int, rows_b) -> np.ndarray:
        """(len(rows_b), facets) similarities of one city to the given rows."""
        a = np.asarray(self.rec.vectors([row_a]), dtype=np.float32)[0]
        B = np.asarray(self.rec.vectors(np.asarray(list(rows_b), dtype=np.int64)), dtype=np.float32)
        return np.stack([B[:, sl] @ a[sl] for sl in self.slices], axis=1)

    def distance_km(self, row: int) -> np.ndarray:
        """Great-circle distance from `row` to every pool candidate (inf where unknown)."""
        la, lo = self.lat[row], self.lon[row]
        lb, lob = self.lat[self.pool], self.lon[self.pool]
        h = np.sin((lb - la) / 2) ** 2 + np.cos(la) * np.cos(lb) * np.sin((lob - lo) / 2) ** 2
        d = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
        return np.where(np.isfinite(d), d, np.inf)


def weight_array(recommender: TwinRecommender, facets: list[str], weights: dict | None) -> np.ndarray:
    scaled = recommender.weights(weights)
    return np.array([scaled[f] for f in facets], dtype=np.float32)


def baseline_systems(recommender: TwinRecommender) -> dict[str, dict | None]:
    """The weighted baselines every evaluation shows (None: the registry defaults)."""
    facets = list(recommender.featurizer.facet_slices_)
    defaults = recommender.featurizer.default_weights
    systems: dict[str, dict | None] = {"recommender": None}
    if any(f in facets for f in SURVEY_TEXT_FACETS) and any(f not in SURVEY_TEXT_FACETS for f in facets):
        systems["without barriers/sectors/narrative"] = {f: (0.0 if f in SURVEY_TEXT_FACETS else defaults[f])
                                                         for f in facets}
    for only in ("size", "geography"):
        if only in facets:
            systems[f"{only} only"] = {f: (1.0 if f == only else 0.0) for f in facets}
    return systems


def score_queries(sims: FacetSimilarities, table: dict[int, set[int]], systems: dict[str, np.ndarray],
                  ks, chunk: int = 32) -> dict[int, dict[str, dict]]:
    """Per query city: metrics of each weighted system (facet weight arrays) and of the random,
    same-country-first and nearest-by-distance baselines, on one pool."""
    out: dict[int, dict[str, dict]] = {}
    queries = sorted(table)
    for start in range(0, len(queries), chunk):
        block = queries[start:start + chunk]
        S = sims.of(block)
        for i, q in enumerate(block):
            relevant = np.zeros(len(sims.pool), dtype=bool)
            for p in table[q]:
                if p in sims.position:
                    relevant[sims.position[p]] = True
            eligible = sims.eligible(q)
            n, m = int(eligible.sum()), int(relevant.sum())
            res = {}
            for name, w in systems.items():
                scores = np.where(eligible, S[i] @ w, -np.inf)
                res[name] = _ranked_metrics(scores, relevant, ks)
            if m == 0:
                miss = _observed_metrics(float("inf"), ks)
                res.update({"random (expected)": miss, "same country first (expected)": miss,
                            "nearest by distance": miss})
            else:
                res["random (expected)"] = _random_metrics(n, m, ks)
                same = eligible & (sims.country[sims.pool] == sims.country[q])
                n1, m1 = int(same.sum()), int((relevant & same).sum())
                res["same country first (expected)"] = (_random_metrics(n1, m1, ks) if m1 else
                                                        _random_metrics(n - n1, m, ks, offset=n1))
                d = sims.distance_km(q)
                res["nearest by distance"] = _ranked_metrics(np.where(eligible, -d, -np.inf), relevant, ks)
            out[q] = res
    return out


def summarise(per_query: dict[int, dict[str, dict]], queries) -> dict[str, dict]:
    """Mean metrics per system over the given query cities."""
    queries = [q for q in queries if q in per_query]
    if not queries:
        return {}
    names = list(per_query[queries[0]])
    return {name: _mean([per_query[q][name] for q in queries]) for name in names}


def evaluate_twins(recommender: TwinRecommender, pairs: pd.DataFrame, ks=(1, 5, 10),
                   filters: TwinFilters | None = None, systems: dict[str, dict] | None = None) -> dict:
    """Each labelled city queries the pool; a hit is any of its labelled peers. `systems` adds
    named weightings (e.g. a preset) beside the default weights and the baselines."""
    partners, unresolved = collect_partners(recommender, pairs)
    sims = FacetSimilarities(recommender, filters)
    named = {**baseline_systems(recommender), **(systems or {})}
    arrays = {name: weight_array(recommender, sims.facets, w) for name, w in named.items()}
    per_query = score_queries(sims, partners.get("all", {}), arrays, ks)
    report = {"n_pairs_file": int(len(pairs)), "unresolved": unresolved, "ks": list(ks),
              "pool": int(len(sims.pool)), "systems": {name: recommender.weights(w) for name, w in named.items()},
              "relations": {}}
    for rel, table in sorted(partners.items(), key=lambda kv: (kv[0] != "all", kv[0])):
        # a query's hit for a relation counts that relation's partners only
        same = all(partners["all"][q] == p for q, p in table.items())
        scored = per_query if same else score_queries(sims, table, arrays, ks)
        report["relations"][rel] = {"n_queries": len(table), "metrics": summarise(scored, table)}
    return report


def format_report(report: dict) -> str:
    lines = []
    ks = report["ks"]
    if report.get("pool"):
        lines.append(f"candidate pool: {report['pool']:,} cities (every system ranks the same pool)")
    header = f"{'system':36s}" + "".join(f"{'hit@' + str(k):>9s}" for k in ks) + f"{'MRR':>9s}"
    for rel, block in report["relations"].items():
        lines.append(f"\n{rel} ({block['n_queries']} query cities)")
        lines.append(header)
        for name, m in block["metrics"].items():
            lines.append(f"{name:36s}" + "".join(f"{m[f'hit@{k}']:9.3f}" for k in ks) + f"{m['mrr']:9.3f}")
    if report["unresolved"]:
        lines.append("\nunresolved pairs: " + "; ".join(report["unresolved"]))
    return "\n".join(lines).lstrip("\n")


def cross_lingual_top_k(library, queries: pd.DataFrame, k: int = 3, weights: dict | None = None) -> dict:
    """Share of translated queries whose own case study is in the top k, per language."""
    out: dict[str, list[bool]] = defaultdict(list)
    for q in queries.to_dict("records"):
        ids = [h.case_id for h in library.search(q["text"], k=k, weights=weights).matches]
        out[q["lang"]].append(q["case_id"] in ids)
        out["all"].append(q["case_id"] in ids)
    return {lang: float(np.mean(v)) for lang, v in out.items()}
