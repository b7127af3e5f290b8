"""Streamlit front end for city officers and network staff.

A thin layer over the `matcher` library: every score, filter and explanation comes from it;
this file only lays out widgets, tables, maps and downloads. Library errors (MatcherError)
are shown as readable messages, never as tracebacks.

    streamlit run app_streamlit.py
"""
from __future__ import annotations

import gc
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
from app_workspace import CITY_BOX_HELP, tr, translate as _  # noqa: E402  (the session's language)
from matcher.present.charts import contribution_spec  # noqa: E402
from matcher.present.i18n import LANGUAGES, N_, URL_KEY, session_translator  # noqa: E402
from matcher.present.view import (cohort_view, compare_view, error_text, facet_label, plain,  # noqa: E402
                                  profile_view, readable_source, reviews_view, rule_lines, rules_text, shown,
                                  survey_terms, twins_view)

PAGES = (N_("Find twins"), N_("My city"), N_("Board"), N_("Case studies"), N_("Cohorts"), N_("Peer reviewers"),
         N_("Data"))
MODELS = {N_("English (MiniLM)"): str(DEFAULT_SETTINGS["model_name"]),
          N_("Multilingual (USE, 16 languages)"): "use-multilingual-v3"}
SETTING_HELP = {s.name: s.help for s in SETTINGS}

st.set_page_config(page_title=session_translator({URL_KEY: st.session_state.get(URL_KEY) or st.query_params.get(URL_KEY)})(
    "Climate twins"), page_icon=":material/public:", layout="wide")


# ---------------------------------------------------------------------------- the users' language
def country_name(code) -> str:
    return tr().country(code)


def survey_choice(label: str, terms, key: str, container=st) -> list[str]:
    """A multiselect of survey terms: shown translated, the English survey wording in its help;
    the values kept are the survey's own (English) wording."""
    return container.multiselect(label, terms, key=key, format_func=tr().survey, help=tr().glossary(terms))


# ---------------------------------------------------------------------------- cached resources
def load_matcher() -> Matcher:
    return open_matcher(workspace_pages.workspace_url())


def kept_for_good(resource):
    """What the server loads once and keeps (profile tables, indexes, models), moved out of
    Python's garbage collections: a full collection walked all of it, ~180 ms a rerun."""
    gc.collect()
    gc.freeze()
    return resource


@st.cache_resource(show_spinner=False, max_entries=2)
def open_matcher(db_url: str) -> Matcher:
    """The matcher over the workspace at `db_url` (its edited profiles laid over the shipped data)."""
    return kept_for_good(Matcher.open(build="stale", workspace=workspace_pages.open_ws(db_url)))


@st.cache_resource(show_spinner=False)
def load_library(model_name: str) -> CaseLibrary:
    return kept_for_good(load_matcher().case_library(model_name))


@st.cache_resource(show_spinner=False)  # shared, read-only: no copy per call
def city_choices(everyone: bool = False) -> pd.DataFrame:
    return load_matcher().city_options(everyone=everyone)


@st.cache_resource(show_spinner=False)  # shared, read-only: no copy per call
def profile_options() -> dict:
    return load_matcher().filter_options()


def show_error(exc: Exception) -> None:
    """A library error as a message: Markdown in it is escaped (it may quote what the user typed
    or a file held); folders of the server and internal ids are left out."""
    reasons = getattr(exc, "reasons", None)
    if reasons:  # broken rules: one line each, with a change to try
        try_this, heading = _("Try:"), _("These rules cannot all hold:")
        lines = [f"- {md_escape(reason)}  \n  *{try_this}* {md_escape(fix)}" for reason, fix in rule_lines(exc, tr().lang)]
        st.error(f"**{heading}**\n\n" + "\n".join(lines), icon=":material/warning:")
        if getattr(exc, "rules", None):
            st.caption(_("Rules in force: {rules}.", rules=md_escape(rules_text(exc.rules, tr().lang))))
        return
    st.error(md_escape(error_text(exc, tr().lang)), icon=":material/warning:")


DEFAULT_CITY = "Milton Keynes (GB)"


def city_picker(key: str, label: str = N_("City")) -> str | None:
    """One city input over every European town: the box lists the larger cities with a climate
    profile; any other name typed is looked up (accents, exonyms, typos)."""
    box = workspace_pages.cities(load_matcher())
    picked = st.selectbox(_(label), box.listed, key=f"{key}_city", accept_new_options=True,
                          placeholder=_("Type a town: Fundão, Cologne, Padua…"), help=_(CITY_BOX_HELP))
    if picked is None:
        return None
    return box.ids.get(picked, str(picked).strip())


# ---------------------------------------------------------------------------- shareable state
# Widget keys kept in the URL: a reload or a shared link restores the view.
URL_KEYS = {"page": str, "twins_city": str, "ask_mode": str, "theme": str, "f_countries": list, "f_band": str,
            "f_languages": list, "f_mission": str, "f_networks": list, "f_exclude_country": bool, "f_mentor": bool,
            "f_everyone": bool, "f_k": int, "case_query": str, "cases_city": str, URL_KEY: str,
            **{f"w_{f.name}": float for f in FACETS}}
