"""Facet weights learned from labelled pairs, and named weight presets.

The twin score is sum_f w_f * sim_f. Given cities known to be peers, a pairwise logistic model
asks that a partner p of a query q outscore a sampled non-partner n of the same candidate pool:

    minimise  mean_q mean_(p,n) log(1 + exp(-w . (s(q,p) - s(q,n))))  +  l2 * |w|^2,  w >= 0

with s(q, x) the vector of facet similarities (block inner products of the index vectors).
Non-negative weights keep every term of an explanation a reason *for* a match, and the L2 term
keeps facets the labels say little about near zero instead of letting them swing. The fitted
weights are scaled to sum to 1, as the recommender scales any weights.

Cross-validation is by query city: the cities are split into folds; a fold's model is trained
only on pairs whose two cities are both outside the fold, and ranks the whole pool for each city
of the fold. Learned weights, the default weights and the baselines (matcher.evaluate) are scored
on the same queries and pool in the same run.

Labels: a pairs CSV (matcher.evaluate.PAIR_COLUMNS) and/or pairs derived from the data itself
(`derived_pairs`: Covenant of Mayors joint action plans, NetZeroCities pilot consortia, case
studies that name another city). Twinning-programme pairings are the project's held-out test:
relations that name one are never fitted on (HELD_OUT).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from importlib import resources
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from .candidates import TwinFilters
from .errors import ConfigError
from .evaluate import (PAIR_COLUMNS, FacetSimilarities, baseline_systems, collect_partners, score_queries,
                       summarise, weight_array)

# Relations that are twinning-programme pairings (NetZeroCities twins, Covenant twinning, other
# twinning calls): the held-out test. They are never fitted on.
HELD_OUT = re.compile(r"twin", re.IGNORECASE)
PRESET_DIR = "presets"
DERIVED_KINDS = ("covenant-groups", "pilot-consortia", "case-references")


# ---------------------------------------------------------------------------- labels from the data
def derived_pairs(kind: str, profiles: pd.DataFrame, cases: pd.DataFrame | None = None,
                  max_group: int = 40) -> pd.DataFrame:
    """Peer pairs the data itself states, in the PAIR_COLUMNS shape, each with its provenance.

    * covenant-groups: municipalities that adopted one joint Covenant of Mayors action plan
      (profiles' `com_group_name`). Neighbours of one country by construction.
    * pilot-consortia: cities of one NetZeroCities pilot activity (case studies from
      external/nzc_pilot_cities with `related_cities`).
    * case-references: a seed case study of one city that names another city (learning from).
    Case studies whose id or title names a twinning are left out (held-out test).
    """
    if kind not in DERIVED_KINDS:
        raise ConfigError(f"Unknown derived label set '{kind}'. Valid: {', '.join(DERIVED_KINDS)}.")
    rows = []
    if kind == "covenant-groups":
        members = profiles.loc[profiles["com_group_name"].notna(), ["name", "country_code", "city_id", "com_group_name"]]
        for group, g in members.groupby("com_group_name", sort=True):
            if not 2 <= len(g) <= max_group:
                continue
            for a, b in combinations(g.itertuples(index=False), 2):
                rows.append((a.city_id, a.country_code, b.city_id, b.country_code, "Covenant joint action plan",
                             f"city_profiles/cities.parquet com_group_name={group}"))
        return pd.DataFrame(rows, columns=list(PAIR_COLUMNS))
    if cases is None:
        raise ConfigError(f"The '{kind}' labels need the case-study table.")
    for c in cases.to_dict("records"):
        named = [str(x) for x in (c.get("related_cities") if c.get("related_cities") is not None else [])]
        if not named or HELD_OUT.search(f"{c.get('case_id', '')} {c.get('title', '')}"):
            continue
        pilot = "nzc_pilot_cities" in str(c.get("provenance", ""))
        cc = c.get("country_code") if isinstance(c.get("country_code"), str) else ""
        source = f"case_studies/case_studies.parquet case_id={c['case_id']} ({c.get('provenance', '')})"
        if kind == "pilot-consortia" and pilot:
            for a, b in combinations(sorted(set(named)), 2):
                rows.append((a, cc, b, cc, "NetZeroCities pilot consortium", source))
        elif kind == "case-references" and not pilot and isinstance(c.get("city"), str):
            for b in named:
                if b != c["city"]:
                    rows.append((c["city"], cc, b, "", "case study names the city", source))
    return pd.DataFrame(rows, columns=list(PAIR_COLUMNS))


def gather_pairs(paths=(), derived=(), profiles: pd.DataFrame | None = None, cases: pd.DataFrame | None = None,
                 relations=None) -> pd.DataFrame:
    """Pairs from CSV files and from the data itself, as one table; `relations`: keep only
    relations containing one of these texts (case-insensitive)."""
    from .evaluate import load_labelled_pairs

    frames = [load_labelled_pairs(p) for p in paths or ()]
    frames += [derived_pairs(kind, profiles, cases) for kind in derived or ()]
    if not frames:
        raise ConfigError("Give a CSV of labelled pairs and/or derived labels (" + ", ".join(DERIVED_KINDS) + ").")
    pairs = pd.concat(frames, ignore_index=True)
    if relations:
        wanted = [t.lower() for t in relations]
        keep = pairs["relation"].fillna("").map(lambda r: any(t in r.lower() for t in wanted))
        pairs = pairs[keep].reset_index(drop=True)
        if pairs.empty:
            raise ConfigError(f"No labelled pair has a relation containing {', '.join(map(repr, relations))}.")
    return pairs


def split_held_out(pairs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(pairs to fit on, twinning-programme pairs held out)."""
    text = pairs.get("relation", pd.Series("", index=pairs.index)).fillna("").astype(str)
    held = text.str.contains(HELD_OUT)
    return pairs[~held].reset_index(drop=True), pairs[held].reset_index(drop=True)


# ---------------------------------------------------------------------------- the model
def training_differences(sims: FacetSimilarities, table: dict[int, set[int]], queries, allowed: set[int],
                         negatives: int, rng: np.random.Generator, hard_share: float = 0.5,
                         hard_pool: int = 200, hard_weights: np.ndarray | None = None):
    """Rows s(q,p) - s(q,n) for each query q, each partner p in `allowed`, and `negatives`
    sampled non-partners n from the pool (a `hard_share` of them among the `hard_pool` best
    non-partners by `hard_weights`, the rest uniform), and a weight per row so that every
    query counts once."""
    diffs, weights = [], []
    queries = [q for q in sorted(queries) if any(p in allowed and p in sims.position for p in table.get(q, ()))]
    for start in range(0, len(queries), 32):
        block = queries[start:start + 32]
        S = sims.of(block)
        for i, q in enumerate(block):
            pos = [sims.position[p] for p in sorted(table[q]) if p in allowed and p in sims.position]
            bad = np.zeros(len(sims.pool), dtype=bool)
            bad[[sims.position[p] for p in table[q] if p in sims.position]] = True
            candidates = np.flatnonzero(sims.eligible(q) & ~bad)
            n_hard = int(round(negatives * hard_share)) if hard_weights is not None else 0
            hard = np.empty(0, dtype=np.int64)
            if n_hard:
                scores = S[i, candidates] @ hard_weights
                top = candidates[np.argsort(-scores, kind="stable")[:hard_pool]]
                hard = rng.choice(top, size=(len(pos), n_hard), replace=True)
            easy = rng.choice(candidates, size=(len(pos), negatives - n_hard), replace=True)
            neg = np.concatenate([hard.reshape(len(pos), -1), easy], axis=1)
            d = S[i, pos][:, None, :] - S[i, neg]  # (positives, negatives, facets)
            d = d.reshape(-1, S.shape[2])
            diffs.append(d)
            weights.append(np.full(len(d), 1.0 / len(d)))
    if not diffs:
        return np.zeros((0, len(sims.facets))), np.zeros(0)
    return np.concatenate(diffs).astype(np.float64), np.concatenate(weights)


def fit_nonnegative(D: np.ndarray, sample_weight: np.ndarray, l2: float = 1e-3,
                    free: np.ndarray | None = None, prior: np.ndarray | None = None) -> np.ndarray:
    """Pairwise logistic weights w >= 0 (L-BFGS-B with bounds); facets not `free` are held at 0.
    Penalty: l2 * |w|^2, or with a `prior` direction d, l2 * |w - t d|^2 at the best scale t
    (= l2 * (|w|^2 - (w.d)^2 / |d|^2)): the fit leaves the prior's direction only as far as the
    labels pay for it. Returns the raw (unscaled) weights."""
    n_f = D.shape[1]
    free = np.ones(n_f, dtype=bool) if free is None else np.asarray(free, dtype=bool)
    sw = sample_weight / sample_weight.sum()
    d = None if prior is None else np.where(free, np.asarray(prior, dtype=np.float64), 0.0)
    dd = 0.0 if d is None else float(d @ d)

    def loss(w):
        z = D @ w
        value = float(sw @ np.logaddexp(0.0, -z))
        grad = -(D.T @ (sw * _sigmoid(-z)))
        if dd > 0:
            wd = float(w @ d)
            value += l2 * (float(w @ w) - wd * wd / dd)
            grad += 2 * l2 * (w - wd / dd * d)
        else:
            value += l2 * float(w @ w)
            grad += 2 * l2 * w
        return value, grad

    bounds = [(0.0, None) if f else (0.0, 0.0) for f in free]
    x0 = np.where(free, 1.0, 0.0) if d is None or dd == 0 else d / max(float(d.max()), 1e-12)
    res = minimize(loss, x0, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": 500})
    return np.clip(res.x, 0.0, None)


def _sigmoid(z):
    return np.exp(-np.logaddexp(0.0, -z))


@dataclass
class FitOptions:
    negatives: int = 20  # non-partners sampled per partner
    hard_share: float = 0.5  # of them among the best-ranked non-partners by the default weights
    l2: float | None = None  # None: chosen from l2_grid by an inner cross-validation on the training cities
    l2_grid: tuple[float, ...] = (1e-3, 1e-2, 1e-1)
    prior: str = "default"  # "default": shrink the direction towards the default weights; "zero": towards 0
    folds: int = 5
    seed: int = 0
    exclude_facets: tuple[str, ...] = ()  # held at weight 0 (e.g. facets that restate the labels)


def _scaled(facets: list[str], w: np.ndarray) -> dict[str, float]:
    total = float(w.sum())
    if total <= 0:
        raise ConfigError("The fit gave every facet weight 0: the labels do not separate partners from "
                          "non-partners on any facet (too few pairs, or only excluded facets separate them).")
    return {f: float(v / total) for f, v in zip(facets, w)}


def fit_weights(sims: FacetSimilarities, table: dict[int, set[int]], options: FitOptions | None = None,
                cities: set[int] | None = None, signal: set[str] | None = None) -> dict[str, float]:
    """Weights (summing to 1) fitted on the pairs whose two cities are in `cities` (default: all);
    with `options.l2` None the penalty is chosen first (`choose_l2`). `signal`, when given, gets
    the facets on which some partner and non-partner differ."""
    options = options or FitOptions()
    if options.l2 is None:
        options = replace(options, l2=choose_l2(sims, table, options, cities)[0])
    if options.prior not in ("default", "zero"):
        raise ConfigError(f"Unknown prior '{options.prior}'. Valid: default, zero.")
    unknown = [f for f in options.exclude_facets if f not in sims.facets]
    if unknown:
        raise ConfigError(f"Unknown facet '{unknown[0]}' to exclude. Valid: {', '.join(sims.facets)}.")
    allowed = set(table) if cities is None else set(cities)
    rng = np.random.default_rng(options.seed)
    default = weight_array(sims.rec, sims.facets, None)
    D, sw = training_differences(sims, table, [q for q in table if q in allowed], allowed, options.negatives, rng,
                                 options.hard_share, hard_weights=default)
    if signal is not None:
        signal.update(f for f, v in zip(sims.facets, np.abs(D).max(axis=0, initial=0.0)) if v > 1e-6)
    if len(D) == 0:
        raise ConfigError("No labelled pair has both cities in the candidate pool: nothing to fit.")
    free = np.array([f not in options.exclude_facets for f in sims.facets])
    prior = default if options.prior == "default" else None
    return _scaled(sims.facets, fit_nonnegative(D, sw, options.l2, free, prior))


def choose_l2(sims: FacetSimilarities, table: dict[int, set[int]], options: FitOptions,
              cities: set[int] | None = None, inner_folds: int = 3) -> tuple[float, dict[float, float]]:
    """The penalty of `options.l2_grid` with the best MRR in an inner cross-validation by query
    city over `cities` (ties: the stronger penalty), and the MRR of each."""
    cities = sorted(set(table) if cities is None else set(cities) & set(table))
    rng = np.random.default_rng(options.seed + 1)
    order = rng.permutation(np.array(cities, dtype=np.int64))
    folds = [set(int(q) for q in order[i::inner_folds]) for i in range(inner_folds)]
    scores: dict[float, float] = {}
    for l2 in options.l2_grid:
        fixed = replace(options, l2=l2)
        mrr = []
        for test in folds:
            train = set(cities) - test
            w = fit_weights(sims, table, fixed, cities=train)
            arrays = {"learned": np.array([w[f] for f in sims.facets], dtype=np.float32)}
            scored = score_queries(sims, {q: table[q] for q in test}, arrays, (1,))
            mrr += [r["learned"]["mrr"] for r in scored.values()]
        scores[l2] = float(np.mean(mrr)) if mrr else 0.0
    best = max(scores.values())
    return max(l2 for l2, v in scores.items() if v >= best - 1e-12), scores


def cross_validate(sims: FacetSimilarities, partners: dict[str, dict[int, set[int]]], ks=(1, 5, 10),
                   options: FitOptions | None = None, systems: dict[str, dict] | None = None) -> dict:
    """Folds by query city: per fold, weights fitted without the fold's cities, then learned vs
    default vs baselines (and `systems`, e.g. a preset) on the fold's queries; overall = every
    query once (out of fold), per relation as well."""
    options = options or FitOptions()
    rec = sims.rec
    table = partners.get("all", {})
    queries = np.array(sorted(table), dtype=np.int64)
    if len(queries) < options.folds or options.folds < 2:
        raise ConfigError(f"Cross-validation needs at least {max(options.folds, 2)} query cities and 2 folds; "
                          f"the labels have {len(queries)} query cities and {options.folds} folds were asked.")
    rng = np.random.default_rng(options.seed)
    fold_of = {int(q): i % options.folds for i, q in enumerate(rng.permutation(queries))}
    named = {**baseline_systems(rec), **(systems or {})}
    fixed = {name: weight_array(rec, sims.facets, w) for name, w in named.items()}
    per_relation: dict[str, dict[int, dict]] = {rel: {} for rel in partners}
    folds = []
    for k in range(options.folds):
        test = {q for q, f in fold_of.items() if f == k}
        train = set(fold_of) - test
        fold_options, inner = options, {}
        if options.l2 is None:
            l2, inner = choose_l2(sims, table, options, train)
            fold_options = replace(options, l2=l2)
        learned = fit_weights(sims, table, fold_options, cities=train)
        arrays = {"learned (this fold)": np.array([learned[f] for f in sims.facets], dtype=np.float32), **fixed}
        scored_all = score_queries(sims, {q: p for q, p in table.items() if q in test}, arrays, ks)
        for rel, rel_table in partners.items():
            sub = {q: p for q, p in rel_table.items() if q in test}
            same = all(table[q] == p for q, p in sub.items())  # the relation's partners are all of them
            per_relation[rel].update({q: scored_all[q] for q in sub} if same else score_queries(sims, sub, arrays, ks))
        folds.append({"fold": k + 1, "n_train_cities": len(train), "n_test_queries": len(test), "weights": learned,
                      "l2": fold_options.l2, "inner_mrr_by_l2": {str(a): b for a, b in inner.items()},
                      "metrics": summarise(per_relation["all"], test)})
    relations = {rel: {"n_queries": len(partners[rel]), "metrics": summarise(scored, partners[rel])}
                 for rel, scored in sorted(per_relation.items(), key=lambda kv: (kv[0] != "all", kv[0]))}
    return {"folds": folds, "relations": relations, "ks": list(ks), "pool": int(len(sims.pool))}


@dataclass
class FitReport:
    """What `fit-weights` returns: the weights fitted on all pairs, the cross-validated figures,
    and what went in (for the preset file and the printed report)."""

    weights: dict[str, float]
    default_weights: dict[str, float]
    cv: dict
    labels: dict
    options: FitOptions
    unresolved: list[str] = field(default_factory=list)

    def preset(self, name: str, description: str, command: str, notes=()) -> dict:
        silent = self.labels.get("facets_without_signal", [])
        notes = list(notes) + ([f"no labelled pair tells {', '.join(silent)} apart (no values in the pool or no "
                                f"difference between partners and non-partners): the weight stays at the prior's "
                                f"share and changes no ranking today"] if silent else [])
        return {
            "name": name, "description": description, "kind": "fitted", "notes": notes,
            "weights": {f: round(w, 4) for f, w in self.weights.items()},
            "made": {"data": self.labels, "command": command,
                     "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
                     "facets_at_fit": list(self.weights),
                     "options": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(self.options).items()}},
            "figures": {"ks": self.cv["ks"], "pool": self.cv["pool"], "default_weights": self.default_weights,
                        "relations": self.cv["relations"],
                        "folds": self.cv["folds"]},
        }


def fit_report(recommender, pairs: pd.DataFrame, ks=(1, 5, 10), options: FitOptions | None = None,
               filters: TwinFilters | None = None, systems: dict[str, dict] | None = None) -> FitReport:
    """Fit weights on labelled pairs (twinning-programme pairs held out), cross-validated."""
    options = options or FitOptions()
    fit_pairs, held = split_held_out(pairs)
    partners, unresolved = collect_partners(recommender, fit_pairs)
    if not partners.get("all"):
        raise ConfigError("No labelled pair resolved to two cities: nothing to fit.")
    sims = FacetSimilarities(recommender, filters)
    cv = cross_validate(sims, partners, ks, options, systems)
    if options.l2 is None:
        options = replace(options, l2=choose_l2(sims, partners["all"], options)[0])
    signal: set[str] = set()
    weights = fit_weights(sims, partners["all"], options, signal=signal)
    sources = fit_pairs.get("source", pd.Series(dtype=str)).fillna("").astype(str)
    labels = {"pairs": int(len(fit_pairs)), "query_cities": len(partners["all"]),
              "held_out_twinning_pairs": int(len(held)),
              "facets_without_signal": [f for f in sims.facets if f not in signal and f not in options.exclude_facets],
              "relations": {rel: len(t) for rel, t in partners.items() if rel != "all"},
              "sources": sorted({s.split(" com_group_name=")[0].split(" case_id=")[0] for s in sources if s})[:20]}
    return FitReport(weights, recommender.weights(None), cv, labels, options, unresolved)


def chosen_preset(recommender, pairs: pd.DataFrame, name: str, description: str, weights: dict[str, float],
                  zero=(), command: str = "", notes=(), ks=(1, 5, 10), systems: dict[str, dict] | None = None,
                  based_on: str | None = None) -> dict:
    """A preset whose weights are a stated choice, not a fit (where no labels of its relation
    exist): `weights` with the `zero` facets set to 0, scored (no fitting, so no folds) against
    the given pairs beside the default weights and the baselines (twinning pairs held out)."""
    from .evaluate import evaluate_twins

    facets = list(recommender.featurizer.facet_slices_)
    unknown = [f for f in list(weights) + list(zero) if f not in facets]
    if unknown:
        raise ConfigError(f"Unknown facet '{unknown[0]}'. Valid: {', '.join(facets)}.")
    chosen = recommender.weights({f: (0.0 if f in zero else float(weights.get(f, 0.0))) for f in facets})
    fit_pairs, held = split_held_out(pairs)
    label = f"preset {name}"
    report = evaluate_twins(recommender, fit_pairs, ks, systems={label: chosen, **(systems or {})})
    relations = {rel: {"n_queries": b["n_queries"],
                       "metrics": {label: b["metrics"][label], **{k: v for k, v in b["metrics"].items() if k != label}}}
                 for rel, b in report["relations"].items()}
    return {
        "name": name, "description": description, "kind": "chosen", "notes": list(notes),
        "weights": {f: round(w, 4) for f, w in chosen.items()},
        "made": {"data": {"pairs": int(len(fit_pairs)), "query_cities": report["relations"].get("all", {}).get("n_queries", 0),
                          "held_out_twinning_pairs": int(len(held))},
                 "command": command, "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
                 "based_on": based_on, "zeroed": list(zero), "facets_at_fit": facets},
        "figures": {"ks": list(ks), "pool": report["pool"], "default_weights": recommender.weights(None),
                    "relations": relations, "folds": []},
    }


# ---------------------------------------------------------------------------- presets
def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(name).strip().lower()).strip("-")


