"""Streamlit front end for city officers and network staff.

A thin layer over the `matcher` library: every score, filter and explanation comes from it;
this file only lays out widgets, tables, maps and downloads. Library errors (MatcherError)
are shown as readable messages, never as tracebacks.

    streamlit run app_streamlit.py
"""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import altair as alt  # noqa: E402  (ships with streamlit)
import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402

from matcher import (FACETS, MATURITY_LEVELS, SETTINGS, SIZE_BANDS, CaseFilters, CaseLibrary,  # noqa: E402
                     CohortRules, Matcher, MatcherError, ReviewRules, TwinFilters, load_profiles, vocabularies)
from matcher.case_relevance import split_good_weak, threshold_for  # noqa: E402
from matcher.network import parse_city_list, resolve_city_list  # noqa: E402
from matcher.settings import DEFAULT_SETTINGS  # noqa: E402
from matcher.present import (brief_markdown, brief_pdf, cases_table, cohort_members_table, csv_bytes,  # noqa: E402
                             md_escape, reviews_table, twins_table)
from matcher.present.maps import OUTLINES_SOURCE, cohort_colours, country_outlines, map_extent, twins_map_points  # noqa: E402
import app_workspace as workspace_pages  # noqa: E402  (sign in, My city, Board, save/load panels)
from matcher.present.view import (compare_view, country_name, error_text, facet_label, language_name,  # noqa: E402
                                  plain, profile_view, readable_source, rule_lines, shown, twins_view)

PAGES = ("Find twins", "My city", "Board", "Case studies", "Cohorts", "Peer reviewers", "Data")
MODELS = {"English (MiniLM)": str(DEFAULT_SETTINGS["model_name"]), "Multilingual (USE, 16 languages)": "use-multilingual-v3"}
SETTING_HELP = {s.name: s.help for s in SETTINGS}

st.set_page_config(page_title="Climate twins", page_icon="🌍", layout="wide")


# ---------------------------------------------------------------------------- cached resources
def load_matcher() -> Matcher:
    return open_matcher(workspace_pages.workspace_url())


@st.cache_resource(show_spinner="Loading the twin index (the very first start builds it: about a minute)…",
                   max_entries=2)
def open_matcher(db_url: str) -> Matcher:
    """The matcher over the workspace at `db_url` (its edited profiles laid over the shipped data)."""
    return Matcher.open(build="stale", workspace=workspace_pages.open_ws(db_url))


@st.cache_resource(show_spinner="Loading the case-study library…")
def load_library(model_name: str) -> CaseLibrary:
    return load_matcher().case_library(model_name)


@st.cache_data(show_spinner=False)
def city_choices(everyone: bool = False) -> pd.DataFrame:
    return load_matcher().city_options(everyone=everyone)


@st.cache_data(show_spinner=False)
def town_labels() -> tuple[list[str], dict[str, str]]:
    """Every town's label, the cities with a climate profile first, and label -> city_id."""
    towns = city_choices(everyone=True)
    return towns["label"].tolist(), dict(zip(towns["label"], towns["city_id"]))


@st.cache_data(show_spinner=False)
def profile_options() -> dict:
    return load_matcher().filter_options()


def show_error(exc: Exception) -> None:
    """A library error as a message: Markdown in it is escaped (it may quote what the user typed
    or a file held); folders of the server and internal ids are left out."""
    reasons = getattr(exc, "reasons", None)
    if reasons:  # broken rules: one line each, with a change to try
        lines = [f"- {md_escape(reason)}  \n  *Try:* {md_escape(fix)}" for reason, fix in rule_lines(exc)]
        st.error("**These rules cannot all hold:**\n\n" + "\n".join(lines), icon="⚠️")
        if getattr(exc, "rules", None):
            st.caption("Rules in force: " + md_escape("; ".join(exc.rules)) + ".")
        return
    st.error(md_escape(error_text(exc)), icon="⚠️")


DEFAULT_CITY = "Milton Keynes (GB)"


def city_picker(key: str, label: str = "City") -> str | None:
    """One city input: every European town by name (the cities with a climate profile first);
    a name typed that is not in the list is looked up (accents, exonyms, typos)."""
    labels, ids = town_labels()
    picked = st.selectbox(label, labels, key=f"{key}_city", accept_new_options=True,
                          placeholder="Type a town: Fundão, Cologne, Padua…",
                          help="Cities with a climate profile come first; every town of 5,000+ inhabitants "
                               "follows. Type a name in any spelling and press Enter.")
    if picked is None:
        return None
    return ids.get(picked, str(picked).strip())


