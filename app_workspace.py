"""The workspace pages of the Streamlit app (issue 12): sign in and out, "My city" (the profile,
its edit form in survey wording, history, what would improve the matches), the "Board" (needs,
offers, their matches, the organisations register) and the save/load panels of the twins,
cohorts and reviewers pages.

A thin layer like app_streamlit.py, which imports it: every change goes through
matcher.workspace (which checks roles and versions), every table comes from matcher.present.
The workspace is the database named by MATCHER_DB_URL, else the embedded SQLite file
artifacts/workspace.db (created on first start; the shipped data is its base layer).
"""
from __future__ import annotations

import functools
import os
import threading
from typing import NamedTuple

import streamlit as st

from matcher import MatcherError, vocabularies
from matcher import workspace as wsp
from matcher.present import brief_markdown, brief_pdf, csv_bytes, md_escape
from matcher.present.i18n import N_, session_translator
from matcher.present.view import twins_view
from matcher.present.workspace_view import (EDIT_FIELDS, MATURITY_CHOICES, SURVEY_BARRIERS, board_matches_table,
                                            choices_for, cohort_payload, comparison_lines, completeness, form_changes,
                                            form_value, history_table, improve_matches, org_kind_name,
                                            organisations_table, pairing_payload, post_card, post_label, review_payload,
                                            role_name, saved_item_label, saved_kind_name, saved_list_table, saved_table,
                                            shortlist_payload, source_name, status_name, version_diff_table,
                                            version_label, when, workspace_message)

ACTOR = "ws_actor"
_REFRESH = threading.Lock()  # one session at a time lays edits over the shared index


def tr():
    """This session's translator (the language chosen in the sidebar, kept in the URL)."""
    return session_translator(st.session_state)


def translate(message: str, **values) -> str:
    """A string of the interface in this session's language ({name} placeholders filled after);
    both app files call it `_` (the name gettext's extraction looks for)."""
    return tr()(message, **values)


_ = translate


# ---------------------------------------------------------------------------- the workspace
def workspace_url() -> str:
    """MATCHER_DB_URL, else the embedded SQLite file of the repository."""
    return _resolved_url(os.environ.get(wsp.ENV_URL))


@functools.lru_cache(maxsize=8)
def _resolved_url(setting: str | None) -> str:
    """Resolved once per setting, not on every rerun (it walks the file system)."""
    return wsp.resolve_url(setting)


@st.cache_resource(show_spinner=False, max_entries=4)
def open_ws(url: str) -> wsp.Workspace:
    return wsp.open_workspace(url)


def workspace() -> wsp.Workspace:
    return open_ws(workspace_url())


def refresh(m) -> None:
    """Lay edits saved since (by this app, another session or the CLI) over the twin index."""
    with _REFRESH:
        m.refresh()


def actor() -> wsp.Actor | None:
    return st.session_state.get(ACTOR)


def can_write() -> bool:
    a = actor()
    return a is not None and a.role in ("admin", "officer")


def flash(key: str, message: str | None = None) -> None:
    """A message shown once, on the next run (after a save that reruns the page)."""
    if message is not None:
        st.session_state[f"flash_{key}"] = message
    elif f"flash_{key}" in st.session_state:
        st.success(st.session_state.pop(f"flash_{key}"), icon=":material/check_circle:")


def show_error(exc: Exception, m=None) -> None:
    """A library error as a message in the interface language; with the matcher, the cities it
    names as the city pickers do ('Lyon (FR)'). E-mail addresses in it are plain text (md_escape)."""
    labels = cities(m).by_id if m is not None else {}
    st.error(md_escape(workspace_message(exc, labels, tr().lang)), icon=":material/warning:")


class CityLabels(NamedTuple):
    """How the pages name and pick cities (built once, shared read-only)."""

    labels: list[str]  # every town's label, the cities with a climate profile first
    ids: dict[str, str]  # every town's label -> city_id
    names: dict[str, str]  # city_id -> name
    by_id: dict[str, str]  # city_id -> label
    listed: list[str]  # what a pick list shows (the larger cities with a climate profile); the rest is typed
    listed_set: frozenset[str]


