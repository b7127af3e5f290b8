"""The workspace library (issue 12) on SQLite and on a real PostgreSQL server: versioned
profiles over the shipped data, optimistic locking, transactions, roles, the board,
organisations, saved work, the audit log and the export/restore round trip."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import inspect, text

from matcher.errors import ProfileValidationError, UnknownCityError
from matcher.schema import validate_profiles
from matcher.workspace import (Actor, AuthenticationError, ConflictError, PermissionDeniedError, WorkspaceError,
                               add_organisation, approve_organisation, audit_log, authenticate, base_profiles,
                               change_counter, changed_since, compare_saved, compare_versions, create_post,
                               create_user, delete_saved, export_workspace, find_city, get_profile, hide_post,
                               list_organisations, list_posts, list_saved, load_saved, merged_profiles,
                               open_workspace, post_markdown, profile_history, restore_workspace, revert_profile,
                               save_work, set_profile)
from matcher.workspace import audit as audit_module
from matcher.workspace.db import head_revision, resolve_url
from matcher.workspace.models import Base
from matcher.workspace.transfer import table_frames
from tests.workspace_support import admin, db_url, new_database_url, pg_server, ws  # noqa: F401

MK = "gn2642465"  # Milton Keynes in the shipped data (population 256,385)
HOSTILE = ["Robert'); DROP TABLE profile_versions;--", '" OR 1=1 --', "[click](javascript:alert(1)) <script>x</script>",
           "# Heading\n| a | b |\n---", "tab\tbell\x07 esc\x1b[31m red", "ünïcødé ✓ 日本"]


@pytest.fixture
def officer(ws, admin):
    return create_user(ws, "officer@mk.example.org", "officer password", "officer", admin, city_id=MK)


@pytest.fixture
def viewer(ws, admin):
    return create_user(ws, "viewer@example.org", "viewer password", "viewer", admin)


# ---------------------------------------------------------------------------- schema and setup
def test_migrations_create_exactly_the_models(ws):
    """The Alembic migration and the models agree (nothing for autogenerate to add or drop)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with ws.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert MigrationContext.configure(conn).get_current_revision() == head_revision()
    assert diff == []
    assert set(inspect(ws.engine).get_table_names()) >= {t.name for t in Base.metadata.sorted_tables}


def test_migrations_go_down_and_up_again(ws):
    from alembic import command

    from matcher.workspace.db import alembic_config, current_revision, upgrade

    with ws.engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert not {t.name for t in Base.metadata.sorted_tables} & set(inspect(ws.engine).get_table_names())
    upgrade(ws.engine)
    assert current_revision(ws.engine) == head_revision()


def test_sqlite_has_foreign_keys_and_wal(tmp_path):
    ws = open_workspace(tmp_path / "w.db")
    with ws.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert (tmp_path / "w.db").is_file()


def test_an_unmigrated_database_is_refused_unless_migrating(tmp_path):
    with pytest.raises(WorkspaceError, match="matcher workspace init"):
        open_workspace(tmp_path / "new.db", migrate=False)
    open_workspace(tmp_path / "new.db")
    assert open_workspace(tmp_path / "new.db", migrate=False).backend == "sqlite"


def test_an_unreachable_server_is_a_clear_error(tmp_path):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(WorkspaceError, match="cannot connect to the workspace database") as err:
        open_workspace(f"postgresql://someone:secret@127.0.0.1:{port}/nothing")
    assert "secret" not in str(err.value)  # the password is never shown
    with pytest.raises(WorkspaceError, match="cannot connect"):
        open_workspace(tmp_path)  # a folder, not a database file


def test_db_url_from_environment_and_paths(monkeypatch, tmp_path):
    monkeypatch.setenv("MATCHER_DB_URL", "postgresql://u@h/db")
    assert resolve_url(None) == "postgresql+psycopg://u@h/db"  # psycopg 3 is the driver installed
    assert resolve_url("postgres://u:pw@h:5433/db") == "postgresql+psycopg://u:pw@h:5433/db"
    assert resolve_url(tmp_path / "x.db") == f"sqlite:///{(tmp_path / 'x.db').resolve()}"
    monkeypatch.delenv("MATCHER_DB_URL")
    assert resolve_url(None).endswith("artifacts/workspace.db")


