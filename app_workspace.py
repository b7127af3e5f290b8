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

import threading

import streamlit as st

from matcher import MatcherError, vocabularies
from matcher import workspace as wsp
from matcher.present import csv_bytes, md_escape
from matcher.present.view import error_text, language_name, twins_view
from matcher.present.i18n import session_translator
from matcher.present.workspace_view import (EDIT_FIELDS, MATURITY_CHOICES, ORG_KIND_NAMES, ROLE_NAMES,
                                            SAVED_KIND_NAMES, board_matches_table, choices_for, cohort_payload,
                                            comparison_lines, completeness, form_changes, form_value,
                                            history_table, improve_matches, with_names, organisations_table, post_card,
                                            post_label, review_payload, saved_item_label, saved_list_table,
                                            saved_table, shortlist_payload, version_diff_table, version_label)

ACTOR = "ws_actor"
_REFRESH = threading.Lock()  # one session at a time lays edits over the shared index


# ---------------------------------------------------------------------------- the workspace
def workspace_url() -> str:
    """MATCHER_DB_URL, else the embedded SQLite file of the repository."""
    return wsp.resolve_url(None)


@st.cache_resource(show_spinner="Opening the workspace…", max_entries=4)
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
        st.success(st.session_state.pop(f"flash_{key}"), icon="✅")


def show_error(exc: Exception, m=None) -> None:
    """A library error as a message; with the matcher, the cities it names by their names."""
    text = error_text(exc)
    st.error(md_escape(with_names(text, city_labels(m, workspace_url())[2]) if m is not None else text), icon="⚠️")


@st.cache_data(show_spinner=False, max_entries=2)
def city_labels(_m, url: str) -> tuple[list[str], dict[str, str], dict[str, str]]:
    """Every town's label (cities with a climate profile first), label -> id and id -> name."""
    towns = _m.city_options(everyone=True)
    names = dict(zip(_m.twins.profiles["city_id"], _m.twins.profiles["name"]))
    return towns["label"].tolist(), dict(zip(towns["label"], towns["city_id"])), names


# ---------------------------------------------------------------------------- sign in
def account_sidebar(m) -> None:
    """Who is signed in, with sign out; else the sign-in form (or, in a new workspace, the form
    that creates the first admin account)."""
    ws = workspace()
    me = actor()
    if me is not None:
        names = city_labels(m, workspace_url())[2]
        city = f", {md_escape(names.get(me.city_id, me.city_id))}" if me.city_id and me.role == "officer" else ""
        st.sidebar.markdown(f"Signed in as **{md_escape(me.email)}** ({ROLE_NAMES[me.role]}{city})")
        if st.sidebar.button("Sign out", key="ws_sign_out"):
            for key in [k for k in st.session_state if str(k).startswith(("ws_", "mc_read_"))]:
                del st.session_state[key]
            st.rerun()
        return
    if not wsp.list_users(ws):
        first_admin_form()
        return
    with st.sidebar.expander("Sign in", expanded=False):
        with st.form("ws_sign_in"):
            email = st.text_input("Email", key="ws_email")
            password = st.text_input("Password", type="password", key="ws_password")
            go = st.form_submit_button("Sign in")
        if go:
            try:
                st.session_state[ACTOR] = wsp.authenticate(ws, email, password)
            except MatcherError as exc:
                show_error(exc)
                return
            st.rerun()
    st.sidebar.caption("Browsing needs no account; sign in to edit your city's profile, post on the board "
                       "or save work.")


