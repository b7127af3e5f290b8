"""Fixtures of the workspace tests: every test runs on SQLite and on a real PostgreSQL server.

The server is Debian's `postgresql` package (scripts/test.sh installs it): a throw-away cluster
in a temporary folder on a free local port, started once per session and stopped at the end.
initdb refuses to run as root, so as root the binaries run as the `postgres` user.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

BACKENDS = ("sqlite", "postgresql")


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_SERVER: dict = {}  # one server per session, even though each test module imports the fixture


def _start_server() -> str:
    bindir = _pg_bin()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed (scripts/test.sh installs Debian's postgresql package)")
        pytest.skip("PostgreSQL is not installed: run scripts/test.sh, which installs it")
    root = Path(tempfile.mkdtemp(prefix="matcher-pg-"))
    data = root / "data"
    prefix: list[str] = []
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(root, pw.pw_uid, pw.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    run = lambda *cmd: subprocess.run(prefix + [str(c) for c in cmd], check=True, capture_output=True,  # noqa: E731
                                      text=True, cwd=root, timeout=120)
    run(bindir / "initdb", "-D", data, "-U", "matcher", "-A", "trust", "-E", "UTF8", "--no-sync")
    opts = (f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50")
    try:
        run(bindir / "pg_ctl", "-D", data, "-o", opts, "-l", root / "server.log", "-w", "-t", "60", "start")
    except subprocess.CalledProcessError as exc:
        log = (root / "server.log").read_text(errors="replace") if (root / "server.log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start: {exc.stderr}\n{log[-2000:]}")
    _SERVER.update(url=f"postgresql+psycopg://matcher@127.0.0.1:{port}", stop=prefix + [
        str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], root=root)
    return _SERVER["url"]


def _stop_server() -> None:
    if _SERVER:
        subprocess.run(_SERVER["stop"], capture_output=True, cwd=_SERVER["root"], timeout=120)
        shutil.rmtree(_SERVER["root"], ignore_errors=True)
        _SERVER.clear()


@pytest.fixture(scope="session")
def pg_server():
    """Base URL of a PostgreSQL server private to this test session (no database part)."""
    url = _SERVER.get("url") or _start_server()
    yield url
    _stop_server()  # at the end of the session (a second finaliser finds nothing left to stop)


def new_database_url(backend: str, request, tmp_path) -> str:
    """An empty database on `backend`: a SQLite file in tmp_path or a new PostgreSQL database."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / f'ws-{uuid.uuid4().hex[:8]}.db'}"
    import psycopg

    base = request.getfixturevalue("pg_server")
    name = f"ws_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base.replace("postgresql+psycopg", "postgresql") + "/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path) -> str:
    return new_database_url(request.param, request, tmp_path)


@pytest.fixture
def ws(db_url):
    """A new, migrated workspace on the shipped data."""
    from matcher.workspace import open_workspace

    workspace = open_workspace(db_url)
    yield workspace
    workspace.close()


@pytest.fixture
def admin(ws):
    from matcher.workspace import create_first_admin

    return create_first_admin(ws, "admin@example.org", "correct horse battery")