# ---------------------------------------------------------------------------- profiles as versions
def test_edit_is_a_new_version_over_the_shipped_base(ws, admin):
    base = get_profile(ws, MK)
    assert (base.version, base.profile["population"], base.author) == (0, 256385, None)
    v1 = set_profile(ws, MK, {"population": "300000", "barriers": ["lack of know-how and skills"]}, 0, admin,
                     source="app")
    assert v1.version == 1 and v1.author == "admin@example.org" and v1.source == "app"
    assert v1.changes == {"population": [256385, 300000], "barriers": [[], ["Lack of know-how and skills"]]}
    # the shipped table itself is untouched; the merged table carries the edit in place
    shipped = base_profiles(ws)
    assert int(shipped.loc[shipped.city_id == MK, "population"].iloc[0]) == 256385
    merged = merged_profiles(ws)
    assert merged.shape == shipped.shape and list(merged.columns) == list(shipped.columns)
    assert list(merged["city_id"]) == list(shipped["city_id"])
    row = merged[merged.city_id == MK].iloc[0]
    assert row["population"] == 300000 and list(row["barriers"]) == ["Lack of know-how and skills"]
    assert "barriers" in row["known_facets"]
    assert dict(merged.dtypes) == dict(shipped.dtypes)
    history = profile_history(ws, MK)
    assert [h.version for h in history] == [0, 1]
    # saving the same values again stores nothing
    assert set_profile(ws, MK, {"population": 300000}, 1, admin).version == 1 and change_counter(ws) == 1
    assert compare_versions(ws, MK, 0, 1)["population"] == (256385, 300000)


def test_a_town_given_climate_answers_joins_the_profiled_cities(ws, admin):
    berat = "gn3186084"  # GeoNames-only in the shipped data: no climate profile
    assert get_profile(ws, berat).profile["has_climate_profile"] is False
    info = set_profile(ws, berat, {"priority_sectors": ["Energy systems"]}, 0, admin)
    assert info.profile["has_climate_profile"] is True
    assert bool(merged_profiles(ws).set_index("city_id").loc[berat, "has_climate_profile"]) is True


def test_revert_adds_a_version_and_keeps_history(ws, admin):
    set_profile(ws, MK, {"population": 300000}, 0, admin)
    set_profile(ws, MK, {"maturity": "Advanced"}, 1, admin)
    back = revert_profile(ws, MK, 0, 2, admin)
    assert back.version == 3 and back.source == "revert to version 0"
    assert back.profile == get_profile(ws, MK).profile
    assert back.profile["population"] == 256385 and back.profile["maturity"] is None
    assert [h.version for h in profile_history(ws, MK)] == [0, 1, 2, 3]


def test_change_counter_lists_changed_cities(ws, admin):
    start = change_counter(ws)
    set_profile(ws, MK, {"population": 300000}, 0, admin)
    lyon = find_city(ws, "Lyon", "FR")
    set_profile(ws, lyon, {"maturity": "developing"}, 0, admin)
    changes = changed_since(ws, start)
    assert changes.city_ids == [MK, lyon] and changes.counter == change_counter(ws) > start
    assert changed_since(ws, changes.counter).city_ids == []


def test_bad_input_is_refused_naming_the_field(ws, admin):
    with pytest.raises(ProfileValidationError) as err:
        set_profile(ws, MK, {"population": "lots", "barriers": ["Lack of know-how"]}, 0, admin)
    columns = {p["column"] for p in err.value.problems}
    assert columns == {"population", "barriers"}
    assert "did you mean 'Lack of know-how and skills'" in str(err.value)
    with pytest.raises(ProfileValidationError, match="did you mean 'population'"):
        set_profile(ws, MK, {"populaton": 1}, 0, admin)
    with pytest.raises(ProfileValidationError, match="cannot be changed"):
        set_profile(ws, MK, {"city_id": "other"}, 0, admin)
    assert [h.version for h in profile_history(ws, MK)] == [0]


