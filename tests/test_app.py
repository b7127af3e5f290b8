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




def _table(at):
    """The twins table (its key names the asking city, so a ticked row never carries over)."""
    return next(d for d in at.dataframe if (d.key or "").startswith("twins_table"))


def _shown(at) -> pd.DataFrame:
    return _table(at).value


def _names(rows) -> dict[str, str]:
    """Country name -> code, for the rows shown (the app shows names, the library takes codes)."""
    from matcher.present.view import country_name

    return {country_name(c): c for c in rows}


def test_find_twins_starts_with_a_ranked_explained_table(app):
    table = _shown(app)
    assert app.title[0].value == "Find twin cities"
    assert len(table) == 10 and list(table.columns[:4]) == ["city", "country", "score", "why"]
    assert table["score"].is_monotonic_decreasing
    facet_cols = [c for c in table.columns if c not in ("city", "country", "score", "why", "evidence")]
    assert table["evidence"].str.contains("facets|rests on").all()  # what each match rests on
    assert ((table[facet_cols].sum(axis=1) - table["score"]).abs() < 1e-3).all()  # the terms add up
    assert len(app.get("vega_lite_chart")) == 2  # the explanation's bars and the map


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
    assert len(table) and set(table["country"]) <= {"Germany", "France"}
    codes = _names(["DE", "FR"])
    rows = [real_recommender.resolve(c, codes[cc]) for c, cc in zip(table["city"], table["country"])]
    pops = real_recommender.profiles.loc[rows, "population"].astype(float)
    assert ((pops >= 250_000) & (pops < 1_000_000)).all()
    app.checkbox(key="f_exclude_country").check().run()
    assert "United Kingdom" not in set(_shown(app)["country"])


def test_unknown_typed_city_shows_a_readable_error(app_at_url):
    at = app_at_url(twins_city="Miltn Keynes")
    assert not at.exception
    message = " ".join(e.value for e in at.error)
    assert "Unknown city 'Miltn Keynes'" in message and "Milton Keynes" in message
    assert "[gn" not in message and "gn2642465" not in message  # no internal ids in "Did you mean"


def test_an_unknown_town_is_worded_in_the_interface_language(app_at_url):
    """A German page says that a typed town is unknown in German, with the same suggestions."""
    english = " ".join(e.value for e in app_at_url(twins_city="Miltn Keynes").error)
    german = " ".join(e.value for e in app_at_url(twins_city="Miltn Keynes", lang="de").error)
    assert german.startswith("Unbekannte Stadt 'Miltn Keynes'. Meinten Sie: ") and "Unknown" not in german
    assert german.split("Meinten Sie: ")[1] == english.split("Did you mean: ")[1]  # the same towns


# ---------------------------------------------------------------------------- issue 16, item by item
def _heading(at) -> str:
    return next(h.value for h in at.subheader if h.value.startswith(("Twins for", "Mentors for")))


def _why(at) -> str:
    return next(h.value for h in at.subheader if h.value.startswith("Why "))


def test_1_the_explanation_follows_the_ticked_row_and_resets_with_the_city(app):
    table = _shown(app)
    assert _why(app) == f"Why {table['city'][0]}? (rank 1)"  # nothing ticked: the first twin
    app.session_state[_table(app).key] = {"selection": {"rows": [2], "columns": []}}
    app.run()
    assert _why(app) == f"Why {table['city'][2]}? (rank 3)"
    assert "Explain a twin" not in [s.label for s in app.selectbox]  # no second control with its own state
    first_key = _table(app).key
    app.selectbox(key="twins_city").set_value("Ghent (BE)").run()
    assert _heading(app) == "Twins for Ghent (Belgium)"
    assert _table(app).key != first_key  # a fresh table: the tick did not carry over
    assert _why(app) == f"Why {_shown(app)['city'][0]}? (rank 1)"


