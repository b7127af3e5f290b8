"""The facet registry: every facet carries its columns, block, weight, label, help and wording;
and adding a facet is one registry entry."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from matcher.builds import twins_in_memory
from matcher.facets import FACETS, Facet, Pair, has_value
from matcher.featurizer import ProfileFeaturizer
from matcher.features import MultiHot
from matcher.schema import COLUMN_BY_NAME, profile_from_dict
from matcher.settings import DEFAULT_SETTINGS
from matcher.vocab import vocabularies

from .fakes import FakeEncoder

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def full_pair():
    """Two profiles with every facet known, in survey wording, validated like any input."""
    v = vocabularies()
    common = {"country_code": "DE", "languages": ["de"], "maturity": "developing", "com_commitments": ["CoM2030"],
              "target_2030_type": "absolute", "emission_share_transport": 0.4, "actions_n_transport": 5,
              "land_share_green_urban": 10.0}
    a = profile_from_dict({**common, "name": "Asker town", "population": 120_000, "lat": 52.5, "lon": 13.4,
                           "net_zero_target_year": 2035, "barriers": list(v["barriers"][:2]),
                           "priority_sectors": list(v["priority_sectors"][:2]), "co_benefits": list(v["co_benefits"][:2]),
                           "funding_gaps": list(v["funding_gaps"][:2]), "narrative": "heat pumps in social housing",
                           "target_2030_reduction_pct": 40, "neutrality_target_year": 2050, "emissions_per_capita_t": 4.2,
                           "emissions_year": 2018, "emission_share_residential": 0.6, "actions_n_residential": 12,
                           "progress_per_capita_pct": -14.0, "progress_baseline_year": 2005, "coldest_month_c": 0.5,
                           "warmest_month_c": 19.0, "land_share_agricultural": 40.0})
    b = profile_from_dict({**common, "name": "Peer town", "population": 300_000, "lat": 51.3, "lon": 12.4,
                           "net_zero_target_year": 2040, "barriers": list(v["barriers"][1:3]),
                           "priority_sectors": list(v["priority_sectors"][1:3]), "co_benefits": list(v["co_benefits"][1:3]),
                           "funding_gaps": list(v["funding_gaps"][1:3]), "narrative": "district heating and housing",
                           "target_2030_reduction_pct": 55, "neutrality_target_year": 2030, "emissions_per_capita_t": 3.1,
                           "emissions_year": 2019, "emission_share_residential": 0.3, "actions_n_residential": 4,
                           "progress_per_capita_pct": -38.0, "progress_baseline_year": 2008, "coldest_month_c": -2.0,
                           "warmest_month_c": 21.0, "land_share_agricultural": 20.0,
                           "com_commitments": ["CoM2030", "CoM2050"]})
    return pd.concat([a, b], ignore_index=True)


@pytest.mark.parametrize("facet", FACETS, ids=[f.name for f in FACETS])
def test_every_facet_is_complete_and_speaks_the_users_words(facet, full_pair):
    assert facet.label and "_" not in facet.label and facet.label[0].isupper()
    assert len(facet.help) > 10 and facet.unknown and facet.default_weight > 0
    assert all(c in COLUMN_BY_NAME for c in facet.columns)
    assert facet.kernel(DEFAULT_SETTINGS, FakeEncoder())
    assert f"`{facet.name}`" in README
    asker, peer = full_pair.to_dict("records")
    assert facet.known(asker) and facet.known(peer)
    wording = facet.describe(Pair(asker, peer, 0.5))
    assert wording and "None" not in wording and "nan" not in wording.split()


@pytest.mark.parametrize("facet", FACETS, ids=[f.name for f in FACETS])
def test_every_facet_block_is_a_unit_similarity(facet, full_pair):
    block = facet.block(DEFAULT_SETTINGS, FakeEncoder()).fit(None)
    X = block.transform(full_pair[list(facet.columns)])
    assert np.allclose(np.linalg.norm(X, axis=1), 1, atol=1e-5)  # known on both: unit blocks
    assert 0 < float(X[0] @ X[1]) < 1 + 1e-6  # alike in part: a similarity strictly above 0
    unknown = block.transform(full_pair[list(facet.columns)].iloc[:1].map(lambda v: [] if isinstance(v, list) else None))
    assert not unknown.any()  # unknown: a zero block, so the facet is not compared


def test_known_means_every_column_has_a_value():
    size = next(f for f in FACETS if f.name == "size")
    assert size.known({"population": 1000}) and not size.known({"population": None})
    narrative = next(f for f in FACETS if f.name == "narrative")
    assert narrative.known({"narrative": None}, theme="heat pumps")  # a theme stands in for the asker's text
    assert not has_value([]) and has_value(["x"]) and not has_value(float("nan"))


# ---------------------------------------------------------------------------- adding a facet
def _shared_networks(p: Pair) -> str:
    shared = [n for n in p.asker["networks"] if n in p.peer["networks"]]
    return ("shared networks: " + "; ".join(shared)) if shared else "no network in common"


def test_a_new_facet_is_one_registry_entry(curated_profiles):
    """The whole change needed for a new facet: the entry below (its block, a MultiHot, exists)."""
    networks = tuple(sorted({n for v in curated_profiles["networks"] for n in v}))
    NETWORKS = Facet(
        "networks", ("networks",), default_weight=1.0, label="Networks", unknown="networks",
        help="city networks and programmes both belong to",
        block=lambda settings, encoder: MultiHot(vocabulary=networks),
        kernel=lambda settings, encoder: "shared networks / sqrt(networks of each)",
        describe=_shared_networks)
    facets = FACETS + (NETWORKS,)

    featurizer = ProfileFeaturizer(FakeEncoder(), facets=facets).fit()
    assert "networks" in featurizer.facet_slices_ and featurizer.default_weights["networks"] == 1.0
    rec = twins_in_memory(curated_profiles, FakeEncoder(), facets=facets)
    only_networks = {f.name: 0.0 for f in FACETS} | {"networks": 1.0}
    result = rec.recommend("Glasgow", k=5, weights=only_networks)
    asker_networks = set(rec.profiles.iloc[rec.resolve("Glasgow")]["networks"])
    for m in result.matches:
        term = next(t for t in m.explanation if t.name == "networks")
        assert term.label == "Networks" and term.detail.startswith("shared networks: ")
        assert abs(sum(t.contribution for t in m.explanation) - m.score) < 1e-6
        peer_networks = set(rec.profiles.iloc[rec.resolve(m.city_id)]["networks"])
        assert asker_networks & peer_networks  # ranked by the new facet alone: every twin shares one
    with pytest.raises(Exception, match="Unknown facet 'networks'"):
        twins_in_memory(curated_profiles.head(30), FakeEncoder()).recommend("Glasgow", weights={"networks": 1})
