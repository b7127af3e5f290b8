"""`matcher workspace|profile|board|org ...`: parse, call the workspace library, render.

The main CLI adds these with `add_workspace_commands(subparsers)` and hands a parsed namespace
to `run(args)`. Every command takes `--db` (URL or SQLite path; default MATCHER_DB_URL, else
artifacts/workspace.db). `--as EMAIL` names the acting user: the command line trusts whoever can
open the database (as with any local database file); the app must call `authenticate`.
`profile compare CITY A B` lists what two versions differ in.
Exit codes: 0 done, 2 refused (validation, permission, unknown), 3 edit conflict.
"""
from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import sys
from dataclasses import asdict, is_dataclass
from datetime import datetime

from ..errors import MatcherError
from ..schema import COLUMN_BY_NAME
from .. import workspace as api
from ._validate import problem
from .db import current_revision, display_url

PASSWORD_ENV = "MATCHER_PASSWORD"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x9b]")


def _cmd(group, name: str, help: str, handler, *, actor: bool = False, fmt: bool = False, city: bool = False):
    """One subcommand with the options every one of its kind takes (--db, --data-dir, --as, --format, CITY)."""
    p = group.add_parser(name, help=help)
    p.add_argument("--db", help="database URL (postgresql+psycopg://...) or SQLite file "
                                "(default: $MATCHER_DB_URL, else artifacts/workspace.db)")
    p.add_argument("--data-dir", help="folder of the shipped profiles (default: the shipped data)")
    if actor:
        p.add_argument("--as", dest="as_user", required=True, metavar="EMAIL", help="the acting user")
    if fmt:
        p.add_argument("--format", choices=["text", "json"], default="text")
    if city:
        p.add_argument("city", help="city name (accents, exonyms work) or city id")
        p.add_argument("--country", help="country code, when the city name is ambiguous")
    p.set_defaults(workspace_handler=handler)
    return p