def test_unknown_stays_null_and_a_new_city_can_be_created(ws, admin):
    info = set_profile(ws, "x-newtown-pt", {"name": "Newtown", "country_code": "pt"}, 0, admin)
    assert info.version == 1 and info.profile["country_code"] == "PT"
    assert info.profile["population"] is None and info.profile["net_zero_target_year"] is None
    merged = merged_profiles(ws)
    assert merged["city_id"].iloc[-1] == "x-newtown-pt" and len(merged) == len(base_profiles(ws)) + 1
    assert find_city(ws, "Newtown", "PT") == "x-newtown-pt"
    with pytest.raises(UnknownCityError):
        get_profile(ws, "x-nowhere-de")


# ---------------------------------------------------------------------------- reliability
def test_second_editor_gets_a_conflict_and_nothing_is_lost(ws, admin, officer):
    seen_by_a = get_profile(ws, MK).version
    seen_by_b = get_profile(ws, MK).version
    set_profile(ws, MK, {"population": 300000}, seen_by_a, officer)
    with pytest.raises(ConflictError) as err:
        set_profile(ws, MK, {"population": 999, "maturity": "advanced"}, seen_by_b, admin)
    assert "officer@mk.example.org" in str(err.value) and "version 1" in str(err.value)
    assert err.value.attempted == {"population": 999, "maturity": "advanced"}
    assert get_profile(ws, MK).profile["population"] == 300000
    assert [h.version for h in profile_history(ws, MK)] == [0, 1]
    # re-applied on the version now read, the second edit goes through
    assert set_profile(ws, MK, err.value.attempted, err.value.current_version, admin).version == 2