@st.cache_resource(show_spinner=False, max_entries=2)  # shared, read-only: no copy per call
def city_labels(_m, url: str) -> CityLabels:
    towns = _m.city_options(everyone=True)
    names = dict(zip(_m.twins.profiles["city_id"], _m.twins.profiles["name"]))
    listed = towns.loc[towns["listed"], "label"].tolist()
    return CityLabels(towns["label"].tolist(), dict(zip(towns["label"], towns["city_id"])), names,
                      dict(zip(towns["city_id"], towns["label"])), listed, frozenset(listed))


def cities(m) -> CityLabels:
    """The city names and pick lists of the workspace's matcher `m`."""
    return city_labels(m, workspace_url())


def city_names(m) -> dict[str, str]:
    """city_id -> name, for messages and captions."""
    return cities(m).names


# What every city box says of itself (Find twins, My city, the board, the user form).
CITY_BOX_HELP = N_("The list holds the cities with a climate profile of 20,000+ inhabitants. Any other town "
                   "(5,000+ inhabitants, or a Covenant of Mayors signatory): type its name in any spelling and "
                   "press Enter.")


# ---------------------------------------------------------------------------- sign in
def account_sidebar(m) -> None:
    """Who is signed in, with sign out; else the sign-in form (or, in a new workspace, the form
    that creates the first admin account)."""
    ws = workspace()
    me = actor()
    if me is not None:
        names = city_names(m)
        city = f", {md_escape(names.get(me.city_id, me.city_id))}" if me.city_id and me.role == "officer" else ""
        st.sidebar.markdown(_("Signed in as {email} ({role})", email=md_escape(me.email),
                              role=role_name(me.role, tr().lang) + city))
        if st.sidebar.button(_("Sign out"), key="ws_sign_out"):
            for key in [k for k in st.session_state if str(k).startswith(("ws_", "mc_read_"))]:
                del st.session_state[key]
            st.rerun()
        return
    if not wsp.list_users(ws):
        first_admin_form()
        return
    with st.sidebar.expander(_("Sign in"), expanded=False):
        with st.form("ws_sign_in"):
            email = st.text_input(_("Email"), key="ws_email")
            password = st.text_input(_("Password"), type="password", key="ws_password")
            go = st.form_submit_button(_("Sign in"))
        if go:
            try:
                st.session_state[ACTOR] = wsp.authenticate(ws, email, password)
            except MatcherError as exc:
                show_error(exc)
                return
            st.rerun()
    st.sidebar.caption(_("Browsing needs no account; sign in to edit your city's profile, post on the board "
                         "or save work."))


def first_admin_form() -> None:
    with st.sidebar.expander(_("Create the first admin account"), expanded=True):
        st.caption(_("This workspace has no user yet. The first account is the network admin, who then adds "
                     "city officers and viewers."))
        with st.form("ws_first_admin"):
            email = st.text_input(_("Email"), key="ws_admin_email")
            password = st.text_input(_("Password (8 characters or more)"), type="password", key="ws_admin_password")
            again = st.text_input(_("The password again"), type="password", key="ws_admin_again")
            go = st.form_submit_button(_("Create the admin account"))
        if go:
            if password != again:
                st.error(_("The two passwords differ."), icon=":material/warning:")
                return
            try:
                st.session_state[ACTOR] = wsp.create_first_admin(workspace(), email, password)
            except MatcherError as exc:
                show_error(exc)
                return
            st.rerun()


# ---------------------------------------------------------------------------- my city
def pick_city(m, key: str, default_id: str | None, label: str, start_filled: bool = True) -> str | None:
    """A town, picked as on Find twins: the box lists the larger cities with a climate profile and
    any other town is typed and looked up. It starts on `default_id`, else (start_filled) on the
    city of the Find twins page, so the page never opens empty; else it asks for a town."""
    box = cities(m)
    current = box.by_id.get(default_id)
    if current is None and start_filled:
        twins_city = st.session_state.get("twins_city")
        current = twins_city if twins_city in box.ids else box.listed[0]
    options = box.listed if current is None or current in box.listed_set else [current, *box.listed]
    picked = st.selectbox(label, options, index=None if current is None else options.index(current), key=key,
                          placeholder=_("Type a town"), accept_new_options=True, help=_(CITY_BOX_HELP))
    if not picked:
        return None
    if picked in box.ids:
        return box.ids[picked]
    try:
        return str(m.twins.profiles["city_id"].iloc[m.twins.resolve(str(picked).strip())])
    except MatcherError as exc:
        show_error(exc, m)
        return None


