"""Twin recommendations on the shipped curated cities with a fake encoder (fast)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from matcher.errors import ConfigError, UnknownCityError
from matcher.facets import FACETS
from matcher.index import exact_search
from matcher.schema import validate_profiles
from matcher.builds import twins_in_memory
from matcher.twins import TwinFilters, TwinRecommender

from .fakes import FakeEncoder


def _exact_query(rec: TwinRecommender, row: int, weights) -> tuple[np.ndarray, np.ndarray]:
    """Independent reference: featurize everything again; X @ q is then the weighted sum of the
    block cosines (q = the row's vector, each facet block times its weight)."""
    X = rec.featurizer.transform(rec.profiles).astype(np.float64)
    w = rec.weights(weights)
    q = np.zeros(X.shape[1])
    for f, sl in rec.featurizer.facet_slices_.items():
        q[sl] = w[f] * X[row, sl]
    return X, q


def test_explanations_add_up_to_the_score(fake_recommender):
    result = fake_recommender.recommend("Milton Keynes", k=10)
    assert len(result.matches) == 10
    for m in result.matches:
        assert abs(sum(c.contribution for c in m.explanation) - m.score) < 1e-6
        assert {c.name for c in m.explanation} == set(fake_recommender.featurizer.facet_slices_)
        for c in m.explanation:
            assert c.contribution == pytest.approx(c.weight * c.similarity)
    scores = [m.score for m in result.matches]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("weights", [None, {"geography": 5, "size": 0.1}, {"barriers": 4, "narrative": 0}])
def test_weights_rerank_without_rebuild_and_match_exact_computation(fake_recommender, weights):
    rec = fake_recommender
    row = rec.resolve("Milton Keynes")
    result = rec.recommend("Milton Keynes", k=10, weights=weights)
    X, q = _exact_query(rec, row, weights)
    allowed = rec.candidate_mask(TwinFilters(), rec.profiles.iloc[row].to_dict(), row, False, [])
    top, top_scores = exact_search(q, X, 10, allowed)
    exact = X @ q
    got = [rec.lookup.row_of_id(m.city_id) for m in result.matches]
    assert np.allclose([m.score for m in result.matches], top_scores, atol=1e-5)
    assert set(got) == set(top) or np.allclose(sorted(exact[got]), sorted(exact[top]), atol=1e-5)


def test_weights_change_the_ranking(fake_recommender):
    only = lambda facet: {f.name: 0.0 for f in FACETS} | {facet: 1.0}  # noqa: E731
    near = fake_recommender.recommend("Milton Keynes", k=5, weights=only("geography"))
    size = fake_recommender.recommend("Milton Keynes", k=5, weights=only("size"))
    assert [m.city_id for m in near.matches] != [m.city_id for m in size.matches]
    km = [float(m.explanation[[c.name for c in m.explanation].index("geography")].detail.split(" km")[0].replace(",", ""))
          for m in near.matches]
    assert max(km) < 150  # geography-only twins of Milton Keynes are its neighbours


def test_filters_and_excludes_hold(fake_recommender):
    rec = fake_recommender
    result = rec.recommend("Lyon", k=15, filters=TwinFilters(countries=["DE", "AT"], size_band="large"))
    assert result.matches and all(m.country_code in ("DE", "AT") for m in result.matches)
    assert all(250_000 <= m.population < 1_000_000 for m in result.matches)
    result = rec.recommend("Lyon", k=15, filters=TwinFilters(languages=["it"], eu_mission=True))
    rows = [rec.lookup.row_of_id(m.city_id) for m in result.matches]
    assert all("it" in rec.profiles.at[r, "languages"] and rec.profiles.at[r, "eu_mission"] for r in rows)
    result = rec.recommend("Glasgow", k=20, filters=TwinFilters(networks=["Scottish Cities Alliance"]))
    members = rec.pool.rows_with("networks", {"Scottish Cities Alliance"}) & rec.pool.profiled
    assert len(result.matches) == int(members.sum()) - 1  # every other member of the alliance, none else
    result = rec.recommend("Lyon", k=20, exclude_same_country=True, exclude=["Barcelona", "Milano"])
    names = {m.name for m in result.matches}
    assert all(m.country_code != "FR" for m in result.matches)
    assert not names & {"Barcelona", "Milan", "Lyon"}


def test_profiled_only_is_the_default(shipped_profiles):
    sample = pd.concat([shipped_profiles[shipped_profiles["tier"] == "curated"].head(60),
                        shipped_profiles[shipped_profiles["tier"] == "universe"].head(200)])
    rec = twins_in_memory(sample.reset_index(drop=True), FakeEncoder())
    asker = sample.iloc[0]["city_id"]
    default = rec.recommend(asker, k=50)
    assert all(rec.profiles.at[rec.lookup.row_of_id(m.city_id), "has_climate_profile"] for m in default.matches)
    wide = rec.recommend(asker, k=250, filters=TwinFilters(profiled_only=False))
    assert any(not rec.profiles.at[rec.lookup.row_of_id(m.city_id), "has_climate_profile"] for m in wide.matches)


def test_planted_near_duplicate_comes_first(curated_profiles):
    base = curated_profiles[curated_profiles["name"] == "Milton Keynes"].iloc[0].to_dict()
    planted = dict(base, city_id="planted-mk", name="Planted Keynes", population=int(base["population"] * 1.05),
                   lat=base["lat"] + 0.05, lon=base["lon"] - 0.05, alternate_names=[], ascii_name=None,
                   geonameid=None)
    table = validate_profiles(pd.concat([curated_profiles, pd.DataFrame([planted])], ignore_index=True)
                              .drop(columns=["known_facets", "completeness"]))
    rec = twins_in_memory(table, FakeEncoder())
    assert rec.recommend("Milton Keynes", k=1).matches[0].city_id == "planted-mk"
    assert rec.recommend("planted-mk", k=1).matches[0].name == "Milton Keynes"


def test_unknown_facets_are_reported_not_invented(fake_recommender):
    result = fake_recommender.recommend("Milton Keynes", k=10)
    notes = " ".join(n for m in result.matches for n in m.not_compared)
    assert "not compared" in notes
    for m in result.matches:
        for c in m.explanation:
            if c.name == "target" and ("target year" in " ".join(m.not_compared)):
                assert c.contribution == 0


def test_mentor_mode_adds_an_explained_term(fake_recommender):
    result = fake_recommender.recommend("Thessaloniki", k=30, mentor=True)  # maturity is known for 4 cities only
    for m in result.matches:
        assert m.explanation[-1].name == "mentor"
        assert abs(sum(c.contribution for c in m.explanation) - m.score) < 1e-6
    assert any(m.explanation[-1].contribution > 0 for m in result.matches)
    ahead = [m for m in result.matches if "maturity" in m.explanation[-1].detail]
    assert ahead and all("vs your starting" in m.explanation[-1].detail for m in ahead)


def test_custom_profile_and_theme(fake_recommender):
    profile = {"name": "My town", "country_code": "DE", "population": 60_000, "lat": 51.0, "lon": 7.0,
               "languages": ["de"], "barriers": ["Lack of know-how and skills"],
               "priority_sectors": ["Built environment"], "narrative": "heat pumps in social housing"}
    result = fake_recommender.recommend(profile=profile, k=5, theme="district heating")
    assert result.asker["name"] == "My town" and len(result.matches) == 5
    assert any("narrative" == c.name and c.contribution != 0 for m in result.matches for c in m.explanation)


def test_bad_queries_raise_clear_errors(fake_recommender):
    with pytest.raises(UnknownCityError) as err:
        fake_recommender.recommend("Miltn Keynes")
    assert any("Milton Keynes" in s for s in err.value.suggestions)
    with pytest.raises(ConfigError, match="Unknown facet 'colour'"):
        fake_recommender.recommend("Lyon", weights={"colour": 1})
    with pytest.raises(ConfigError, match="size band"):
        fake_recommender.recommend("Lyon", filters=TwinFilters(size_band="huge"))


def test_pair_scores_agree_with_recommend(fake_recommender):
    rec = fake_recommender
    result = rec.recommend("Lyon", k=3)
    lyon = rec.resolve("Lyon")
    rows = [lyon] + [rec.lookup.row_of_id(m.city_id) for m in result.matches]
    S = rec.similarity_matrix(rows)
    assert np.allclose(S, S.T, atol=1e-6)
    for j, m in enumerate(result.matches, start=1):
        assert S[0, j] == pytest.approx(m.score, abs=1e-5)
        pair = rec.explain_pair(lyon, rows[j])
        assert pair.score == pytest.approx(m.score, abs=1e-9)
        assert [c.detail for c in pair.explanation] == [c.detail for c in m.explanation]


def test_huge_weights_do_not_overflow(fake_recommender):
    w = fake_recommender.weights({"size": 1e308, "narrative": 1e308})
    assert w["size"] == pytest.approx(0.5) and w["narrative"] == pytest.approx(0.5)
    result = fake_recommender.recommend("Lyon", k=5, weights={"size": 1e308, "narrative": 1e308})
    assert all(m.score > 0 for m in result.matches)
    scores = [m.score for m in result.matches]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) > 1