MISSION = {N_("any"): None, N_("only Mission cities"): True, N_("no Mission cities"): False}


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
               URL_KEY: list(LANGUAGES),
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


DEFAULTS = {"page": PAGES[0], "ask_mode": "A city in the data", "f_band": "any", "f_mission": "any", URL_KEY: "en",
            "f_exclude_country": False, "f_mentor": False, "f_everyone": False, "f_k": 10,
            "case_query": "green bonds", "own_name": "", "own_maturity": "unknown", "own_town": None, "own_country": "DE",
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
ASK_MODES = (N_("A city in the data"), N_("Describe my city"))
SIZE_NAMES = {"town": N_("town"), "small": N_("small"), "medium": N_("medium"), "large": N_("large"),
              "metropolis": N_("metropolis")}


def sidebar_controls() -> tuple[dict, TwinFilters, bool, bool, int]:
    opts = profile_options()
    st.sidebar.subheader(_("What counts, and how much"))
    st.sidebar.caption(_("Move a slider: the ranking changes at once."))
    weights = {f.name: st.sidebar.slider(_(f.label), 0.0, 3.0, step=0.25, key=f"w_{f.name}",
                                         help=_(f.help)) for f in FACETS}
    st.sidebar.subheader(_("Filters"))
    countries = st.sidebar.multiselect(_("Countries"), opts["countries"], key="f_countries", format_func=tr().country)
    band = st.sidebar.selectbox(_("City size"), ["any"] + list(SIZE_BANDS), key="f_band",
                                format_func=lambda b, t=tr(): t(b) if b == "any" else f"{t(SIZE_NAMES.get(b, b))} ({size_words(b, t)})")
    languages = st.sidebar.multiselect(_("Language"), opts["languages"], key="f_languages", format_func=tr().language_name)
    mission = st.sidebar.selectbox(_("EU Mission cities"), list(MISSION), key="f_mission", format_func=tr())
    networks = st.sidebar.multiselect(_("Networks"), opts["networks"], key="f_networks")
    exclude_country = st.sidebar.checkbox(_("Exclude my country"), key="f_exclude_country")
    mentor = st.sidebar.toggle(_("Mentor mode: peers ahead where I am stuck"), key="f_mentor",
                               help=_(SETTING_HELP["mentor_weight"]))
    everyone = st.sidebar.checkbox(_("Include towns without a climate profile"), key="f_everyone",
                                   help=_(SETTING_HELP["profiled_only"]))
    k = st.sidebar.slider(_("Number of twins"), 3, 30, key="f_k")
    filters = TwinFilters(countries=countries, size_band=None if band == "any" else band, languages=languages,
                          eu_mission=MISSION[mission], networks=networks, profiled_only=not everyone)
    return weights, filters, exclude_country, mentor, k


def size_words(band: str, t=None) -> str:
    t = t or tr()
    lo, hi = SIZE_BANDS[band]
    return t("{low}+ inhabitants", low=t.number(lo)) if hi == float("inf") else \
        t("{low}–{high} inhabitants", low=t.number(lo), high=t.number(hi))



def own_city_form() -> dict | None:
    vocab = vocabularies()
    opts = profile_options()
    box = workspace_pages.cities(load_matcher())
    labels, ids = box.labels, box.ids
    with st.form("own_city"):
        st.caption(_("Describe your city in the survey's words. Leave a field empty when you do not know it: "
                     "it is then not compared."))
        c1, c2, c3 = st.columns(3)
        name = c1.text_input(_("City name"), key="own_name", placeholder=_("My city"))
        town = c2.selectbox(_("Where is it? (the nearest town in the list)"), labels, key="own_town",
                            placeholder=_("Type a town"), help=_("Sets the country and the place on the map."))
        population = c3.number_input(_("Population"), min_value=0, value=None, step=1000, key="own_population",
                                     placeholder=_("unknown"))
        c4, c5, c6 = st.columns(3)
        country = c6.selectbox(_("Country (the town's, when you pick a town)"), opts["countries"], key="own_country",
                               format_func=tr().country)
        target = c4.number_input(_("When does your city aim to reach net zero? (year)"), min_value=2020, max_value=2100,
                                 value=None, placeholder=_("no target yet"), key="own_target")
        maturity = c5.selectbox(_("How far is your climate action?"), ["unknown", *MATURITY_LEVELS], key="own_maturity",
                                format_func=lambda v, t=tr(): t(v) if v == "unknown" else t.survey(v),
                                help=tr().glossary(MATURITY_LEVELS))
        languages = st.multiselect(_("Languages"), opts["languages"], key="own_languages", format_func=tr().language_name)
        barriers = survey_choice(_("What are the main barriers and gaps your city faces?"), vocab["barriers"][:17],
                                 "own_barriers")
        sectors = survey_choice(_("What are your priority sectors for reducing emissions?"), vocab["priority_sectors"],
                                "own_sectors")
        co_benefits = survey_choice(_("Which co-benefits do you seek?"), vocab["co_benefits"], "own_cobenefits")
        funding = survey_choice(_("Where are your funding gaps?"), vocab["funding_gaps"], "own_funding")
        narrative = st.text_area(_("What do you want to learn? (a few lines)"), key="own_narrative")
        submitted = st.form_submit_button(_("Find twins for my city"))
    if not submitted and "own_profile" not in st.session_state:
        return None
    if submitted:
        place = load_matcher().twins.profiles.set_index("city_id").loc[ids[town]] if town in ids else None
        profile = {"name": name or _("My city"), "country_code": place["country_code"] if place is not None else country,
                   "languages": languages, "barriers": barriers, "priority_sectors": sectors,
                   "co_benefits": co_benefits, "funding_gaps": funding, "narrative": narrative or None,
                   "population": int(population) if population else None,
                   "lat": float(place["lat"]) if place is not None else None,
                   "lon": float(place["lon"]) if place is not None else None,
                   "net_zero_target_year": int(target) if target else None,
                   "maturity": None if maturity == "unknown" else maturity}
        st.session_state["own_profile"] = profile
    return st.session_state["own_profile"]


def full_profile(m: Matcher, asker: dict) -> dict:
    """The asking city's whole profile row (a city of the data), else what was asked with."""
    row = m.twins.row_of_id(asker.get("city_id")) if isinstance(asker.get("city_id"), str) else None
    return m.twins.profiles.iloc[row].to_dict() if row is not None else asker


def page_twins() -> None:
    st.title(_("Find twin cities"))
    st.caption(_("Cities like yours, each with the reasons that add up to its score."))
    m = load_matcher()
    lang = tr().lang
    workspace_pages.saved_panel("shortlist")
    workspace_pages.saved_panel("pairing")
    weights, filters, exclude_country, mentor, k = sidebar_controls()
    mode = st.radio(_("Who is asking?"), ASK_MODES, horizontal=True, key="ask_mode", format_func=tr())
    city = profile = None
    if mode == ASK_MODES[0]:
        city = city_picker("twins")
        if city is None:
            st.info(_("Type or pick a town."))
            return
    else:
        profile = own_city_form()
        if profile is None:
            st.info(_("Fill in the form and press the button."))
            return
    theme = st.text_input(_("Theme (optional)"), key="theme", placeholder=_("e.g. energy refurbishment of private housing"))
    try:
        result = m.twins.recommend(city, profile=profile, k=k, weights=weights, filters=filters,
                                   exclude_same_country=exclude_country, theme=theme or None, mentor=mentor)
    except MatcherError as exc:
        show_error(exc)
        return
    asker = result.asker
    heading = _("Mentors for {name} ({country})") if mentor else _("Twins for {name} ({country})")
    st.subheader(heading.format(name=md_escape(asker["name"]), country=md_escape(country_name(asker.get("country_code")))))
    own = full_profile(m, asker)
    with st.expander(_("Your city's profile, and what is unknown"), expanded=False):
        st.dataframe(profile_view(own, lang), hide_index=True, width="stretch", key="own_profile_table",
                     column_config={_("value"): st.column_config.TextColumn(help=tr().glossary(survey_terms(own)))})
        st.caption(_("Unknown fields are not compared: add them (\"Describe my city\") to get better matches."))
    if not result.matches:
        st.warning(_("No city passes these filters. Loosen a filter in the sidebar."))
        return
    view = twins_view(result, lang)
    # A new key for each asking city: a ticked row never carries over to another city's twins.
    table_key = "twins_table_" + re.sub(r"\W", "_", str(asker.get("city_id") or asker.get("name")))
    event = st.dataframe(view.drop(columns=["city_id"]), hide_index=True, width="stretch", key=table_key,
                         on_select="rerun", selection_mode="single-row",
                         column_config={_("city"): st.column_config.TextColumn(_("city"), pinned=True),
                                        _("score"): st.column_config.NumberColumn(_("score"), format="%.3f", pinned=True),
                                        _("why"): st.column_config.TextColumn(_("why"), width="large")})
    rows = list(event.selection.rows) if event is not None and hasattr(event, "selection") else []
    match = result.matches[rows[0] if rows and rows[0] < len(result.matches) else 0]
    st.caption(_("Tick a row to see why that city is a twin.") if not rows else _("Untick the row to go back to the first twin."))
    st.subheader(_("Why {name}? (rank {rank})", name=md_escape(match.name), rank=match.rank))
    c1, c2 = st.columns([3, 2])
    with c1:
        st.vega_lite_chart(contribution_spec(match, tr().lang), width="stretch")
    with c2:
        st.markdown(_("**{name}**: score **{score}** = the sum of the bars.", name=md_escape(match.name),
                      score=f"{match.score:.3f}"))
        # One element per list, not one per line: the browser redraws every element on each rerun.
        st.markdown("\n".join(f"- {md_escape(plain(reason, lang))}" for reason in match.reasons))
        if match.not_compared:
            st.caption("  \n".join(md_escape(plain(note, lang)) for note in match.not_compared))
        cases = m.cases_of_city(match.city_id)
        if len(cases):
            st.markdown("**" + _("Its case studies") + "**\n" + "\n".join(f"- {md_escape(t)}" for t in cases["title"]))
    peer = full_profile(m, {"city_id": match.city_id, "name": match.name})
    with st.expander(_("Compare {a} and {b} side by side", a=asker["name"], b=match.name)):
        st.dataframe(compare_view(own, peer, lang), hide_index=True, width="stretch", key="compare_table",
                     column_config={"": st.column_config.TextColumn(help=tr().glossary(survey_terms(own, peer)))})
    workspace_pages.offer_pairing(m, asker, match)
    with st.expander(_("Technical detail")):
        st.caption(_("Each term is the facet weight times a similarity in [0, 1]; text facets are cosine similarities "
                     "of sentence embeddings."))
        st.caption("  \n".join(f"{md_escape(facet_label(term.name, lang))}: {term.contribution:.4f} "
                               f"{md_escape(tr().reason(term.detail))}" for term in match.explanation))

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
    spec["usermeta"] = {"embedOptions": {"renderer": "canvas"}}  # one canvas, not an SVG path per country
    spec["layer"] = [{"data": {"values": country_outlines(), "format": {"type": "topojson", "feature": "countries"}},
                             "mark": {"type": "geoshape", "fill": "#f2f0ea", "stroke": "#8c8c8c", "strokeWidth": 0.6,
                                      "clip": True}}, *spec["layer"]]
    with st.container(key=key):
        st.vega_lite_chart(spec, width="stretch")


@st.cache_resource(show_spinner=False)
def _twins_map_template(lang: str) -> dict:
    """The twins map's layers as Vega-Lite, built (and schema-checked) by Altair once per language,
    on a named data set that each rerun fills in."""
    _ = session_translator({URL_KEY: lang})
    roles = [_("asking city"), _("twin")]
    base = alt.Chart(alt.NamedData("points")).encode(longitude="lon:Q", latitude="lat:Q",
                                 tooltip=[alt.Tooltip("city:N", title=_("city")), alt.Tooltip("country:N", title=_("country")),
                                          alt.Tooltip("score:N", title=_("score")), alt.Tooltip("why:N", title=_("why"))])
    dots = base.mark_point(filled=True, opacity=0.9, stroke="white", strokeWidth=1).encode(
        color=alt.Color("role:N", scale=alt.Scale(domain=roles, range=["#d62828", "#2a9d8f"]),
                        legend=alt.Legend(title=None, orient="top")),
        shape=alt.Shape("role:N", scale=alt.Scale(domain=roles, range=["diamond", "circle"]),
                        legend=None),
        size=alt.condition(alt.datum.role == roles[0], alt.value(260), alt.value(110)))
    labels = base.mark_text(align="left", dx=8, dy=-6, fontSize=11, color="#333").encode(text="label:N")
    return alt.layer(dots, labels).project(type="mercator").properties(height=440).to_dict()


def twins_map(asker: dict, result) -> None:
    pts = twins_map_points(result, tr().lang)
    if not len(pts):
        return
    spec = dict(_twins_map_template(tr().lang))
    spec["datasets"] = {"points": pts.astype(object).where(pts.notna(), None).to_dict("records")}
    spec["projection"] = {"type": "mercator", "fit": map_extent(pts, grid=5.0)}  # the same box for most slider moves
    show_map("twins_map", spec)
    st.caption(_("Hover a city for its score and why. Map: {source}.", source=OUTLINES_SOURCE))


def downloads(result, table: pd.DataFrame, m: Matcher) -> None:
    """The table as CSV now; the brief only when asked for (a callable: a slider move stays fast)."""

    def brief() -> dict:
        return m.twinning_brief(result)

    lang = tr().lang
    slug = (result.asker.get("name") or "city").replace(" ", "_")
    c1, c2, c3 = st.columns(3)
    c1.download_button(_("Download the table (CSV)"), csv_bytes(table), f"twins_{slug}.csv", "text/csv", key="dl_csv")
    c2.download_button(_("Twinning brief (Markdown)"), lambda: brief_markdown(brief(), lang).encode("utf-8"),
                       f"twinning_brief_{slug}.md", "text/markdown", key="dl_md")
    c3.download_button(_("Twinning brief (PDF)"), lambda: brief_pdf(brief(), lang), f"twinning_brief_{slug}.pdf",
                       "application/pdf", key="dl_pdf")


# ---------------------------------------------------------------------------- case studies
def case_card(hit, weak: bool = False) -> None:
    with st.container(border=True):
        where = ", ".join(x for x in (hit.city, country_name(hit.country_code) if hit.country_code else None) if x)
        st.markdown(f"**{hit.rank}. {md_escape(hit.title)}**" + (f"  \n{md_escape(where)}" if where else ""))
        survey = tr().survey
        tags = [md_escape(survey(t)) for t in hit.sectors + hit.barriers] + \
            [_("{tag} (read from the text)", tag=md_escape(survey(t))) for t in hit.inferred_sectors + hit.inferred_barriers]
        if tags:
            st.markdown(" · ".join(tags), help=tr().glossary(hit.sectors + hit.barriers + hit.inferred_sectors
                                                             + hit.inferred_barriers))
        st.markdown(f"> {md_escape(hit.passage)}")
        if hit.reasons:  # why it suits the asking city, in the interface language
            st.caption(md_escape("; ".join(plain(r, tr().lang) for r in hit.reasons[:3])))
        if weak:
            st.caption(_("A weak match: it shares words with your search more than its meaning."))
        if hit.source:
            st.caption(_("Source: {source}", source=md_escape(readable_source(hit.source, tr().lang))))



def technical_detail(hits) -> None:
    """How each score adds up (cosines, BM25): for the curious, folded away."""
    if not hits:
        return
    with st.expander(_("Technical detail: how the scores add up")):
        st.caption("  \n".join(f"{hit.rank}\\. {md_escape(hit.title)}: {_('score')} {hit.score:.3f} = " +
                               " + ".join(f"{md_escape(c.label)} {c.contribution:.3f} ({md_escape(tr().reason(c.detail))})"
                                          for c in hit.explanation) for hit in hits))


def page_cases() -> None:
    st.title(_("Case studies"))
    st.caption(_("What peers did about the barriers you share. Source tags and tags inferred from the text are marked apart."))
    model = st.radio(_("Language model"), list(MODELS), horizontal=True, key="case_model", format_func=tr(),
                     help=_("The multilingual model finds English case studies from a German, Spanish, French… query."))
    with st.spinner(_("Loading the case-study library…")):
        lib = load_library(MODELS[model])
    vocab = vocabularies()
    search_tab, city_tab = st.tabs([_("Search"), _("Recommended for my city")])
    with search_tab:
        text = st.text_input(_("Search"), key="case_query")
        c1, c2, c3 = st.columns(3)
        sectors = survey_choice(_("Sector"), vocab["case_sectors"], "case_sectors", c1)
        barriers = survey_choice(_("Barrier"), vocab["case_barriers"][:17], "case_barriers", c2)
        countries = c3.multiselect(_("Country"), sorted(lib.cases["country_code"].dropna().unique()), key="case_countries",
                                   format_func=tr().country)
        try:
            result = lib.search(text, k=10, filters=CaseFilters(sectors=sectors, barriers=barriers, countries=countries))
        except MatcherError as exc:
            show_error(exc)
            result = None
        if text.strip() and result is not None and not result.matches:
            st.warning(_("No case study passes these filters."))
        good, weak = split_good_weak(result, threshold_for(MODELS[model])) if result is not None else ([], [])
        if result is not None and result.matches and not good:
            st.info(_("Nothing relevant: no case study is about “{query}”. Try other words, or the multilingual "
                      "model for a query that is not in English.", query=md_escape(text.strip())),
                    icon=":material/search_off:")
        if good:
            st.download_button(_("Download these results (CSV)"), csv_bytes(cases_table(result)), "case_studies.csv",
                               "text/csv", key="dl_cases")
        for hit in good:
            case_card(hit)
        if weak:
            with st.expander(_("Weak matches ({n}): they share words, not meaning", n=len(weak)), expanded=False):
                for hit in weak:
                    case_card(hit, weak=True)
        technical_detail(result.matches if result is not None else [])
    with city_tab:
        city = city_picker("cases", N_("For which city?"))
        try:
            result = lib.recommend_for_city(city, k=8) if city else None
        except MatcherError as exc:
            show_error(exc)
            result = None
        if result is not None and result.matches:
            st.download_button(_("Download (CSV)"), csv_bytes(cases_table(result)), "case_studies_for_city.csv",

                               "text/csv", key="dl_cases_city")
        for hit in result.matches if result is not None else []:
            case_card(hit)
        technical_detail(result.matches if result is not None else [])


# ---------------------------------------------------------------------------- network staff
CHOOSE = (N_("A network"), N_("All cities with a climate profile"), N_("Pick cities"), N_("Upload a list"))


def choose_cities(key: str, label: str = N_("Cities")) -> list[str] | str | None:
    """All cities with a climate profile, a network's members, a hand-picked set, or an uploaded
    list of names (one per line, or a CSV column `name` with optional `country_code`)."""
    opts = profile_options()
    how = st.radio(_(label), CHOOSE, horizontal=True, key=f"{key}_how", format_func=tr())
    if how == "All cities with a climate profile":
        return "all"
    if how == "A network":
        default = opts["networks"].index("Key Cities") if "Key Cities" in opts["networks"] else 0
        network = st.selectbox(_("Network"), opts["networks"], index=default, key=f"{key}_network")
        members = load_matcher().network_members(network)
        st.caption(_("{n} member cities.", n=len(members)))
        return members
    if how == "Pick cities":
        choices = city_choices()
        picked = st.multiselect(_("Cities"), choices["label"], key=f"{key}_picked")
        return choices.loc[choices["label"].isin(picked), "city_id"].tolist()
    upload = st.file_uploader(_("City list (.txt or .csv)"), type=["txt", "csv"], key=f"{key}_upload")
    if upload is None:
        return None
    try:
        items = parse_city_list(upload.getvalue().decode("utf-8-sig", errors="replace"), upload.name)
    except MatcherError as exc:
        show_error(exc)
        return None
    ids, unknown = resolve_city_list(load_matcher().twins, items)
    for message in unknown:
        st.error(md_escape(message), icon=":material/warning:")
    return ids if not unknown else None


def _members_map(frame: pd.DataFrame, group: str) -> None:
    pts = frame.dropna(subset=["lat", "lon"]).copy()
    if not len(pts):
        return
    names = {n: _("Cohort {n}", n=n) for n in sorted(pts[group].astype(int).unique())}
    pts["cohort"] = pts[group].astype(int).map(names)
    pts["country"] = pts["country"].map(country_name)
    order = list(names.values())
    dots = alt.Chart(pts).mark_circle(size=110, opacity=0.9, stroke="white", strokeWidth=0.8).encode(
        longitude="lon:Q", latitude="lat:Q",
        color=alt.Color("cohort:N", scale=alt.Scale(domain=order, range=cohort_colours(len(order))),
                        legend=alt.Legend(title=_("Cohort"), columns=2 if len(order) > 14 else 1, symbolLimit=0)),
        tooltip=[alt.Tooltip("city:N", title=_("city")), alt.Tooltip("country:N", title=_("country")),
                 alt.Tooltip("cohort:N", title=_("Cohort")), alt.Tooltip("fit:Q", format=".2f", title=_("fit"))])
    offline_map("cohorts_map", pts, dots)
    st.caption(_("Hover a city for its cohort. Map: {source}.", source=OUTLINES_SOURCE))


def kept_result(key: str, asked, pressed: bool, compute):
    """The result of the page's last button press, kept while what was asked stays the same: a
    click elsewhere (Save, a download, an expander) no longer loses the plan; a changed rule does."""
    if pressed:
        try:
            st.session_state[key] = (repr(asked), compute())
        except MatcherError as exc:
            st.session_state.pop(key, None)
            show_error(exc)
            return None
    kept = st.session_state.get(key)
    return kept[1] if kept is not None and kept[0] == repr(asked) else None


def _groups(text: str) -> list[list[str]]:
    """'Lyon, Bordeaux' -> [['Lyon', 'Bordeaux']] (one group), '' -> []."""
    names = [c.strip() for c in text.split(",") if c.strip()]
    return [names] if names else []


def page_cohorts() -> None:
    st.title(_("Cohorts"))
    st.caption(_("Split the cities of a call into learning cohorts that maximise how alike members are, under your rules."))
    m = load_matcher()
    workspace_pages.saved_panel("cohort_plan")
    cities = choose_cities("cohorts")
    c1, c2, c3 = st.columns(3)
    low, high = c1.slider(_("Cohort size"), 2, 20, (7, 12), key="co_size")
    mentors = c2.number_input(_("Mentors per cohort"), 0, 5, 0, key="co_mentors",
                              help=_("A mentor: maturity 'advanced', or a target of 2030 or earlier"))
    per_country = c3.number_input(_("At most … cities per country per cohort (0 = no limit)"), 0, 20, 0, key="co_country")
    c4, c5, c6 = st.columns(3)
    language = c4.checkbox(_("A shared official language in each cohort"), key="co_language")
    balance = c5.checkbox(_("Balance the cohort sizes"), key="co_balance")
    seconds = c6.slider(_("Solver time (s)"), 2, 60, 10, key="co_seconds")
    together = st.text_input(_("Keep together (city names separated by commas)"), key="co_together")
    apart = st.text_input(_("Keep apart (city names separated by commas)"), key="co_apart")
    pressed = st.button(_("Plan cohorts"), type="primary", key="co_go")
    if cities is None:
        return
    rules = CohortRules(min_size=low, max_size=high, min_mentors=int(mentors), max_per_country=int(per_country) or None,
                        common_language=language, balance_sizes=balance,
                        together=_groups(together), apart=_groups(apart))
    with st.spinner(_("Planning cohorts…")):
        plan = kept_result("co_result", (cities, rules, seconds), pressed,
                           lambda: m.cohorts.plan(cities, rules, time_limit=float(seconds)))
    if plan is None:
        return
    m1, m2 = st.columns(2)
    m1.metric(_("How alike the members are"), f"{plan.objective:.2f}", help=_("The sum of the similarities of every "
              "pair of cities in the same cohort."))
    m2.metric(_("Best possible split?"), _("yes, proven") if plan.optimal else
              _("within {gap} of the best", gap=f"{plan.gap:.0%}"))
    st.caption(_("Rules: {rules}.", rules=md_escape(rules_text(plan.rules, tr().lang))))
    with st.expander(_("Technical detail")):
        st.caption(_("Solver: {solver}. Upper bound {bound} ({source}); gap {gap}.", solver=md_escape(plan.solver),
                     bound=f"{plan.upper_bound:.2f}", source=md_escape(plan.bound_source), gap=f"{plan.gap:.1%}"))
    members = cohort_members_table(plan, m.twins.profiles)
    _members_map(members, "cohort")
    st.download_button(_("Download the cohorts (CSV)"), csv_bytes(cohort_members_table(plan)), "cohorts.csv",
                       "text/csv", key="dl_cohorts")
    workspace_pages.offer_save("cohort_plan", plan)
    columns = ["city", "country", "fit", "mentor", "mentor why"]
    for cohort in plan.cohorts:
        with st.expander(_("Cohort {n}: {size} cities, mean similarity {mean}", n=cohort.number, size=cohort.size,
                           mean=f"{cohort.mean_similarity:.2f}"), expanded=cohort.number == 1):
            for line in cohort.why:
                st.markdown(f"- {md_escape(plain(line, tr().lang))}")
            rows = cohort_view(plan, cohort.number, tr().lang)
            st.dataframe(rows.rename(columns={c: _(c) for c in columns}), hide_index=True, width="stretch")



# Headings of the library's tables (present/tables.py), shown in the interface language.
TABLE_HEADINGS = (N_("plan"), N_("plan country"), N_("reviewer"), N_("reviewer country"), N_("affinity"),
                  N_("twin score"), N_("mentor bonus"), N_("locked"), N_("mentor"), N_("mentor why"))


def page_reviewers() -> None:
    st.title(_("Peer reviewers"))
    st.caption(_("Give each plan its reviewers: the best total affinity that respects every rule, or the fairest."))
    m = load_matcher()
    workspace_pages.saved_panel("review_plan")
    plans = choose_cities("rv", N_("Plans to review"))
    cross = st.checkbox(_("The cities whose plans are reviewed are also the reviewers"), value=True, key="rv_cross")
    reviewers = None if cross else choose_cities("rv_pool", N_("Reviewer cities"))
    c1, c2, c3 = st.columns(3)
    per_plan = c1.number_input(_("Reviewers per plan"), 1, 6, 3, key="rv_per_plan")
    min_load, max_load = c2.slider(_("Reviews per reviewer"), 0, 10, (0, 3), key="rv_load")
    fair = c3.toggle(_("Fairness: maximise the worst-off plan"), key="rv_fair")
    c4, c5, c6 = st.columns(3)
    same_country = c4.checkbox(_("No reviewer from the same country"), key="rv_no_same_country")
    same_network = c5.checkbox(_("No reviewer from a shared network"), key="rv_no_shared_network")
    language = c6.checkbox(_("Reviewer and plan share a language"), key="rv_language")
    c7, c8 = st.columns(2)
    mature = c7.checkbox(_("Each plan gets at least one reviewer further along (higher maturity)"), key="rv_mature")
    mentor = c8.checkbox(_("Prefer reviewers ahead where the plan's city is stuck (mentor bonus)"), key="rv_mentor",
                         help=_(SETTING_HELP["mentor_weight"]))
    pressed = st.button(_("Assign reviewers"), type="primary", key="rv_go")
    if plans is None:
        return
    rules = ReviewRules(per_plan=int(per_plan), min_load=int(min_load), max_load=int(max_load),
                        no_same_country=same_country, no_same_network=same_network, common_language=language,
                        more_mature=mature, mentor=mentor)
    with st.spinner(_("Solving the assignment…")):
        result = kept_result("rv_result", (plans, reviewers, rules, fair), pressed,
                             lambda: m.reviewers.assign(plans, reviewers, rules, mode="fair" if fair else "total"))
    if result is None:
        return
    m1, m2, m3 = st.columns(3)
    m1.metric(_("Total affinity"), f"{result.total_affinity:.2f}")
    m2.metric(_("Worst-off plan"), f"{result.worst_plan_affinity:.2f}", help=result.worst_plan)
    m3.metric(_("Best possible assignment?"), _("yes, proven") if result.optimal else _("the best found in time"))
    st.caption(_("Rules: {rules}.", rules=md_escape(rules_text(result.rules, tr().lang))))
    with st.expander(_("Technical detail")):
        st.caption(_("Solver: {solver}.", solver=md_escape(result.solver)))
    for note in result.notes:
        st.info(plain(note, tr().lang))
    table = reviews_view(result, tr().lang)
    st.dataframe(table, hide_index=True, width="stretch", key="reviews_table",
                 column_config={c: st.column_config.Column(_(c)) for c in table.columns})
    st.download_button(_("Download the assignment (CSV)"), csv_bytes(reviews_table(result)), "reviewers.csv", "text/csv",
                       key="dl_reviewers")
    workspace_pages.offer_save("review_plan", result)


# ---------------------------------------------------------------------------- data
DATA_COLUMNS = {"name": N_("city"), "country_code": N_("country"), "population": N_("population"),
                "net_zero_target_year": N_("net-zero target"), "maturity": N_("maturity"),
                "eu_mission": N_("EU Mission city"), "networks": N_("networks"), "barriers": N_("barriers"),
                "priority_sectors": N_("priority sectors"), "completeness": N_("how complete"), "provenance": N_("source")}
TIERS = {"curated": N_("curated"), "universe": N_("universe")}


@st.cache_data(show_spinner=False, max_entries=8)
def data_view(tier: str, lang: str) -> pd.DataFrame:
    """The profiles of a tier as people read them, in the interface language (survey terms
    translated; the headings' help gives the survey's English wording)."""
    t = session_translator({URL_KEY: lang})
    p = load_matcher().twins.profiles
    frame = p.loc[p["tier"] == tier]
    out = pd.DataFrame({col: frame[col] for col in DATA_COLUMNS})
    out["country_code"] = out["country_code"].map(t.country)
    out["provenance"] = out["provenance"].map(lambda v: readable_source(v, lang))
    out["eu_mission"] = out["eu_mission"].map(lambda v: t("yes") if v is True else t("no") if v is False else t("unknown"))
    for col in ("maturity", "barriers", "priority_sectors"):
        out[col] = out[col].map(lambda v: t.survey(v) if isinstance(v, str) else
                                t.survey_list(v) if v is not None and not isinstance(v, float) else v)
    for col in ("population", "net_zero_target_year", "maturity", "networks", "barriers", "priority_sectors"):
        out[col] = out[col].map(lambda v: shown(v, lang))
    return out.rename(columns={col: t(label) for col, label in DATA_COLUMNS.items()})


@st.cache_data(show_spinner=False, max_entries=8)
def cases_data_view(lang: str) -> pd.DataFrame:
    t = session_translator({URL_KEY: lang})
    cases = load_matcher().cases.cases

    def terms(values):
        return shown(t.survey_list(values) if values is not None and not isinstance(values, float) else values, lang)

    out = pd.DataFrame({t("title"): cases["title"], t("city"): cases["city"].map(lambda v: shown(v, lang)),
                        t("country"): cases["country_code"].map(t.country), t("sectors"): cases["sectors"].map(terms),
                        t("barriers addressed"): cases["barriers_addressed"].map(terms),
                        t("barriers read from the text"): cases["inferred_barriers"].map(terms),
                        t("source"): cases["source"].map(lambda v: readable_source(v, lang))})
    return out


def survey_columns(columns: dict) -> dict:
    """Column headings ({heading: survey list}) whose help gives the survey's English wording."""
    return {_(c): st.column_config.TextColumn(help=tr().glossary(terms, limit=200)) for c, terms in columns.items()}


def page_data() -> None:
    st.title(_("Data"))
    m = load_matcher()
    p = m.twins.profiles
    lang = tr().lang
    st.markdown(_("**{profiles} city profiles**: {curated} curated from the climate sources, {towns} European towns "
                  "of 5,000+ inhabitants from GeoNames. {profiled} have a climate profile.",
                  profiles=tr().number(len(p)), curated=int((p["tier"] == "curated").sum()),
                  towns=tr().number(int((p["tier"] == "universe").sum())), profiled=int(p["has_climate_profile"].sum())))
    tier = st.radio(_("Show"), list(TIERS), horizontal=True, key="data_tier", format_func=lambda v, t=tr(): t(TIERS[v]))
    st.dataframe(data_view(tier, lang), hide_index=True, width="stretch", key="profiles_table",
                 column_config=survey_columns({"maturity": MATURITY_LEVELS, "barriers": vocabularies()["barriers"],
                                               "priority sectors": vocabularies()["priority_sectors"]}))
    lib = load_matcher().cases
    st.markdown(_("**{n} case studies**", n=len(lib.cases)))
    st.dataframe(cases_data_view(lang), hide_index=True, width="stretch", key="cases_table",
                 column_config=survey_columns({"sectors": vocabularies()["case_sectors"],
                                               "barriers addressed": vocabularies()["case_barriers"],
                                               "barriers read from the text": vocabularies()["case_barriers"]}))

    st.subheader(_("Check your network's profiles"))
    st.caption(_("CSV, XLSX or Parquet with the columns of the profile schema (name, country_code, population, "
                 "barriers, priority_sectors, ...; lists separated by ';'). Every problem is listed with its row and column."))
    upload = st.file_uploader(_("Profile file"), type=["csv", "xlsx", "parquet"], key="upload")
    if upload is not None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / Path(upload.name).name
            path.write_bytes(upload.getvalue())
            try:
                table = load_profiles(path)
            except MatcherError as exc:
                problems = getattr(exc, "problems", None)
                st.error(_("{file}: the file has {n} problem(s); nothing was loaded.", file=md_escape(upload.name),
                           n=len(problems) if problems else 1))
                if problems:
                    shown = pd.DataFrame(problems)[["row", "column", "value", "message"]].astype(str)
                    st.dataframe(shown, hide_index=True, width="stretch", key="upload_errors")
                return
        st.success(_("{file}: {n} valid profiles.", file=md_escape(upload.name), n=len(table)))
        st.dataframe(table[["name", "country_code", "population", "completeness"]], hide_index=True, key="upload_ok")


# ---------------------------------------------------------------------------- main
def main() -> None:
    restore_from_url()
    keep_values()
    st.sidebar.selectbox(":material/translate: " + _("Language of the interface"), list(LANGUAGES), key=URL_KEY, format_func=LANGUAGES.get,
                         help=_("The survey's terms are shown in this language; hover a list for the survey's "
                                "English wording."))
    with st.spinner(_("Loading the twin index (the very first start builds it: about a minute)…")):
        load_matcher()
    page = st.sidebar.radio(_("Page"), PAGES, key="page", format_func=tr())
    workspace_pages.refresh(load_matcher())
    workspace_pages.account_sidebar(load_matcher())
    st.sidebar.divider()
    {"Find twins": page_twins, "My city": lambda: workspace_pages.page_my_city(load_matcher()),
     "Board": lambda: workspace_pages.page_board(load_matcher()), "Case studies": page_cases, "Cohorts": page_cohorts,
     "Peer reviewers": page_reviewers, "Data": page_data}[page]()
    write_url()


main()