def page_my_city(m) -> None:
    st.title(_("My city"))
    st.caption(_("Your city's profile, kept in the workspace: fill it in once, it is reused for twins, cohorts "
                 "and reviews. Every save is a new version; nothing is overwritten."))
    ws, me = workspace(), actor()
    flash("my_city")
    if me is None:
        st.info(_("Sign in (in the sidebar) to edit your city's profile. You can read any city's profile here."))
    city_id = pick_city(m, "mc_city", me.city_id if me and me.city_id else None,
                        _("Which city?") if not me or me.role != "officer" else _("Which city? (yours is selected)"))
    if city_id is None:
        st.info(_("Type or pick a town."))
        return
    try:
        info = wsp.get_profile(ws, city_id)
    except MatcherError as exc:
        show_error(exc, m)
        return
    profile = info.profile
    known, total = completeness(profile)
    lang = tr().lang
    st.subheader(_("{name}: version {n}", name=md_escape(profile["name"]), n=info.version))
    c1, c2 = st.columns([1, 3])
    c1.metric(_("How complete"), _("{known} of {total}", known=known, total=total),
              help=_("Facets the profile can be compared on."))
    c2.progress(known / total, text=_("Compared on {known} of {total} facets; unknown ones are not compared.",
                                      known=known, total=total))
    if info.version:
        c2.caption(_("Last saved by {who} ({source}), {when}.", who=md_escape(info.author),
                     source=md_escape(source_name(info.source, lang)), when=when(info.created_at, lang)))
    with st.expander(_("What would improve your matches"), expanded=True):
        st.dataframe(improve_matches(profile, lang), hide_index=True, width="stretch", key="mc_improve")
    if me is not None:
        edit_form(m, ws, me, city_id, info)
    history(m, ws, me, city_id, info)
    twins_now(m, city_id)
    if me is not None and me.role == "admin":
        people(m, ws, me)


def edit_form(m, ws, me, city_id: str, info) -> None:
    """The questions of "Describe my city", filled in with the version read; saving names that
    version, so a save by someone else in between is a conflict, never a silent overwrite."""
    read_key = f"mc_read_{city_id}"
    read = st.session_state.setdefault(read_key, info.version)
    base = info.profile if read == info.version else wsp.get_version(ws, city_id, read).profile
    st.subheader(_("Edit the profile"))
    if me.role != "admin" and me.city_id != city_id:
        st.caption(_("Only {name}'s officer or an admin can save changes to this profile.", name=md_escape(base["name"])))
    if read != info.version:
        st.warning(_("{who} saved version {n} since you opened version {read}. Your answers below are kept.",
                     who=md_escape(info.author) if info.author else _("Someone"), n=info.version, read=read), icon=":material/warning:")
    languages = sorted(set(m.filter_options()["languages"]) | set(base.get("languages") or []))
    answers = {}
    with st.form(f"mc_form_{city_id}_{read}"):
        for edit in EDIT_FIELDS:
            answers[edit.field] = _question(edit, base, languages, f"mc_{edit.field}_{city_id}_{read}")
        note = st.text_input(_("Note for the history (optional)"), key=f"mc_note_{city_id}_{read}")
        go = st.form_submit_button(_("Save a new version"), type="primary")
    if go:
        save_profile(m, ws, me, city_id, read, form_changes(base, answers), note)
    conflict = st.session_state.get(f"ws_conflict_{city_id}")
    if conflict:
        resolve_conflict(m, ws, me, city_id, info, conflict)