def first_admin_form() -> None:
    with st.sidebar.expander("Create the first admin account", expanded=True):
        st.caption("This workspace has no user yet. The first account is the network admin, who then adds "
                   "city officers and viewers.")
        with st.form("ws_first_admin"):
            email = st.text_input("Email", key="ws_admin_email")
            password = st.text_input("Password (8 characters or more)", type="password", key="ws_admin_password")
            again = st.text_input("The password again", type="password", key="ws_admin_again")
            go = st.form_submit_button("Create the admin account")
        if go:
            if password != again:
                st.error("The two passwords differ.", icon="⚠️")
                return
            try:
                st.session_state[ACTOR] = wsp.create_first_admin(workspace(), email, password)
            except MatcherError as exc:
                show_error(exc)
                return
            st.rerun()


# ---------------------------------------------------------------------------- my city
def pick_city(m, key: str, default_id: str | None, label: str = "City") -> str | None:
    labels, ids, _ = city_labels(m, workspace_url())
    by_id = {v: k for k, v in ids.items()}
    index = labels.index(by_id[default_id]) if default_id in by_id else None
    picked = st.selectbox(label, labels, index=index, key=key, placeholder="Type a town")
    return ids.get(picked) if picked else None


def page_my_city(m) -> None:
    st.title("My city")
    st.caption("Your city's profile, kept in the workspace: fill it in once, it is reused for twins, cohorts "
               "and reviews. Every save is a new version; nothing is overwritten.")
    ws, me = workspace(), actor()
    flash("my_city")
    if me is None:
        st.info("Sign in (in the sidebar) to edit your city's profile. You can read any city's profile here.")
    city_id = pick_city(m, "mc_city", me.city_id if me and me.city_id else None,
                        "Which city?" if not me or me.role != "officer" else "Which city? (yours is selected)")
    if city_id is None:
        return
    try:
        info = wsp.get_profile(ws, city_id)
    except MatcherError as exc:
        show_error(exc, m)
        return
    profile = info.profile
    known, total = completeness(profile)
    st.subheader(f"{md_escape(profile['name'])}: version {info.version}")
    c1, c2 = st.columns([1, 3])
    c1.metric("How complete", f"{known} of {total}", help="Facets the profile can be compared on.")
    c2.progress(known / total, text=f"Compared on {known} of {total} facets; unknown ones are not compared.")
    if info.version:
        c2.caption(f"Last saved by {md_escape(info.author)} ({md_escape(info.source)}), "
                   f"{info.created_at:%Y-%m-%d %H:%M} UTC.")
    with st.expander("What would improve your matches", expanded=True):
        st.dataframe(improve_matches(profile), hide_index=True, width="stretch", key="mc_improve")
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
    st.subheader("Edit the profile")
    if me.role != "admin" and me.city_id != city_id:
        st.caption(f"Only {md_escape(base['name'])}'s officer or an admin can save changes to this profile.")
    if read != info.version:
        st.warning(f"{md_escape(info.author or 'Someone')} saved version {info.version} since you opened version "
                   f"{read}. Your answers below are kept.", icon="⚠️")
    languages = sorted(set(m.filter_options()["languages"]) | set(base.get("languages") or []))
    answers = {}
    with st.form(f"mc_form_{city_id}_{read}"):
        for edit in EDIT_FIELDS:
            answers[edit.field] = _question(edit, base, languages, f"mc_{edit.field}_{city_id}_{read}")
        note = st.text_input("Note for the history (optional)", key=f"mc_note_{city_id}_{read}")
        go = st.form_submit_button("Save a new version", type="primary")
    if go:
        save_profile(m, ws, me, city_id, read, form_changes(base, answers), note)
    conflict = st.session_state.get(f"ws_conflict_{city_id}")
    if conflict:
        resolve_conflict(m, ws, me, city_id, info, conflict)


def _question(edit, profile: dict, languages: list[str], key: str):
    value = form_value(edit, profile)
    if edit.widget == "number":
        return st.number_input(edit.label, min_value=0, value=value, step=1000, key=key, placeholder="unknown")
    if edit.widget == "year":
        return st.number_input(edit.label, min_value=min(2020, value or 2020), max_value=2100, value=value, key=key,
                               placeholder="no target yet")
    if edit.widget == "maturity":
        return st.selectbox(edit.label, MATURITY_CHOICES, index=MATURITY_CHOICES.index(value), key=key)
    if edit.widget == "languages":
        return st.multiselect(edit.label, languages, default=value, key=key, format_func=language_name)
    if edit.widget == "choices":
        return st.multiselect(edit.label, choices_for(edit, value), default=value, key=key)
    return st.text_area(edit.label, value=value, key=key)