def test_concurrent_writers_exactly_one_wins(ws, admin):
    n = 4
    barrier = threading.Barrier(n)
    results = []

    def edit(i):
        barrier.wait()
        try:
            results.append(set_profile(ws, MK, {"population": 100000 + i}, 0, admin).version)
        except ConflictError as exc:
            results.append(exc)

    threads = [threading.Thread(target=edit, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r for r in results if isinstance(r, int)) == [1]
    assert sum(isinstance(r, ConflictError) for r in results) == n - 1
    assert [h.version for h in profile_history(ws, MK)] == [0, 1]


def test_a_crash_mid_write_stores_nothing(ws, admin, monkeypatch):
    def crash(*_a, **_k):
        raise RuntimeError("power cut")

    before = len(audit_log(ws))
    monkeypatch.setattr(audit_module, "record", crash)  # fails after the version row was written
    with pytest.raises(RuntimeError):
        set_profile(ws, MK, {"population": 300000}, 0, admin)
    monkeypatch.undo()
    assert [h.version for h in profile_history(ws, MK)] == [0]
    assert change_counter(ws) == 0 and len(audit_log(ws)) == before
    assert set_profile(ws, MK, {"population": 300000}, 0, admin).version == 1


def test_a_killed_process_mid_write_stores_nothing_and_locks_nothing(ws, admin, db_url):
    """The process dies (os._exit, no clean-up) after writing the version row, before COMMIT."""
    script = (
        "import os, sys\n"
        "from matcher.workspace import open_workspace, get_user, set_profile, audit\n"
        "ws = open_workspace(sys.argv[1])\n"
        "audit.record = lambda *a, **k: os._exit(9)\n"
        f"set_profile(ws, '{MK}', {{'population': 300000}}, 0, get_user(ws, 'admin@example.org'))\n")
    done = subprocess.run([sys.executable, "-c", script, db_url], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert done.returncode == 9, done.stderr
    assert [h.version for h in profile_history(ws, MK)] == [0] and change_counter(ws) == 0
    assert set_profile(ws, MK, {"population": 300000}, 0, admin).version == 1  # no lock left behind


def test_hostile_texts_are_stored_verbatim_and_never_run(ws, admin):
    for i, hostile in enumerate(HOSTILE):
        set_profile(ws, MK, {"narrative": hostile}, i, admin)
        # a profile goes through the schema, which strips terminal escapes and control characters
        # (issue 13); everything else is kept to the letter
        cleaned = validate_profiles(pd.DataFrame([{"name": "x", "country_code": "GB", "narrative": hostile}]))
        assert get_profile(ws, MK).profile["narrative"] == cleaned.at[0, "narrative"]
        post = create_post(ws, "need", hostile, admin, city_id=MK)
        assert list_posts(ws)[0].text == hostile and post.text == hostile
        org = add_organisation(ws, hostile, "investor", admin, description=hostile)
        assert org.name == hostile.strip()
        assert save_work(ws, "shortlist", hostile, {"members": [MK]}, admin, objective=hostile).name == hostile.strip()
    with ws.engine.connect() as conn:  # every table is still there
        assert {"profile_versions", "posts", "users"} <= set(inspect(conn).get_table_names())
        assert conn.execute(text("SELECT COUNT(*) FROM posts")).scalar() == len(HOSTILE)
    md = post_markdown(next(p for p in list_posts(ws) if p.text == HOSTILE[2]))  # the link and the script
    assert "](" not in md.replace("\\](", "") and "<script>" not in md
    with pytest.raises(ProfileValidationError, match="NUL"):
        create_post(ws, "need", "a\x00b", admin, city_id=MK)


# ---------------------------------------------------------------------------- users and roles
def test_passwords_are_argon2_hashes_and_authentication_works(ws, admin, officer):
    me = authenticate(ws, "Officer@MK.example.org", "officer password")
    assert me.role == "officer" and me.city_id == MK
    for email, pw in [("officer@mk.example.org", "wrong password"), ("nobody@example.org", "officer password"),
                      ("not an email", "x")]:
        with pytest.raises(AuthenticationError, match="unknown email or wrong password"):
            authenticate(ws, email, pw)
    with ws.engine.connect() as conn:
        hashes = [h for (h,) in conn.execute(text("SELECT password_hash FROM users"))]
    assert all(h.startswith("$argon2id$") for h in hashes) and not any("password" in h for h in hashes)
    with pytest.raises(ProfileValidationError, match="at least 8"):
        create_user(ws, "short@example.org", "short", "viewer", admin)


def test_an_officer_cannot_change_another_city(ws, admin, officer, viewer):
    lyon = find_city(ws, "Lyon", "FR")
    with pytest.raises(PermissionDeniedError, match="cannot edit the profile of"):
        set_profile(ws, lyon, {"population": 1000}, 0, officer)
    with pytest.raises(PermissionDeniedError):
        create_post(ws, "offer", "we can help", officer, city_id=lyon)
    with pytest.raises(PermissionDeniedError):
        set_profile(ws, MK, {"population": 1000}, 0, viewer)
    # a hand-made Actor claiming admin is re-read from the database
    forged = Actor(officer.id, officer.email, "admin", lyon)
    with pytest.raises(PermissionDeniedError):
        set_profile(ws, lyon, {"population": 1000}, 0, forged)
    assert [h.version for h in profile_history(ws, lyon)] == [0]
    assert set_profile(ws, MK, {"population": 300000}, 0, officer).author == officer.email
    post = create_post(ws, "need", "help with procurement", officer, city_id=MK)
    with pytest.raises(PermissionDeniedError):
        hide_post(ws, post.id, officer)
    with pytest.raises(PermissionDeniedError):
        create_user(ws, "x@example.org", "long enough", "admin", officer)


def test_every_change_is_in_the_audit_log(ws, admin, officer):
    set_profile(ws, MK, {"population": 300000}, 0, officer)
    post = create_post(ws, "need", "procurement of heat pumps", officer, city_id=MK, tags=["Energy systems"])
    hide_post(ws, post.id, admin, "duplicate")
    org = add_organisation(ws, "Green Fund", "investor", officer)
    approve_organisation(ws, org.id, admin)
    item = save_work(ws, "shortlist", "MK twins", {"members": [MK]}, officer)
    delete_saved(ws, item.id, officer)
    log = [(e.actor, e.action, e.target_id) for e in audit_log(ws)]
    assert log == [("admin@example.org", "create_user", "1"), ("admin@example.org", "create_user", "2"),
                   ("officer@mk.example.org", "edit_profile", MK), ("officer@mk.example.org", "post", str(post.id)),
                   ("admin@example.org", "hide_post", str(post.id)),
                   ("officer@mk.example.org", "add_organisation", str(org.id)),
                   ("admin@example.org", "approve_organisation", str(org.id)),
                   ("officer@mk.example.org", "save_work", str(item.id)),
                   ("officer@mk.example.org", "delete_saved", str(item.id))]


# ---------------------------------------------------------------------------- board and organisations
def test_board_posts_tags_and_moderation(ws, admin, officer):
    need = create_post(ws, "need", "Joint procurement of e-buses?", officer, city_id=MK,
                       tags=["mobility and transport", "Lack of know-how and skills"])
    assert need.tags == ["Mobility and transport", "Lack of know-how and skills"] and need.status == "visible"
    with pytest.raises(ProfileValidationError) as err:
        create_post(ws, "need", "x", officer, city_id=MK, tags=["Mobility and transprt", "space travel"])
    assert {p["column"] for p in err.value.problems} == {"tags"} and "did you mean 'Mobility and transport'" in str(err.value)
    with pytest.raises(ProfileValidationError, match="kind"):
        create_post(ws, "request", "x", officer, city_id=MK)
    offer = create_post(ws, "offer", "We share our tender documents", admin, city_id=find_city(ws, "Lyon", "FR"))
    assert [p.id for p in list_posts(ws)] == [offer.id, need.id]
    assert [p.id for p in list_posts(ws, kind="need", tag="Mobility and transport")] == [need.id]
    hidden = hide_post(ws, need.id, admin, "spam")
    assert hidden.status == "hidden" and hidden.moderation_reason == "spam"
    assert [p.id for p in list_posts(ws)] == [offer.id]
    assert [p.id for p in list_posts(ws, include_hidden=True, actor=admin)] == [offer.id, need.id]
    with pytest.raises(PermissionDeniedError):
        list_posts(ws, include_hidden=True, actor=officer)


def test_organisations_need_approval(ws, admin, officer):
    org = add_organisation(ws, "Energy Agency North", "energy_agency", officer, sectors=["energy systems"],
                           services=["feasibility studies"], countries=["de", "NL"], languages=["DE", "nl"],
                           website="https://example.org")
    assert org.status == "pending" and org.countries == ["DE", "NL"] and org.languages == ["de", "nl"]
    assert list_organisations(ws) == []
    with pytest.raises(PermissionDeniedError):
        create_post(ws, "offer", "audits", officer, org_id=org.id)
    with pytest.raises(PermissionDeniedError):
        approve_organisation(ws, org.id, officer)
    approve_organisation(ws, org.id, admin)
    assert [o.name for o in list_organisations(ws, sector="Energy systems")] == ["Energy Agency North"]
    assert create_post(ws, "offer", "audits", officer, org_id=org.id).org_name == "Energy Agency North"
    with pytest.raises(ProfileValidationError) as err:
        add_organisation(ws, "X", "investor", admin, countries=["Germany"], languages=["xx"])
    assert {p["column"] for p in err.value.problems} == {"countries"}
    with pytest.raises(ProfileValidationError, match="https"):
        add_organisation(ws, "X", "investor", admin, website="javascript:alert(1)")


# ---------------------------------------------------------------------------- saved work
def test_saved_work_round_trip_and_comparison(ws, admin, officer):
    plan_a = {"cohorts": [{"members": [{"city_id": "a"}, {"city_id": "b"}]}, {"members": [{"city_id": "c"}]}]}
    plan_b = {"cohorts": [{"members": [{"city_id": "a"}]}, {"members": [{"city_id": "b"}, {"city_id": "c"}]},
                          {"members": [{"city_id": "d"}]}]}
    rules = {"size": [7, 12], "max_per_country": 2}
    saved = save_work(ws, "cohort_plan", "Spring cohorts", plan_a, officer, rules=rules, objective="max similarity")
    assert load_saved(ws, saved.id).payload == plan_a and load_saved(ws, saved.id).rules == rules
    assert [s.name for s in list_saved(ws, kind="cohort_plan")] == ["Spring cohorts"]
    diff = compare_saved("cohort_plan", load_saved(ws, saved.id).payload, plan_b)
    assert diff["moved"] == ["a", "b", "c"] and diff["joined"] == ["d"] and diff["left"] == []
    pairs = compare_saved("pairing", {"pairs": [["a", "b"], {"a": "c", "b": "d"}]}, {"pairs": [["b", "a"], ["c", "e"]]})
    assert pairs == {"added": [("c", "e")], "removed": [("c", "d")], "kept": [("a", "b")]}
    assert compare_saved("shortlist", {"members": ["a", "b"]}, {"members": [{"city_id": "b"}, "c"]})["added"] == ["c"]
    reviews = compare_saved("review_plan", {"reviews": [{"plan_id": "p", "reviewer_id": "r1"}]},
                            {"reviews": [{"plan_id": "p", "reviewer_id": "r2"}]})
    assert reviews["removed"] == [("p", "r1")] and reviews["added"] == [("p", "r2")]
    with pytest.raises(ProfileValidationError, match="payload"):
        save_work(ws, "pairing", "bad", {"members": []}, officer)
    other = create_user(ws, "other@example.org", "other password", "officer", admin, city_id="gn2996944")
    with pytest.raises(PermissionDeniedError):
        delete_saved(ws, saved.id, other)
    delete_saved(ws, saved.id, admin)
    assert list_saved(ws) == []


# ---------------------------------------------------------------------------- survey import
def test_survey_import_creates_and_updates_cities(ws, admin, tmp_path, officer):
    from matcher.workspace import import_survey_to_workspace
    from tests.test_survey import HEADER, ROWS, _write_csv

    rows = ROWS + [["2024-03-04 08:00", "Milton Keynes", "United Kingdom", "", "", "Lack of digitalisation",
                    "Energy systems", "", "", "", ""]]
    path = _write_csv(tmp_path / "survey.csv", [HEADER] + rows)
    with pytest.raises(PermissionDeniedError):
        import_survey_to_workspace(ws, path, officer)
    result = import_survey_to_workspace(ws, path, admin)
    assert len(result.created) == 3 and result.updated == [MK]
    assert result.report.unknown_values  # the per-answer report comes along
    mk = get_profile(ws, MK)
    assert mk.profile["barriers"] == ["Lack of digitalisation"] and mk.profile["population"] == 256385
    assert mk.source.startswith("survey export survey.csv, row")
    assert set(mk.changes) == {"barriers", "priority_sectors"}  # empty answers change nothing
    fiction = get_profile(ws, find_city(ws, "Fictionville (synthetic)"))
    assert fiction.profile["population"] == 120000 and fiction.version == 1
    # a name that matches several cities is refused with its export row, and nothing is stored
    counter = change_counter(ws)
    bad = _write_csv(tmp_path / "ambiguous.csv", [HEADER, ROWS[0], ["2024-03-05", "Almagro", "Spain"] + [""] * 8])
    with pytest.raises(ProfileValidationError) as err:
        import_survey_to_workspace(ws, bad, admin)
    assert err.value.problems[0]["row"] == 3 and "Add a city_id column" in err.value.problems[0]["message"]
    assert "[gn2521928]" in err.value.problems[0]["message"]
    assert change_counter(ws) == counter
    # with the id given, the row updates that city
    named = _write_csv(tmp_path / "named.csv", [HEADER + ["city_id"], ["2024-03-05", "Almagro", "Spain", "9000"]
                                               + [""] * 7 + ["gn2521928"]])
    assert import_survey_to_workspace(ws, named, admin).updated == ["gn2521928"]
    assert get_profile(ws, "gn2521928").profile["population"] == 9000
    # the same export again changes nothing
    again = import_survey_to_workspace(ws, path, admin)
    assert again.created == [] and again.updated == [] and len(again.unchanged) == 4


def test_survey_import_is_all_or_nothing(ws, admin, tmp_path, monkeypatch):
    from matcher.workspace import import_survey_to_workspace
    from matcher.workspace import survey_import
    from tests.test_survey import HEADER, ROWS, _write_csv

    path = _write_csv(tmp_path / "survey.csv", [HEADER] + ROWS)
    real, calls = survey_import.apply_changes, []

    def fail_on_third(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("crash")
        return real(*a, **k)

    monkeypatch.setattr(survey_import, "apply_changes", fail_on_third)
    with pytest.raises(RuntimeError):
        import_survey_to_workspace(ws, path, admin)
    assert change_counter(ws) == 0


# ---------------------------------------------------------------------------- backup and restore
def populate(ws, admin):
    officer = create_user(ws, "officer@mk.example.org", "officer password", "officer", admin, city_id=MK)
    set_profile(ws, MK, {"population": 300000, "narrative": HOSTILE[0]}, 0, officer)
    set_profile(ws, MK, {"maturity": "advanced"}, 1, admin)
    set_profile(ws, "x-newtown-pt", {"name": "Newtown", "country_code": "PT", "languages": "pt"}, 0, admin)
    org = add_organisation(ws, HOSTILE[2], "investor", officer, sectors=["Energy systems"], countries=["PT"])
    approve_organisation(ws, org.id, admin)
    p = create_post(ws, "need", HOSTILE[4], officer, city_id=MK, tags=["Energy systems"])
    create_post(ws, "offer", "tender templates", officer, org_id=org.id)
    hide_post(ws, p.id, admin, "test")
    save_work(ws, "pairing", "MK-Lyon", {"pairs": [{"a": MK, "b": "gn2996944", "themes": ["procurement"],
                                                    "brief": "two-way"}]}, officer, rules={"k": 5}, objective="fit")


def test_export_restore_round_trip(ws, admin, tmp_path, request):
    populate(ws, admin)
    before = table_frames(ws)
    report = export_workspace(ws, tmp_path / "backup")
    assert report.rows == {"users": 2, "organisations": 1, "profile_versions": 3, "posts": 2, "saved_items": 1,
                           "audit_log": 11}
    for backend in ("sqlite", "postgresql"):  # into an empty workspace on either backend
        target = open_workspace(new_database_url(backend, request, tmp_path))
        restored = restore_workspace(target, tmp_path / "backup")
        assert restored.rows == report.rows
        after = table_frames(target)
        for name, frame in before.items():
            pd.testing.assert_frame_equal(frame, after[name], check_dtype=True, obj=name)
        assert get_profile(target, MK).profile == get_profile(ws, MK).profile
        assert merged_profiles(target).equals(merged_profiles(ws))
        # ids go on after the restored ones, and the restored users can sign in
        me = authenticate(target, "officer@mk.example.org", "officer password")
        assert set_profile(target, MK, {"population": 1000}, 2, me).change_id == 4
        with pytest.raises(WorkspaceError, match="not empty"):
            restore_workspace(target, tmp_path / "backup")
        target.close()


def test_restore_refuses_a_damaged_export(ws, admin, tmp_path, request):
    populate(ws, admin)
    export_workspace(ws, tmp_path / "backup")
    with open(tmp_path / "backup" / "posts.parquet", "ab") as fh:
        fh.write(b"tampered")
    target = open_workspace(new_database_url("sqlite", request, tmp_path))
    with pytest.raises(WorkspaceError, match="SHA-256"):
        restore_workspace(target, tmp_path / "backup")
    assert all(len(f) == 0 for f in table_frames(target).values())
    with pytest.raises(WorkspaceError, match="manifest.json is missing"):
        restore_workspace(target, tmp_path)