def _question(edit, profile: dict, languages: list[str], key: str):
    """One question of the form, in the words of "Describe my city"; survey terms shown in the
    interface language with the survey's English in the help, the values kept in English."""
    value = form_value(edit, profile)
    t = tr()
    label = t(edit.label)
    if edit.widget == "number":
        return st.number_input(label, min_value=0, value=value, step=1000, key=key, placeholder=_("unknown"))
    if edit.widget == "year":
        return st.number_input(label, min_value=min(2020, value or 2020), max_value=2100, value=value, key=key,
                               placeholder=_("no target yet"))
    if edit.widget == "maturity":
        return st.selectbox(label, MATURITY_CHOICES, index=MATURITY_CHOICES.index(value), key=key,
                            format_func=lambda v, t=t: t(v) if v == "unknown" else t.survey(v),
                            help=t.glossary(MATURITY_CHOICES[1:]))
    if edit.widget == "languages":
        return st.multiselect(label, languages, default=value, key=key, format_func=t.language_name)
    if edit.widget == "choices":
        options = choices_for(edit, value)
        return st.multiselect(label, options, default=value, key=key, format_func=t.survey, help=t.glossary(options))
    return st.text_area(label, value=value, key=key)


def save_profile(m, ws, me, city_id: str, read: int, changes: dict, note: str | None) -> None:
    if not changes:
        st.info(_("Nothing changed: no new version was saved."))
        return
    try:
        new = wsp.set_profile(ws, city_id, changes, read, me, source="app", note=note or None)
    except wsp.ConflictError as exc:
        message = workspace_message(exc, city_names(m), tr().lang)
        st.session_state[f"ws_conflict_{city_id}"] = {"message": message, "changes": exc.attempted}
        return
    except MatcherError as exc:
        show_error(exc, m)
        return
    refresh(m)
    st.session_state[f"mc_read_{city_id}"] = new.version
    st.session_state.pop(f"ws_conflict_{city_id}", None)
    flash("my_city", _("Saved version {n}. Your twins use it now.", n=new.version))
    st.rerun()


def resolve_conflict(m, ws, me, city_id: str, info, conflict: dict) -> None:
    """The conflict in words, the caller's changes kept, and two ways on."""
    st.error(md_escape(conflict["message"]), icon=":material/warning:")
    diff = version_diff_table({f: (None, v) for f, v in conflict["changes"].items()}, info.version, 0, tr().lang)
    answers = diff.iloc[:, [0, 2]].set_axis(["", _("your answer")], axis=1)
    st.dataframe(answers, hide_index=True, key=f"mc_conflict_{city_id}")
    c1, c2 = st.columns(2)
    if c1.button(_("Apply my answers to version {n}", n=info.version), key=f"ws_apply_{city_id}"):
        save_profile(m, ws, me, city_id, info.version, conflict["changes"], "applied after a conflict")
    if c2.button(_("Discard my answers and show version {n}", n=info.version), key=f"ws_discard_{city_id}"):
        st.session_state[f"mc_read_{city_id}"] = info.version
        st.session_state.pop(f"ws_conflict_{city_id}", None)
        st.rerun()


def history(m, ws, me, city_id: str, info) -> None:
    versions = wsp.profile_history(ws, city_id)
    lang = tr().lang
    with st.expander(_("History (1 version)") if len(versions) == 1 else _("History ({n} versions)", n=len(versions))):
        st.dataframe(history_table(versions, lang), hide_index=True, width="stretch", key="mc_history")
        if len(versions) < 2:
            return
        labels = {v.version: version_label(v, lang) for v in versions}
        c1, c2 = st.columns(2)
        a = c1.selectbox(_("Compare"), list(labels), index=len(labels) - 2, format_func=labels.get, key="mc_cmp_a")
        b = c2.selectbox(_("with"), list(labels), index=len(labels) - 1, format_func=labels.get, key="mc_cmp_b")
        st.dataframe(version_diff_table(wsp.compare_versions(ws, city_id, a, b), a, b, lang), hide_index=True,
                     width="stretch", key="mc_diff")
        if me is None:
            return
        back = st.selectbox(_("Revert to"), list(labels)[:-1], format_func=labels.get, key="mc_revert_to")
        if st.button(_("Revert (saves a new version with that content)"), key="mc_revert"):
            try:
                new = wsp.revert_profile(ws, city_id, back, info.version, me)
            except MatcherError as exc:
                show_error(exc, m)
                return
            refresh(m)
            st.session_state[f"mc_read_{city_id}"] = new.version
            flash("my_city", _("Saved version {n}: the content of version {back}.", n=new.version, back=back))
            st.rerun()