def save_profile(m, ws, me, city_id: str, read: int, changes: dict, note: str | None) -> None:
    if not changes:
        st.info("Nothing changed: no new version was saved.")
        return
    try:
        new = wsp.set_profile(ws, city_id, changes, read, me, source="app", note=note or None)
    except wsp.ConflictError as exc:
        message = with_names(error_text(exc), city_labels(m, workspace_url())[2])
        st.session_state[f"ws_conflict_{city_id}"] = {"message": message, "changes": exc.attempted}
        return
    except MatcherError as exc:
        show_error(exc, m)
        return
    refresh(m)
    st.session_state[f"mc_read_{city_id}"] = new.version
    st.session_state.pop(f"ws_conflict_{city_id}", None)
    flash("my_city", f"Saved version {new.version}. Your twins use it now.")
    st.rerun()


def resolve_conflict(m, ws, me, city_id: str, info, conflict: dict) -> None:
    """The conflict in words, the caller's changes kept, and two ways on."""
    st.error(md_escape(conflict["message"]), icon="⚠️")
    st.dataframe(version_diff_table({f: (None, v) for f, v in conflict["changes"].items()}, info.version, 0)
                 .rename(columns={f"version {info.version}": "before", "version 0": "your answer"})
                 .drop(columns=["before"]), hide_index=True, key=f"mc_conflict_{city_id}")
    c1, c2 = st.columns(2)
    if c1.button(f"Apply my answers to version {info.version}", key=f"ws_apply_{city_id}"):
        save_profile(m, ws, me, city_id, info.version, conflict["changes"], "applied after a conflict")
    if c2.button(f"Discard my answers and show version {info.version}", key=f"ws_discard_{city_id}"):
        st.session_state[f"mc_read_{city_id}"] = info.version
        st.session_state.pop(f"ws_conflict_{city_id}", None)
        st.rerun()


def history(m, ws, me, city_id: str, info) -> None:
    versions = wsp.profile_history(ws, city_id)
    with st.expander(f"History ({len(versions)} version{'s' if len(versions) > 1 else ''})"):
        st.dataframe(history_table(versions), hide_index=True, width="stretch", key="mc_history")
        if len(versions) < 2:
            return
        labels = {v.version: version_label(v) for v in versions}
        c1, c2 = st.columns(2)
        a = c1.selectbox("Compare", list(labels), index=len(labels) - 2, format_func=labels.get, key="mc_cmp_a")
        b = c2.selectbox("with", list(labels), index=len(labels) - 1, format_func=labels.get, key="mc_cmp_b")
        st.dataframe(version_diff_table(wsp.compare_versions(ws, city_id, a, b), a, b), hide_index=True,
                     width="stretch", key="mc_diff")
        if me is None:
            return
        back = st.selectbox("Revert to", list(labels)[:-1], format_func=labels.get, key="mc_revert_to")
        if st.button("Revert (saves a new version with that content)", key="mc_revert"):
            try:
                new = wsp.revert_profile(ws, city_id, back, info.version, me)
            except MatcherError as exc:
                show_error(exc, m)
                return
            refresh(m)
            st.session_state[f"mc_read_{city_id}"] = new.version
            flash("my_city", f"Saved version {new.version}: the content of version {back}.")
            st.rerun()