# ---------------------------------------------------------------------------- shareable state
# Widget keys kept in the URL: a reload or a shared link restores the view.
URL_KEYS = {"page": str, "twins_city": str, "ask_mode": str, "theme": str, "f_countries": list, "f_band": str,
            "f_languages": list, "f_mission": str, "f_networks": list, "f_exclude_country": bool, "f_mentor": bool,
            "f_everyone": bool, "f_k": int, "case_query": str, "cases_city": str,
            **{f"w_{f.name}": float for f in FACETS}}
MISSION = {"any": None, "only Mission cities": True, "no Mission cities": False}


def _url_value(key: str, kind, params) -> object:
    raw = params.get_all(key) if kind is list else params.get(key)
    if kind is list:
        return [v for v in raw if v]
    if kind is bool:
        return raw in ("1", "true")
    if kind is float:
        return min(3.0, max(0.0, round(float(raw) * 4) / 4))
    if kind is int:
        return min(30, max(3, int(raw)))
    return str(raw)[:200]


def _url_allowed(key: str, value) -> bool:
    opts = profile_options()
    allowed = {"page": PAGES, "ask_mode": ASK_MODES, "f_band": ["any", *SIZE_BANDS], "f_mission": list(MISSION),
               "f_countries": opts["countries"], "f_languages": opts["languages"], "f_networks": opts["networks"]}
    if key not in allowed:
        return True
    return set(value) <= set(allowed[key]) if isinstance(value, list) else value in allowed[key]


def restore_from_url() -> None:
    """Once per session, before any widget: the view the URL describes (bad values are ignored)."""
    if st.session_state.get("_from_url"):
        return
    st.session_state["_from_url"] = True
    params = st.query_params
    for key, kind in URL_KEYS.items():
        if key not in params:
            continue
        try:
            value = _url_value(key, kind, params)
        except (TypeError, ValueError):
            continue
        if _url_allowed(key, value):
            st.session_state[key] = value


def write_url() -> None:
    """The view into the URL (only what differs from the defaults, so links stay short)."""
    state = {}
    for key, kind in URL_KEYS.items():
        value = st.session_state.get(key)
        if value is None or value == [] or value == "" or value == DEFAULTS.get(key, ""):
            continue
        state[key] = ("1" if value else "0") if kind is bool else ([str(v) for v in value] if kind is list else str(value))
    params = st.query_params
    current = {k: (params.get_all(k) if URL_KEYS.get(k) is list else params.get(k)) for k in params}
    if current != state:
        params.from_dict(state)


DEFAULTS = {"page": PAGES[0], "ask_mode": "A city in the data", "f_band": "any", "f_mission": "any",
            "f_exclude_country": False, "f_mentor": False, "f_everyone": False, "f_k": 10,
            "case_query": "green bonds", "own_name": "My city", "own_maturity": "unknown", "own_town": None, "own_country": "DE",
            "twins_city": DEFAULT_CITY, "cases_city": DEFAULT_CITY,
            **{f"w_{f.name}": float(f.default_weight) for f in FACETS}}
KEEP = [k for k in URL_KEYS if k != "page"] + ["own_name", "own_town", "own_country", "own_population", "own_target",
                                               "own_languages", "own_maturity", "own_barriers", "own_sectors",
                                               "own_cobenefits", "own_funding", "own_narrative"]


def keep_values() -> None:
    """Streamlit forgets a widget's value when it is not drawn (another mode or page): writing the
    values back each run keeps them (the sidebar, "Describe my city"); widgets take their
    defaults from here, never from their own arguments."""
    for key in KEEP:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
    for key, value in DEFAULTS.items():
        if key not in st.session_state:
            st.session_state[key] = value


# ---------------------------------------------------------------------------- find twins
ASK_MODES = ("A city in the data", "Describe my city")


def sidebar_controls() -> tuple[dict, TwinFilters, bool, bool, int]:
    opts = profile_options()
    st.sidebar.subheader("What counts, and how much")
    st.sidebar.caption("Move a slider: the ranking changes at once.")
    weights = {f.name: st.sidebar.slider(f.label, 0.0, 3.0, step=0.25, key=f"w_{f.name}",
                                         help=f.help) for f in FACETS}
    st.sidebar.subheader("Filters")
    countries = st.sidebar.multiselect("Countries", opts["countries"], key="f_countries", format_func=country_name)
    band = st.sidebar.selectbox("City size", ["any"] + list(SIZE_BANDS), key="f_band",
                                format_func=lambda b: b if b == "any" else f"{b} ({size_words(b)})")
    languages = st.sidebar.multiselect("Language", opts["languages"], key="f_languages", format_func=language_name)
    mission = st.sidebar.selectbox("EU Mission cities", list(MISSION), key="f_mission")
    networks = st.sidebar.multiselect("Networks", opts["networks"], key="f_networks")
    exclude_country = st.sidebar.checkbox("Exclude my country", key="f_exclude_country")
    mentor = st.sidebar.toggle("Mentor mode: peers ahead where I am stuck", key="f_mentor",
                               help=SETTING_HELP["mentor_weight"])
    everyone = st.sidebar.checkbox("Include towns without a climate profile", key="f_everyone",
                                   help=SETTING_HELP["profiled_only"])
    k = st.sidebar.slider("Number of twins", 3, 30, key="f_k")
    filters = TwinFilters(countries=countries, size_band=None if band == "any" else band, languages=languages,
                          eu_mission=MISSION[mission], networks=networks, profiled_only=not everyone)
    return weights, filters, exclude_country, mentor, k


