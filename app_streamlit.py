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
from matcher.network import parse_city_list, resolve_city_list  # noqa: E402
from matcher.settings import DEFAULT_SETTINGS  # noqa: E402
from matcher.present import (brief_markdown, brief_pdf, cases_table, cohort_members_table, csv_bytes,  # noqa: E402
                             md_escape, reviews_table, twins_table)

PAGES = ("Find twins", "Case studies", "Cohorts", "Peer reviewers", "Data")
MODELS = {"English (MiniLM)": str(DEFAULT_SETTINGS["model_name"]), "Multilingual (USE, 16 languages)": "use-multilingual-v3"}
SETTING_HELP = {s.name: s.help for s in SETTINGS}

st.set_page_config(page_title="Climate twins", page_icon="🌍", layout="wide")


# ---------------------------------------------------------------------------- cached resources
@st.cache_resource(show_spinner="Loading the twin index (the very first start builds it: about a minute)…")
def load_matcher() -> Matcher:
    return Matcher.open(build="stale")


@st.cache_resource(show_spinner="Loading the case-study library…")
def load_library(model_name: str) -> CaseLibrary:
    return load_matcher().case_library(model_name)


@st.cache_data(show_spinner=False)
def city_choices() -> pd.DataFrame:
    return load_matcher().city_options()


@st.cache_data(show_spinner=False)
def profile_options() -> dict:
    return load_matcher().filter_options()


_SERVER_PATH = re.compile(r"(?<![\w.])(?:[A-Za-z]:)?[/\\](?:[^\s/\\:'\"]+[/\\])+([^\s/\\:'\"]+)")


def show_error(exc: Exception) -> None:
    """A library error as a message: Markdown in it is escaped (it may quote what the user typed
    or a file held) and folders of the server are cut down to the file name."""
    st.error(md_escape(_SERVER_PATH.sub(r"\1", str(exc))), icon="⚠️")


def city_picker(key: str, label: str = "City") -> tuple[str | None, str | None]:
    """A city with a climate profile from a list, or any of the 20,000 towns typed by name."""
    choices = city_choices()
    default = int(choices.index[choices["label"] == "Milton Keynes (GB)"][0]) if (choices["label"] == "Milton Keynes (GB)").any() else 0
    picked = st.selectbox(label, choices["label"], index=default, key=f"{key}_city")
    typed = st.text_input("…or type any European town (accents and exonyms work)", key=f"{key}_typed",
                          placeholder="e.g. Fundão, Cologne, Padua")
    if typed.strip():
        return typed.strip(), None
    return choices.loc[choices["label"] == picked, "city_id"].iloc[0], None


# ---------------------------------------------------------------------------- find twins
def sidebar_controls() -> tuple[dict, TwinFilters, bool, bool, int]:
    opts = profile_options()
    st.sidebar.subheader("Facet weights")
    st.sidebar.caption("Move a slider: the ranking changes at once, without rebuilding anything.")
    weights = {f.name: st.sidebar.slider(f.label, 0.0, 3.0, float(f.default_weight), 0.25, key=f"w_{f.name}",
                                         help=f.help) for f in FACETS}
    st.sidebar.subheader("Filters")
    countries = st.sidebar.multiselect("Countries", opts["countries"], key="f_countries")
    band = st.sidebar.selectbox("City size", ["any"] + list(SIZE_BANDS), key="f_band")
    languages = st.sidebar.multiselect("Language", opts["languages"], key="f_languages")
    mission = st.sidebar.selectbox("EU Mission cities", ["any", "only Mission cities", "no Mission cities"], key="f_mission")
    networks = st.sidebar.multiselect("Networks", opts["networks"], key="f_networks")
    exclude_country = st.sidebar.checkbox("Exclude my country", key="f_exclude_country")
    mentor = st.sidebar.toggle("Mentor mode: peers ahead where I am stuck", key="f_mentor",
                               help=SETTING_HELP["mentor_weight"])
    everyone = st.sidebar.checkbox("Include towns without a climate profile", key="f_everyone",
                                   help=SETTING_HELP["profiled_only"])
    k = st.sidebar.slider("Number of twins", 3, 30, 10, key="f_k")
    filters = TwinFilters(countries=countries, size_band=None if band == "any" else band, languages=languages,
                          eu_mission={"any": None, "only Mission cities": True, "no Mission cities": False}[mission],
                          networks=networks, profiled_only=not everyone)
    return weights, filters, exclude_country, mentor, k


