"""The board: a need meets offers, organisations, cities that have done it and case studies,
each match explained by terms that add up (issue 12). On SQLite and PostgreSQL."""
from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from benchmarks.bench_board import LABELLED, hit_rates, load_labelled
from matcher.case_studies import CASE_FILE
from matcher.io import shipped_profiles_path
from matcher.matcher import Matcher
from matcher.settings import default_data_dir
from matcher.workspace import add_organisation, create_post, hide_post, init_workspace
from tests.workspace_support import db_url, pg_server  # noqa: F401

from .fakes import FakeEncoder


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    (root / "city_profiles").mkdir()
    raw = pd.read_parquet(shipped_profiles_path())
    raw[raw["tier"] == "curated"].to_parquet(root / "city_profiles" / "cities.parquet")
    (root / "case_studies").mkdir()
    shutil.copy(default_data_dir() / CASE_FILE, root / CASE_FILE)
    return root


@pytest.fixture
def board(db_url, data_dir, tmp_path):  # noqa: F811
    ws, admin = init_workspace(db_url, admin_email="admin@example.org", admin_password="s3cret-pass",
                               data_dir=data_dir)
    m = Matcher.open(data_dir, tmp_path / "index", encoder=FakeEncoder(), workspace=ws)
    labelled = json.loads(LABELLED.read_text(encoding="utf-8"))
    posts, orgs = load_labelled(ws, admin, m.twins, labelled)
    return m, ws, admin, labelled, posts, orgs


def test_every_match_adds_up_and_the_expected_offer_comes_first(board):
    m, ws, admin, labelled, posts, orgs = board
    need = labelled["needs"][0]
    result = m.board_matches(posts[need["key"]], k=5)
    assert str(posts[need["offer"]]) in [x.id for x in result.posts.matches[:3]]  # (stand-in encoder here)
    assert all(x.id not in {str(posts[n["key"]]) for n in labelled["needs"]} for x in result.posts.matches)
    for kind in (result.posts, result.organisations, result.cities, result.case_studies):
        for x in kind.matches:
            assert abs(sum(t.contribution for t in x.explanation) - x.score) < 1e-9
    expected = next(x for x in result.posts.matches if x.id == str(posts[need["offer"]]))
    assert "shared tags: Built environment" in " ".join(expected.reasons) and expected.by == labelled["offers"][0]["city"]
    rates = hit_rates(m, labelled, posts, orgs)
    assert rates["offers"]["full score top-3"] >= 0.8 and rates["organisations"]["full score top-3"] >= 0.8
    assert rates["offers"]["full score top-3"] > rates["offers"]["random top-3 (expected)"]


def test_both_ways_hidden_posts_and_pending_organisations(board):
    m, ws, admin, labelled, posts, orgs = board
    need, offer = labelled["needs"][0], labelled["offers"][0]  # Milton Keynes needs what Utrecht offers
    mk = m.twins.profiles.at[m.twins.resolve(need["city"]), "city_id"]
    utrecht = m.twins.profiles.at[m.twins.resolve(offer["city"]), "city_id"]
    create_post(ws, "offer", "We can share our electric bus depot and charging plan.", admin, city_id=mk,
                tags=["Mobility and transport"])
    create_post(ws, "need", "We need an electric bus depot and a charging plan.", admin, city_id=utrecht,
                tags=["Mobility and transport"])
    top = next(x for x in m.board_matches(posts[need["key"]], k=50).posts.matches if x.id == str(posts[offer["key"]]))
    both = next(t for t in top.explanation if t.name == "both_ways")
    assert both.contribution > 0 and both.detail.startswith("you need what they offer and they need what you offer")
    hide_post(ws, posts[offer["key"]], admin, "test")
    assert str(posts[offer["key"]]) not in {x.id for x in m.board_matches(posts[need["key"]], k=50).posts.matches}
    pending = add_organisation(ws, "Heat Pump Procurement Helpers", "delivery_partner", admin,
                               sectors=["Built environment"], description="heat pumps for social housing")
    listed = {x.title for x in m.board_matches(posts[need["key"]], k=50).organisations.matches}
    assert pending.name not in listed and "Regional Energy Agency Network" in listed


def test_the_terminal_text_lists_each_kind_with_its_terms(board):
    """`matcher workspace board matches N` prints the matches (it printed "None")."""
    from matcher.present.text import board_matches_text

    m, ws, admin, labelled, posts, orgs = board
    result = m.board_matches(posts[labelled["needs"][0]["key"]], k=3)
    text = board_matches_text(result)
    assert text.startswith(f"Matches for post #{posts[labelled['needs'][0]['key']]}")
    for heading in ("Posts", "Organisations", "Cities that have done it"):
        assert f"\n{heading} (" in text
    top = result.posts.matches[0]
    assert top.title in text and f"score {top.score:.3f}" in text