def test_2_one_city_input_the_list_and_the_heading_agree(app, app_at_url, real_recommender, real_matcher):
    assert not [t for t in app.text_input if "town" in t.label.lower()]  # no second, conflicting box
    box = app.selectbox(key="twins_city")
    p = real_recommender.profiles
    options = real_matcher.city_options(everyone=True)
    listed = options[options["listed"]]
    assert box.options == listed["label"].tolist()  # the larger cities with a climate profile (a short list)
    assert 1500 < len(box.options) < 0.15 * len(p)
    rows = p.set_index("city_id").loc[listed["city_id"]]
    assert rows["has_climate_profile"].all() and ((rows["population"] >= 20_000) | (rows["tier"] == "curated")).all()
    box.set_value("Ghent (BE)").run()
    assert app.selectbox(key="twins_city").value == "Ghent (BE)" and _heading(app) == "Twins for Ghent (Belgium)"
    town = options.loc[~options["profiled"], "label"].iloc[-1]  # a town without a climate profile, typed
    assert town not in box.options
    typed_town = app_at_url(twins_city=town)  # (AppTest types into the box only through the URL)
    assert not typed_town.error and _heading(typed_town).startswith(f"Twins for {town.rsplit(' (', 1)[0]} (")
    typed = app_at_url(twins_city="Cologne")  # a name typed in the same box: looked up (exonym)
    assert typed.selectbox(key="twins_city").value == "Cologne" and _heading(typed) == "Twins for Köln (Germany)"


def test_4_mentor_reason_is_on_the_page_and_in_the_csv(app, downloads):
    app.sidebar.toggle(key="f_mentor").set_value(True).run()
    assert _heading(app).startswith("Mentors for Milton Keynes")
    table = _shown(app)
    assert "Ahead of you" in table.columns
    top = table.iloc[0]
    assert top["Ahead of you"] > 0 and top["why"].startswith("ahead of you")
    assert any(m.value.startswith("- ahead of you") for m in app.markdown)  # the explanation's first reason
    exported = pd.read_csv(io.BytesIO(downloads["twins_Milton_Keynes.csv"]))
    assert exported["mentor"].iloc[0] > 0 and exported["why"].iloc[0].startswith("ahead of you")


def test_csv_download_holds_the_shown_rows(real_recommender, real_index_dir, app_db_url, monkeypatch, downloads):
    monkeypatch.setenv("MATCHER_INDEX_DIR", str(real_index_dir))
    monkeypatch.setenv("MATCHER_DB_URL", app_db_url)
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


@pytest.mark.parametrize("page", ["My city", "Board", "Cohorts", "Peer reviewers", "Data"])
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
    labels = [e.label for e in app.expander if e.label.startswith("Cohort ")]
    sizes = [int(label.split(": ")[1].split(" ")[0]) for label in labels]
    assert sum(sizes) == 28 and all(7 <= s <= 12 for s in sizes)  # the 28 Key Cities
    assert [m.label for m in app.metric][:2] == ["How alike the members are", "Best possible split?"]
    technical = next(e for e in app.expander if e.label == "Technical detail")
    assert "Upper bound" in " ".join(c.value for c in technical.caption)  # the solver's words stay in there


def test_a_plan_stays_while_its_rules_stay_and_goes_when_they_change(app):
    """Any other click (a language, Save, a download) reruns the page: the plan must not vanish;
    a changed rule must not leave the old plan on show."""
    app.sidebar.radio(key="page").set_value("Cohorts").run()
    app.slider(key="co_seconds").set_value(3)
    app.button(key="co_go").click().run()
    first = [e.label for e in app.expander if e.label.startswith("Cohort ")]
    assert first
    app.run()  # a rerun without the button (what a Save click does)
    assert [e.label for e in app.expander if e.label.startswith("Cohort ")] == first
    app.number_input(key="co_country").set_value(3).run()  # another rule: the old plan is not shown
    assert not [e.label for e in app.expander if e.label.startswith("Cohort ")]
    app.sidebar.radio(key="page").set_value("Peer reviewers").run()
    app.button(key="rv_go").click().run()
    shown = len(app.dataframe)
    app.run()
    assert shown and len(app.dataframe) == shown


def test_cohorts_page_explains_infeasible_rules(app):
    app.sidebar.radio(key="page").set_value("Cohorts").run()
    app.slider(key="co_size").set_value((9, 9))
    app.button(key="co_go").click().run()
    assert not app.exception
    message = " ".join(e.value for e in app.error)
    assert "cannot all hold" in message and "28" in message
    assert "*Try:* cohorts of 7-9, or of 9-10" in message  # the smallest change, from the library


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