def twins_now(m, city_id: str) -> None:
    """The city's first twins as they stand with the current version."""
    try:
        result = m.twins.recommend(city_id, k=5)
    except MatcherError as exc:
        show_error(exc, m)
        return
    st.subheader(_("Your twins now"))
    st.caption(_("The first five twins with the profile as saved (Find twins has the full list and the map)."))
    t = tr()
    st.dataframe(twins_view(result, t.lang)[[t("city"), t("country"), t("score"), t("why")]], hide_index=True,
                 width="stretch", key="mc_twins")


def people(m, ws, me) -> None:
    t = tr()
    with st.expander(_("People of this workspace (admins)")):
        users = wsp.list_users(ws)
        names = city_names(m)
        st.dataframe([{t("email"): u.email, t("role"): role_name(u.role, t.lang),
                       t("city"): names.get(u.city_id, u.city_id or ""), t("active"): t("yes") if u.active else t("no")}
                      for u in users], hide_index=True, width="stretch", key="ws_users")
        with st.form("ws_add_user"):
            c1, c2 = st.columns(2)
            email = c1.text_input(_("Email"), key="ws_new_email")
            password = c2.text_input(_("First password (8 characters or more)"), type="password", key="ws_new_password")
            role = c1.selectbox(_("Role"), wsp.ROLES, index=1, format_func=lambda r, t=t: role_name(r, t.lang),
                                key="ws_new_role")
            with c2:
                city = pick_city(m, "ws_new_city", None, _("City (for an officer)"), start_filled=False)
            go = st.form_submit_button(_("Add the user"))
        if go:
            try:
                wsp.create_user(ws, email, password, role, me, city_id=city if role == "officer" else None)
            except MatcherError as exc:
                show_error(exc, m)
                return
            flash("my_city", _("Added {email} ({role}).", email=md_escape(email), role=role_name(role, t.lang)))
            st.rerun()


# ---------------------------------------------------------------------------- board
def page_board(m) -> None:
    st.title(_("Board: needs and offers"))
    st.caption(_("Cities share hurdles and match interests: post what you need or can offer, and see the offers, "
                 "organisations, cities that have done it and case studies that fit, each with its reasons."))
    ws = workspace()
    flash("board")
    posts_tab, orgs_tab = st.tabs([_("Needs and offers"), _("Organisations")])
    with posts_tab:
        post_form(m, ws)
        posts = board_list(m, ws)
        board_matches(m, posts)
    with orgs_tab:
        organisations(ws)


def post_form(m, ws) -> None:
    me = actor()
    if not can_write():
        st.info(_("Sign in as a city officer or an admin (in the sidebar) to post a need or an offer."))
        return
    t = tr()
    with st.expander(_("Post a need or an offer"), expanded=True):
        with st.form("board_post", clear_on_submit=True):
            kind = st.radio(_("What do you post?"), wsp.POST_KINDS, horizontal=True, key="bp_kind",
                            format_func={"need": _("We need…"), "offer": _("We can offer…")}.get)
            if me.role == "officer":
                city = me.city_id
                st.caption(_("For your city ({name}).", name=md_escape(city_names(m).get(city, city))))
            else:
                city = pick_city(m, "bp_city", None, _("For which city?"))
            vocabulary = wsp.tag_vocabulary()
            tags = st.multiselect(_("Tags (survey sectors, barriers, funding gaps, co-benefits)"), vocabulary,
                                  key="bp_tags", format_func=t.survey, help=t.glossary(vocabulary, limit=200))
            text = st.text_area(_("In your words"), key="bp_text",
                                placeholder=_("e.g. we need help procuring heat pumps for social housing"))
            go = st.form_submit_button(_("Post"), type="primary")
        if go:
            try:
                post = wsp.create_post(ws, kind, text, me, city_id=city, tags=tags)
            except MatcherError as exc:
                show_error(exc, m)
                return
            st.session_state["board_pick_box"] = post.id  # its matches show at once
            flash("board", _("Posted #{id}: its matches are below.", id=post.id))
            st.rerun()