def _preset_files() -> dict[str, object]:
    folder = resources.files("matcher").joinpath(PRESET_DIR)
    return {Path(p.name).stem: p for p in folder.iterdir() if p.name.endswith(".json")} if folder.is_dir() else {}


def available_presets() -> list[str]:
    """Names of the shipped weight presets."""
    return sorted(_preset_files())


def preset_info(name: str) -> dict:
    """The whole preset file: name, description, kind (fitted / chosen), weights, how it was made
    and its figures."""
    files = _preset_files()
    slug = _slug(name)
    if slug not in files:
        raise ConfigError(f"Unknown preset '{name}'. Valid: {', '.join(sorted(files)) or '(none shipped)'}.")
    return json.loads(files[slug].read_text(encoding="utf-8"))


def resolve_preset(preset: dict, facets) -> tuple[dict[str, float], list[str]]:
    """A preset's weights over the given facet names: a facet the preset names but the registry
    lacks is an error; a registry facet the preset lacks gets 0 (and a note says so)."""
    facets = list(facets)
    weights = preset.get("weights") or {}
    unknown = [f for f in weights if f not in facets]
    if unknown:
        raise ConfigError(f"Preset '{preset.get('name')}' weights facet(s) {', '.join(map(repr, unknown))} that the "
                          f"facet registry does not have. Valid facets: {', '.join(facets)}. Refit it with "
                          f"`matcher fit-weights` or edit the preset.")
    out = {f: float(weights.get(f, 0.0)) for f in facets}
    if not any(v > 0 for v in out.values()):
        raise ConfigError(f"Preset '{preset.get('name')}' gives every facet of the registry weight 0.")
    missing = [f for f in facets if f not in weights]
    notes = [f"preset '{preset.get('name')}' has no weight for {', '.join(missing)} (made before "
             f"{'that facet' if len(missing) == 1 else 'those facets'} existed): weight 0"] if missing else []
    return out, notes


def load_preset(name: str, facets=None) -> dict[str, float]:
    """The weights of a named preset over the registry's facets (default: matcher.facets.FACETS),
    ready for `recommend(weights=...)`."""
    if facets is None:
        from .facets import FACETS
        facets = [f.name for f in FACETS]
    return resolve_preset(preset_info(name), facets)[0]


def preset_notes(name: str, facets=None) -> list[str]:
    if facets is None:
        from .facets import FACETS
        facets = [f.name for f in FACETS]
    return resolve_preset(preset_info(name), facets)[1]


def save_preset(preset: dict, path: str | Path | None = None) -> Path:
    """Write a preset file (default: the package's presets folder, as `<slug of name>.json`)."""
    from .files import atomic_write_json

    target = Path(path) if path else Path(__file__).resolve().parent / PRESET_DIR / f"{_slug(preset['name'])}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(target, preset)
    return target