def twins_now(m, city_id: str) -> None:
    """The city's first twins as they stand with the current version."""
    try:
        result = m.twins.recommend(city_id, k=5)
    except MatcherError as exc:
        show_error(exc, m)
        return
    st.subheader("Your twins now")
    st.caption("The first five twins with the profile as saved (Find twins has the full list and the map).")
    st.dataframe(twins_view(result)[["city", "country", "score", "why"]], hide_index=True, width="stretch",
                 key="mc_twins")


def people(m, ws, me) -> None:
    with st.expander("People of this workspace (admins)"):
        users = wsp.list_users(ws)
        _, _, names = city_labels(m, workspace_url())
        st.dataframe([{"email": u.email, "role": ROLE_NAMES[u.role], "city": names.get(u.city_id, u.city_id or ""),
                       "active": u.active} for u in users], hide_index=True, width="stretch", key="ws_users")
        with st.form("ws_add_user"):
            c1, c2 = st.columns(2)
            email = c1.text_input("Email", key="ws_new_email")
            password = c2.text_input("First password (8 characters or more)", type="password", key="ws_new_password")
            role = c1.selectbox("Role", wsp.ROLES, index=1, format_func=ROLE_NAMES.get, key="ws_new_role")
            with c2:
                city = pick_city(m, "ws_new_city", None, "City (for an officer)")
            go = st.form_submit_button("Add the user")
        if go:
            try:
                wsp.create_user(ws, email, password, role, me, city_id=city if role == "officer" else None)
            except MatcherError as exc:
                show_error(exc, m)
                return
            flash("my_city", f"Added {email} ({ROLE_NAMES[role]}).")
            st.rerun()


# ---------------------------------------------------------------------------- board
def page_board(m) -> None:
    st.title("Board: needs and offers")
    st.caption("Cities share hurdles and match interests: post what you need or can offer, and see the offers, "
               "organisations, cities that have done it and case studies that fit, each with its reasons.")
    ws = workspace()
    flash("board")
    posts_tab, orgs_tab = st.tabs(["Needs and offers", "Organisations"])
    with posts_tab:
        post_form(m, ws)
        posts = board_list(m, ws)
        board_matches(m, posts)
    with orgs_tab:
        organisations(ws)


def post_form(m, ws) -> None:
    me = actor()
    if not can_write():
        st.info("Sign in as a city officer or an admin (in the sidebar) to post a need or an offer.")
        return
    with st.expander("Post a need or an offer", expanded=True):
        with st.form("board_post", clear_on_submit=True):
            kind = st.radio("What do you post?", wsp.POST_KINDS, horizontal=True, key="bp_kind",
                            format_func={"need": "We need…", "offer": "We can offer…"}.get)
            if me.role == "officer":
                city = me.city_id
                st.caption(f"For your city ({md_escape(city_labels(m, workspace_url())[2].get(city, city))}).")
            else:
                city = pick_city(m, "bp_city", None, "For which city?")
            tags = st.multiselect("Tags (survey sectors, barriers, funding gaps, co-benefits)", wsp.tag_vocabulary(),
                                  key="bp_tags")
            text = st.text_area("In your words", key="bp_text",
                                placeholder="e.g. we need help procuring heat pumps for social housing")
            go = st.form_submit_button("Post", type="primary")
        if go:
            try:
                post = wsp.create_post(ws, kind, text, me, city_id=city, tags=tags)
            except MatcherError as exc:
                show_error(exc, m)
                return
            st.session_state["board_pick_box"] = post.id  # its matches show at once
            flash("board", f"Posted #{post.id}: its matches are below.")
            st.rerun()