def own_city_form() -> dict | None:
    vocab = vocabularies()
    opts = profile_options()
    with st.form("own_city"):
        st.caption("Describe your city. Leave a field empty when you do not know it: it is then not compared.")
        c1, c2, c3 = st.columns(3)
        name = c1.text_input("City name", "My city")
        country = c2.selectbox("Country", opts["countries"], index=opts["countries"].index("DE") if "DE" in opts["countries"] else 0)
        population = c3.number_input("Population", min_value=0, value=0, step=1000, help="0 = unknown")
        c4, c5, c6 = st.columns(3)
        lat = c4.number_input("Latitude", value=None, format="%.4f", placeholder="unknown")
        lon = c5.number_input("Longitude", value=None, format="%.4f", placeholder="unknown")
        target = c6.number_input("Net-zero target year", min_value=2020, max_value=2100, value=None, placeholder="none")
        languages = st.multiselect("Languages", opts["languages"])
        maturity = st.selectbox("Maturity of climate action", ["unknown", *MATURITY_LEVELS])
        barriers = st.multiselect("Barriers (NetZeroCities survey)", vocab["barriers"][:17])
        sectors = st.multiselect("Priority sectors", vocab["priority_sectors"])
        narrative = st.text_area("What do you want to learn? (a few lines)")
        submitted = st.form_submit_button("Find twins for my city")
    if not submitted and "own_profile" not in st.session_state:
        return None
    if submitted:
        profile = {"name": name or "My city", "country_code": country, "languages": languages, "barriers": barriers,
                   "priority_sectors": sectors, "narrative": narrative or None,
                   "population": int(population) if population else None, "lat": lat, "lon": lon,
                   "net_zero_target_year": int(target) if target else None,
                   "maturity": None if maturity == "unknown" else maturity}
        st.session_state["own_profile"] = profile
    return st.session_state["own_profile"]


def contribution_chart(match) -> alt.Chart:
    data = pd.DataFrame([{"facet": c.label or c.name, "contribution": c.contribution,
                          "detail": c.detail or "not compared"} for c in match.explanation])
    return alt.Chart(data).mark_bar().encode(
        x=alt.X("contribution:Q", title=f"contribution to the score ({match.score:.3f} in total)"),
        y=alt.Y("facet:N", sort="-x", title=None),
        color=alt.condition("datum.contribution > 0", alt.value("#2a9d8f"), alt.value("#bbbbbb")),
        tooltip=["facet", alt.Tooltip("contribution:Q", format=".3f"), "detail"],
    ).properties(height=28 * len(data))


