"""The Streamlit app through streamlit.testing.v1.AppTest, on the shipped data and the real
model (index built once per session in a temporary folder)."""
from __future__ import annotations

import io

import pandas as pd
import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from .conftest import APP

pytestmark = pytest.mark.integration


@pytest.fixture
def downloads(monkeypatch):
    """Capture what every st.download_button would send (AppTest keeps no file contents)."""
    captured: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def keep(self, path_or_data, mimetype, kind, filename=None):
        if isinstance(path_or_data, bytes) and filename:
            captured[filename] = path_or_data
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", keep)
    return captured




def _shown(at) -> pd.DataFrame:
    return at.dataframe(key="twins_table").value


def test_find_twins_starts_with_a_ranked_explained_table(app):
    table = _shown(app)
    assert app.title[0].value == "Find twin cities"
    assert len(table) == 10 and list(table["rank"]) == list(range(1, 11))
    assert table["score"].is_monotonic_decreasing
    facet_cols = [c for c in table.columns if c not in ("rank", "city", "country", "score", "why")]
    assert ((table[facet_cols].sum(axis=1) - table["score"]).abs() < 1e-3).all()  # the terms add up
    assert app.get("vega_lite_chart") and app.get("deck_gl_json_chart")


def test_a_weight_change_reranks(app):
    before = list(_shown(app)["city"])
    for facet in ("size", "narrative", "sectors", "barriers"):
        app.slider(key=f"w_{facet}").set_value(0.0)
    app.slider(key="w_geography").set_value(3.0).run()
    after = list(_shown(app)["city"])
    assert after != before
    assert not app.exception


def test_filters_hold(app, real_recommender):
    app.multiselect(key="f_countries").set_value(["DE", "FR"])
    app.selectbox(key="f_band").set_value("large").run()
    table = _shown(app)
    assert len(table) and set(table["country"]) <= {"DE", "FR"}
    rows = [real_recommender.resolve(c, cc) for c, cc in zip(table["city"], table["country"])]
    pops = real_recommender.profiles.loc[rows, "population"].astype(float)
    assert ((pops >= 250_000) & (pops < 1_000_000)).all()
    app.checkbox(key="f_exclude_country").check().run()
    assert "GB" not in set(_shown(app)["country"])


def test_unknown_typed_city_shows_a_readable_error(app):
    app.text_input(key="twins_typed").input("Miltn Keynes").run()
    assert not app.exception
    assert any("Unknown city 'Miltn Keynes'" in e.value and "Milton Keynes" in e.value for e in app.error)


def test_csv_download_holds_the_shown_rows(real_recommender, real_index_dir, monkeypatch, downloads):
    monkeypatch.setenv("MATCHER_INDEX_DIR", str(real_index_dir))
    at = AppTest.from_file(APP, default_timeout=600).run()
    shown = _shown(at)
    csv_name = next(name for name in downloads if name.endswith(".csv"))
    exported = pd.read_csv(io.BytesIO(downloads[csv_name]))
    assert list(exported["city"]) == list(shown["city"])
    assert list(exported["score"].round(4)) == list(shown["score"].round(4))


def test_case_studies_page(app):
    app.sidebar.radio(key="page").set_value("Case studies").run()
    assert not app.exception
    text = " ".join(m.value for m in app.markdown)
    assert "Malmö – Green Bond framework" in text  # the default query is "green bonds"
    app.text_input(key="case_query").input("district heating").run()
    app.multiselect(key="case_sectors").set_value(["energy systems"]).run()
    titles = [m.value for m in app.markdown if m.value.startswith("**")]
    assert titles and not app.exception


@pytest.mark.parametrize("page", ["Cohorts", "Peer reviewers", "Data"])
def test_other_pages_start(app, page):
    app.sidebar.radio(key="page").set_value(page).run()
    assert not app.exception
    assert app.title[0].value


def test_cohorts_page_plans_within_the_bounds(app):
    app.sidebar.radio(key="page").set_value("Cohorts").run()
    app.slider(key="co_seconds").set_value(3)
    app.button(key="co_go").click().run()
    assert not app.exception and not app.error
    members = app.dataframe[0].value  # the first cohort's members
    assert 7 <= len(members) <= 12
    labels = [e.label for e in app.expander]
    sizes = [int(label.split(": ")[1].split(" ")[0]) for label in labels]
    assert sum(sizes) == 28 and all(7 <= s <= 12 for s in sizes)  # the 28 Key Cities
    assert [m.label for m in app.metric][:3] == ["Within-cohort similarity", "Upper bound", "Gap to the bound"]


def test_cohorts_page_explains_infeasible_rules(app):
    app.sidebar.radio(key="page").set_value("Cohorts").run()
    app.slider(key="co_size").set_value((9, 9))
    app.button(key="co_go").click().run()
    assert not app.exception
    message = " ".join(e.value for e in app.error)
    assert "cannot all hold" in message and "28" in message


def test_reviewers_page_assigns_and_explains_infeasible_rules(app, real_recommender):
    app.sidebar.radio(key="page").set_value("Peer reviewers").run()
    app.button(key="rv_go").click().run()
    assert not app.exception and not app.error
    table = app.dataframe[0].value
    key_cities = int(sum("Key Cities" in v for v in real_recommender.profiles["networks"]))
    assert len(table) == key_cities * 3 and (table["plan"] != table["reviewer"]).all()
    assert table.groupby("reviewer").size().max() <= 3
    app.checkbox(key="rv_no_same_country").check()  # every Key City is in GB: nobody is left to review
    app.button(key="rv_go").click().run()
    assert not app.exception
    message = " ".join(e.value for e in app.error)
    assert "cannot all hold" in message and "same-country" in message.replace("same country", "same-country")