@pytest.mark.parametrize("k", ["5", 2.5, 0, -1, True, None.__class__])
def test_a_bad_k_is_a_library_error(fake_recommender, k):
    with pytest.raises(ConfigError, match="k must be"):
        fake_recommender.recommend("Lyon", k=k)


def test_unknown_filter_codes_are_named(fake_recommender):
    with pytest.raises(ConfigError, match="'XX' is not a known country code"):
        fake_recommender.recommend("Lyon", filters=TwinFilters(countries=["xx"]))
    with pytest.raises(ConfigError, match="'qq' is not a known language code"):
        fake_recommender.recommend("Lyon", filters=TwinFilters(languages=["QQ"]))
    assert fake_recommender.recommend("Lyon", k=3, filters=TwinFilters(countries=["de"])).matches  # case is folded


def test_every_match_says_what_it_rests_on(fake_recommender):
    result = fake_recommender.recommend("Milton Keynes", k=10)
    for m in result.matches:
        known_both = [t.name for t in m.explanation if t.detail]
        assert m.compared == known_both and m.evidence
        if set(m.compared) <= {"size", "geography", "languages"}:
            assert m.weak and m.evidence.startswith("weak: rests on")
        else:
            assert not m.weak and f"{len(m.compared)} of {len(m.explanation)} facets" in m.evidence
    place_only = fake_recommender.recommend(profile={"name": "Plain town", "country_code": "DE", "population": 40_000,
                                                     "lat": 50.1, "lon": 8.7}, k=3)
    assert place_only.matches and all(m.weak and m.evidence == "weak: rests on size, distance only"
                                      for m in place_only.matches)


