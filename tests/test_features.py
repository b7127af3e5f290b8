"""Facet blocks: each block's inner product is the similarity it claims to be."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from matcher.facets import FACETS
from matcher.featurizer import ProfileFeaturizer
from matcher.features import GeoRBF, MultiHot, OrdinalRBF, ScalarRBF, haversine_km
from matcher.features.kernels import rbf
from matcher.vocab import MATURITY_LEVELS

from .fakes import FakeEncoder


def test_size_block_is_an_rbf_kernel_on_log_population():
    block = ScalarRBF(length_scale=1.04, low=1_000, high=50_000_000, log=True).fit()
    rng = np.random.default_rng(1)
    a = np.exp(rng.uniform(np.log(2_000), np.log(3e7), 300))
    b = np.exp(rng.uniform(np.log(2_000), np.log(3e7), 300))
    sims = (block.transform(pd.DataFrame({"p": a})) * block.transform(pd.DataFrame({"p": b}))).sum(1)
    exact = np.exp(-np.log(a / b) ** 2 / (2 * 1.04**2))
    assert np.abs(sims - exact).max() < 2e-3
    # The stated scale: a factor of 2 scores about 0.80.
    two = block.transform(pd.DataFrame({"p": [100_000, 200_000]}))
    assert float(two[0] @ two[1]) == pytest.approx(0.80, abs=0.01)


def test_missing_scalar_gives_zero_row():
    block = ScalarRBF(length_scale=7, low=2020, high=2070).fit()
    out = block.transform(pd.DataFrame({"y": pd.array([2030, None], dtype="Int64")}))
    assert np.linalg.norm(out[0]) == pytest.approx(1.0, abs=1e-6)
    assert not out[1].any()


def test_geography_block_follows_great_circle_distance():
    block = GeoRBF(length_scale_km=400).fit()
    rng = np.random.default_rng(2)
    lat1, lon1 = rng.uniform(30, 70, 400), rng.uniform(-25, 45, 400)
    lat2 = np.clip(lat1 + rng.normal(0, 4, 400), 26, 72)
    lon2 = np.clip(lon1 + rng.normal(0, 4, 400), -34, 54)
    A = block.transform(pd.DataFrame({"lat": lat1, "lon": lon1}))
    B = block.transform(pd.DataFrame({"lat": lat2, "lon": lon2}))
    exact = np.array([rbf(haversine_km(*p), 400) for p in zip(lat1, lon1, lat2, lon2)])
    assert np.abs((A * B).sum(1) - exact).max() < 0.02
    # Two European capitals far apart are not "similar" just for being in Europe.
    far = block.transform(pd.DataFrame({"lat": [38.72, 59.33], "lon": [-9.14, 18.07]}))  # Lisbon, Stockholm
    assert float(far[0] @ far[1]) < 0.01


def test_ordinal_block_is_exact_and_ordered():
    block = OrdinalRBF(levels=MATURITY_LEVELS, length_scale=0.8).fit()
    X = block.transform(pd.DataFrame({"m": list(MATURITY_LEVELS)}))
    gram = X @ X.T
    assert gram[0, 1] == pytest.approx(np.exp(-1 / (2 * 0.64)), abs=1e-6)
    assert gram[0, 2] < gram[0, 1] < gram[0, 0]


def test_multihot_cosine_and_parents():
    block = MultiHot(vocabulary=("a", "b", "c", "P"), parents={"c": "P"}).fit(None)
    X = block.transform(pd.DataFrame({"x": [["a", "b"], ["a"], ["c"], ["P"], []]}))
    assert float(X[0] @ X[1]) == pytest.approx(1 / np.sqrt(2))
    assert float(X[2] @ X[3]) == pytest.approx(1 / np.sqrt(2))  # related through the parent label
    assert not X[4].any()


def test_featurizer_blocks_are_unit_norm_and_named(curated_profiles):
    featurizer = ProfileFeaturizer(FakeEncoder()).fit(curated_profiles)
    X = featurizer.transform(curated_profiles.head(50))
    for facet, sl in featurizer.facet_slices_.items():
        norms = np.linalg.norm(X[:, sl], axis=1)
        assert np.all((np.abs(norms - 1) < 1e-5) | (norms < 1e-6)), facet
    names = featurizer.get_feature_names_out()
    assert len(names) == X.shape[1]
    assert "barriers__Lack of know-how and skills" in set(names)
    assert [n.split("__")[0] for n in names[:: max(1, len(names) // 50)]][0] == FACETS[0].name
    # Unknown facets are zero blocks: a row without a narrative has an all-zero narrative block.
    no_text = curated_profiles["narrative"].isna().to_numpy()[:50]
    assert not X[no_text][:, featurizer.facet_slices_["narrative"]].any()


@pytest.mark.parametrize("block", [ScalarRBF(), OrdinalRBF(levels=("a", "b")), GeoRBF(), MultiHot()])
def test_blocks_follow_the_sklearn_contract(block):
    params = block.get_params()
    twin = clone(block)
    assert twin.get_params() == params
    assert not hasattr(twin, "classes_") and not hasattr(twin, "centers_")  # no state set in __init__