def board_list(m, ws) -> list:
    me = actor()
    names = city_labels(m, workspace_url())[2]
    c1, c2 = st.columns(2)
    kind = c1.radio("Show", ["all", "need", "offer"], horizontal=True, key="board_kind",
                    format_func={"all": "needs and offers", "need": "needs", "offer": "offers"}.get)
    tag = c2.selectbox("Tag", wsp.tag_vocabulary(), index=None, key="board_tag", placeholder="any tag")
    admin = me is not None and me.role == "admin"
    posts = wsp.list_posts(ws, kind=None if kind == "all" else kind, tag=tag, include_hidden=admin, actor=me)
    if not posts:
        st.info("No post yet with these filters.")
    for post in posts[:50]:
        with st.container(border=True):
            st.markdown(post_card(post, names))
            if admin and post.status == "visible" and st.button("Hide this post", key=f"board_hide_{post.id}"):
                wsp.hide_post(ws, post.id, me, reason="hidden by a moderator in the app")
                flash("board", f"Post #{post.id} is hidden.")
                st.rerun()
    return [p for p in posts if p.status == "visible"]


def board_matches(m, posts: list) -> None:
    if not posts:
        return
    names = city_labels(m, workspace_url())[2]
    ids = [p.id for p in posts]
    if st.session_state.get("board_pick_box") not in ids:
        st.session_state.pop("board_pick_box", None)  # filtered out: the newest shown instead
    st.subheader("Matches")
    labels = {p.id: post_label(p, names) for p in posts}
    post_id = st.selectbox("See the matches of", ids, format_func=labels.get, key="board_pick_box")
    try:
        with st.spinner("Matching…"), _REFRESH:
            found = m.board_matches(post_id, k=5)
    except MatcherError as exc:
        show_error(exc, m)
        return
    other = "Offers for this need" if posts[ids.index(post_id)].kind == "need" else "Needs for this offer"
    for title, result, kind in ((other, found.posts, "post"), ("Organisations", found.organisations, "organisation"),
                                ("Cities that have done it", found.cities, "city"),
                                ("Case studies", found.case_studies, "case study")):
        st.markdown(f"**{title}**")
        rows = board_matches_table(result, kind, session_translator(st.session_state).lang).to_dict("records")
        if not rows:
            st.caption("Nothing yet.")
        for i, row in enumerate(rows, 1):
            by = f" ({md_escape(row['from'])})" if row["from"] else ""
            st.markdown(f"{i}\\. **{md_escape(row['match'])}**{by}: {md_escape(row['why'])}  \n"
                        f"score {md_escape(row['how the score adds up'])}")
    st.caption("Each score is the sum of its terms (weight x similarity), like twins.")


def organisations(ws) -> None:
    me = actor()
    st.caption("Delivery partners, investors, financial experts and energy agencies cities can be matched with. "
               "An admin approves each entry before it is matched.")
    st.dataframe(organisations_table(wsp.list_organisations(ws)), hide_index=True, width="stretch", key="orgs_table")
    if me is not None and me.role == "admin":
        pending = wsp.list_organisations(ws, status="pending")
        if pending:
            st.markdown(f"**Waiting for approval ({len(pending)})**")
            for org in pending:
                c1, c2, c3 = st.columns([4, 1, 1])
                c1.markdown(f"{md_escape(org.name)} ({ORG_KIND_NAMES[org.kind]}), proposed by {md_escape(org.created_by)}")
                for col, status, label in ((c2, "approved", "Approve"), (c3, "rejected", "Reject")):
                    if col.button(label, key=f"org_{status}_{org.id}"):
                        wsp.review_organisation(ws, org.id, status, me)
                        flash("board", f"{org.name}: {status}.")
                        st.rerun()
    if can_write():
        org_form(ws, me)


def org_form(ws, me) -> None:
    with st.expander("Propose an organisation"):
        with st.form("org_add", clear_on_submit=True):
            c1, c2 = st.columns(2)
            name = c1.text_input("Name", key="org_name")
            kind = c2.selectbox("Kind", wsp.ORG_KINDS, format_func=ORG_KIND_NAMES.get, key="org_kind")
            sectors = st.multiselect("Sectors", vocabularies()["priority_sectors"], key="org_sectors")
            services = st.text_input("Services (separated by ';')", key="org_services")
            countries = c1.text_input("Countries (ISO codes separated by ',': DE, FR)", key="org_countries")
            languages = c2.text_input("Languages (ISO codes separated by ',': de, fr)", key="org_languages")
            description = st.text_area("What it offers cities", key="org_description")
            website = st.text_input("Website (https://…)", key="org_website")
            go = st.form_submit_button("Propose")
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
            flash("board", f"{org.name} is proposed; an admin approves it" if me.role != "admin" else
                  f"{org.name} is proposed: approve it above.")
            st.rerun()


