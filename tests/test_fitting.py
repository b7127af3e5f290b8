"""Facet weights fitted on labelled pairs (matcher.fitting), and weight presets."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from matcher.errors import ConfigError
from matcher.evaluate import FacetSimilarities, load_labelled_pairs
from matcher.facets import FACETS
from matcher.fitting import (FitOptions, available_presets, cross_validate, derived_pairs, fit_weights, load_preset,
                             preset_info, resolve_preset, split_held_out)
from matcher.scoring import normalise_weights
from matcher.settings import default_data_dir

PLANTED = {"alpha": 0.6, "beta": 0.3, "gamma": 0.1, "delta": 0.0}


class _Featurizer:
    def __init__(self, facets, dim):
        self.facet_slices_ = {f: slice(i * dim, (i + 1) * dim) for i, f in enumerate(facets)}
        self.default_weights = {f: 1.0 for f in facets}


class SyntheticRecommender:
    """What FacetSimilarities reads from a TwinRecommender: unit-norm random facet blocks, so a
    pair's facet similarities are random cosines; every city is a candidate."""

    def __init__(self, n=700, dim=6, seed=0):
        rng = np.random.default_rng(seed)
        self.featurizer = _Featurizer(list(PLANTED), dim)
        blocks = [rng.normal(size=(n, dim)) for _ in PLANTED]
        self.X = np.concatenate([b / np.linalg.norm(b, axis=1, keepdims=True) for b in blocks], axis=1)
        self.X = self.X.astype(np.float32)
        self.profiles = pd.DataFrame({"lat": rng.uniform(40, 60, n), "lon": rng.uniform(-5, 25, n),
                                      "country_code": rng.choice(["DE", "FR", "IT", "ES"], n)})

    def weights(self, weights=None):
        return normalise_weights(weights, self.featurizer.default_weights)

    def vectors(self, rows):
        return self.X[np.asarray(rows, dtype=np.int64)]

    def candidate_mask(self, filters, asker, row):
        mask = np.ones(len(self.X), dtype=bool)
        if row is not None:
            mask[row] = False
        return mask


def planted_partners(rec, n_queries=240, per_query=2, noise=0.05, seed=1):
    """Each query's partners: the best candidates by the planted weighted score (plus noise)."""
    rng = np.random.default_rng(seed)
    w = np.array(list(PLANTED.values()))
    sims = FacetSimilarities(rec)
    table: dict[int, set[int]] = {}
    for q in rng.choice(len(rec.X), n_queries, replace=False):
        q = int(q)
        score = sims.of([q])[0] @ w + noise * rng.normal(size=len(sims.pool))
        score[q] = -np.inf
        for p in np.argsort(-score)[:per_query]:
            table.setdefault(q, set()).add(int(p))
            table.setdefault(int(p), set()).add(q)
    return sims, table


def test_fit_recovers_planted_weights_and_beats_defaults_on_held_out_queries():
    rec = SyntheticRecommender()
    sims, table = planted_partners(rec)
    fitted = fit_weights(sims, table, FitOptions(seed=0))
    assert all(v >= 0 for v in fitted.values())
    a, b = np.array([fitted[f] for f in PLANTED]), np.array(list(PLANTED.values()))
    cosine = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    assert cosine > 0.97, fitted
    assert fitted["alpha"] > fitted["beta"] > fitted["gamma"] and fitted["delta"] < 0.05

    report = cross_validate(sims, {"all": table}, ks=(1, 10), options=FitOptions(folds=4, seed=0))
    overall = report["relations"]["all"]["metrics"]
    learned, default = overall["learned (this fold)"], overall["recommender"]
    assert learned["hit@10"] > default["hit@10"] + 0.1 and learned["mrr"] > default["mrr"]
    assert learned["mrr"] > 10 * overall["random (expected)"]["mrr"]
    assert len(report["folds"]) == 4 and sum(f["n_test_queries"] for f in report["folds"]) == len(table)


def test_cross_validation_never_trains_on_a_pair_touching_a_test_city(monkeypatch):
    import matcher.fitting as fitting

    rec = SyntheticRecommender(n=200)
    sims, table = planted_partners(rec, n_queries=60)
    seen = []
    real = fitting.training_differences

    def spy(sims_, table_, queries, allowed, *args, **kwargs):
        seen.append((set(queries), set(allowed)))
        return real(sims_, table_, queries, allowed, *args, **kwargs)

    monkeypatch.setattr(fitting, "training_differences", spy)
    report = cross_validate(sims, {"all": table}, ks=(1,), options=FitOptions(folds=3, seed=0, l2=0.01))
    assert len(seen) == 3
    tested = [set(table) - allowed for _, allowed in seen]
    assert all(queries <= allowed for queries, allowed in seen)
    assert set().union(*tested) == set(table) and sum(map(len, tested)) == len(table)  # a partition
    assert report["folds"][0]["n_train_cities"] == len(seen[0][1])

    # The penalty chosen by an inner cross-validation sees only the outer fold's training cities.
    seen.clear()
    grid = (0.001, 0.1)
    cross_validate(sims, {"all": table}, ks=(1,), options=FitOptions(folds=3, seed=0, l2_grid=grid))
    per_fold = 1 + 3 * len(grid)  # inner fits (3 inner folds per penalty), then the fold's fit
    assert len(seen) == 3 * per_fold
    for f in range(3):
        calls = seen[f * per_fold:(f + 1) * per_fold]
        outer = calls[-1][1]
        assert all(allowed < outer for _, allowed in calls[:-1])