def board_list(m, ws) -> list:
    me = actor()
    t = tr()
    names = city_names(m)
    c1, c2 = st.columns(2)
    kind = c1.radio(_("Show"), ["all", "need", "offer"], horizontal=True, key="board_kind",
                    format_func={"all": _("needs and offers"), "need": _("needs"), "offer": _("offers")}.get)
    vocabulary = wsp.tag_vocabulary()
    tag = c2.selectbox(_("Tag"), vocabulary, index=None, key="board_tag", placeholder=_("any tag"),
                       format_func=t.survey, help=t.glossary(vocabulary, limit=200))
    admin = me is not None and me.role == "admin"
    posts = wsp.list_posts(ws, kind=None if kind == "all" else kind, tag=tag, include_hidden=admin, actor=me)
    if not posts:
        st.info(_("No post yet with these filters."))
    for post in posts[:50]:
        with st.container(border=True):
            st.markdown(post_card(post, names, t.lang), help=t.glossary(post.tags))
            if admin and post.status == "visible" and st.button(_("Hide this post"), key=f"board_hide_{post.id}"):
                wsp.hide_post(ws, post.id, me, reason="hidden by a moderator in the app")
                flash("board", _("Post #{id} is hidden.", id=post.id))
                st.rerun()
    return [p for p in posts if p.status == "visible"]


def board_matches(m, posts: list) -> None:
    if not posts:
        return
    names = city_names(m)
    ids = [p.id for p in posts]
    if st.session_state.get("board_pick_box") not in ids:
        st.session_state.pop("board_pick_box", None)  # filtered out: the newest shown instead
    lang = tr().lang
    st.subheader(_("Matches"))
    labels = {p.id: post_label(p, names, lang) for p in posts}
    post_id = st.selectbox(_("See the matches of"), ids, format_func=labels.get, key="board_pick_box")
    try:
        with st.spinner(_("Matching…")), _REFRESH:
            found = m.board_matches(post_id, k=5)
    except MatcherError as exc:
        show_error(exc, m)
        return
    other = _("Offers for this need") if posts[ids.index(post_id)].kind == "need" else _("Needs for this offer")
    for title, result, kind in ((other, found.posts, "post"), (_("Organisations"), found.organisations, "organisation"),
                                (_("Cities that have done it"), found.cities, "city"),
                                (_("Case studies"), found.case_studies, "case study")):
        st.markdown(f"**{title}**")
        rows = board_matches_table(result, kind, lang).to_dict("records")
        if not rows:
            st.caption(_("Nothing yet."))
        for i, row in enumerate(rows, 1):
            by = f" ({md_escape(row['from'])})" if row["from"] else ""
            st.markdown(f"{i}\\. **{md_escape(row['match'])}**{by}: {md_escape(row['why'])}  \n"
                        f"{_('score')} {md_escape(row['how the score adds up'])}")
    st.caption(_("Each score is the sum of its terms (weight x similarity), like twins."))


def organisations(ws) -> None:
    me = actor()
    lang = tr().lang
    st.caption(_("Delivery partners, investors, financial experts and energy agencies cities can be matched with. "
                 "An admin approves each entry before it is matched."))
    orgs = wsp.list_organisations(ws)
    st.dataframe(organisations_table(orgs, lang), hide_index=True, width="stretch", key="orgs_table",
                 column_config={_("sectors"): st.column_config.TextColumn(
                     help=tr().glossary([s for o in orgs for s in o.sectors], limit=200))})
    if me is not None and me.role == "admin":
        pending = wsp.list_organisations(ws, status="pending")
        if pending:
            st.markdown("**" + _("Waiting for approval ({n})", n=len(pending)) + "**")
            for org in pending:
                c1, c2, c3 = st.columns([4, 1, 1])
                c1.markdown(_("{name} ({kind}), proposed by {who}", name=md_escape(org.name),
                              kind=org_kind_name(org.kind, lang), who=md_escape(org.created_by)))
                for col, status, label in ((c2, "approved", _("Approve")), (c3, "rejected", _("Reject"))):
                    if col.button(label, key=f"org_{status}_{org.id}"):
                        wsp.review_organisation(ws, org.id, status, me)
                        flash("board", f"{md_escape(org.name)}: {status_name(status, lang)}.")
                        st.rerun()
    if can_write():
        org_form(ws, me)


