"""The app's workspace pages through AppTest, on the real index and a new SQLite workspace per
test: sign in, My city (edit, conflict, another city refused), the board, saved work."""
from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from matcher.present.i18n import translator
from matcher.workspace import (add_organisation, approve_organisation, create_post, create_user, init_workspace,
                               list_saved, profile_history, set_profile)

from .conftest import APP

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"
MK, LYON = "gn2642465", "gn2996944"
ADMIN, OFFICER, VIEWER = "admin@example.org", "officer@mk.example.org", "viewer@example.org"
BARRIER, SECTOR = "Lack of know-how and skills", "Built environment"


def _workspace_app(index_dir, tmp_path, monkeypatch, **params):
    url = f"sqlite:///{tmp_path / 'workspace.db'}"
    monkeypatch.setenv("MATCHER_INDEX_DIR", str(index_dir))
    monkeypatch.setenv("MATCHER_DB_URL", url)
    ws, admin = init_workspace(url, admin_email=ADMIN, admin_password=PASSWORD)
    create_user(ws, OFFICER, PASSWORD, "officer", admin, city_id=MK)
    create_user(ws, VIEWER, PASSWORD, "viewer", admin)
    at = AppTest.from_file(APP, default_timeout=600)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at, ws, admin


@pytest.fixture
def ws_app(real_recommender, real_index_dir, tmp_path, monkeypatch):
    """(AppTest after its first run, workspace, admin): an admin, MK's officer and a viewer exist."""
    return _workspace_app(real_index_dir, tmp_path, monkeypatch)


@pytest.fixture
def ws_app_de(real_recommender, real_index_dir, tmp_path, monkeypatch):
    """The same, opened from a link with ?lang=de."""
    return _workspace_app(real_index_dir, tmp_path, monkeypatch, lang="de")


def _click(at, label: str):
    return next(b for b in at.button if b.label == label).click().run()


def sign_in(at, email: str, password: str = PASSWORD, button: str = "Sign in"):
    at.sidebar.text_input(key="ws_email").set_value(email)
    at.sidebar.text_input(key="ws_password").set_value(password)
    return _click(at, button)


def _no_bare_email(markdown: str) -> bool:
    """Every e-mail address in the Markdown is in a code span: shown as text, never a mailto: link."""
    outside = re.sub(r"`[^`]*`", "", markdown)
    return re.search(r"[-.\w+]+@[-\w]+(?:\.[-\w]+)+", outside) is None


def _page(at, page: str):
    return at.sidebar.radio(key="page").set_value(page).run()


def _frame(at, column: str, nth: int = 0):
    """The nth table on the page with this column (AppTest keeps no key for a table without selection)."""
    return [d.value for d in at.dataframe if column in d.value.columns][nth]


def test_sign_in_fails_with_a_wrong_password_and_succeeds_with_the_right_one(ws_app):
    at, _, _ = ws_app
    sign_in(at, OFFICER, "wrong password!")
    assert [e.value for e in at.error] == ["unknown email or wrong password"]
    assert not any("Signed in as" in m.value for m in at.sidebar.markdown)
    sign_in(at, OFFICER)
    signed = [m.value for m in at.sidebar.markdown if m.value.startswith("Signed in as")]
    assert signed == [f"Signed in as `{OFFICER}` (city officer, Milton Keynes)"] and _no_bare_email(signed[0])
    _click(at, "Sign out")
    assert not any("Signed in as" in m.value for m in at.sidebar.markdown)