def size_words(band: str) -> str:
    lo, hi = SIZE_BANDS[band]
    return f"{int(lo):,}+ inhabitants" if hi == float("inf") else f"{int(lo):,}–{int(hi):,} inhabitants"


def own_city_form() -> dict | None:
    vocab = vocabularies()
    opts = profile_options()
    labels, ids = town_labels()
    with st.form("own_city"):
        st.caption("Describe your city in the survey's words. Leave a field empty when you do not know it: "
                   "it is then not compared.")
        c1, c2, c3 = st.columns(3)
        name = c1.text_input("City name", key="own_name")
        town = c2.selectbox("Where is it? (the nearest town in the list)", labels, key="own_town",
                            placeholder="Type a town", help="Sets the country and the place on the map.")
        population = c3.number_input("Population", min_value=0, value=None, step=1000, key="own_population",
                                     placeholder="unknown")
        c4, c5, c6 = st.columns(3)
        country = c6.selectbox("Country (the town's, when you pick a town)", opts["countries"], key="own_country",
                               format_func=country_name)
        target = c4.number_input("When does your city aim to reach net zero? (year)", min_value=2020, max_value=2100,
                                 value=None, placeholder="no target yet", key="own_target")
        maturity = c5.selectbox("How far is your climate action?", ["unknown", *MATURITY_LEVELS], key="own_maturity")
        languages = st.multiselect("Languages", opts["languages"], key="own_languages", format_func=language_name)
        barriers = st.multiselect("What are the main barriers and gaps your city faces?", vocab["barriers"][:17],
                                  key="own_barriers")
        sectors = st.multiselect("What are your priority sectors for reducing emissions?", vocab["priority_sectors"],
                                 key="own_sectors")
        co_benefits = st.multiselect("Which co-benefits do you seek?", vocab["co_benefits"], key="own_cobenefits")
        funding = st.multiselect("Where are your funding gaps?", vocab["funding_gaps"], key="own_funding")
        narrative = st.text_area("What do you want to learn? (a few lines)", key="own_narrative")
        submitted = st.form_submit_button("Find twins for my city")
    if not submitted and "own_profile" not in st.session_state:
        return None
    if submitted:
        place = load_matcher().twins.profiles.set_index("city_id").loc[ids[town]] if town in ids else None
        profile = {"name": name or "My city", "country_code": place["country_code"] if place is not None else country,
                   "languages": languages, "barriers": barriers, "priority_sectors": sectors,
                   "co_benefits": co_benefits, "funding_gaps": funding, "narrative": narrative or None,
                   "population": int(population) if population else None,
                   "lat": float(place["lat"]) if place is not None else None,
                   "lon": float(place["lon"]) if place is not None else None,
                   "net_zero_target_year": int(target) if target else None,
                   "maturity": None if maturity == "unknown" else maturity}
        st.session_state["own_profile"] = profile
    return st.session_state["own_profile"]


def contribution_chart(match) -> alt.Chart:
    data = pd.DataFrame([{"facet": facet_label(c.name) if not c.label else c.label, "contribution": c.contribution,
                          "detail": plain(c.detail) if c.detail else "not compared"} for c in match.explanation])
    return alt.Chart(data).mark_bar().encode(
        x=alt.X("contribution:Q", title=f"share of the score ({match.score:.3f} in total)"),
        y=alt.Y("facet:N", sort="-x", title=None),
        color=alt.condition("datum.contribution > 0", alt.value("#2a9d8f"), alt.value("#bbbbbb")),
        tooltip=["facet", alt.Tooltip("contribution:Q", format=".3f"), "detail"],
    ).properties(height=28 * len(data))


def full_profile(m: Matcher, asker: dict) -> dict:
    """The asking city's whole profile row (a city of the data), else what was asked with."""
    cid = asker.get("city_id")
    p = m.twins.profiles
    if isinstance(cid, str) and (p["city_id"] == cid).any():
        return p.loc[p["city_id"] == cid].iloc[0].to_dict()
    return asker


