"""The workspace commands, called as the main CLI will call them: parse with the subparsers that
`add_workspace_commands` adds, then `run(args)`; on SQLite and PostgreSQL."""
from __future__ import annotations

import argparse
import io
import json

import pytest

from matcher.workspace.cli import add_workspace_commands, is_workspace_command, run
from tests.workspace_support import db_url, pg_server  # noqa: F401

MK = "gn2642465"
ADMIN = "admin@example.org"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="matcher")
    add_workspace_commands(p.add_subparsers(dest="command", required=True))
    return p


@pytest.fixture
def cli(db_url, capsys, monkeypatch):
    """cli(*argv, stdin=None) -> (exit code, stdout, stderr), always on this test's database."""
    def call(*argv, stdin: str | None = None):
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin or ""))
        args = parser().parse_args(list(argv) + ["--db", db_url])
        assert is_workspace_command(args)
        code = run(args)
        out, err = capsys.readouterr()
        return code, out, err

    monkeypatch.delenv("MATCHER_PASSWORD", raising=False)
    code, out, _ = call("workspace", "init", "--admin", ADMIN, stdin="correct horse battery\n")
    assert code == 0 and f"Admin {ADMIN} created" in out
    return call


def test_init_twice_keeps_the_first_admin(cli):
    code, out, err = cli("workspace", "init")
    assert code == 0 and "schema 0001" in out
    code, _, err = cli("workspace", "init", "--admin", "second@example.org", stdin="another password\n")
    assert code == 2 and "has an admin already" in err


def test_profile_set_show_history_revert(cli):
    code, out, _ = cli("profile", "set", "Milton Keynes", "population=300000",
                       "barriers=Lack of know-how and skills;lack of digitalisation", "--as", ADMIN)
    assert code == 0 and "version 1 saved (barriers, population)" in out
    code, out, _ = cli("profile", "show", "Milton Keynes", "--format", "json")
    shown = json.loads(out)
    assert shown["version"] == 1 and shown["author"] == ADMIN and shown["profile"]["population"] == 300000
    assert shown["profile"]["barriers"] == ["Lack of know-how and skills", "Lack of digitalisation"]
    code, out, _ = cli("profile", "set", MK, "maturity=advanced", "target_text=", "--as", ADMIN, "--expect-version", "1")
    assert code == 0
    history = json.loads(cli("profile", "history", "Milton Keynes", "--format", "json")[1])
    assert [(h["version"], h["author"], sorted(h["changes"])) for h in history] == [
        (0, None, []), (1, ADMIN, ["barriers", "population"]), (2, ADMIN, ["maturity"])]
    diff = json.loads(cli("profile", "compare", MK, "0", "2", "--format", "json")[1])
    assert diff == {"population": {"a": 256385, "b": 300000}, "maturity": {"a": None, "b": "advanced"},
                    "barriers": {"a": [], "b": ["Lack of know-how and skills", "Lack of digitalisation"]}}
    code, out, _ = cli("profile", "revert", "Milton Keynes", "0", "--as", ADMIN)
    assert code == 0 and "version 3 saved with the content of version 0" in out
    assert json.loads(cli("profile", "show", MK, "--format", "json")[1])["profile"]["population"] == 256385
    code, out, _ = cli("profile", "show", MK, "--version", "1")
    assert code == 0 and "population: 300000" in out and "version 1" in out


def test_stale_version_exits_3_with_the_conflict(cli):
    assert cli("profile", "set", MK, "population=300000", "--as", ADMIN)[0] == 0
    code, _, err = cli("profile", "set", MK, "population=1", "--as", ADMIN, "--expect-version", "0")
    assert code == 3 and "admin@example.org saved version 1" in err and "your changes (population) are kept" in err


def test_bad_values_and_unknown_users_exit_2_with_the_field(cli):
    code, _, err = cli("profile", "set", MK, "population=lots", "--as", ADMIN)
    assert code == 2 and "column population" in err and "'lots' is not a number" in err
    code, _, err = cli("profile", "set", MK, "populaton=3", "--as", ADMIN)
    assert code == 2 and "did you mean 'population'" in err
    code, _, err = cli("profile", "set", MK, "population", "--as", ADMIN)
    assert code == 2 and "is not FIELD=VALUE" in err
    code, _, err = cli("profile", "set", MK, "population=3", "--as", "nobody@example.org")
    assert code == 2 and "no user 'nobody@example.org'" in err
    code, _, err = cli("profile", "show", "Atlantis-on-Sea")
    assert code == 2 and "Unknown city" in err