def add_workspace_commands(subparsers) -> None:
    """Add `workspace`, `profile`, `board` and `org` to the main parser's subparsers."""
    w = subparsers.add_parser("workspace", help="the network's database: create, import a survey, back up, restore")
    ws = w.add_subparsers(dest="ws_action", required=True)
    p = _cmd(ws, "init", "create or upgrade the workspace database; --admin adds the first admin "
                         f"(password from ${PASSWORD_ENV} or standard input)", _init)
    p.add_argument("--admin", metavar="EMAIL")
    p = _cmd(ws, "add-user", f"an admin adds a user (password from ${PASSWORD_ENV} or standard input)", _add_user,
             actor=True)
    p.add_argument("email")
    p.add_argument("--role", choices=list(api.ROLES), required=True)
    p.add_argument("--city", help="the officer's city (name or id)")
    p.add_argument("--country", help="country code, when the city name is ambiguous")
    p = _cmd(ws, "import-survey", "store a survey export's answers as new profile versions", _import_survey,
             actor=True, fmt=True)
    p.add_argument("export", help="the survey export: .csv, .tsv, .xlsx or .parquet")
    p.add_argument("--strict", action="store_true", help="refuse unknown answers instead of dropping them")
    _cmd(ws, "export", "write the whole workspace to a folder (Parquet + manifest)", _export).add_argument("dir")
    _cmd(ws, "restore", "load an export into an empty workspace", _restore).add_argument("dir")

    pr = subparsers.add_parser("profile", help="a city's profile in the workspace: show, edit, history, revert")
    prs = pr.add_subparsers(dest="ws_action", required=True)
    _cmd(prs, "show", "the current profile (or --version N)", _profile_show, fmt=True, city=True).add_argument(
        "--version", type=int)
    p = _cmd(prs, "set", "save FIELD=VALUE changes as a new version (lists: ';'-separated; FIELD= makes it unknown)",
             _profile_set, actor=True, city=True)
    p.add_argument("assignments", nargs="+", metavar="FIELD=VALUE")
    p.add_argument("--expect-version", type=int,
                   help="the version you read; the edit is refused if someone saved another since")
    p.add_argument("--create", action="store_true", help="CITY is the id of a new city (give name= and country_code=)")
    p.add_argument("--note")
    _cmd(prs, "history", "every version with author, time, source and changed fields", _profile_history,
         fmt=True, city=True)
    p = _cmd(prs, "compare", "the fields that differ between two versions", _profile_compare, fmt=True, city=True)
    p.add_argument("a", type=int)
    p.add_argument("b", type=int)
    p = _cmd(prs, "revert", "save a new version with the content of an earlier one", _profile_revert,
             actor=True, city=True)
    p.add_argument("version", type=int)
    p.add_argument("--expect-version", type=int)

    b = subparsers.add_parser("board", help="needs and offers of cities and organisations")
    bs = b.add_subparsers(dest="ws_action", required=True)
    p = _cmd(bs, "post", "post a need or an offer; prints the new post's id", _board_post, actor=True)
    p.add_argument("kind", choices=list(api.POST_KINDS))
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--city")
    who.add_argument("--org", type=int, help="organisation id")
    p.add_argument("--country")
    p.add_argument("--text", required=True)
    p.add_argument("--tag", action="append", default=[], help="a survey sector, barrier, funding gap or co-benefit")
    p = _cmd(bs, "list", "visible posts, newest first", _board_list, fmt=True)
    p.add_argument("--kind", choices=list(api.POST_KINDS))
    p.add_argument("--city")
    p.add_argument("--country")
    p.add_argument("--tag")
    p.add_argument("--all", action="store_true", help="include hidden posts (admins; needs --as)")
    p.add_argument("--as", dest="as_user", metavar="EMAIL", help="the acting user (for --all)")
    p = _cmd(bs, "matches", "what matches a post: the other kind of post, organisations, cities that have done it, "
                            "case studies, each explained", _board_matches, fmt=True)
    p.add_argument("post_id", type=int)
    p.add_argument("--k", type=int, default=5, help="matches of each kind (default 5)")
    p = _cmd(bs, "hide", "moderation: hide a post (admins)", _board_hide, actor=True)
    p.add_argument("post_id", type=int)
    p.add_argument("--reason")

    o = subparsers.add_parser("org", help="the register of delivery partners, investors, financial experts")
    os_ = o.add_subparsers(dest="ws_action", required=True)
    p = _cmd(os_, "add", "propose an organisation (pending until an admin approves it)", _org_add, actor=True)
    p.add_argument("name")
    p.add_argument("--kind", choices=list(api.ORG_KINDS), required=True)
    p.add_argument("--sector", action="append", default=[])
    p.add_argument("--service", action="append", default=[])
    p.add_argument("--country", action="append", default=[], metavar="CC")
    p.add_argument("--language", action="append", default=[], metavar="LANG")
    p.add_argument("--description")
    p.add_argument("--website")
    _cmd(os_, "approve", "approve an organisation (admins)", _org_approve, actor=True).add_argument("org_id", type=int)
    p = _cmd(os_, "list", "organisations (approved by default)", _org_list, fmt=True)
    p.add_argument("--status", choices=["pending", "approved", "rejected", "all"], default="approved")
    p.add_argument("--kind", choices=list(api.ORG_KINDS))
    p.add_argument("--sector")


def is_workspace_command(args: argparse.Namespace) -> bool:
    return hasattr(args, "workspace_handler")


def run(args: argparse.Namespace) -> int:
    """Run a parsed workspace command; library errors become a message on stderr and exit code 2 (3 for a conflict)."""
    try:
        return args.workspace_handler(args)
    except api.ConflictError as exc:
        print(f"error: {_safe(str(exc))}", file=sys.stderr)
        return 3
    except MatcherError as exc:
        print(f"error: {_safe(str(exc))}", file=sys.stderr)
        return 2