def page_twins() -> None:
    st.title("Find twin cities")
    st.caption("Cities like yours, each with the reasons that add up to its score.")
    m = load_matcher()
    workspace_pages.saved_panel("shortlist")
    weights, filters, exclude_country, mentor, k = sidebar_controls()
    mode = st.radio("Who is asking?", ASK_MODES, horizontal=True, key="ask_mode")
    city = profile = None
    if mode == ASK_MODES[0]:
        city = city_picker("twins")
        if city is None:
            st.info("Type or pick a town.")
            return
    else:
        profile = own_city_form()
        if profile is None:
            st.info("Fill in the form and press the button.")
            return
    theme = st.text_input("Theme (optional)", key="theme", placeholder="e.g. energy refurbishment of private housing")
    try:
        result = m.twins.recommend(city, profile=profile, k=k, weights=weights, filters=filters,
                                   exclude_same_country=exclude_country, theme=theme or None, mentor=mentor)
    except MatcherError as exc:
        show_error(exc)
        return
    asker = result.asker
    st.subheader(("Mentors" if mentor else "Twins") +
                 f" for {md_escape(asker['name'])} ({md_escape(country_name(asker.get('country_code')))})")
    own = full_profile(m, asker)
    with st.expander("Your city's profile, and what is unknown", expanded=False):
        st.dataframe(profile_view(own), hide_index=True, width="stretch", key="own_profile_table")
        st.caption("Unknown fields are not compared: add them (\"Describe my city\") to get better matches.")
    if not result.matches:
        st.warning("No city passes these filters. Loosen a filter in the sidebar.")
        return
    view = twins_view(result)
    # A new key for each asking city: a ticked row never carries over to another city's twins.
    table_key = "twins_table_" + re.sub(r"\W", "_", str(asker.get("city_id") or asker.get("name")))
    event = st.dataframe(view.drop(columns=["city_id"]), hide_index=True, width="stretch", key=table_key,
                         on_select="rerun", selection_mode="single-row",
                         column_config={"city": st.column_config.TextColumn("city", pinned=True),
                                        "score": st.column_config.NumberColumn("score", format="%.3f", pinned=True),
                                        "why": st.column_config.TextColumn("why", width="large")})
    rows = list(event.selection.rows) if event is not None and hasattr(event, "selection") else []
    match = result.matches[rows[0] if rows and rows[0] < len(result.matches) else 0]
    st.caption("Tick a row to see why that city is a twin." if not rows else "Untick the row to go back to the first twin.")
    st.subheader(f"Why {md_escape(match.name)}? (rank {match.rank})")
    c1, c2 = st.columns([3, 2])
    with c1:
        st.altair_chart(contribution_chart(match), width="stretch")
    with c2:
        st.markdown(f"**{md_escape(match.name)}**: score **{match.score:.3f}** = the sum of the bars.")
        for reason in match.reasons:
            st.markdown(f"- {md_escape(plain(reason))}")
        for note in match.not_compared:
            st.caption(md_escape(note))
        cases = m.cases_of_city(match.city_id)
        if len(cases):
            st.markdown("**Its case studies**")
            for title in cases["title"]:
                st.markdown(f"- {md_escape(title)}")
    with st.expander(f"Compare {asker['name']} and {match.name} side by side"):
        st.dataframe(compare_view(own, full_profile(m, {"city_id": match.city_id, "name": match.name})),
                     hide_index=True, width="stretch", key="compare_table")
    with st.expander("Technical detail"):
        st.caption("Each term is the facet weight times a similarity in [0, 1]; text facets are cosine similarities "
                   "of sentence embeddings.")
        for term in match.explanation:
            st.caption(f"{md_escape(facet_label(term.name))}: {term.contribution:.4f} {md_escape(term.detail or '')}")
    twins_map(asker, result)
    downloads(result, twins_table(result), m)
    workspace_pages.offer_save("shortlist", result)


def offline_map(key: str, points: pd.DataFrame, *layers: alt.Chart, height: int = 440) -> None:
    """Country outlines shipped with the package (no tile server) under the given layers, the
    projection fitted to the points. The outlines go into the Vega-Lite spec as they are: through
    Altair they would be schema-checked on every rerun (a quarter of a second)."""
    spec = alt.layer(*layers).project(type="mercator", fit=map_extent(points)).properties(height=height).to_dict()
    show_map(key, spec)


def show_map(key: str, spec: dict) -> None:
    """A Vega-Lite map spec drawn over the shipped country outlines."""
    spec = dict(spec)
    spec["layer"] = [{"data": {"values": country_outlines(), "format": {"type": "topojson", "feature": "countries"}},
                             "mark": {"type": "geoshape", "fill": "#f2f0ea", "stroke": "#8c8c8c", "strokeWidth": 0.6,
                                      "clip": True}}, *spec["layer"]]
    with st.container(key=key):
        st.vega_lite_chart(spec, width="stretch")