def test_6_the_users_words_not_code_words(app, app_at_url):
    table = _shown(app)
    assert not [c for c in table.columns if "_" in c]  # facet labels, not co_benefits / funding_gaps
    assert "United Kingdom" in set(table["country"]) and "GB" not in set(table["country"])
    assert not table["why"].str.contains("cosine").any()
    assert [f.format_func("DE") for f in [app.multiselect(key="f_countries")]] == ["Germany"]
    assert app.multiselect(key="f_languages").format_func("nl") == "Dutch"
    with_profile = next(e for e in app.expander if e.label.startswith("Your city's profile")).dataframe[0].value
    assert "unknown: add your barriers to get better matches" in set(with_profile["value"])
    app.sidebar.radio(key="page").set_value("Data").run()
    profiles = app.dataframe[0].value
    cells = profiles.astype(str).to_numpy().ravel()
    assert not {"None", "nan", "NaN", "[]"} & set(cells) and "unknown" in set(cells)
    assert not profiles["source"].str.contains(r"\.csv|:\d", regex=True).any()
    assert (profiles["source"] != "unknown").all() and profiles["source"].str.contains("GeoNames").any()
    cases = app.dataframe[1].value
    assert not cases["source"].str.contains(r"\.txt|seeds/", regex=True).any()
    app.sidebar.radio(key="page").set_value("Case studies").run()
    inside = {c.value for e in app.expander for c in e.caption}
    outside = [c.value for c in app.caption if c.value not in inside]
    assert any("BM25" in v for v in inside) and not any("BM25" in v or "cosine" in v for v in outside)


def test_7_each_broken_rule_on_its_own_line_with_a_fix(app):
    app.sidebar.radio(key="page").set_value("Cohorts").run()
    app.number_input(key="co_country").set_value(2)  # 28 Key Cities, all in GB: 14 cohorts of 2 at most
    app.button(key="co_go").click().run()
    message = app.error[0].value
    assert "United Kingdom has 28 cities, and 4 cohorts hold at most 8 of them" in message  # a name, not GB
    assert "which at most" not in message and "smallest fix" not in message  # the fix has its own line
    assert "*Try:* allow 7 per country, or cohorts of 2-12" in message
    app.sidebar.radio(key="page").set_value("Peer reviewers").run()
    app.checkbox(key="rv_no_same_country").check()
    app.checkbox(key="rv_mature").check()
    app.button(key="rv_go").click().run()
    message = app.error[0].value
    lines = [line for line in message.split("\n") if line.startswith("- ")]
    fixes = [line for line in message.split("\n") if line.strip().startswith("*Try:*")]
    assert len(lines) >= 2 and len(fixes) == len(lines)  # every broken rule on its own line, each with a fix


def test_9_the_url_keeps_the_view_and_restores_it(app, app_at_url):
    app.selectbox(key="twins_city").set_value("Ghent (BE)")
    app.slider(key="w_geography").set_value(2.5)
    app.multiselect(key="f_countries").set_value(["NL", "FR"])
    app.sidebar.toggle(key="f_mentor").set_value(True)
    app.text_input(key="theme").input("district heating").run()
    url = {k: app.query_params[k] for k in app.query_params}
    assert url["twins_city"] in ("Ghent (BE)", ["Ghent (BE)"]) and url["f_mentor"] in ("1", ["1"])
    again = app_at_url(**url)  # a reload, or the link sent to a colleague
    assert _heading(again) == _heading(app) == "Mentors for Ghent (Belgium)"
    assert again.slider(key="w_geography").value == 2.5 and again.text_input(key="theme").value == "district heating"
    assert list(_shown(again)["city"]) == list(_shown(app)["city"])
    bad = app_at_url(f_band="huge", w_size="lots", page="Admin")  # bad values are ignored, not fatal
    assert not bad.exception and bad.title[0].value == "Find twin cities"


def test_10_describe_my_city_picks_a_town_and_keeps_its_values(app):
    app.radio(key="ask_mode").set_value("Describe my city").run()
    labels = [n.label for n in app.number_input]
    assert not [x for x in labels if "atitude" in x or "ongitude" in x]  # a place from the town list instead
    app.text_input(key="own_name").input("Neustadt-Klima")
    app.selectbox(key="own_town").set_value("Ghent (BE)")
    app.multiselect(key="own_barriers").set_value([app.multiselect(key="own_barriers").options[0]])
    next(b for b in app.button if "Find twins" in b.label).click().run()
    assert _heading(app) == "Twins for Neustadt-Klima (Belgium)"
    app.radio(key="ask_mode").set_value("A city in the data").run()
    app.radio(key="ask_mode").set_value("Describe my city").run()
    assert app.text_input(key="own_name").value == "Neustadt-Klima"  # kept across the mode switch
    assert app.selectbox(key="own_town").value == "Ghent (BE)" and len(app.multiselect(key="own_barriers").value) == 1


def test_10_reviewer_rules_read_differently(app):
    app.sidebar.radio(key="page").set_value("Peer reviewers").run()
    labels = [c.label for c in app.checkbox]
    assert len(labels) == len(set(labels))
    assert not [a for a in labels for b in labels if a != b and a.split()[:4] == b.split()[:4]]