def test_officer_is_refused_on_another_city(cli, monkeypatch):
    monkeypatch.setenv("MATCHER_PASSWORD", "officer password")
    code, out, _ = cli("workspace", "add-user", "mk@example.org", "--role", "officer", "--city", "Milton Keynes",
                       "--as", ADMIN)
    assert code == 0 and "(officer, Milton Keynes (GB))" in out and MK not in out  # names, not ids
    code, _, err = cli("profile", "set", "Lyon", "--country", "FR", "population=1", "--as", "mk@example.org")
    assert code == 2 and "is the officer of 'Milton Keynes (GB)' and cannot edit the profile of 'Lyon (FR)'" in err
    assert cli("profile", "set", "Milton Keynes", "population=260000", "--as", "mk@example.org")[0] == 0


def test_board_and_organisations(cli):
    code, out, _ = cli("board", "post", "need", "--city", "Milton Keynes", "--text", "Joint procurement'); DROP TABLE posts;--",
                       "--tag", "mobility and transport", "--as", ADMIN)
    assert code == 0 and out.strip().isdigit()
    post_id = out.strip()
    code, _, err = cli("board", "post", "offer", "--city", MK, "--text", "x", "--tag", "moon bases", "--as", ADMIN)
    assert code == 2 and "column tags" in err
    posts = json.loads(cli("board", "list", "--format", "json")[1])
    assert [(str(p["id"]), p["text"], p["tags"]) for p in posts] == [
        (post_id, "Joint procurement'); DROP TABLE posts;--", ["Mobility and transport"])]
    assert cli("board", "hide", post_id, "--reason", "test", "--as", ADMIN)[0] == 0
    assert json.loads(cli("board", "list", "--format", "json")[1]) == []
    assert len(json.loads(cli("board", "list", "--all", "--as", ADMIN, "--format", "json")[1])) == 1
    code, _, err = cli("board", "list", "--all")
    assert code == 2 and "signed-in user" in err
    code, out, _ = cli("org", "add", "Green Fund", "--kind", "investor", "--sector", "Energy systems", "--country", "de",
                       "--as", ADMIN)
    org_id = out.strip()
    assert code == 0 and json.loads(cli("org", "list", "--format", "json")[1]) == []
    assert cli("org", "approve", org_id, "--as", ADMIN)[0] == 0
    orgs = json.loads(cli("org", "list", "--format", "json")[1])
    assert [(o["name"], o["status"], o["countries"]) for o in orgs] == [("Green Fund", "approved", ["DE"])]


def test_terminal_output_escapes_control_characters(cli):
    code, out, _ = cli("board", "post", "need", "--city", MK, "--text", "red\x1b[31m alert\x07", "--as", ADMIN)
    code, out, _ = cli("board", "list")
    assert "\x1b" not in out and "\x07" not in out and "red\\x1b[31m alert\\x07" in out


def test_import_survey_export_and_restore(cli, tmp_path, db_url, request, capsys):
    from tests.test_survey import HEADER, ROWS, _write_csv
    from tests.workspace_support import new_database_url

    path = _write_csv(tmp_path / "survey.csv", [HEADER] + ROWS)
    code, out, _ = cli("workspace", "import-survey", str(path), "--as", ADMIN)
    assert code == 0 and "3 city(ies) created, 0 updated" in out and "Columns:" in out
    code, out, _ = cli("workspace", "export", str(tmp_path / "backup"))
    assert code == 0 and "profile_versions 3" in out
    target = new_database_url("sqlite", request, tmp_path)
    args = parser().parse_args(["workspace", "restore", str(tmp_path / "backup"), "--db", target])
    assert run(args) == 0
    assert "Restored" in capsys.readouterr().out
    args = parser().parse_args(["profile", "history", "Fictionville (synthetic)", "--format", "json", "--db", target])
    assert run(args) == 0
    history = json.loads(capsys.readouterr().out)
    assert [(h["version"], h["author"]) for h in history] == [(1, ADMIN)]
    assert history[0]["changes"]["population"] == [None, 120000]