@st.cache_resource(show_spinner=False)
def _twins_map_template() -> dict:
    """The twins map's layers as Vega-Lite, built (and schema-checked) by Altair once, on a named
    data set that each rerun fills in."""
    base = alt.Chart(alt.NamedData("points")).encode(longitude="lon:Q", latitude="lat:Q",
                                 tooltip=["city:N", "country:N", "score:N", alt.Tooltip("why:N", title="why")])
    dots = base.mark_point(filled=True, opacity=0.9, stroke="white", strokeWidth=1).encode(
        color=alt.Color("role:N", scale=alt.Scale(domain=["asking city", "twin"], range=["#d62828", "#2a9d8f"]),
                        legend=alt.Legend(title=None, orient="top")),
        shape=alt.Shape("role:N", scale=alt.Scale(domain=["asking city", "twin"], range=["diamond", "circle"]),
                        legend=None),
        size=alt.condition("datum.role == 'asking city'", alt.value(260), alt.value(110)))
    labels = base.mark_text(align="left", dx=8, dy=-6, fontSize=11, color="#333").encode(text="label:N")
    return alt.layer(dots, labels).project(type="mercator").properties(height=440).to_dict()


def twins_map(asker: dict, result) -> None:
    pts = twins_map_points(result)
    if not len(pts):
        return
    spec = dict(_twins_map_template())
    spec["datasets"] = {"points": pts.astype(object).where(pts.notna(), None).to_dict("records")}
    spec["projection"] = {"type": "mercator", "fit": map_extent(pts)}
    show_map("twins_map", spec)
    st.caption(f"Hover a city for its score and why. Map: {OUTLINES_SOURCE}.")


def downloads(result, table: pd.DataFrame, m: Matcher) -> None:
    """The table as CSV now; the brief only when asked for (a callable: a slider move stays fast)."""

    def brief() -> dict:
        return m.twinning_brief(result)

    slug = (result.asker.get("name") or "city").replace(" ", "_")
    c1, c2, c3 = st.columns(3)
    c1.download_button("Download the table (CSV)", csv_bytes(table), f"twins_{slug}.csv", "text/csv", key="dl_csv")
    c2.download_button("Twinning brief (Markdown)", lambda: brief_markdown(brief()).encode("utf-8"),
                       f"twinning_brief_{slug}.md", "text/markdown", key="dl_md")
    c3.download_button("Twinning brief (PDF)", lambda: brief_pdf(brief()), f"twinning_brief_{slug}.pdf",
                       "application/pdf", key="dl_pdf")


# ---------------------------------------------------------------------------- case studies
def case_card(hit, weak: bool = False) -> None:
    with st.container(border=True):
        where = ", ".join(x for x in (hit.city, country_name(hit.country_code) if hit.country_code else None) if x)
        st.markdown(f"**{hit.rank}. {md_escape(hit.title)}**" + (f"  \n{md_escape(where)}" if where else ""))
        tags = [md_escape(t) for t in hit.sectors + hit.barriers] + \
            [f"{md_escape(t)} (read from the text)" for t in hit.inferred_sectors + hit.inferred_barriers]
        if tags:
            st.markdown(" · ".join(tags))
        st.markdown(f"> {md_escape(hit.passage)}")
        if weak:
            st.caption("A weak match: it shares words with your search more than its meaning.")
        if hit.source:
            st.caption(f"Source: {md_escape(readable_source(hit.source))}")



def technical_detail(hits) -> None:
    """How each score adds up (cosines, BM25): for the curious, folded away."""
    if not hits:
        return
    with st.expander("Technical detail: how the scores add up"):
        for hit in hits:
            st.caption(f"{hit.rank}. {md_escape(hit.title)}: score {hit.score:.3f} = " +
                       " + ".join(f"{md_escape(c.label)} {c.contribution:.3f} ({md_escape(c.detail)})"
                                  for c in hit.explanation))


