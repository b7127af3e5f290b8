"""City profiles as versions over the shipped base layer.

The shipped table (data/city_profiles/cities.parquet) is version 0 of every city and is never
copied into the database. Each edit (app, CLI, survey import, revert) stores a new version: the
full validated profile, the fields it changed, author, source and time. Nothing is overwritten.
The per-city version number is the optimistic lock: `set_profile` names the version the caller
read and is refused with a ConflictError when someone saved another one since.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import UnknownCityError
from ..io import load_profiles, shipped_profiles_path
from ..lookup import CityLookup
from ..schema import COLUMNS, validate_profiles
from . import audit
from ..vocab import closest
from ..wording import City, Reason
from ._validate import problem, problems, utc
from .db import Workspace
from .errors import ConflictError, NotFoundError
from .models import ProfileVersion, User
from .users import Actor, load_actor, require

FIELDS = tuple(c.name for c in COLUMNS)
DERIVED = ("known_facets", "completeness")  # computed by validation, never stored


@dataclass(frozen=True)
class ProfileVersionInfo:
    """One version of a city's profile (version 0 is the shipped data)."""

    city_id: str
    version: int
    profile: dict  # the full profile, JSON-ready (lists, None for unknown)
    changes: dict  # field -> [old, new] against the previous version ({} for the shipped one)
    author: str | None  # email; None for the shipped data
    source: str
    created_at: datetime | None
    change_id: int | None = None  # global change counter (None for the shipped data)
    note: str | None = None


@dataclass(frozen=True)
class ChangeSet:
    """What changed since a change counter: feed `city_ids` to the index update, keep `counter`."""

    city_ids: list[str]
    counter: int


# ---------------------------------------------------------------------------- base layer
@lru_cache(maxsize=4)
def _load_base(path: str, mtime_ns: int) -> pd.DataFrame:
    return load_profiles(path)


def _base_key(path: Path) -> tuple:
    return ("base_profiles", str(path), os.stat(path).st_mtime_ns)


def share_base_profiles(ws: Workspace, profiles: pd.DataFrame, path: str | os.PathLike) -> None:
    """Hand the workspace a validated table of the shipped file at `path` that is already in
    memory (the twin index keeps one, checked against the file by its manifest), so that it is
    not read and validated a second time (about 4 s for 27,400 rows). Read-only for both."""
    ws._cache[_base_key(Path(path).resolve())] = profiles


def base_profiles(ws: Workspace) -> pd.DataFrame:
    """The shipped, validated profile table (read once per file version)."""
    path = shipped_profiles_path(ws.data_dir)
    shared = ws._cache.get(_base_key(path.resolve()))
    return shared if shared is not None else _load_base(str(path), os.stat(path).st_mtime_ns)


def _base_index(ws: Workspace) -> dict[str, int]:
    base = base_profiles(ws)
    key = ("base_index", id(base))
    if key not in ws._cache:
        ws._cache[key] = {cid: i for i, cid in enumerate(base["city_id"])}
    return ws._cache[key]


def _plain(value):
    """A table cell as JSON: None for unknown, lists as lists, numpy scalars as Python ones."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def row_to_profile(row) -> dict:
    return {f: _plain(row[f]) for f in FIELDS}


def _base_profile(ws: Workspace, city_id: str) -> dict | None:
    i = _base_index(ws).get(city_id)
    return None if i is None else row_to_profile(base_profiles(ws).iloc[i])


# ---------------------------------------------------------------------------- reading
def _info(v: ProfileVersion, email: str | None) -> ProfileVersionInfo:
    profile = {f: v.profile.get(f) for f in FIELDS}  # schema order (a JSON column may sort its keys)
    return ProfileVersionInfo(v.city_id, v.version, profile, dict(v.changes or {}), email, v.source,
                              utc(v.created_at), v.id, v.note)


def _base_info(city_id: str, profile: dict) -> ProfileVersionInfo:
    return ProfileVersionInfo(city_id, 0, profile, {}, None, "shipped data", None)


def _latest(s: Session, city_id: str) -> tuple[ProfileVersion, str] | None:
    row = s.execute(select(ProfileVersion, User.email).join(User, ProfileVersion.author_id == User.id)
                    .where(ProfileVersion.city_id == city_id)
                    .order_by(ProfileVersion.version.desc()).limit(1)).first()
    return None if row is None else (row[0], row[1])


def current_version(ws: Workspace, s: Session, city_id: str) -> ProfileVersionInfo | None:
    latest = _latest(s, city_id)
    if latest is not None:
        return _info(*latest)
    base = _base_profile(ws, city_id)
    return None if base is None else _base_info(city_id, base)


def get_profile(ws: Workspace, city_id: str) -> ProfileVersionInfo:
    """The current version of a city's profile (the shipped one when never edited)."""
    with ws.transaction() as s:
        info = current_version(ws, s, city_id)
    if info is None:
        raise UnknownCityError(city_id)
    return info