def page_twins() -> None:
    st.title("Find twin cities")
    st.caption("Cities like yours, each with the reasons that add up to its score.")
    m = load_matcher()
    weights, filters, exclude_country, mentor, k = sidebar_controls()
    mode = st.radio("Who is asking?", ["A city in the data", "Describe my city"], horizontal=True, key="ask_mode")
    city = profile = None
    if mode == "A city in the data":
        city, _ = city_picker("twins")
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
    st.subheader(("Mentors" if mentor else "Twins") + f" for {md_escape(asker['name'])} ({asker['country_code']})")
    if not result.matches:
        st.warning("No city passes these filters. Loosen a filter in the sidebar.")
        return
    table = twins_table(result)
    left, right = st.columns([3, 2])
    with left:
        event = st.dataframe(table.drop(columns=["city_id", "not compared"]), hide_index=True, width="stretch", key="twins_table",
                             on_select="rerun", selection_mode="single-row")
    with right:
        points = [{"lat": asker.get("lat"), "lon": asker.get("lon"), "who": asker["name"], "color": "#e76f51", "size": 9000}]
        points += [{"lat": m.lat, "lon": m.lon, "who": m.name, "color": "#2a9d8f", "size": 6000} for m in result.matches]
        pts = pd.DataFrame(points).dropna(subset=["lat", "lon"])
        if len(pts):
            st.map(pts, latitude="lat", longitude="lon", color="color", size="size", height=360)
            st.caption("Red: the asking city. Green: its twins.")
    rows = event.selection.rows if event and hasattr(event, "selection") else []
    names = [f"{m.rank}. {m.name} ({m.country_code})" for m in result.matches]
    chosen = st.selectbox("Explain a twin", names, index=rows[0] if rows else 0, key="explain_twin")
    match = result.matches[names.index(chosen)]
    c1, c2 = st.columns([3, 2])
    with c1:
        st.altair_chart(contribution_chart(match), width="stretch")
    with c2:
        st.markdown(f"**{md_escape(match.name)}**: score **{match.score:.3f}** = the sum of the bars.")
        for reason in match.reasons:
            st.markdown(f"- {md_escape(reason)}")
        for note in match.not_compared:
            st.caption(md_escape(note))
        own = m.cases_of_city(match.city_id)
        if len(own):
            st.markdown("**Its case studies**")
            for title in own["title"]:
                st.markdown(f"- {md_escape(title)}")
    downloads(result, table, m)


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
def case_card(hit) -> None:
    with st.container(border=True):
        where = ", ".join(x for x in (hit.city, hit.country_code) if x)
        st.markdown(f"**{hit.rank}. {md_escape(hit.title)}**" + (f"  \n{md_escape(where)}" if where else ""))
        tags = [f"`{t}`" for t in hit.sectors + hit.barriers] + [f"`{t} (inferred)`" for t in hit.inferred_sectors + hit.inferred_barriers]
        if tags:
            st.markdown(" ".join(tags))
        st.markdown(f"> {md_escape(hit.passage)}")
        st.caption(f"score {hit.score:.3f} = " + " + ".join(f"{c.label} {c.contribution:.3f} ({c.detail})"
                                                          for c in hit.explanation))
        if hit.source:
            st.caption(f"Source: {md_escape(hit.source)}")


def page_cases() -> None:
    st.title("Case studies")
    st.caption("What peers did about the barriers you share. Source tags and tags inferred from the text are marked apart.")
    model = st.radio("Language model", list(MODELS), horizontal=True, key="case_model",
                     help="The multilingual model finds English case studies from a German, Spanish, French… query.")
    lib = load_library(MODELS[model])
    vocab = vocabularies()
    search_tab, city_tab = st.tabs(["Search", "Recommended for my city"])
    with search_tab:
        text = st.text_input("Search", "green bonds", key="case_query")
        c1, c2, c3 = st.columns(3)
        sectors = c1.multiselect("Sector", vocab["case_sectors"], key="case_sectors")
        barriers = c2.multiselect("Barrier", vocab["case_barriers"][:17], key="case_barriers")
        countries = c3.multiselect("Country", sorted(lib.cases["country_code"].dropna().unique()), key="case_countries")
        try:
            result = lib.search(text, k=10, filters=CaseFilters(sectors=sectors, barriers=barriers, countries=countries))
        except MatcherError as exc:
            show_error(exc)
            result = None
        if text.strip() and result is not None and not result.matches:
            st.warning("No case study passes these filters.")
        if result is not None and result.matches:
            st.download_button("Download these results (CSV)", csv_bytes(cases_table(result)), "case_studies.csv",
                               "text/csv", key="dl_cases")
        for hit in result.matches if result is not None else []:
            case_card(hit)
    with city_tab:
        city, _ = city_picker("cases", "For which city?")
        try:
            result = lib.recommend_for_city(city, k=8)
        except MatcherError as exc:
            show_error(exc)
            result = None
        if result is not None and result.matches:
            st.download_button("Download (CSV)", csv_bytes(cases_table(result)), "case_studies_for_city.csv",
                               "text/csv", key="dl_cases_city")
        for hit in result.matches if result is not None else []:
            case_card(hit)


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
    palette = ["#e76f51", "#2a9d8f", "#264653", "#f4a261", "#8ab17d", "#6d597a", "#e9c46a", "#457b9d", "#b56576",
               "#3d405b"]
    pts = frame.dropna(subset=["lat", "lon"]).copy()
    if len(pts):
        pts["color"] = [palette[int(g) % len(palette)] for g in pts[group]]
        st.map(pts, latitude="lat", longitude="lon", color="color", size=6000, height=380)


