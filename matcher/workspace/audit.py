"""The audit log: every change, by whom, when; written in the same transaction as the change."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ._validate import utc
from .db import Workspace
from .models import AuditEntry, User


@dataclass(frozen=True)
class AuditRecord:
    id: int
    at: datetime
    actor: str | None
    action: str
    target_type: str
    target_id: str | None
    detail: dict


def record(session: Session, actor: User | None, action: str, target_type: str, target_id, detail: dict | None = None):
    """Append an entry; committed or rolled back with the change it describes."""
    session.add(AuditEntry(actor_id=actor.id if actor else None, actor_email=actor.email if actor else None,
                           action=action, target_type=target_type,
                           target_id=None if target_id is None else str(target_id), detail=detail or {}))


def audit_log(ws: Workspace, *, target_type: str | None = None, target_id=None, limit: int | None = None) -> list[AuditRecord]:
    """Entries oldest first, optionally for one target."""
    stmt = select(AuditEntry).order_by(AuditEntry.id)
    if target_type:
        stmt = stmt.where(AuditEntry.target_type == target_type)
    if target_id is not None:
        stmt = stmt.where(AuditEntry.target_id == str(target_id))
    if limit:
        stmt = stmt.limit(limit)
    with ws.transaction() as s:
        return [AuditRecord(e.id, utc(e.at), e.actor_email, e.action, e.target_type, e.target_id, dict(e.detail or {}))
                for e in s.scalars(stmt)]