def page_cases() -> None:
    st.title("Case studies")
    st.caption("What peers did about the barriers you share. Source tags and tags inferred from the text are marked apart.")
    model = st.radio("Language model", list(MODELS), horizontal=True, key="case_model",
                     help="The multilingual model finds English case studies from a German, Spanish, French… query.")
    lib = load_library(MODELS[model])
    vocab = vocabularies()
    search_tab, city_tab = st.tabs(["Search", "Recommended for my city"])
    with search_tab:
        text = st.text_input("Search", key="case_query")
        c1, c2, c3 = st.columns(3)
        sectors = c1.multiselect("Sector", vocab["case_sectors"], key="case_sectors")
        barriers = c2.multiselect("Barrier", vocab["case_barriers"][:17], key="case_barriers")
        countries = c3.multiselect("Country", sorted(lib.cases["country_code"].dropna().unique()), key="case_countries",
                                   format_func=country_name)
        try:
            result = lib.search(text, k=10, filters=CaseFilters(sectors=sectors, barriers=barriers, countries=countries))
        except MatcherError as exc:
            show_error(exc)
            result = None
        if text.strip() and result is not None and not result.matches:
            st.warning("No case study passes these filters.")
        good, weak = split_good_weak(result, threshold_for(MODELS[model])) if result is not None else ([], [])
        if result is not None and result.matches and not good:
            st.info(f"Nothing relevant: no case study is about “{md_escape(text.strip())}”. Try other words, or "
                    "the multilingual model for a query that is not in English.", icon=":material/search_off:")
        if good:
            st.download_button("Download these results (CSV)", csv_bytes(cases_table(result)), "case_studies.csv",
                               "text/csv", key="dl_cases")
        for hit in good:
            case_card(hit)
        if weak:
            with st.expander(f"Weak matches ({len(weak)}): they share words, not meaning", expanded=False):
                for hit in weak:
                    case_card(hit, weak=True)
        technical_detail(result.matches if result is not None else [])
    with city_tab:
        city = city_picker("cases", "For which city?")
        try:
            result = lib.recommend_for_city(city, k=8) if city else None
        except MatcherError as exc:
            show_error(exc)
            result = None
        if result is not None and result.matches:
            st.download_button("Download (CSV)", csv_bytes(cases_table(result)), "case_studies_for_city.csv",
                               "text/csv", key="dl_cases_city")
        for hit in result.matches if result is not None else []:
            case_card(hit)
        technical_detail(result.matches if result is not None else [])


# ---------------------------------------------------------------------------- network staff
def choose_cities(key: str, label: str = "Cities") -> list[str] | str | None:
    """All cities with a climate profile, a network's members, a hand-picked set, or an uploaded
    list of names (one per line, or a CSV column `name` with optional `country_code`)."""
    opts = profile_options()
    how = st.radio(label, ["A network", "All cities with a climate profile", "Pick cities", "Upload a list"],
                   horizontal=True, key=f"{key}_how")
    if how == "All cities with a climate profile":
        return "all"
    if how == "A network":
        default = opts["networks"].index("Key Cities") if "Key Cities" in opts["networks"] else 0
        network = st.selectbox("Network", opts["networks"], index=default, key=f"{key}_network")
        members = load_matcher().network_members(network)
        st.caption(f"{len(members)} member cities.")
        return members
    if how == "Pick cities":
        choices = city_choices()
        picked = st.multiselect("Cities", choices["label"], key=f"{key}_picked")
        return choices.loc[choices["label"].isin(picked), "city_id"].tolist()
    upload = st.file_uploader("City list (.txt or .csv)", type=["txt", "csv"], key=f"{key}_upload")
    if upload is None:
        return None
    try:
        items = parse_city_list(upload.getvalue().decode("utf-8-sig", errors="replace"), upload.name)
    except MatcherError as exc:
        show_error(exc)
        return None
    ids, unknown = resolve_city_list(load_matcher().twins, items)
    for message in unknown:
        st.error(md_escape(message), icon="⚠️")
    return ids if not unknown else None


def _members_map(frame: pd.DataFrame, group: str) -> None:
    pts = frame.dropna(subset=["lat", "lon"]).copy()
    if not len(pts):
        return
    pts["cohort"] = "Cohort " + pts[group].astype(int).astype(str)
    pts["country"] = pts["country"].map(country_name)
    order = sorted(pts["cohort"].unique(), key=lambda c: int(c.split()[1]))
    dots = alt.Chart(pts).mark_circle(size=110, opacity=0.9, stroke="white", strokeWidth=0.8).encode(
        longitude="lon:Q", latitude="lat:Q",
        color=alt.Color("cohort:N", scale=alt.Scale(domain=order, range=cohort_colours(len(order))),
                        legend=alt.Legend(title="Cohort", columns=2 if len(order) > 14 else 1, symbolLimit=0)),
        tooltip=["city", "country", "cohort", alt.Tooltip("fit:Q", format=".2f")])
    offline_map("cohorts_map", pts, dots)
    st.caption(f"Hover a city for its cohort. Map: {OUTLINES_SOURCE}.")


def _groups(text: str) -> list[list[str]]:
    """'Lyon, Bordeaux' -> [['Lyon', 'Bordeaux']] (one group), '' -> []."""
    names = [c.strip() for c in text.split(",") if c.strip()]
    return [names] if names else []