def _groups(text: str) -> list[list[str]]:
    """'Lyon, Bordeaux' -> [['Lyon', 'Bordeaux']] (one group), '' -> []."""
    names = [c.strip() for c in text.split(",") if c.strip()]
    return [names] if names else []


def page_cohorts() -> None:
    st.title("Cohorts")
    st.caption("Split the cities of a call into learning cohorts that maximise how alike members are, under your rules.")
    m = load_matcher()
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
    m1, m2, m3 = st.columns(3)
    m1.metric("Within-cohort similarity", f"{plan.objective:.2f}")
    m2.metric("Upper bound", f"{plan.upper_bound:.2f}", help=plan.bound_source)
    m3.metric("Gap to the bound", "optimal" if plan.optimal else f"{plan.gap:.1%}")
    st.caption(f"Solver: {plan.solver}. Rules: " + "; ".join(plan.rules) + ".")
    members = cohort_members_table(plan, m.twins.profiles)
    _members_map(members, "cohort")
    st.download_button("Download the cohorts (CSV)", csv_bytes(cohort_members_table(plan)), "cohorts.csv",
                       "text/csv", key="dl_cohorts")
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
    plans = choose_cities("rv", "Plans to review")
    cross = st.checkbox("The same cities review each other", value=True, key="rv_cross")
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
    mature = c7.checkbox("At least one more mature reviewer per plan", key="rv_mature")
    mentor = c8.checkbox("Affinity includes the mentor bonus", key="rv_mentor")
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
    m3.metric("Optimal", "yes" if result.optimal else "best found", help=result.solver)
    st.caption("Rules: " + "; ".join(result.rules) + ".")
    for note in result.notes:
        st.info(note)
    table = reviews_table(result)
    st.dataframe(table, hide_index=True, width="stretch", key="reviews_table")
    st.download_button("Download the assignment (CSV)", csv_bytes(table), "reviewers.csv", "text/csv",
                       key="dl_reviewers")


# ---------------------------------------------------------------------------- data
def page_data() -> None:
    st.title("Data")
    m = load_matcher()
    p = m.twins.profiles
    st.markdown(f"**{len(p):,} city profiles**: {int((p['tier'] == 'curated').sum())} curated from the climate "
                f"sources, {int((p['tier'] == 'universe').sum()):,} European towns of 5,000+ inhabitants from GeoNames. "
                f"{int(p['has_climate_profile'].sum())} have a climate profile.")
    tier = st.radio("Show", ["curated", "universe"], horizontal=True, key="data_tier")
    cols = ["name", "country_code", "population", "net_zero_target_year", "maturity", "eu_mission", "networks",
            "barriers", "priority_sectors", "completeness", "provenance"]
    st.dataframe(p.loc[p["tier"] == tier, cols], hide_index=True, width="stretch", key="profiles_table")
    lib = load_matcher().cases
    st.markdown(f"**{len(lib.cases)} case studies**")
    st.dataframe(lib.cases[["title", "city", "country_code", "sectors", "barriers_addressed", "inferred_barriers",
                            "source"]], hide_index=True, width="stretch", key="cases_table")

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
    page = st.sidebar.radio("Page", PAGES, key="page")
    st.sidebar.divider()
    {"Find twins": page_twins, "Case studies": page_cases, "Cohorts": page_cohorts,
     "Peer reviewers": page_reviewers, "Data": page_data}[page]()


main()