def city_label(ws: Workspace, city_id) -> str:
    """A city id in people's words for messages: 'Milton Keynes (GB)' (the id itself when unknown)."""
    row = _base_index(ws).get(city_id)
    if row is not None:
        base = base_profiles(ws)
        name, country = base["name"].iat[row], base["country_code"].iat[row]
    else:
        edited = latest_profiles(ws)
        hit = edited[edited["city_id"] == city_id]
        if hit.empty:
            return str(city_id)
        name, country = hit["name"].iat[0], hit["country_code"].iat[0]
    return f"{name} ({country})" if isinstance(country, str) and country else str(name)


def find_city(ws: Workspace, query: str, country: str | None = None) -> str:
    """A city id from what a person types (names, accents, exonyms, ids), over the merged profiles."""
    counter = change_counter(ws)
    key = ("lookup", counter)
    if key not in ws._cache:
        ws._cache = {k: v for k, v in ws._cache.items() if k[0] != "lookup"}
        ws._cache[key] = CityLookup(merged_profiles(ws))
    lookup = ws._cache[key]
    return str(lookup.profiles.iloc[lookup.resolve(query, country)]["city_id"])


def profile_history(ws: Workspace, city_id: str) -> list[ProfileVersionInfo]:
    """Every version, oldest first; version 0 is the shipped profile when the city ships."""
    with ws.transaction() as s:
        rows = s.execute(select(ProfileVersion, User.email).join(User, ProfileVersion.author_id == User.id)
                         .where(ProfileVersion.city_id == city_id).order_by(ProfileVersion.version)).all()
        versions = [_info(v, email) for v, email in rows]
    base = _base_profile(ws, city_id)
    if base is not None:
        versions.insert(0, _base_info(city_id, base))
    if not versions:
        raise UnknownCityError(city_id)
    return versions


def get_version(ws: Workspace, city_id: str, version: int) -> ProfileVersionInfo:
    for info in profile_history(ws, city_id):
        if info.version == version:
            return info
    raise NotFoundError(Reason("profile '{city}' has no version {version}", city=City(city_id, city_id),
                               version=version))


def compare_versions(ws: Workspace, city_id: str, a: int, b: int) -> dict[str, tuple]:
    """Fields that differ between versions a and b: field -> (value in a, value in b)."""
    pa_, pb_ = get_version(ws, city_id, a).profile, get_version(ws, city_id, b).profile
    return {f: (pa_.get(f), pb_.get(f)) for f in FIELDS if pa_.get(f) != pb_.get(f)}


# ---------------------------------------------------------------------------- writing
def _validated(city_id: str, profile: dict) -> dict:
    """The profile through the file schema: same checks, same messages (field names)."""
    table = validate_profiles(pd.DataFrame([profile]), source=f"profile {city_id}")
    return row_to_profile(table.iloc[0])


def _check_fields(city_id: str, changes: dict) -> None:
    if not isinstance(changes, dict):
        raise problem(f"profile {city_id}", "changes", None, Reason("changes must be a mapping of field to value"))
    if "city_id" in changes and changes["city_id"] != city_id:
        raise problem(f"profile {city_id}", "city_id", changes["city_id"],
                      Reason("a profile's city_id cannot be changed"))
    derived = [f for f in changes if f in DERIVED]
    if derived:
        raise problem(f"profile {city_id}", derived[0], None,
                      Reason("'{field}' is computed, not edited", field=derived[0]))
    unknown = [f for f in changes if f not in FIELDS]
    if unknown:
        raise problems(f"profile {city_id}", [
            (str(f), None, Reason("unknown field '{field}'; did you mean '{guess}'?", field=f, guess=g)
             if (g := closest(str(f), FIELDS)) else Reason("unknown field '{field}'", field=f))
            for f in unknown])


def apply_changes(ws: Workspace, s: Session, me: User, city_id: str, changes: dict, expected_version: int,
                  source: str, note: str | None = None) -> ProfileVersionInfo | None:
    """Store a new version inside the caller's transaction; None when nothing changes.

    Used by set_profile (one edit) and the survey import (many, all or nothing).
    """
    _check_fields(city_id, changes)
    require(me, "edit_profile", city_id, name=lambda c: city_label(ws, c))
    current = current_version(ws, s, city_id)
    current_no = current.version if current else 0
    if current_no != expected_version:
        raise ConflictError(city_id, expected_version, current_no, current.author if current else None,
                            current.created_at if current else None, changes)
    old = current.profile if current else {}
    merged = {**old, **changes, "city_id": city_id}
    if "has_climate_profile" not in changes and not old.get("has_climate_profile"):
        merged["has_climate_profile"] = None  # inferred again: a town given barriers now has a climate profile
    new = _validated(city_id, merged)
    changed = {f: [old.get(f), new[f]] for f in FIELDS if old.get(f) != new[f]}
    if current is not None and not changed:
        return None
    row = ProfileVersion(city_id=city_id, version=current_no + 1, profile=new, changes=changed,
                         author_id=me.id, source=source, note=note)
    s.add(row)
    s.flush()
    audit.record(s, me, "create_profile" if current is None else "edit_profile", "profile", city_id,
                 {"version": row.version, "fields": sorted(changed), "source": source})
    return _info(row, me.email)


