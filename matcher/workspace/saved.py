"""Saved work: shortlists of twins, accepted pairings, cohort plans, reviewer assignments.

Each is stored with its rules, objective and date, so it can be reloaded, exported and compared
with a new run (`compare_saved`: which members, pairs or assignments changed).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from ..wording import Num, Reason
from . import audit
from ._validate import NOT_FOUND, choice, existing, field_word, problem, text, utc
from .db import Workspace
from .errors import NotFoundError
from .models import SavedItem, User
from .users import Actor, load_actor, require

KINDS = ("shortlist", "pairing", "cohort_plan", "review_plan")
MAX_PAYLOAD_BYTES = 20_000_000


@dataclass(frozen=True)
class SavedWork:
    id: int
    kind: str
    name: str
    owner: str
    created_at: datetime
    rules: dict
    objective: str | None
    payload: dict


def _saved(x: SavedItem, owner: str) -> SavedWork:
    return SavedWork(x.id, x.kind, x.name, owner, utc(x.created_at), dict(x.rules or {}), x.objective, dict(x.payload))


def _json_dict(field: str, value) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise problem("saved work", field, None,
                      Reason("{field} must be a JSON object (a dict)", field=field_word(field)))
    try:
        encoded = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise problem("saved work", field, None, Reason("{field} is not JSON: {detail}", field=field_word(field),
                                                        detail=str(exc))) from None
    if len(encoded) > MAX_PAYLOAD_BYTES:
        raise problem("saved work", field, None, Reason("{field} is larger than {n} bytes", field=field_word(field),
                                                        n=Num(MAX_PAYLOAD_BYTES, ",")))
    return json.loads(encoded)  # a plain copy: tuples become lists as they will when read back


def save_work(ws: Workspace, kind: str, name: str, payload: dict, actor: Actor, *, rules: dict | None = None,
              objective: str | None = None) -> SavedWork:
    """Store a result (e.g. CohortPlan.to_dict()) with the rules and objective that made it."""
    choice("saved work", "kind", kind, KINDS)
    name = text("saved work", "name", name, max_chars=300).strip()
    objective = text("saved work", "objective", objective, max_chars=5000, required=False)
    payload, rules = _json_dict("payload", payload), _json_dict("rules", rules)
    _members(kind, payload)  # refuse a payload that cannot be compared later
    with ws.transaction(write=True) as s:
        me = load_actor(s, actor)
        require(me, "save_work")
        item = SavedItem(kind=kind, name=name, owner_id=me.id, rules=rules, objective=objective, payload=payload)
        s.add(item)
        s.flush()
        audit.record(s, me, "save_work", "saved", item.id, {"kind": kind, "name": name})
        return _saved(item, me.email)


def list_saved(ws: Workspace, *, kind: str | None = None, owner: str | None = None) -> list[SavedWork]:
    """Saved work newest first (payloads included)."""
    stmt = select(SavedItem, User.email).join(User, SavedItem.owner_id == User.id).order_by(SavedItem.id.desc())
    if kind is not None:
        stmt = stmt.where(SavedItem.kind == choice("saved work", "kind", kind, KINDS))
    if owner is not None:
        stmt = stmt.where(User.email == owner.strip().lower())
    with ws.transaction() as s:
        return [_saved(x, email) for x, email in s.execute(stmt)]


def load_saved(ws: Workspace, item_id: int) -> SavedWork:
    with ws.transaction() as s:
        row = s.execute(select(SavedItem, User.email).join(User, SavedItem.owner_id == User.id)
                        .where(SavedItem.id == item_id)).first()
        if row is None:
            raise NotFoundError(Reason(NOT_FOUND["saved work"], id=item_id))
        return _saved(*row)


def delete_saved(ws: Workspace, item_id: int, actor: Actor) -> None:
    """The owner or an admin deletes a saved item (the audit log keeps that it existed)."""
    with ws.transaction(write=True) as s:
        me = load_actor(s, actor)
        item = existing(s, SavedItem, item_id, "saved work")
        if item.owner_id != me.id:
            require(me, "delete others' saved work")
        s.delete(item)
        audit.record(s, me, "delete_saved", "saved", item_id, {"kind": item.kind, "name": item.name})


# ---------------------------------------------------------------------------- comparison
def _id(x) -> str:
    return str(x["city_id"] if isinstance(x, dict) else x)


def _members(kind: str, payload: dict) -> set:
    """The comparable content of a payload: city ids, pairs, (cohort, city) or (plan, reviewer)."""
    try:
        if kind == "shortlist":
            return {_id(m) for m in payload.get("members", payload.get("matches", []))}
        if kind == "pairing":
            out = set()
            for p in payload["pairs"]:
                a, b = (p["a"], p["b"]) if isinstance(p, dict) else p
                out.add(tuple(sorted((_id(a), _id(b)))))
            return out
        if kind == "cohort_plan":
            return {frozenset(_id(m) for m in c["members"]) for c in payload["cohorts"]}
        if kind == "review_plan":
            return {(str(r["plan_id"]), str(r["reviewer_id"])) for r in payload["reviews"]}
    except (KeyError, TypeError, ValueError) as exc:
        raise problem("saved work", "payload", None,
                      Reason("a {kind} payload needs {shape} (could not read it: {detail})", kind=kind,
                             shape=_SHAPE[kind], detail=repr(exc))) from None
    raise AssertionError(kind)


_SHAPE = {"shortlist": "'members' (city ids or {city_id})", "pairing": "'pairs' ([a, b] or {a, b})",
          "cohort_plan": "'cohorts' (each with 'members')", "review_plan": "'reviews' (each with plan_id, reviewer_id)"}


def compare_saved(kind: str, old: dict, new: dict) -> dict:
    """What changed between two payloads of one kind: `added`, `removed`, `kept` (sorted lists),
    and for cohort plans the cities that `moved` to another cohort."""
    choice("saved work", "kind", kind, KINDS)
    a, b = _members(kind, old), _members(kind, new)
    norm = (lambda s: sorted(sorted(x) for x in s)) if kind == "cohort_plan" else (lambda s: sorted(s))
    out = {"added": norm(b - a), "removed": norm(a - b), "kept": norm(a & b)}
    if kind == "cohort_plan":
        where_a = {c: frozenset(g) for g in a for c in g}
        where_b = {c: frozenset(g) for g in b for c in g}
        out["moved"] = sorted(c for c in where_a.keys() & where_b.keys() if where_a[c] != where_b[c])
        out["joined"] = sorted(where_b.keys() - where_a.keys())
        out["left"] = sorted(where_a.keys() - where_b.keys())
    return out