def test_8_the_file_watcher_is_off():
    import tomllib

    from .conftest import REPO

    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["server"]["fileWatcherType"] == "none"
    assert "--server.fileWatcherType none" in (REPO / "scripts" / "run.sh").read_text()


def test_the_server_makes_no_network_request_at_start():
    """A headless Streamlit server looks its external IP address up on the internet to print it
    in its welcome message; the message is off (run.sh prints the address)."""
    import tomllib

    from .conftest import REPO

    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["logger"]["hideWelcomeMessage"] is True and config["browser"]["gatherUsageStats"] is False
    assert 'echo "Ready: open http://localhost:${port}"' in (REPO / "scripts" / "run.sh").read_text()


def test_8_no_full_garbage_collection_after_each_rerun():
    """Streamlit's post-run gc.collect(2) was most of a rerun's time (BENCHMARKS.md): off in the
    config and the run command; what the app loads once is frozen out of Python's collections."""
    import tomllib

    from .conftest import REPO

    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False
    assert "--runner.postScriptGC false" in (REPO / "scripts" / "run.sh").read_text()


def _map_spec(at) -> dict:
    """The map's Vega-Lite spec, with the tables Streamlit sends apart (as Arrow) put back under datasets."""
    import json

    from streamlit import dataframe_util

    chart = next(c for c in at.get("vega_lite_chart") if '"layer"' in c.proto.spec)
    spec = json.loads(chart.proto.spec)
    for ds in chart.proto.datasets:
        frame = dataframe_util.convert_arrow_bytes_to_pandas_df(ds.data.data)
        spec.setdefault("datasets", {})[ds.name] = frame.to_dict("records")
    return spec


def test_5_the_maps_work_offline_with_outlines_hover_and_a_legend(app):
    spec = _map_spec(app)
    outlines, dots, labels = spec["layer"]
    assert outlines["data"]["format"] == {"type": "topojson", "feature": "countries"}  # shipped, no tile server
    assert outlines["mark"]["type"] == "geoshape" and spec["projection"]["type"] == "mercator"
    points = spec["datasets"][(dots.get("data") or spec["data"])["name"]]
    assert points[0]["role"] == "asking city" and points[0]["city"] == "Milton Keynes"  # the asker, marked
    assert dots["encoding"]["shape"]["scale"]["range"] == ["diamond", "circle"]
    assert {t["field"] for t in dots["encoding"]["tooltip"]} >= {"city", "score", "why"}
    shown = _shown(app)
    assert [p["city"] for p in points[1:]] == list(shown["city"]) and points[1]["why"]
    assert labels["mark"]["type"] == "text"
    app.sidebar.radio(key="page").set_value("Cohorts").run()
    app.radio(key="cohorts_how").set_value("A network").run()
    app.selectbox(key="cohorts_network").set_value("EU Mission 100")  # over a hundred cities
    app.slider(key="co_size").set_value((6, 9))
    app.slider(key="co_seconds").set_value(3)
    app.button(key="co_go").click().run()
    spec = _map_spec(app)
    colour = spec["layer"][1]["encoding"]["color"]
    n = len([e for e in app.expander if e.label.startswith("Cohort ")])
    assert n > 10 and len(colour["scale"]["domain"]) == n  # every cohort in the legend ...
    assert len(set(colour["scale"]["range"])) == n  # ... with a colour of its own
    assert colour["legend"]["title"] == "Cohort"


def test_3_case_search_says_when_nothing_is_relevant(app):
    app.sidebar.radio(key="page").set_value("Case studies").run()
    weak_box = lambda: [e for e in app.expander if e.label.startswith("Weak matches")]  # noqa: E731
    good_titles = lambda: [m.value for m in app.tabs[0].markdown if m.value.startswith("**1. ")]  # noqa: E731
    assert good_titles() and "Malmö" in good_titles()[0]  # "green bonds": good matches, shown as cards
    for query in ("one-stop shop for home renovation", "the of and", "🌍🔥🚲"):
        app.text_input(key="case_query").input(query).run()
        assert any(i.value.startswith("Nothing relevant") for i in app.info), query
        assert not good_titles() or all(m in {x.value for e in weak_box() for x in e.markdown} for m in good_titles())
        assert not app.get("download_button") or not [b for b in app.get("download_button")
                                                       if getattr(b, "proto", None) and b.proto.id.endswith("dl_cases")]