def org_form(ws, me) -> None:
    t = tr()
    with st.expander(_("Propose an organisation")):
        with st.form("org_add", clear_on_submit=True):
            c1, c2 = st.columns(2)
            name = c1.text_input(_("Name"), key="org_name")
            kind = c2.selectbox(_("Kind"), wsp.ORG_KINDS, format_func=lambda k, t=t: org_kind_name(k, t.lang),
                                key="org_kind")
            vocabulary = vocabularies()["priority_sectors"]
            sectors = st.multiselect(_("Sectors"), vocabulary, key="org_sectors", format_func=t.survey,
                                     help=t.glossary(vocabulary))
            services = st.text_input(_("Services (separated by ';')"), key="org_services")
            countries = c1.text_input(_("Countries (ISO codes separated by ',': DE, FR)"), key="org_countries")
            languages = c2.text_input(_("Languages (ISO codes separated by ',': de, fr)"), key="org_languages")
            description = st.text_area(_("What it offers cities"), key="org_description")
            website = st.text_input(_("Website (https://…)"), key="org_website")
            go = st.form_submit_button(_("Propose"))
        if go:
            try:
                org = wsp.add_organisation(ws, name, kind, me, sectors=sectors,
                                           services=[s for s in services.split(";") if s.strip()],
                                           countries=[c for c in countries.split(",") if c.strip()],
                                           languages=[c for c in languages.split(",") if c.strip()],
                                           description=description or None, website=website or None)
            except MatcherError as exc:
                show_error(exc)
                return
            flash("board", _("{name} is proposed; an admin approves it.", name=md_escape(org.name))
                  if me.role != "admin" else _("{name} is proposed: approve it above.", name=md_escape(org.name)))
            st.rerun()


# ---------------------------------------------------------------------------- saved work
PAYLOADS = {"shortlist": shortlist_payload, "cohort_plan": cohort_payload, "review_plan": review_payload}


def offer_save(kind: str, result) -> None:
    """Below a result: save it, and compare it with one saved before."""
    payload, rules, objective = PAYLOADS[kind](result)
    lang = tr().lang
    what = saved_kind_name(kind, lang)
    if not can_write():
        st.caption(_("Sign in (in the sidebar) to save this result ({kind}).", kind=what))
    else:
        with st.form(f"ws_save_{kind}", clear_on_submit=True):
            c1, c2 = st.columns([3, 1])
            c1.text_input(_("Save this result ({kind}) as", kind=what), key=f"ws_save_name_{kind}",
                          placeholder=_("a name, e.g. Spring call 2026"))
            c2.form_submit_button(_("Save"), on_click=_save, args=(kind, payload, rules, objective))
    items = wsp.list_saved(workspace(), kind=kind)
    if not items:
        return
    by_id = {x.id: x for x in items}
    with st.expander(_("Compare this result with a saved one")):
        pick = st.selectbox(_("Saved"), list(by_id), format_func=lambda i: saved_item_label(by_id[i], lang),
                            key=f"ws_compare_{kind}")
        old = by_id[pick].payload
        for line in comparison_lines(kind, wsp.compare_saved(kind, old, payload), old, payload, lang):
            st.markdown(f"- {md_escape(line)}")


