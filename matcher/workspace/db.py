"""The workspace database: engine from a URL, migrations to the current schema, transactions.

SQLite (one file, created on first use) is the default; PostgreSQL works by URL
(`postgresql+psycopg://...`). Every change runs in one explicit transaction, so an error
half-way stores nothing.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ..settings import repo_root
from .errors import WorkspaceError

ENV_URL = "MATCHER_DB_URL"


def default_db_url() -> str:
    """`MATCHER_DB_URL`, else the SQLite file artifacts/workspace.db of the repository."""
    return os.environ.get(ENV_URL) or sqlite_url(repo_root() / "artifacts" / "workspace.db")


def sqlite_url(path: str | os.PathLike) -> str:
    return f"sqlite:///{Path(path).resolve()}"


def resolve_url(db: str | os.PathLike | None = None) -> str:
    """A URL as given, a plain path as a SQLite file, None as the default."""
    if db is None or str(db).strip() == "":
        db = default_db_url()
    text = str(db)
    if "://" not in text:
        return sqlite_url(text)
    scheme, rest = text.split("://", 1)
    if scheme in ("postgresql", "postgres"):  # the installed driver is psycopg 3, not SQLAlchemy's default psycopg2
        return f"postgresql+psycopg://{rest}"
    return text


def _sqlite_setup(engine: Engine) -> None:
    """Foreign keys and WAL on; the driver's own transaction handling off, so that BEGIN is ours
    (a write transaction takes the write lock at once: no 'database is locked' half-way)."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def display_url(url: str) -> str:
    """The URL with its password hidden (for messages)."""
    return make_url(url).render_as_string(hide_password=True)


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        _sqlite_setup(engine)
        return engine
    return create_engine(url, pool_pre_ping=True)


@dataclass
class Workspace:
    """An open workspace: the engine and where the shipped base profiles come from.

    A handle, not a session: every library function opens its own transaction on it.
    """

    url: str
    engine: Engine
    data_dir: Path | None = None
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self, write: bool = False) -> Iterator[Session]:
        """One transaction: committed on success, rolled back on any exception."""
        bind = self.engine.execution_options(sqlite_begin="IMMEDIATE") if write else self.engine
        with Session(bind, expire_on_commit=False) as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()


def alembic_config(connection=None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("matcher.workspace").joinpath("migrations")))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` with the shipped Alembic migrations (in one transaction)."""
    from alembic import command

    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def open_workspace(db: str | os.PathLike | None = None, *, data_dir: str | os.PathLike | None = None,
                   migrate: bool = True) -> Workspace:
    """Open (and by default create or upgrade) the workspace at `db` (URL, SQLite path or default)."""
    url = resolve_url(db)
    try:
        engine = make_engine(url)
    except Exception as exc:  # noqa: BLE001 - a bad URL or a missing driver: say which
        raise WorkspaceError(f"cannot open the workspace database '{display_url(url)}': {exc}") from None
    try:
        revision = current_revision(engine)
    except DBAPIError as exc:
        engine.dispose()
        detail = (str(exc.orig).strip().splitlines() or [type(exc.orig).__name__])[0]
        raise WorkspaceError(f"cannot connect to the workspace database '{display_url(url)}': {detail}") from None
    if migrate:
        if revision != head_revision():
            upgrade(engine)
    elif revision != head_revision():
        raise WorkspaceError(f"the workspace database is not at the current schema ({head_revision()}); "
                             "run `matcher workspace init` to upgrade it")
    return Workspace(url=url, engine=engine, data_dir=Path(data_dir) if data_dir else None)


def table_names(engine: Engine) -> list[str]:
    return sorted(inspect(engine).get_table_names())