def page_cohorts() -> None:
    st.title("Cohorts")
    st.caption("Split the cities of a call into learning cohorts that maximise how alike members are, under your rules.")
    m = load_matcher()
    workspace_pages.saved_panel("cohort_plan")
    cities = choose_cities("cohorts")
    c1, c2, c3 = st.columns(3)
    low, high = c1.slider("Cohort size", 2, 20, (7, 12), key="co_size")
    mentors = c2.number_input("Mentors per cohort", 0, 5, 0, key="co_mentors",
                              help="A mentor: maturity 'advanced', or a target of 2030 or earlier")
    per_country = c3.number_input("At most … cities per country per cohort (0 = no limit)", 0, 20, 0, key="co_country")
    c4, c5, c6 = st.columns(3)
    language = c4.checkbox("A shared official language in each cohort", key="co_language")
    balance = c5.checkbox("Balance the cohort sizes", key="co_balance")
    seconds = c6.slider("Solver time (s)", 2, 60, 10, key="co_seconds")
    together = st.text_input("Keep together (city names separated by commas)", key="co_together")
    apart = st.text_input("Keep apart (city names separated by commas)", key="co_apart")
    if not st.button("Plan cohorts", type="primary", key="co_go") or cities is None:
        return
    rules = CohortRules(min_size=low, max_size=high, min_mentors=int(mentors), max_per_country=int(per_country) or None,
                        common_language=language, balance_sizes=balance,
                        together=_groups(together), apart=_groups(apart))
    try:
        with st.spinner("Planning cohorts…"):
            plan = m.cohorts.plan(cities, rules, time_limit=float(seconds))
    except MatcherError as exc:
        show_error(exc)
        return
    m1, m2 = st.columns(2)
    m1.metric("How alike the members are", f"{plan.objective:.2f}", help="The sum of the similarities of every "
              "pair of cities in the same cohort.")
    m2.metric("Best possible split?", "yes, proven" if plan.optimal else f"within {plan.gap:.0%} of the best")
    st.caption("Rules: " + md_escape("; ".join(plan.rules)) + ".")
    with st.expander("Technical detail"):
        st.caption(f"Solver: {md_escape(plan.solver)}. Upper bound {plan.upper_bound:.2f} "
                   f"({md_escape(plan.bound_source)}); gap {plan.gap:.1%}.")
    members = cohort_members_table(plan, m.twins.profiles)
    _members_map(members, "cohort")
    st.download_button("Download the cohorts (CSV)", csv_bytes(cohort_members_table(plan)), "cohorts.csv",
                       "text/csv", key="dl_cohorts")
    workspace_pages.offer_save("cohort_plan", plan)
    for cohort in plan.cohorts:
        with st.expander(f"Cohort {cohort.number}: {cohort.size} cities, mean similarity {cohort.mean_similarity:.2f}",
                         expanded=cohort.number == 1):
            for line in cohort.why:
                st.markdown(f"- {md_escape(line)}")
            st.dataframe(members.loc[members["cohort"] == cohort.number, ["city", "country", "fit", "mentor", "mentor why"]],
                         hide_index=True, width="stretch")


def page_reviewers() -> None:
    st.title("Peer reviewers")
    st.caption("Give each plan its reviewers: the best total affinity that respects every rule, or the fairest.")
    m = load_matcher()
    workspace_pages.saved_panel("review_plan")
    plans = choose_cities("rv", "Plans to review")
    cross = st.checkbox("The cities whose plans are reviewed are also the reviewers", value=True, key="rv_cross")
    reviewers = None if cross else choose_cities("rv_pool", "Reviewer cities")
    c1, c2, c3 = st.columns(3)
    per_plan = c1.number_input("Reviewers per plan", 1, 6, 3, key="rv_per_plan")
    min_load, max_load = c2.slider("Reviews per reviewer", 0, 10, (0, 3), key="rv_load")
    fair = c3.toggle("Fairness: maximise the worst-off plan", key="rv_fair")
    c4, c5, c6 = st.columns(3)
    same_country = c4.checkbox("No reviewer from the same country", key="rv_no_same_country")
    same_network = c5.checkbox("No reviewer from a shared network", key="rv_no_shared_network")
    language = c6.checkbox("Reviewer and plan share a language", key="rv_language")
    c7, c8 = st.columns(2)
    mature = c7.checkbox("Each plan gets at least one reviewer further along (higher maturity)", key="rv_mature")
    mentor = c8.checkbox("Prefer reviewers ahead where the plan's city is stuck (mentor bonus)", key="rv_mentor",
                         help=SETTING_HELP["mentor_weight"])
    if not st.button("Assign reviewers", type="primary", key="rv_go") or plans is None:
        return
    rules = ReviewRules(per_plan=int(per_plan), min_load=int(min_load), max_load=int(max_load),
                        no_same_country=same_country, no_same_network=same_network, common_language=language,
                        more_mature=mature, mentor=mentor)
    try:
        with st.spinner("Solving the assignment…"):
            result = m.reviewers.assign(plans, reviewers, rules, mode="fair" if fair else "total")
    except MatcherError as exc:
        show_error(exc)
        return
    m1, m2, m3 = st.columns(3)
    m1.metric("Total affinity", f"{result.total_affinity:.2f}")
    m2.metric("Worst-off plan", f"{result.worst_plan_affinity:.2f}", help=result.worst_plan)
    m3.metric("Best possible assignment?", "yes, proven" if result.optimal else "the best found in time")
    st.caption("Rules: " + md_escape("; ".join(result.rules)) + ".")
    with st.expander("Technical detail"):
        st.caption(f"Solver: {md_escape(result.solver)}.")
    for note in result.notes:
        st.info(note)
    table = reviews_table(result)
    st.dataframe(table, hide_index=True, width="stretch", key="reviews_table")
    st.download_button("Download the assignment (CSV)", csv_bytes(table), "reviewers.csv", "text/csv",
                       key="dl_reviewers")
    workspace_pages.offer_save("review_plan", result)