def offer_pairing(m, asker: dict, match) -> None:
    """Below a twin's explanation: accept the pairing with the themes both cities agreed on. It is
    saved with its two-way brief (what each city can teach the other), to download again later."""
    if not isinstance(asker.get("city_id"), str):
        return  # a city described in the form is not in the data: nothing to pair yet
    with st.expander(_("Accept the pairing {a} – {b}", a=asker.get("name"), b=match.name)):
        if not can_write():
            st.caption(_("Sign in (in the sidebar) to accept a pairing."))
            return
        vocab = vocabularies()
        terms = list(vocab["priority_sectors"]) + list(vocab["barriers"][:SURVEY_BARRIERS])
        with st.form("ws_pairing", clear_on_submit=True):
            themes = st.multiselect(_("Themes you agreed to work on"), terms, key="ws_pair_themes",
                                    format_func=tr().survey, help=tr().glossary(terms))
            other = st.text_input(_("Another theme (optional)"), key="ws_pair_other")
            accepted = st.form_submit_button(_("Accept and save the pairing"))
        if accepted:
            peer = {"city_id": match.city_id, "name": match.name, "country_code": match.country_code}
            try:
                brief = m.pairing_brief(asker["city_id"], match.city_id, [*themes, other])
                payload, rules, objective = pairing_payload(brief, asker, peer)
                item = wsp.save_work(workspace(), "pairing", f"{asker.get('name')} – {match.name}", payload, actor(),
                                     rules=rules, objective=objective)
            except MatcherError as exc:
                show_error(exc, m)
                return
            st.success(_("Pairing saved: “{name}”. Its two-way brief is under “Saved” at the top of this page.",
                         name=md_escape(item.name)), icon=":material/check_circle:")


def _save(kind: str, payload: dict, rules: dict, objective: str) -> None:
    """The Save button's callback: it runs before the next run, so a result that only shows after
    its own button (cohorts, reviewers) is saved all the same."""
    name = st.session_state.get(f"ws_save_name_{kind}") or saved_kind_name(kind, tr().lang)
    try:
        item = wsp.save_work(workspace(), kind, name, payload, actor(), rules=rules, objective=objective)
    except MatcherError as exc:
        st.session_state[f"flash_saved_{kind}_error"] = workspace_message(exc, {}, tr().lang)
        return
    flash(f"saved_{kind}", _("Saved “{name}”. It is listed under “Saved” at the top of this page.",
                             name=md_escape(item.name)))


def saved_panel(kind: str) -> None:
    """Above a page: saved items of this kind, one reloaded with its rules (its table, CSV)."""
    ws = workspace()
    flash(f"saved_{kind}")
    if f"flash_saved_{kind}_error" in st.session_state:
        st.error(md_escape(st.session_state.pop(f"flash_saved_{kind}_error")), icon=":material/warning:")
    items = wsp.list_saved(ws, kind=kind)
    lang = tr().lang
    with st.expander(_("Saved: {kind} ({n})", kind=saved_kind_name(kind, lang), n=len(items))):
        if not items:
            st.caption(_("Nothing saved yet: save a result below."))
            return
        st.dataframe(saved_list_table(items, lang), hide_index=True, width="stretch", key=f"ws_saved_{kind}")
        by_id = {x.id: x for x in items}
        pick = st.selectbox(_("Open"), list(by_id), format_func=lambda i: saved_item_label(by_id[i], lang),
                            key=f"ws_open_{kind}")
        item = by_id[pick]
        table = saved_table(item, lang)
        st.dataframe(table, hide_index=True, width="stretch", key=f"ws_saved_table_{kind}")
        st.download_button(_("Download it (CSV)"), csv_bytes(table), f"{kind}_{item.id}.csv", "text/csv",
                           key=f"ws_dl_{kind}")
        brief = item.payload.get("brief") if item.kind == "pairing" else None
        if isinstance(brief, dict):  # an accepted pairing keeps its two-way brief
            c1, c2 = st.columns(2)
            c1.download_button(_("Two-way brief (Markdown)"), lambda: brief_markdown(brief, lang).encode("utf-8"),
                               f"pairing_{item.id}.md", "text/markdown", key=f"ws_md_{kind}")
            c2.download_button(_("Two-way brief (PDF)"), lambda: brief_pdf(brief, lang), f"pairing_{item.id}.pdf",
                               "application/pdf", key=f"ws_pdf_{kind}")
