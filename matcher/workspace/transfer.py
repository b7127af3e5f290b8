"""Backup and restore: the whole workspace as a folder of Parquet files plus a manifest.

`export_workspace` writes one Parquet file per table (JSON columns as JSON text, times in UTC)
and manifest.json (format, schema revision, rows and SHA-256 of each file). `restore_workspace`
checks the manifest and hashes, then loads everything into an empty workspace in one
transaction (a failure leaves it empty). The folder holds password hashes: keep it private.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from sqlalchemy import JSON, Boolean, DateTime, Integer, func, insert, select, text

from ..files import atomic_write_json, atomic_write_parquet, file_sha256
from ..wording import Reason
from .db import Workspace, current_revision, head_revision
from .errors import WorkspaceError
from .models import TABLES

FORMAT = "matcher-workspace"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class TransferReport:
    folder: Path
    rows: dict[str, int]  # table -> rows written or restored
    revision: str

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def _kind(column) -> str:
    t = column.type
    if isinstance(t, JSON):
        return "json"
    if isinstance(t, DateTime):
        return "time"
    if isinstance(t, Boolean):
        return "bool"
    if isinstance(t, Integer):
        return "int"
    return "str"


def table_frames(ws: Workspace) -> dict[str, pd.DataFrame]:
    """Every table as a DataFrame in id order, in the export's column types (used by export and
    by the round-trip test)."""
    out = {}
    with ws.transaction() as s:
        for model in TABLES:
            table = model.__table__
            rows = s.execute(select(table).order_by(table.c.id)).mappings().all()
            data = {}
            for col in table.columns:
                values = [r[col.name] for r in rows]
                kind = _kind(col)
                if kind == "json":
                    data[col.name] = pd.array([None if v is None else json.dumps(v, sort_keys=True, ensure_ascii=False)
                                               for v in values], dtype="string")
                elif kind == "time":
                    data[col.name] = pd.to_datetime([None if v is None else _utc(v) for v in values], utc=True).astype(
                        "datetime64[us, UTC]")
                elif kind == "int":
                    data[col.name] = pd.array(values, dtype="Int64")
                elif kind == "bool":
                    data[col.name] = pd.array(values, dtype="boolean")
                else:
                    data[col.name] = pd.array(values, dtype="string")
            out[table.name] = pd.DataFrame(data)
    return out


def _utc(v: datetime) -> datetime:
    return v.replace(tzinfo=timezone.utc) if v.tzinfo is None else v.astimezone(timezone.utc)


def export_workspace(ws: Workspace, folder: str | os.PathLike) -> TransferReport:
    """Write the workspace to `folder` (created; files replaced atomically, the manifest last)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    revision = current_revision(ws.engine)
    frames = table_frames(ws)
    tables = {}
    for name, frame in frames.items():
        path = folder / f"{name}.parquet"
        atomic_write_parquet(frame, path)
        tables[name] = {"file": path.name, "rows": int(len(frame)), "sha256": file_sha256(path)}
    atomic_write_json(folder / MANIFEST, {
        "format": FORMAT, "format_version": FORMAT_VERSION, "schema_revision": revision,
        "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "backend": ws.backend,
        "tables": tables})
    return TransferReport(folder, {n: t["rows"] for n, t in tables.items()}, revision)


def _read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    if not path.is_file():
        raise WorkspaceError(Reason("{folder} is not a workspace export: {manifest} is missing", folder=folder,
                                    manifest=MANIFEST))
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except (ValueError, OSError) as exc:
        raise WorkspaceError(Reason("{path} cannot be read: {detail}", path=path, detail=str(exc))) from None
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise WorkspaceError(Reason("{path} is not a {format} export of format version {version}", path=path,
                                    format=FORMAT, version=FORMAT_VERSION))
    if manifest.get("schema_revision") != head_revision():
        raise WorkspaceError(Reason("the export has schema revision {theirs}, this version of matcher {ours}: "
                                    "restore it with the matcher version that wrote it",
                                    theirs=manifest.get("schema_revision"), ours=head_revision()))
    names = {m.__table__.name for m in TABLES}
    if set(manifest.get("tables", {})) != names:
        raise WorkspaceError(Reason("{path} lists tables {tables}, expected {expected}", path=path,
                                    tables=sorted(manifest.get("tables", {})), expected=sorted(names)))
    for name, entry in manifest["tables"].items():
        file = folder / Path(str(entry["file"])).name
        if not file.is_file() or file_sha256(file) != entry["sha256"]:
            raise WorkspaceError(Reason("{file} is missing or does not match the manifest's SHA-256: the export is "
                                        "damaged or was edited", file=file))
    return manifest


def _value(kind: str, v):
    if v is None or v is pd.NA or (isinstance(v, float) and v != v) or v is pd.NaT:
        return None
    if kind == "json":
        return json.loads(v)
    if kind == "time":
        return pd.Timestamp(v).to_pydatetime()
    if kind == "int":
        return int(v)
    if kind == "bool":
        return bool(v)
    return str(v)


def restore_workspace(ws: Workspace, folder: str | os.PathLike) -> TransferReport:
    """Load an export into `ws`, which must be empty (freshly initialised); all or nothing."""
    folder = Path(folder)
    manifest = _read_manifest(folder)
    rows = {}
    with ws.transaction(write=True) as s:
        for model in TABLES:
            if s.scalar(select(func.count()).select_from(model.__table__)):
                raise WorkspaceError(Reason("the target workspace is not empty (table {table} has rows); restore "
                                            "into a new database", table=model.__table__.name))
        for model in TABLES:
            table = model.__table__
            frame = pq.read_table(folder / manifest["tables"][table.name]["file"]).to_pandas()
            kinds = {c.name: _kind(c) for c in table.columns}
            if set(frame.columns) != set(kinds):
                raise WorkspaceError(Reason("{table}: columns {columns} do not match {expected}", table=table.name,
                                            columns=sorted(frame.columns), expected=sorted(kinds)))
            records = [{c: _value(kinds[c], v) for c, v in rec.items()} for rec in frame.to_dict("records")]
            if len(records) != manifest["tables"][table.name]["rows"]:
                raise WorkspaceError(Reason("{table}: {n} rows, the manifest says {expected}", table=table.name,
                                            n=len(records), expected=manifest["tables"][table.name]["rows"]))
            if records:
                s.execute(insert(table), records)
            rows[table.name] = len(records)
        if ws.backend == "postgresql":  # ids were given explicitly: move each sequence past them
            # (table names are our own constants, never user input)
            for model in TABLES:
                name = model.__table__.name
                s.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                               f"COALESCE((SELECT MAX(id) FROM {name}), 0) + 1, false)"))
    return TransferReport(folder, rows, manifest["schema_revision"])