# ---------------------------------------------------------------------------- saved work
PAYLOADS = {"shortlist": shortlist_payload, "cohort_plan": cohort_payload, "review_plan": review_payload}


def offer_save(kind: str, result) -> None:
    """Below a result: save it, and compare it with one saved before."""
    payload, rules, objective = PAYLOADS[kind](result)
    if not can_write():
        st.caption(f"Sign in (in the sidebar) to save this {SAVED_KIND_NAMES[kind]}.")
    else:
        with st.form(f"ws_save_{kind}", clear_on_submit=True):
            c1, c2 = st.columns([3, 1])
            c1.text_input(f"Save this {SAVED_KIND_NAMES[kind]} as", key=f"ws_save_name_{kind}",
                          placeholder="a name, e.g. Spring call 2026")
            c2.form_submit_button("Save", on_click=_save, args=(kind, payload, rules, objective))
    items = wsp.list_saved(workspace(), kind=kind)
    if not items:
        return
    by_id = {x.id: x for x in items}
    with st.expander("Compare this result with a saved one"):
        pick = st.selectbox("Saved", list(by_id), format_func=lambda i: saved_item_label(by_id[i]),
                            key=f"ws_compare_{kind}")
        old = by_id[pick].payload
        for line in comparison_lines(kind, wsp.compare_saved(kind, old, payload), old, payload):
            st.markdown(f"- {md_escape(line)}")


def _save(kind: str, payload: dict, rules: dict, objective: str) -> None:
    """The Save button's callback: it runs before the next run, so a result that only shows after
    its own button (cohorts, reviewers) is saved all the same."""
    name = st.session_state.get(f"ws_save_name_{kind}") or f"{SAVED_KIND_NAMES[kind]}"
    try:
        item = wsp.save_work(workspace(), kind, name, payload, actor(), rules=rules, objective=objective)
    except MatcherError as exc:
        st.session_state[f"flash_saved_{kind}_error"] = error_text(exc)
        return
    flash(f"saved_{kind}", f"Saved “{item.name}”. It is listed under “Saved” at the top of this page.")


def saved_panel(kind: str) -> None:
    """Above a page: saved items of this kind, one reloaded with its rules (its table, CSV)."""
    ws = workspace()
    flash(f"saved_{kind}")
    if f"flash_saved_{kind}_error" in st.session_state:
        st.error(md_escape(st.session_state.pop(f"flash_saved_{kind}_error")), icon="⚠️")
    items = wsp.list_saved(ws, kind=kind)
    with st.expander(f"Saved ({len(items)} {SAVED_KIND_NAMES[kind]}{'s' if len(items) != 1 else ''})"):
        if not items:
            st.caption("Nothing saved yet: save a result below.")
            return
        st.dataframe(saved_list_table(items), hide_index=True, width="stretch", key=f"ws_saved_{kind}")
        by_id = {x.id: x for x in items}
        pick = st.selectbox("Open", list(by_id), format_func=lambda i: saved_item_label(by_id[i]),
                            key=f"ws_open_{kind}")
        item = by_id[pick]
        table = saved_table(item)
        st.dataframe(table, hide_index=True, width="stretch", key=f"ws_saved_table_{kind}")
        st.download_button("Download it (CSV)", csv_bytes(table), f"{kind}_{item.id}.csv", "text/csv",
                           key=f"ws_dl_{kind}")