def test_a_new_workspace_offers_to_create_the_first_admin(real_recommender, real_index_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("MATCHER_INDEX_DIR", str(real_index_dir))
    monkeypatch.setenv("MATCHER_DB_URL", f"sqlite:///{tmp_path / 'new.db'}")
    at = AppTest.from_file(APP, default_timeout=600).run()
    assert [e.label for e in at.sidebar.expander] == ["Create the first admin account"]
    at.sidebar.text_input(key="ws_admin_email").set_value(ADMIN)
    at.sidebar.text_input(key="ws_admin_password").set_value(PASSWORD)
    at.sidebar.text_input(key="ws_admin_again").set_value(PASSWORD)
    _click(at, "Create the admin account")
    assert any(m.value.startswith(f"Signed in as `{ADMIN}` (network admin)") for m in at.sidebar.markdown)
    _click(at, "Sign out")
    assert [e.label for e in at.sidebar.expander] == ["Sign in"]  # once, never again


def _twins_table(at):
    return next(d for d in at.dataframe if d.key and d.key.startswith("twins_table_")).value


def test_officer_edit_makes_a_version_and_changes_the_twins_explanation(ws_app):
    at, ws, _ = ws_app
    before = _twins_table(at)  # Find twins for Milton Keynes (the default city)
    assert "Barriers" not in before.columns  # Milton Keynes has no barriers on record: not compared
    sign_in(at, OFFICER)
    _page(at, "My city")
    assert at.selectbox(key="mc_city").value == "Milton Keynes (GB)"
    improve = _frame(at, "what is unknown")
    assert "Barriers" in list(improve["what is unknown"])
    at.multiselect(key=f"mc_barriers_{MK}_0").set_value([BARRIER])
    sectors = at.multiselect(key=f"mc_priority_sectors_{MK}_0")
    sectors.set_value(list(sectors.value) + [SECTOR])
    _click(at, "Save a new version")
    assert not at.exception and not at.error
    assert [s.value for s in at.success] == ["Saved version 1. Your twins use it now."]
    history = profile_history(ws, MK)
    assert [v.version for v in history] == [0, 1] and history[1].author == OFFICER and history[1].source == "app"
    assert history[1].profile["barriers"] == [BARRIER] and SECTOR in history[1].profile["priority_sectors"]
    assert "Barriers" not in list(_frame(at, "what is unknown")["what is unknown"])
    assert list(_frame(at, "saved by")["version"]) == [1, 0]
    _page(at, "Find twins")
    after = _twins_table(at)
    assert "Barriers" in after.columns and after["Barriers"].max() > 0  # the edit is in the explanations
    assert any("lack of know-how and skills" in w.lower() for w in after["why"])


def test_officer_and_viewer_cannot_edit_another_city(ws_app):
    at, ws, _ = ws_app
    for email, words in ((OFFICER, "is the officer of 'Milton Keynes (GB)' and cannot edit the profile of 'Lyon (FR)'"),
                         (VIEWER, "(viewer) is not allowed to edit the profile of 'Lyon'")):
        sign_in(at, email)
        _page(at, "My city")
        at.selectbox(key="mc_city").set_value("Lyon (FR)").run()
        assert any("Only Lyon's officer or an admin can save changes" in c.value for c in at.caption)
        at.multiselect(key=f"mc_barriers_{LYON}_0").set_value([BARRIER])
        _click(at, "Save a new version")
        assert not at.exception
        assert any(words.replace("'", "") in e.value.replace("'", "") for e in at.error), [e.value for e in at.error]
        assert all(_no_bare_email(e.value) for e in at.error) and f"`{email}`" in at.error[0].value
        assert [v.version for v in profile_history(ws, LYON)] == [0]  # the library refused: nothing stored
        _click(at, "Sign out")


def test_a_conflict_is_a_clear_message_and_nothing_typed_is_lost(ws_app):
    at, ws, admin = ws_app
    sign_in(at, OFFICER)
    _page(at, "My city")
    at.multiselect(key=f"mc_barriers_{MK}_0").set_value([BARRIER])
    set_profile(ws, MK, {"population": 270000}, 0, admin)  # another session saves first
    _click(at, "Save a new version")
    assert any("Conflict on profile 'Milton Keynes'" in e.value and "Nothing was saved" in e.value for e in at.error)
    assert at.multiselect(key=f"mc_barriers_{MK}_0").value == [BARRIER]  # the answers stay in the form
    assert list(_frame(at, "your answer")["your answer"]) == [BARRIER]
    _click(at, "Apply my answers to version 1")
    latest = profile_history(ws, MK)[-1]
    assert latest.version == 2 and latest.profile["barriers"] == [BARRIER] and latest.profile["population"] == 270000


def seed_board(ws, admin) -> None:
    """An offer from Lyon's officer and an approved organisation, both about heat pumps."""
    lyon = create_user(ws, "officer@lyon.example.org", PASSWORD, "officer", admin, city_id=LYON)
    create_post(ws, "offer", "We can share our joint procurement framework for heat pumps in social housing", lyon,
                city_id=LYON, tags=[SECTOR])
    org = add_organisation(ws, "Heat Pump Partners", "delivery_partner", admin, sectors=[SECTOR],
                           services=["heat pump procurement"], countries=["GB"], languages=["en"],
                           description="Procures and installs heat pumps for social housing")
    approve_organisation(ws, org.id, admin)


def test_board_post_shows_matched_offers_and_organisations(ws_app):
    at, ws, admin = ws_app
    seed_board(ws, admin)
    sign_in(at, OFFICER)
    _page(at, "Board")
    hostile = "We need help procuring heat pumps for social housing **now** [x](javascript:alert(1)) <b>"
    at.radio(key="bp_kind").set_value("need")
    at.multiselect(key="bp_tags").set_value([SECTOR, BARRIER])
    at.text_area(key="bp_text").set_value(hostile)
    _click(at, "Post")
    assert not at.exception and not at.error
    assert any(s.value.startswith("Posted #2") for s in at.success)
    card = next(m.value for m in at.markdown if m.value.startswith("**Need #2**"))
    assert "\\*\\*now\\*\\*" in card and "\\[x\\]" in card and "\\<b\\>" in card and "Milton Keynes" in card
    sections = _sections(at, ["Offers for this need", "Organisations", "Cities that have done it", "Case studies"])
    offers, orgs = sections["Offers for this need"], sections["Organisations"]
    assert offers[0].startswith("1\\. **We can share our joint procurement") and "(Lyon)" in offers[0]
    assert orgs[0].startswith("1\\. **Heat Pump Partners** (delivery partner): works in: Built environment")
    assert all(sections.values())
    for line in [x for lines in sections.values() for x in lines]:  # every score is the sum of its terms
        terms, total = line.rsplit("\nscore ", 1)[1].split(" = ")
        assert abs(sum(float(t.split(" (")[0]) for t in terms.split(" + ")) - float(total)) < 0.003


def _sections(at, titles: list[str]) -> dict[str, list[str]]:
    """The numbered match lines under each bold title of the board's matches."""
    out, current = {}, None
    for m in at.markdown:
        if m.value.strip("*") in titles:
            current = out.setdefault(m.value.strip("*"), [])
        elif current is not None and m.value[:1].isdigit():
            current.append(m.value)
    return out


def test_saved_shortlist_round_trip(ws_app):
    at, ws, _ = ws_app
    sign_in(at, OFFICER)
    shown = list(_twins_table(at)["city"])
    at.text_input(key="ws_save_name_shortlist").set_value("MK peers <b>")
    _click(at, "Save")
    assert not at.exception
    assert [s.value for s in at.success][0].startswith("Saved “MK peers \\<b\\>”")  # Markdown escaped
    saved = list_saved(ws, kind="shortlist")
    assert [x.name for x in saved] == ["MK peers <b>"] and saved[0].owner == OFFICER
    assert saved[0].rules["asker"] == "Milton Keynes" and saved[0].objective.startswith("twin score")
    assert list(_frame(at, "why", 0)["city"]) == shown  # reloaded as it was
    assert any(m.value.startswith("- In both (10)") for m in at.markdown)  # compared with the run on the page
    at.sidebar.checkbox(key="f_exclude_country").check().run()  # a new run: British twins leave
    lines = [m.value for m in at.markdown if m.value.startswith("- No longer in this run")]
    assert lines and not lines[0].startswith("- No longer in this run (0)")


def test_an_accepted_pairing_is_saved_with_its_two_way_brief_and_themes(ws_app):
    at, ws, _ = ws_app
    first = list(_twins_table(at)["city"])[0]
    assert any(c.value == "Sign in (in the sidebar) to accept a pairing." for c in at.caption)
    sign_in(at, OFFICER)
    at.multiselect(key="ws_pair_themes").set_value([SECTOR])  # a form: sent with its button
    at.text_input(key="ws_pair_other").set_value("one-stop shop for home renovation")
    _click(at, "Accept and save the pairing")
    assert not at.exception
    assert any(s.value.startswith("Pairing saved: “Milton Keynes – ") for s in at.success), [e.value for e in at.error]
    saved = list_saved(ws, kind="pairing")
    assert len(saved) == 1 and saved[0].owner == OFFICER and saved[0].name == f"Milton Keynes – {first}"
    pair = saved[0].payload["pairs"][0]
    assert pair["a"]["city_id"] == MK and pair["b"]["name"] == first
    assert pair["themes"] == [SECTOR, "one-stop shop for home renovation"]
    brief = saved[0].payload["brief"]
    assert brief["agreed_themes"] == pair["themes"] and brief["mode"] == "two-way twins"
    two_way = next(term for term in brief["twins"][0]["terms"] if term["name"] == "two_way")
    assert f"{first} can teach you:" in two_way["detail"] and f"you can teach {first}:" in two_way["detail"]
    assert abs(sum(term["contribution"] for term in brief["twins"][0]["terms"]) - pair["score"]) < 1e-3
    at.run()
    labels = [b.label for b in at.get("download_button")]
    assert "Two-way brief (PDF)" in labels and "Two-way brief (Markdown)" in labels


def test_an_admin_opens_my_city_on_a_city_not_an_empty_picker(ws_app):
    at, _, _ = ws_app
    sign_in(at, ADMIN)
    _page(at, "My city")
    assert not at.exception
    assert at.selectbox(key="mc_city").value == "Milton Keynes (GB)"  # the city of Find twins
    assert at.multiselect(key=f"mc_barriers_{MK}_0").label  # the edit form is there at once


# ---------------------------------------------------------------------------- in German (?lang=de)
def test_a_failed_sign_in_says_so_in_german(ws_app_de):
    at, _, _ = ws_app_de
    assert [e.label for e in at.sidebar.expander] == ["Anmelden"]
    sign_in(at, OFFICER, "wrong password!", button="Anmelden")
    assert [e.value for e in at.error] == ["unbekannte E-Mail-Adresse oder falsches Passwort"]
    sign_in(at, OFFICER, button="Anmelden")
    assert [m.value for m in at.sidebar.markdown if m.value.startswith("Angemeldet als")] == \
        [f"Angemeldet als `{OFFICER}` (zuständige Person der Stadt, Milton Keynes)"]
    assert any(b.label == "Abmelden" for b in at.sidebar.button)


def test_my_city_speaks_german_with_the_survey_english_one_hover_away(ws_app_de):
    at, ws, _ = ws_app_de
    de = translator("de")
    sign_in(at, OFFICER, button="Anmelden")
    _page(at, "Meine Stadt")  # AppTest picks a radio option by its shown label
    assert not at.exception and at.sidebar.radio(key="page").value == "My city"
    assert at.title[0].value == "Meine Stadt"
    assert at.selectbox(key="mc_city").label == "Welche Stadt? (Ihre ist ausgewählt)"
    assert any(h.value == "Profil bearbeiten" for h in at.subheader)
    assert "was unbekannt ist" in _frame(at, "was unbekannt ist").columns
    barriers = at.multiselect(key=f"mc_barriers_{MK}_0")
    assert barriers.label == de("What are the main barriers and gaps your city faces?") != \
        "What are the main barriers and gaps your city faces?"  # the same question as "Describe my city"
    assert "Mangelnde politische Führung" in barriers.options
    assert "*Lack of political leadership*" in barriers.help  # the survey's English wording in the help
    assert at.selectbox(key=f"mc_maturity_{MK}_0").label == de("How far is your climate action?")
    barriers.set_value([de.survey(BARRIER)])
    _click(at, "Neue Version speichern")
    assert not at.exception and not at.error
    assert [s.value for s in at.success] == ["Version 1 gespeichert. Ihre Partnerstädte verwenden sie ab sofort."]
    assert profile_history(ws, MK)[-1].profile["barriers"] == [BARRIER]  # stored in the survey's English
    assert list(_frame(at, "gespeichert von")["Version"]) == [1, 0]


def test_the_board_speaks_german(ws_app_de):
    at, ws, admin = ws_app_de
    de = translator("de")
    seed_board(ws, admin)
    sign_in(at, OFFICER, button="Anmelden")
    _page(at, "Pinnwand")
    assert not at.exception and at.title[0].value == "Pinnwand: Bedarf und Angebote"
    assert [t.label for t in at.tabs] == ["Bedarf und Angebote", "Organisationen"]
    kind = at.radio(key="bp_kind")
    assert kind.label == "Was veröffentlichen Sie?" and kind.options == ["Wir brauchen …", "Wir können anbieten …"]
    tags = at.multiselect(key="bp_tags")
    assert tags.label.startswith("Schlagwörter") and "*Lack of know-how and skills*" in tags.help
    kind.set_value("need")  # the stored value stays English
    tags.set_value([de.survey(BARRIER)])
    at.text_area(key="bp_text").set_value("We need help procuring heat pumps for social housing")
    _click(at, "Veröffentlichen")
    assert not at.exception and not at.error
    assert any(s.value.startswith("#2 veröffentlicht") for s in at.success)
    card = next(m.value for m in at.markdown if m.value.startswith("**Bedarf #2** von **Milton Keynes**"))
    assert f"*{de.survey(BARRIER)}*" in card and de.survey(BARRIER) != BARRIER
    sections = _sections(at, ["Angebote für diesen Bedarf", "Organisationen", "Städte, die es schon umgesetzt haben",
                              "Fallstudien"])
    assert sections["Angebote für diesen Bedarf"][0].startswith("1\\. **We can share our joint procurement")
    assert "Wert" in sections["Angebote für diesen Bedarf"][0] and "Gemeinsame Schlagwörter" in \
        sections["Angebote für diesen Bedarf"][0]
    assert _frame(at, "Organisation")["Art"].tolist() == ["Umsetzungspartner"]


def test_my_city_lists_the_larger_cities_and_looks_up_a_typed_town(ws_app, real_matcher):
    """The city box of My city is the one of Find twins: the ~2,100 larger cities with a climate
    profile (not all 27,400 towns, which cost the browser ~0.5 s on every rerun); any other town
    is typed and looked up."""
    at, _, _ = ws_app
    at.session_state["mc_city"] = "Cologne"  # typed (an exonym); AppTest types only through the state,
    _page(at, "My city")                      # and only into a box not yet drawn
    options = real_matcher.city_options(everyone=True)
    assert at.selectbox(key="mc_city").options == options.loc[options["listed"], "label"].tolist()
    assert not at.exception and not at.error
    assert at.subheader[0].value == "Köln: version 0"


def test_my_city_says_when_a_typed_town_is_unknown(ws_app):
    at, _, _ = ws_app
    at.session_state["mc_city"] = "Qwxzyville"
    _page(at, "My city")
    assert not at.exception and at.error and "Qwxzyville" in at.error[0].value