def _conflict_after_race(ws: Workspace, city_id: str, expected_version: int, changes: dict) -> ConflictError:
    with ws.transaction() as s:
        current = current_version(ws, s, city_id)
    return ConflictError(city_id, expected_version, current.version if current else 0,
                         current.author if current else None, current.created_at if current else None, changes)


def set_profile(ws: Workspace, city_id: str, changes: dict, expected_version: int, actor: Actor, *,
                source: str = "api", note: str | None = None) -> ProfileVersionInfo:
    """Save `changes` (field -> value) as a new version of `city_id`.

    `expected_version` is the version the caller read (0 for the shipped profile, or to create a
    city that is not in the data: then `name` and `country_code` are required). Raises
    ProfileValidationError naming the field, PermissionDeniedError, or ConflictError when the
    profile was saved by someone else since. Returns the current version when nothing changed.
    """
    try:
        with ws.transaction(write=True) as s:
            me = load_actor(s, actor)
            info = apply_changes(ws, s, me, city_id, changes, expected_version, source, note)
    except IntegrityError as exc:
        if "profile_versions" not in str(exc.orig) and "uq_profile_versions" not in str(exc.orig):
            raise
        # the same version number was saved by a concurrent writer (PostgreSQL; SQLite serialises writers)
        raise _conflict_after_race(ws, city_id, expected_version, changes) from None
    return info if info is not None else get_profile(ws, city_id)


def revert_profile(ws: Workspace, city_id: str, to_version: int, expected_version: int, actor: Actor) -> ProfileVersionInfo:
    """A new version whose content is that of `to_version` (history is kept, not rewound)."""
    target = get_version(ws, city_id, to_version)
    return set_profile(ws, city_id, dict(target.profile), expected_version, actor,
                       source=f"revert to version {to_version}")


# ---------------------------------------------------------------------------- for the index
def change_counter(ws: Workspace) -> int:
    """The id of the newest profile version (0 when none): pass it to changed_since later."""
    with ws.transaction() as s:
        return int(s.scalar(select(func.coalesce(func.max(ProfileVersion.id), 0))))


def changed_since(ws: Workspace, counter: int) -> ChangeSet:
    """City ids with a version newer than `counter`, and the counter to use next time.

    On PostgreSQL two transactions may commit their ids out of order; a caller that must never
    miss an edit can ask again from a slightly older counter (ids are cheap to re-check).
    """
    with ws.transaction() as s:
        rows = s.execute(select(ProfileVersion.id, ProfileVersion.city_id)
                         .where(ProfileVersion.id > counter).order_by(ProfileVersion.id)).all()
    ids = list(dict.fromkeys(cid for _, cid in rows))
    return ChangeSet(ids, max([counter] + [i for i, _ in rows]))


def latest_profiles(ws: Workspace, city_ids: list[str] | None = None) -> pd.DataFrame:
    """The newest stored version of each edited city (optionally only `city_ids`), validated."""
    newest = (select(ProfileVersion.city_id, func.max(ProfileVersion.version).label("v"))
              .group_by(ProfileVersion.city_id))
    if city_ids is not None:
        newest = newest.where(ProfileVersion.city_id.in_(list(city_ids)))
    newest = newest.subquery()
    with ws.transaction() as s:
        profiles = [p for (p,) in s.execute(
            select(ProfileVersion.profile).join(newest, (ProfileVersion.city_id == newest.c.city_id)
                                                & (ProfileVersion.version == newest.c.v))
            .order_by(ProfileVersion.city_id))]
    if not profiles:
        return base_profiles(ws).iloc[0:0].copy()
    return validate_profiles(pd.DataFrame(profiles), source="workspace")


def merged_profiles(ws: Workspace) -> pd.DataFrame:
    """The profile table the recommenders read: shipped rows, each edited city replaced by its
    newest version in place, cities created in the workspace appended (same columns and types)."""
    base = base_profiles(ws)
    edited = latest_profiles(ws)
    if edited.empty:
        return base
    position = _base_index(ws)
    keep = base[~base["city_id"].isin(set(edited["city_id"]))]
    order = [position[c] for c in keep["city_id"]] + [
        position.get(c, len(base) + j) for j, c in enumerate(edited["city_id"])]
    merged = pd.concat([keep, edited], ignore_index=True)
    for col in merged.columns:  # the base layer's column types (a small edited table may infer others)
        if col in base.columns and merged[col].dtype != base[col].dtype:
            merged[col] = merged[col].astype(base[col].dtype)
    return merged.iloc[np.argsort(order, kind="stable")].reset_index(drop=True)