# ---------------------------------------------------------------------------- data
@st.cache_data(show_spinner=False, max_entries=4)
def data_view(tier: str) -> pd.DataFrame:
    p = load_matcher().twins.profiles
    frame = p.loc[p["tier"] == tier]
    cols = {"name": "city", "country_code": "country", "population": "population",
            "net_zero_target_year": "net-zero target", "maturity": "maturity", "eu_mission": "EU Mission city",
            "networks": "networks", "barriers": "barriers", "priority_sectors": "priority sectors",
            "completeness": "how complete", "provenance": "source"}
    out = pd.DataFrame({label: frame[col] for col, label in cols.items()})
    out["country"] = out["country"].map(country_name)
    out["source"] = out["source"].map(readable_source)
    out["EU Mission city"] = out["EU Mission city"].map(lambda v: "yes" if v is True else "no" if v is False else "unknown")
    for col in ("population", "net-zero target", "maturity", "networks", "barriers", "priority sectors"):
        out[col] = out[col].map(shown)
    return out


@st.cache_data(show_spinner=False)
def cases_data_view() -> pd.DataFrame:
    cases = load_matcher().cases.cases
    out = pd.DataFrame({"title": cases["title"], "city": cases["city"].map(shown),
                        "country": cases["country_code"].map(country_name), "sectors": cases["sectors"].map(shown),
                        "barriers addressed": cases["barriers_addressed"].map(shown),
                        "barriers read from the text": cases["inferred_barriers"].map(shown),
                        "source": cases["source"].map(readable_source)})
    return out


def page_data() -> None:
    st.title("Data")
    m = load_matcher()
    p = m.twins.profiles
    st.markdown(f"**{len(p):,} city profiles**: {int((p['tier'] == 'curated').sum())} curated from the climate "
                f"sources, {int((p['tier'] == 'universe').sum()):,} European towns of 5,000+ inhabitants from GeoNames. "
                f"{int(p['has_climate_profile'].sum())} have a climate profile.")
    tier = st.radio("Show", ["curated", "universe"], horizontal=True, key="data_tier")
    st.dataframe(data_view(tier), hide_index=True, width="stretch", key="profiles_table")
    lib = load_matcher().cases
    st.markdown(f"**{len(lib.cases)} case studies**")
    st.dataframe(cases_data_view(), hide_index=True, width="stretch", key="cases_table")

    st.subheader("Check your network's profiles")
    st.caption("CSV, XLSX or Parquet with the columns of the profile schema (name, country_code, population, "
               "barriers, priority_sectors, ...; lists separated by ';'). Every problem is listed with its row and column.")
    upload = st.file_uploader("Profile file", type=["csv", "xlsx", "parquet"], key="upload")
    if upload is not None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / Path(upload.name).name
            path.write_bytes(upload.getvalue())
            try:
                table = load_profiles(path)
            except MatcherError as exc:
                problems = getattr(exc, "problems", None)
                st.error(f"{md_escape(upload.name)}: the file has {len(problems) if problems else 'a'} problem(s); nothing was loaded.")
                if problems:
                    shown = pd.DataFrame(problems)[["row", "column", "value", "message"]].astype(str)
                    st.dataframe(shown, hide_index=True, width="stretch", key="upload_errors")
                return
        st.success(f"{md_escape(upload.name)}: {len(table)} valid profiles.")
        st.dataframe(table[["name", "country_code", "population", "completeness"]], hide_index=True, key="upload_ok")


# ---------------------------------------------------------------------------- main
def main() -> None:
    restore_from_url()
    keep_values()
    page = st.sidebar.radio("Page", PAGES, key="page")
    workspace_pages.refresh(load_matcher())
    workspace_pages.account_sidebar(load_matcher())
    st.sidebar.divider()
    {"Find twins": page_twins, "My city": lambda: workspace_pages.page_my_city(load_matcher()),
     "Board": lambda: workspace_pages.page_board(load_matcher()), "Case studies": page_cases, "Cohorts": page_cohorts,
     "Peer reviewers": page_reviewers, "Data": page_data}[page]()
    write_url()


main()