def test_excluded_facets_stay_at_zero():
    rec = SyntheticRecommender(n=300)
    sims, table = planted_partners(rec, n_queries=80)
    fitted = fit_weights(sims, table, FitOptions(exclude_facets=("alpha",)))
    assert fitted["alpha"] == 0.0 and fitted["beta"] > fitted["gamma"]
    with pytest.raises(ConfigError, match="Valid: alpha, beta"):
        fit_weights(sims, table, FitOptions(exclude_facets=("nope",)))


# ---------------------------------------------------------------------------- presets
def test_shipped_presets_load_over_the_registry_and_carry_their_figures():
    names = available_presets()
    assert {"peers", "learn-from-a-pilot", "mentor"} <= set(names)
    facets = [f.name for f in FACETS]
    for name in names:
        info = preset_info(name)
        weights = load_preset(name)
        assert list(weights) == facets and all(v >= 0 for v in weights.values()) and sum(weights.values()) > 0
        assert info["kind"] in ("fitted", "chosen") and info["description"]
        assert {"data", "command", "date"} <= set(info["made"])
        assert info["figures"]["relations"], name
        for block in info["figures"]["relations"].values():
            assert {"recommender", "random (expected)", "nearest by distance"} <= set(block["metrics"])
    assert load_preset("Learn from a pilot") == load_preset("learn-from-a-pilot")


def test_unknown_preset_and_unknown_facet_are_clear_errors():
    with pytest.raises(ConfigError, match="Unknown preset 'nope'. Valid: .*peers"):
        load_preset("nope")
    with pytest.raises(ConfigError, match="'colour'.*Valid facets: size, target"):
        resolve_preset({"name": "x", "weights": {"size": 1, "colour": 2}}, ["size", "target"])
    weights, notes = resolve_preset({"name": "x", "weights": {"size": 1}}, ["size", "target"])
    assert weights == {"size": 1.0, "target": 0.0} and "target" in notes[0] and "weight 0" in notes[0]
    with pytest.raises(ConfigError, match="every facet"):
        resolve_preset({"name": "x", "weights": {"size": 0}}, ["size"])


def test_cli_preset_reaches_recommend(monkeypatch, capsys, fake_recommender):
    import matcher.cli as cli

    class Opened:
        twins = fake_recommender

    seen = {}
    real = fake_recommender.recommend

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(cli, "_open", lambda args, **kw: Opened())
    monkeypatch.setattr(fake_recommender, "recommend", spy)
    assert cli.main(["twins", "Lyon", "--preset", "peers", "--weight", "size=0.5", "--k", "2"]) == 0
    expected = {**load_preset("peers", fake_recommender.featurizer.facet_slices_), "size": 0.5}
    assert seen["weights"] == expected
    assert cli.main(["twins", "Lyon", "--preset", "nope"]) == 2
    assert "Unknown preset 'nope'" in capsys.readouterr().err


# ---------------------------------------------------------------------------- labels
def test_derived_pairs_keep_their_provenance(shipped_profiles):
    from matcher.case_studies import load_case_studies

    groups = derived_pairs("covenant-groups", shipped_profiles)
    assert len(groups) > 1000 and (groups["country_code"] == groups["peer_country_code"]).all()
    assert groups["source"].str.startswith("city_profiles/cities.parquet com_group_name=").all()
    cases = load_case_studies(default_data_dir() / "case_studies" / "case_studies.parquet")
    pilots = derived_pairs("pilot-consortia", shipped_profiles, cases)
    assert len(pilots) > 50 and pilots["source"].str.contains("nzc_pilot_cities").all()
    refs = derived_pairs("case-references", shipped_profiles, cases)
    assert not refs["source"].str.contains("twin").any()  # twinning case studies are the held-out test
    with pytest.raises(ConfigError, match="Valid: covenant-groups"):
        derived_pairs("web-scrape", shipped_profiles)


def test_twinning_programme_pairs_are_held_out():
    pairs = load_labelled_pairs(default_data_dir() / "labelled_pairs" / "twins.csv")
    fit, held = split_held_out(pairs)
    assert len(held) >= 1 and held["relation"].str.contains("Twin").all()
    assert not fit["relation"].str.contains("twin", case=False).any() and len(fit) + len(held) == len(pairs)


def test_preset_files_are_valid_json_with_weights_over_known_facets():
    from importlib import resources

    folder = resources.files("matcher").joinpath("presets")
    for path in folder.iterdir():
        if path.name.endswith(".json"):
            data = json.loads(path.read_text(encoding="utf-8"))
            assert set(data["weights"]) <= {f.name for f in FACETS}, path.name