def test_mentor_reasons_quote_the_measured_data(fake_recommender):
    """'Ahead' comes from the Covenant data where it exists, and the reason says the numbers."""
    rec = fake_recommender
    p = rec.profiles
    asker = p[p["progress_per_capita_pct"].notna() & (p["progress_per_capita_pct"] > -5)].iloc[0]
    result = rec.recommend(asker["city_id"], k=30, mentor=True)
    quoted = 0
    for m in result.matches:
        term = m.explanation[-1]
        assert term.name == "mentor" and abs(sum(t.contribution for t in m.explanation) - m.score) < 1e-9
        peer = p.iloc[rec.resolve(m.city_id)]
        if "cut emissions per inhabitant" in term.detail:
            quoted += 1
            assert f"{-peer['progress_per_capita_pct']:.0f}%" in term.detail
            assert peer["progress_per_capita_pct"] <= asker["progress_per_capita_pct"] - 5
    assert quoted >= 1


def test_mentor_says_when_nothing_is_known(fake_recommender):
    from matcher.mentor import Experience, mentor_term

    empty = {"name": "Blank", "city_id": "x"}
    term = mentor_term({"name": "Me"}, empty, 0.5, Experience())
    assert term.contribution == 0 and term.detail.startswith("not known whether ahead")


@pytest.mark.parametrize("asker_level, peer_level, ahead", [
    (None, "starting", False), (None, "developing", True), (None, "advanced", True),
    ("starting", "starting", False), ("starting", "developing", True), ("advanced", "developing", False)])
def test_a_starting_city_is_never_ahead_in_maturity(asker_level, peer_level, ahead):
    from matcher.mentor import Experience, mentor_term

    term = mentor_term({"name": "Me", "maturity": asker_level}, {"name": "Peer", "maturity": peer_level}, 0.5,
                       Experience())
    assert (f"maturity {peer_level}" in term.detail) is ahead and (term.contribution > 0) is ahead


def test_an_unknown_target_is_not_called_none():
    from matcher.mentor import Experience, mentor_term

    term = mentor_term({"name": "Me"}, {"name": "Peer", "net_zero_target_year": 2030}, 0.5, Experience())
    assert "climate target 2030 (your target: none on record)" in term.detail


def test_two_way_twins_are_symmetric_and_say_both_directions(fake_recommender):
    rec = fake_recommender
    result = rec.recommend("Lyon", k=8, two_way=True)
    assert result.mode == "two-way twins"
    lyon = rec.resolve("Lyon")
    for m in result.matches:
        term = m.explanation[-1]
        assert term.name == "two_way" and "can teach you:" in term.detail and "you can teach" in term.detail
        assert abs(sum(t.contribution for t in m.explanation) - m.score) < 1e-9
        other = rec.resolve(m.city_id)
        there, back = rec.explain_pair(lyon, other, two_way=True), rec.explain_pair(other, lyon, two_way=True)
        assert there.score == pytest.approx(m.score, abs=1e-6)
        assert back.score == pytest.approx(there.score, abs=1e-6)  # the same from either side
    with pytest.raises(ConfigError, match="not both"):
        rec.recommend("Lyon", mentor=True, two_way=True)