# ---------------------------------------------------------------------------- rendering
def _safe(value) -> str:
    """Text for a terminal: control characters shown as escapes, never sent raw."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))


def _json_default(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if is_dataclass(value):
        return asdict(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def _print_json(obj) -> None:
    json.dump(obj, sys.stdout, indent=2, ensure_ascii=False, default=_json_default)
    print()


def _when(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S UTC") if t else "-"


def _value(v) -> str:
    if v is None:
        return "unknown"
    if isinstance(v, list):
        return "; ".join(map(str, v)) if v else "(none)"
    return str(v)


# ---------------------------------------------------------------------------- handlers
def _open(args):
    return api.open_workspace(args.db, data_dir=args.data_dir)


def _actor(ws, args):
    return api.get_user(ws, args.as_user)


def _city(ws, args, query: str | None = None) -> str:
    return api.find_city(ws, query or args.city, getattr(args, "country", None))


def _password(prompt: str) -> str:
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    return sys.stdin.readline().rstrip("\r\n")


def _init(args) -> int:
    password = _password(f"Password for {args.admin}: ") if args.admin else None
    ws, admin = api.init_workspace(args.db, admin_email=args.admin, admin_password=password, data_dir=args.data_dir)
    print(f"Workspace ready at {display_url(ws.url)} (schema {current_revision(ws.engine)}).")
    if admin:
        print(f"Admin {admin.email} created.")
    return 0


def _add_user(args) -> int:
    ws = _open(args)
    city = _city(ws, args) if args.city else None
    user = api.create_user(ws, args.email, _password(f"Password for {args.email}: "), args.role, _actor(ws, args),
                           city_id=city)
    print(f"User {user.email} ({user.role}{', ' + api.city_label(ws, city) if city else ''}) created.")
    return 0


def _import_survey(args) -> int:
    ws = _open(args)
    result = api.import_survey_to_workspace(ws, args.export, _actor(ws, args), strict=args.strict)
    if args.format == "json":
        _print_json({"created": result.created, "updated": result.updated, "unchanged": result.unchanged,
                     "versions": result.versions, "report": result.report.to_dict()})
    else:
        print(_safe(result.report.report_text()))
        print(result.summary())
    return 0


def _export(args) -> int:
    report = api.export_workspace(_open(args), args.dir)
    print(f"Exported {report.total_rows} rows ({', '.join(f'{t} {n}' for t, n in report.rows.items())}) "
          f"to {report.folder}. The folder holds password hashes: keep it private.")
    return 0


def _restore(args) -> int:
    report = api.restore_workspace(_open(args), args.dir)
    print(f"Restored {report.total_rows} rows ({', '.join(f'{t} {n}' for t, n in report.rows.items())}) "
          f"from {report.folder}.")
    return 0


def _profile_show(args) -> int:
    ws = _open(args)
    city = _city(ws, args)
    info = api.get_version(ws, city, args.version) if args.version is not None else api.get_profile(ws, city)
    if args.format == "json":
        _print_json({"city_id": info.city_id, "version": info.version, "author": info.author,
                     "source": info.source, "created_at": info.created_at, "profile": info.profile})
        return 0
    print(f"{_safe(info.profile.get('name'))} [{info.city_id}] version {info.version} "
          f"({info.source}{', ' + info.author if info.author else ''}, {_when(info.created_at)})")
    for field, value in info.profile.items():
        print(f"  {field}: {_safe(_value(value))}")
    return 0


def parse_assignments(items: list[str]) -> dict:
    """FIELD=VALUE strings -> changes; a list field takes ';'-separated values, FIELD= means unknown."""
    changes = {}
    for item in items:
        field, sep, value = item.partition("=")
        field = field.strip()
        if not sep or not field:
            raise problem("command line", field or item, item, f"'{item}' is not FIELD=VALUE")
        col = COLUMN_BY_NAME.get(field)
        if value.strip() == "":
            changes[field] = [] if col is not None and col.kind == "list" else None
        elif col is not None and col.kind == "list":
            changes[field] = [v.strip() for v in value.split(";") if v.strip()]
        else:
            changes[field] = value
    return changes


def _profile_set(args) -> int:
    ws = _open(args)
    changes = parse_assignments(args.assignments)
    city = args.city if args.create else _city(ws, args)
    expected = args.expect_version
    if expected is None:
        expected = 0 if args.create else api.get_profile(ws, city).version
    before = expected
    info = api.set_profile(ws, city, changes, expected, _actor(ws, args), source="cli", note=args.note)
    if info.version == before:
        print(f"{city}: nothing changed (version {info.version}).")
    else:
        print(f"{city}: version {info.version} saved ({', '.join(sorted(info.changes))}).")
    return 0


def _profile_history(args) -> int:
    ws = _open(args)
    versions = api.profile_history(ws, _city(ws, args))
    if args.format == "json":
        _print_json([{"version": v.version, "author": v.author, "source": v.source, "created_at": v.created_at,
                      "change_id": v.change_id, "note": v.note, "changes": v.changes} for v in versions])
        return 0
    for v in versions:
        fields = ", ".join(sorted(v.changes)) or "-"
        print(f"v{v.version}  {_when(v.created_at)}  {v.author or '-'}  {_safe(v.source)}  changed: {fields}")
    return 0


def _profile_compare(args) -> int:
    ws = _open(args)
    diff = api.compare_versions(ws, _city(ws, args), args.a, args.b)
    if args.format == "json":
        _print_json({f: {"a": va, "b": vb} for f, (va, vb) in diff.items()})
        return 0
    for field, (va, vb) in diff.items():
        print(f"{field}: {_safe(_value(va))} -> {_safe(_value(vb))}")
    if not diff:
        print("no differences")
    return 0


def _profile_revert(args) -> int:
    ws = _open(args)
    city = _city(ws, args)
    expected = args.expect_version if args.expect_version is not None else api.get_profile(ws, city).version
    info = api.revert_profile(ws, city, args.version, expected, _actor(ws, args))
    print(f"{city}: version {info.version} saved with the content of version {args.version}.")
    return 0


def _board_post(args) -> int:
    ws = _open(args)
    city = _city(ws, args) if args.city else None
    post = api.create_post(ws, args.kind, args.text, _actor(ws, args), city_id=city, org_id=args.org, tags=args.tag)
    print(post.id)
    return 0


def _board_list(args) -> int:
    ws = _open(args)
    city = _city(ws, args) if args.city else None
    actor = api.get_user(ws, args.as_user) if args.as_user else None
    posts = api.list_posts(ws, kind=args.kind, city_id=city, tag=args.tag, include_hidden=args.all, actor=actor)
    if args.format == "json":
        _print_json([asdict(p) for p in posts])
        return 0
    for p in posts:
        who = p.city_id or f"org {p.org_id} {p.org_name}"
        print(f"#{p.id} {p.kind} [{p.status}] {_safe(who)} by {p.author} {_when(p.created_at)}"
              + (f" tags: {'; '.join(p.tags)}" if p.tags else ""))
        print(f"    {_safe(p.text)}")
    return 0


def _board_matches(args) -> int:
    from ..matcher import Matcher
    from ..present.text import board_matches_text

    ws = _open(args)
    matches = Matcher.open(args.data_dir, workspace=ws, build="stale").board_matches(args.post_id, k=args.k)
    if args.format == "json":
        _print_json(asdict(matches))
    else:
        print(board_matches_text(matches))
    return 0


def _board_hide(args) -> int:
    ws = _open(args)
    post = api.hide_post(ws, args.post_id, _actor(ws, args), args.reason)
    print(f"Post {post.id} is {post.status}.")
    return 0


def _org_add(args) -> int:
    ws = _open(args)
    org = api.add_organisation(ws, args.name, args.kind, _actor(ws, args), sectors=args.sector, services=args.service,
                               countries=args.country, languages=args.language, description=args.description,
                               website=args.website)
    print(org.id)
    return 0


def _org_approve(args) -> int:
    ws = _open(args)
    org = api.approve_organisation(ws, args.org_id, _actor(ws, args))
    print(f"Organisation {org.id} ({_safe(org.name)}) is {org.status}.")
    return 0


def _org_list(args) -> int:
    ws = _open(args)
    orgs = api.list_organisations(ws, status=None if args.status == "all" else args.status, kind=args.kind,
                                  sector=args.sector)
    if args.format == "json":
        _print_json([asdict(o) for o in orgs])
        return 0
    for o in orgs:
        print(f"#{o.id} {_safe(o.name)} ({o.kind}, {o.status}) sectors: {'; '.join(o.sectors) or '-'}; "
              f"services: {_safe('; '.join(o.services)) or '-'}; countries: {' '.join(o.countries) or '-'}")
    return 0
